"""Encryption at rest through the CLI on both catalogs: classified content is ciphertext in every
location, audits need no key, access and deep audits decrypt, rotation rewrites no byte."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import select

from repository.catalog.models import AipFile
from repository.context import open_repository
from tests.helpers.storage import flip_byte
from tests.storage.journey import (
    MARKER,
    allow_ingest_without_scanner,
    files_under,
    location_roots,
    plaintext_hits,
    secret_transfer,
    violations,
)

NEEDLES = [MARKER.encode()]


@pytest.fixture
def secret_aip(khoso, tmp_path: Path) -> str:  # type: ignore[no-untyped-def]
    allow_ingest_without_scanner(khoso.home)
    khoso.ok("storage", "add", "offsite", (tmp_path / "offsite").as_uri())
    transfer = secret_transfer(tmp_path / "in" / "Hồ sơ 07")
    result = khoso("ingest", transfer, "--classification", "toi-mat", "--json")
    assert result.code == 0, result.err + result.out
    assert MARKER not in result.out + result.err
    return result.json["aip"]


def _object_files(khoso, aip: str) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    prefix = aip.replace(":", "_")
    out = {}
    for name, root in location_roots(khoso.home).items():
        out.update({f"{name}/{prefix}/{k}": v for k, v in files_under(root / prefix).items()})
    return out


def _rows(home: Path, aip: str) -> list[AipFile]:
    repo = open_repository(str(home))
    try:
        with repo.catalog.session() as session:
            return list(session.scalars(select(AipFile).where(AipFile.aip_id == aip)))
    finally:
        repo.close()


def test_no_plaintext_in_any_location_in_staging_or_output(khoso, secret_aip: str,
                                                           tmp_path: Path) -> None:
    roots = list(location_roots(khoso.home).values())
    assert plaintext_hits([*roots, khoso.home / "staging"], NEEDLES) == []
    assert [p for p in (khoso.home / "staging").iterdir() if p.name != ".locks"] == []
    stored = _object_files(khoso, secret_aip)
    rows = _rows(khoso.home, secret_aip)
    # Every object of the bag, tag files and METS included, is an envelope under an opaque key.
    assert len(stored) == 2 * len(rows)
    assert all(data.startswith(b"KHOSOAE1") for data in stored.values())
    assert all("/~h/" in key for key in stored)
    assert all(r.wrapped_key and r.kek_id == "secret-1" and r.stored_sha256 != r.sha256
               for r in rows)
    shown = khoso.json("aip", "show", secret_aip)
    assert any(e["type"] == "encryption" for e in shown["events"])
    audit = khoso("audit", "--json")
    assert audit.code == 0 and MARKER not in audit.out + audit.err


def test_unclassified_content_stays_plain_and_browsable(khoso, tmp_path: Path) -> None:
    allow_ingest_without_scanner(khoso.home)
    transfer = secret_transfer(tmp_path / "in" / "Công khai", count=1)
    aip = khoso.json("ingest", transfer)["aip"]
    stored = _object_files(khoso, aip)
    assert any(MARKER.encode() in data for data in stored.values())
    assert all(r.wrapped_key is None for r in _rows(khoso.home, aip))


def test_audit_verifies_ciphertext_without_keys_and_finds_damage(khoso, secret_aip: str,
                                                                 tmp_path: Path) -> None:
    keys = khoso.home / "keys" / "kek"
    keys.rename(tmp_path / "keys-away")
    try:
        assert khoso.json("audit")["problems"] == []
        victim = next(p for p in sorted((location_roots(khoso.home)["offsite"]).rglob("*"))
                      if p.is_file())
        flip_byte(victim)
        found = khoso.json("audit", code=1)["problems"]
        assert [(p["location"], p["problem"]) for p in found] == [("offsite", "corrupt")]
    finally:
        (tmp_path / "keys-away").rename(keys)


def test_repair_restores_the_encrypted_copy_byte_for_byte(khoso, secret_aip: str) -> None:
    before = _object_files(khoso, secret_aip)
    victim_key = sorted(k for k in before if k.startswith("offsite/"))[3]
    victim = location_roots(khoso.home)["offsite"] / victim_key.removeprefix("offsite/")
    flip_byte(victim)
    khoso.json("audit", code=1)
    repaired = khoso.json("repair")["repaired"]
    assert [r["location"] for r in repaired] == ["offsite"]
    assert _object_files(khoso, secret_aip) == before  # still ciphertext, same envelope
    assert plaintext_hits(list(location_roots(khoso.home).values()), NEEDLES) == []
    assert violations(khoso.home) == []


def test_access_copy_is_decrypted_and_checked(khoso, secret_aip: str, tmp_path: Path) -> None:
    khoso.ok("user", "add", "an", "--role", "reader")
    khoso.ok("user", "add", "binh", "--role", "approver", "--authority", "toi-mat")
    khoso.ok("grant", secret_aip, "--user", "an", "--by", "binh", "--purpose", "nghiên cứu",
             "--until", "2099-12-31")
    copy = khoso.json("access", secret_aip, "--user", "an", "--out", tmp_path / "dip",
                      "--purpose", "nghiên cứu")
    source = tmp_path / "in" / "Hồ sơ 07" / "Hồ sơ mật" / "Văn bản 002.txt"
    got = next(Path(copy["dip"]).rglob("Văn bản 002.txt"))
    assert got.read_bytes() == source.read_bytes()


def test_access_refuses_a_copy_whose_envelope_was_altered(khoso, secret_aip: str,
                                                          tmp_path: Path) -> None:
    khoso.ok("user", "add", "an", "--role", "reader")
    khoso.ok("user", "add", "binh", "--role", "approver", "--authority", "toi-mat")
    khoso.ok("grant", secret_aip, "--user", "an", "--by", "binh", "--until", "2099-12-31")
    rows = {r.path: r for r in _rows(khoso.home, secret_aip)}
    target = next(r for p, r in rows.items() if p.endswith("Văn bản 001.txt"))
    for root in location_roots(khoso.home).values():
        flip_byte(root / target.storage_key)
    error = khoso.json("access", secret_aip, "--user", "an", "--out", tmp_path / "dip", code=1)
    assert "no copy verifies" in error["error"]["message"]
    assert plaintext_hits([tmp_path / "dip"], NEEDLES) == []


def test_key_rotation_rewraps_without_rewriting_a_stored_byte(khoso, secret_aip: str,
                                                              tmp_path: Path) -> None:
    before = _object_files(khoso, secret_aip)
    wrapped_before = {r.path: r.wrapped_key for r in _rows(khoso.home, secret_aip)}
    result = khoso.json("keys", "rotate")
    assert result["rotated"] == [{"level": "secret", "kek": "secret-2", "previous": ["secret-1"],
                                  "rewrapped": len(wrapped_before)}]
    assert _object_files(khoso, secret_aip) == before
    rows = _rows(khoso.home, secret_aip)
    assert {r.kek_id for r in rows} == {"secret-2"}
    assert all(r.wrapped_key != wrapped_before[r.path] for r in rows)
    listed = {k["kek"]: (k["current"], k["files"]) for k in khoso.json("keys", "list")["keks"]}
    assert listed == {"secret-1": (False, 0), "secret-2": (True, len(rows))}
    assert khoso.json("audit", "--deep")["problems"] == []
    # The old KEK is no longer needed to read anything.
    (khoso.home / "keys" / "kek" / "secret-1.kek").unlink()
    assert khoso.json("audit", "--deep")["problems"] == []
    khoso.json("log", "verify")  # exit 0: the rotation event chained like any other


def test_deep_audit_decrypts_and_checks_the_plaintext_digest(khoso, secret_aip: str) -> None:
    assert khoso.json("audit", "--deep")["problems"] == []
    # Swap two data keys in the catalog: every ciphertext digest still matches, so only a
    # deep audit can notice that the files no longer decrypt.
    rows = sorted(_rows(khoso.home, secret_aip), key=lambda r: r.path)
    a, b = rows[0], rows[1]
    repo = open_repository(str(khoso.home))
    try:
        with repo.catalog.session() as session:
            ra, rb = session.get(AipFile, a.id), session.get(AipFile, b.id)
            assert ra is not None and rb is not None
            ra.wrapped_key, rb.wrapped_key = rb.wrapped_key, ra.wrapped_key
    finally:
        repo.close()
    assert khoso.json("audit")["problems"] == []
    deep = khoso.json("audit", "--deep", code=1)["problems"]
    assert {p["path"] for p in deep} == {a.path, b.path}
    assert {p["problem"] for p in deep} == {"corrupt"}


def test_a_kek_file_other_users_may_read_is_refused(khoso, secret_aip: str,
                                                    tmp_path: Path) -> None:
    kek = khoso.home / "keys" / "kek" / "secret-1.kek"
    os.chmod(kek, 0o644)
    error = khoso.json("audit", "--deep", code=2)["error"]
    assert "chmod 600" in error["message"] and str(kek) in error["message"]
    os.chmod(kek, 0o600)
    assert khoso.json("audit", "--deep")["problems"] == []



def test_a_kms_provider_replaces_the_key_files(khoso, tmp_path: Path) -> None:
    """The KMS is mocked (tests/storage/mock_kms.py): none can run here. khoso.yaml names it."""
    from tests.storage.mock_kms import MockKms

    MockKms.keys.clear()
    MockKms.calls.clear()
    marker = khoso.home / "khoso.yaml"
    marker.write_text(marker.read_text(encoding="utf-8")
                      + "key_provider: tests.storage.mock_kms:MockKms\n", encoding="utf-8")
    allow_ingest_without_scanner(khoso.home)
    aip = khoso.json("ingest", secret_transfer(tmp_path / "in"), "--classification",
                     "mat")["aip"]
    assert not (khoso.home / "keys" / "kek").exists()
    rows = _rows(khoso.home, aip)
    assert {r.kek_id for r in rows} == {"kms/confidential/1"}
    assert MockKms.calls.count("wrap kms/confidential/1") == len(rows)
    assert khoso.json("audit", "--deep")["problems"] == []
    assert MockKms.calls.count("unwrap kms/confidential/1") == len(rows)
    rotated = khoso.json("keys", "rotate")["rotated"]
    assert rotated == [{"level": "confidential", "kek": "kms/confidential/2",
                        "previous": ["kms/confidential/1"], "rewrapped": len(rows)}]
    assert khoso.json("audit", "--deep")["problems"] == []
