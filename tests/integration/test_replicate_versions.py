"""Write-once and versions through the CLI on both catalogs: a metadata change is a new AIP
version sharing unchanged files; no stored byte of the old version changes."""

from __future__ import annotations

import json
from pathlib import Path

import bagit

from repository.demo import make_sample_transfer
from tests.storage.journey import (
    MARKER,
    allow_ingest_without_scanner,
    files_under,
    location_roots,
    plaintext_hits,
    violations,
)


def _sample(khoso, tmp_path: Path, mode: str = "01") -> tuple[Path, Path, Path]:  # type: ignore[no-untyped-def]
    allow_ingest_without_scanner(khoso.home)
    khoso.ok("storage", "add", "offsite", (tmp_path / "offsite").as_uri())
    transfer, metadata = make_sample_transfer(tmp_path / "in", "Hồ sơ 01", "Tiêu đề cũ", mode)
    changed = tmp_path / "changed.json"
    doc = json.loads(metadata.read_text(encoding="utf-8"))
    changed.write_text(json.dumps({**doc, "title": f"Tiêu đề mới {MARKER}"},
                                  ensure_ascii=False), encoding="utf-8")
    return transfer, metadata, changed


def _bag_of(khoso, aip: str, location: str, out: Path) -> Path:  # type: ignore[no-untyped-def]
    """Reassemble a version's bag from its stored objects (shared ones included)."""
    from sqlalchemy import select

    from repository.catalog.models import AipFile
    from repository.context import open_repository

    root = location_roots(khoso.home)[location]
    repo = open_repository(str(khoso.home))
    try:
        with repo.catalog.session() as session:
            rows = list(session.scalars(select(AipFile).where(AipFile.aip_id == aip)))
    finally:
        repo.close()
    for row in rows:
        (out / row.path).parent.mkdir(parents=True, exist_ok=True)
        (out / row.path).write_bytes((root / row.storage_key).read_bytes())
    return out


def test_new_version_shares_files_and_leaves_the_old_one_untouched(khoso,
                                                                   tmp_path: Path) -> None:
    transfer, metadata, changed = _sample(khoso, tmp_path)
    old = khoso.json("ingest", transfer, "--metadata", metadata)["aip"]
    before = {name: files_under(root) for name, root in location_roots(khoso.home).items()}

    new = khoso.json("aip", "update-metadata", old, "--metadata", changed)

    assert new["version"] == 2 and new["previous_version"] == old and new["aip"] != old
    assert new["new_objects"] == 7  # METS, EAD, PREMIS and the four BagIt tag files
    for name, root in location_roots(khoso.home).items():
        after = files_under(root)
        assert {k: after[k] for k in before[name]} == before[name]  # nothing overwritten
        added = set(after) - set(before[name])
        assert len(added) == 7 and all(k.startswith(new["aip"].replace(":", "_")) for k in added)
    bag = bagit.Bag(str(_bag_of(khoso, new["aip"], "offsite", tmp_path / "v2")))
    bag.validate()  # the new version is a complete, valid bag
    assert "Tiêu đề mới" in (tmp_path / "v2" / "data" / "metadata" / "descriptive" /
                             "EAD.xml").read_text(encoding="utf-8")
    assert bag.info["Khoso-Previous-Version"] == old
    shown = khoso.json("aip", "show", new["aip"])
    assert (shown["version"], shown["previous_version"]) == (2, old)
    assert {r["location"] for r in shown["replicas"]} == {"local", "offsite"}
    assert any(e["type"] == "metadata modification"
               for e in khoso.json("aip", "show", old)["events"])
    assert khoso.json("audit")["problems"] == []
    assert khoso.json("storage", "fsck")["orphans"] == 0  # shared objects are owned twice
    assert violations(khoso.home) == []
    error = khoso.json("aip", "update-metadata", old, "--metadata", changed, code=2)["error"]
    assert new["aip"] in error["message"]


def test_new_version_of_a_classified_aip_stays_encrypted(khoso, tmp_path: Path) -> None:
    transfer, metadata, changed = _sample(khoso, tmp_path, mode="03")
    old = khoso.json("ingest", transfer, "--metadata", metadata, "--classification",
                     "toi-mat")["aip"]
    result = khoso("aip", "update-metadata", old, "--metadata", changed, "--json")
    assert result.code == 0, result.err + result.out
    assert MARKER not in result.err
    new = result.json["aip"]
    roots = list(location_roots(khoso.home).values())
    assert plaintext_hits([*roots, khoso.home / "staging"], [MARKER.encode()]) == []
    stored = files_under(roots[0] / new.replace(":", "_"))
    assert len(stored) == 7 and all(v.startswith(b"KHOSOAE1") for v in stored.values())
    assert khoso.json("audit", "--deep")["problems"] == []
    assert violations(khoso.home) == []
