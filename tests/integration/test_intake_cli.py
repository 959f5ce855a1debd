"""Intake of every form a transfer arrives in, with virus scan, formats and reports."""

from __future__ import annotations

import json
import shutil
import tarfile
import zipfile
from pathlib import Path

import bagit
import pytest

from ingest.clamd_local import EICAR
from repository.demo import make_sample_transfer
from tests.helpers.storage import location_root, staging_leftovers, stored_files

CORPORA = Path(__file__).resolve().parents[3] / "shared" / "corpora"


def _content(khoso, aip: str) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    prefix = "data/representations/rep1/data/"
    return {f["path"].removeprefix(prefix): f for f in khoso.json("aip", "show", aip)["files"]
            if f["path"].startswith(prefix)}


def _zip_folder(folder: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(folder.rglob("*")):
            z.write(p, p.relative_to(folder.parent).as_posix())
    return archive


@pytest.mark.parametrize("fmt", ["zip", "tar.gz", "tar"])
def test_archives_are_ingested_byte_for_byte(khoso, tmp_path: Path, fmt: str) -> None:
    folder, md = make_sample_transfer(tmp_path / "in", "Hồ sơ nén", "Hồ sơ nén")
    archive = tmp_path / "transfer.bin"  # no telling extension: the content decides
    if fmt == "zip":
        _zip_folder(folder, archive)
    else:
        with tarfile.open(archive, "w:gz" if fmt == "tar.gz" else "w") as t:
            t.add(folder, arcname=folder.name)
    result = khoso.json("ingest", archive, "--metadata", md)
    files = _content(khoso, result["aip"])
    originals = {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()}
    assert set(files) == set(originals)
    import hashlib

    for rel, p in originals.items():
        assert files[rel]["sha256"] == hashlib.sha256(p.read_bytes()).hexdigest()
    assert staging_leftovers(khoso.home) == []


def test_bag_is_validated_and_its_payload_kept(khoso, tmp_path: Path) -> None:
    folder, _ = make_sample_transfer(tmp_path / "in", "Túi", "Túi BagIt")
    bag = bagit.make_bag(str(folder), {"Source-Organization": "Sở Nội vụ"},
                         checksums=["sha256"])
    result = khoso.json("ingest", bag.path)
    files = _content(khoso, result["aip"])
    assert set(files) == {"Tờ trình.txt", "Danh sách cán bộ.csv",
                          "Văn bản đi/Quyết định số 15-QĐ-UBND.pdf"}
    stored = location_root(khoso.home, "local") / result["aip"].replace(":", "_")
    submitted = stored / "data/metadata/other/submission/bag-info.txt"
    assert "Sở Nội vụ" in submitted.read_text(encoding="utf-8")
    info = bagit.Bag(str(stored)).info
    assert info["Submitted-Source-Organization"] == "Sở Nội vụ"


def test_invalid_bag_is_rejected_with_the_validator_problems(khoso, tmp_path: Path) -> None:
    folder, _ = make_sample_transfer(tmp_path / "in", "Túi hỏng", "x")
    bag = bagit.make_bag(str(folder), checksums=["sha256"])
    (Path(bag.path) / "data" / "Tờ trình.txt").write_text("sửa đổi", encoding="utf-8")
    error = khoso.json("ingest", bag.path, code=1)["error"]
    assert any("Tờ trình.txt" in (d.get("path") or d["message"]) for d in error["details"])
    assert khoso.json("aip", "list")["aips"] == []


def test_serialized_corpus_bag_is_ingested(khoso) -> None:
    archive = CORPORA / "bagit-implementations/archivematica/ZippedBag.zip"
    if not archive.exists():
        pytest.skip("corpus bag not present")
    result = khoso.json("ingest", archive)
    assert result["files"] > 0


def test_infected_file_rejects_transfer_and_is_quarantined(khoso, tmp_path: Path) -> None:
    folder, _ = make_sample_transfer(tmp_path / "in", "Nhiễm", "x")
    (folder / "đính kèm.com").write_bytes(EICAR)
    error = khoso.json("ingest", folder, code=1)["error"]
    assert [d["code"] for d in error["details"]] == ["virus-found"]
    assert "Test.EICAR" in error["details"][0]["message"]
    assert khoso.json("aip", "list")["aips"] == []
    assert stored_files(location_root(khoso.home, "local")) == []
    kept = list((khoso.home / "quarantine").rglob("đính kèm.com"))
    assert len(kept) == 1 and kept[0].read_bytes() == EICAR
    record = json.loads(next((khoso.home / "quarantine").rglob("quarantine.json")).read_text())
    assert record["files"][0]["signature"].startswith("Test.EICAR")
    report = json.loads(next((khoso.home / "reports/transfers").glob("*.json")).read_text())
    assert report["outcome"] == "rejected"
    assert staging_leftovers(khoso.home) == []


def test_ingest_refuses_without_a_scanner_unless_policy_allows(khoso, tmp_path: Path,
                                                               monkeypatch) -> None:  # type: ignore[no-untyped-def]
    folder, _ = make_sample_transfer(tmp_path / "in", "Hồ sơ", "x")
    monkeypatch.setenv("KHOSO_CLAMD_SOCKET", str(tmp_path / "no-such.sock"))
    error = khoso.json("ingest", folder, code=2)["error"]
    assert "no-such.sock" in error["message"]
    assert khoso.json("aip", "list")["aips"] == []
    policy = khoso.home / "policies" / "intake.yaml"
    shutil.copyfile(Path(__file__).resolve().parents[2] / "policies" / "intake.yaml", policy)
    policy.write_text(policy.read_text().replace("allow_without_scanner: false",
                                                 "allow_without_scanner: true"))
    result = khoso.json("ingest", folder)
    assert [w["code"] for w in result["warnings"]] == ["virus-scan-skipped"]


def test_formats_and_pdf_checks_reach_catalog_and_report(khoso, tmp_path: Path) -> None:
    folder, _ = make_sample_transfer(tmp_path / "in", "Định dạng", "x")
    (folder / "lạ.xyz").write_bytes(bytes(range(256)) * 8)
    result = khoso.json("ingest", folder)
    assert "format-not-accepted" in [w["code"] for w in result["warnings"]]
    files = _content(khoso, result["aip"])
    assert files["Văn bản đi/Quyết định số 15-QĐ-UBND.pdf"]["puid"].startswith("fmt/")
    html = Path(result["report"]).read_text(encoding="utf-8")
    assert "format identification" in html and "lạ.xyz" in html
    events = {e["type"] for e in khoso.json("aip", "show", result["aip"])["events"]}
    assert {"virus check", "validation", "format identification"} <= events


def test_eark_sip_is_validated_and_its_representation_kept(khoso, tmp_path: Path) -> None:
    from tests.helpers.eark import DATA, build_sip

    sip = build_sip(tmp_path / "sips")
    result = khoso.json("ingest", sip)
    files = _content(khoso, result["aip"])
    assert set(files) == set(DATA)
    import hashlib

    for name, data in DATA.items():
        assert files[name]["sha256"] == hashlib.sha256(data).hexdigest()
    stored = location_root(khoso.home, "local") / result["aip"].replace(":", "_")
    assert (stored / "data/metadata/other/submission/METS.xml").is_file()
    assert (stored / "data/representations/rep1/METS.xml").is_file()
    assert khoso.json("validate", stored)["valid"] is True


def test_eark_sip_with_a_wrong_checksum_is_rejected(khoso, tmp_path: Path) -> None:
    from tests.helpers.eark import build_sip

    sip = build_sip(tmp_path / "sips")
    target = next((sip / "representations/rep1/data").glob("*.txt"))
    target.write_bytes(target.read_bytes().upper())
    error = khoso.json("ingest", sip, code=1)["error"]
    assert any(d["code"] == "checksum-mismatch" for d in error["details"])
    assert khoso.json("aip", "list")["aips"] == []


def test_item_classification_in_a_sip_raises_the_whole_dossier(khoso, tmp_path: Path) -> None:
    """Law 29/2018 Điều 10 k2: one Tối mật item makes the dossier Tối mật, even when the
    level is only written in the package's own EAD (no --classification, no --metadata)."""
    from tests.helpers.eark import OBJID, SipBuilder

    source = Path(__file__).resolve().parents[1] / "data/metadata/sip/valid-sip-hoso"
    builder = SipBuilder(tmp_path / "sips" / OBJID)
    builder.write("schemas/mets.xsd", b"<xs:schema xmlns:xs='http://www.w3.org/2001/XMLSchema'/>")
    builder.write("documentation/guide.txt", "Hướng dẫn\n".encode())
    dossier = (source / "metadata/descriptive/EAD.xml").read_text(encoding="utf-8")
    builder.write("metadata/descriptive/EAD.xml",
                  dossier.replace("<mode>01</mode>", "<mode>03</mode>").encode())
    for item in sorted((source / "representations/rep1/metadata/descriptive").glob("*.xml")):
        text = item.read_text(encoding="utf-8")
        if item.name.endswith(".1.xml"):
            text = text.replace("<mode>01</mode>", "<mode>03</mode><classification>toi-mat"
                                "</classification><classifiedOn>15/01/2026</classifiedOn>")
        builder.write(f"representations/rep1/metadata/descriptive/{item.name}", text.encode())
    for n in (1, 2):
        builder.write(f"representations/rep1/data/H49.64.33.2001.160.{n}.txt",
                      f"Tờ khai số {n}\n".encode())
    builder.representation()
    sip = builder.package()

    result = khoso.json("ingest", sip)

    assert result["classification"] == "secret"
    shown = khoso.json("aip", "show", result["aip"])
    assert shown["classification"] == "secret"
    assert shown["classified_on"] == "2026-01-15"
    stored = location_root(khoso.home, "local") / result["aip"].replace(":", "_")
    assert not (stored / "bag-info.txt").exists()  # classified: encrypted, names hidden
