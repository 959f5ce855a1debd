"""Evidence kept from transfers rejected for a virus: sealed when classified, exportable."""

from __future__ import annotations

import json
from pathlib import Path

from ingest.clamd_local import EICAR
from repository.demo import make_sample_transfer
from tests.helpers.storage import staging_leftovers

NAME = "thư mục kín/đính kèm mật.com"


def _infected(tmp_path: Path, title: str) -> Path:
    folder, _ = make_sample_transfer(tmp_path / "in", title, "x")
    (folder / NAME).parent.mkdir(parents=True, exist_ok=True)
    (folder / NAME).write_bytes(EICAR)
    return folder


def _every_byte_under(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def test_classified_evidence_is_sealed_and_exports_intact(khoso, tmp_path: Path) -> None:
    folder = _infected(tmp_path, "Hồ sơ mật")
    error = khoso.json("ingest", folder, "--classification", "mat", code=1)["error"]
    assert [d["code"] for d in error["details"]] == ["virus-found"]
    quarantine = khoso.home / "quarantine"
    kept = _every_byte_under(quarantine)
    # Neither the file nor its name is in the quarantine in plaintext.
    assert EICAR not in kept
    assert "đính kèm mật".encode() not in kept and "thư mục kín".encode() not in kept
    assert "Hồ sơ mật".encode() not in kept  # the transfer folder's name
    [listed] = khoso.json("quarantine", "list")["quarantine"]
    assert listed["sealed"] is True and listed["files"] == 1
    assert listed["signatures"][0].startswith("Test.EICAR")
    record = json.loads((quarantine / listed["id"] / "quarantine.json").read_text())
    assert record["files"][0]["sealed"]["level"] == "confidential"  # Mật
    out = tmp_path / "evidence"
    result = khoso.json("quarantine", "export", listed["id"], "--out", out)
    assert [f["path"] for f in result["files"]] == [NAME]
    assert (out / NAME).read_bytes() == EICAR
    assert staging_leftovers(khoso.home) == []


def test_damaged_sealed_evidence_is_refused_and_nothing_is_written(khoso, tmp_path: Path) -> None:
    folder = _infected(tmp_path, "Hồ sơ mật")
    khoso.json("ingest", folder, "--classification", "mat", code=1)
    [listed] = khoso.json("quarantine", "list")["quarantine"]
    [sealed] = (khoso.home / "quarantine" / listed["id"] / "files").iterdir()
    sealed.chmod(0o600)
    data = bytearray(sealed.read_bytes())
    data[-5] ^= 0x01
    sealed.write_bytes(bytes(data))
    out = tmp_path / "evidence"
    error = khoso.json("quarantine", "export", listed["id"], "--out", out, code=1)["error"]
    assert error["kind"] == "envelope-damaged"
    assert not any(p.is_file() for p in out.rglob("*"))


def test_unclassified_evidence_stays_as_submitted_and_exports(khoso, tmp_path: Path) -> None:
    folder = _infected(tmp_path, "Hồ sơ")
    khoso.json("ingest", folder, code=1)
    [listed] = khoso.json("quarantine", "list")["quarantine"]
    assert listed["sealed"] is False
    kept = khoso.home / "quarantine" / listed["id"] / "files" / NAME
    assert kept.read_bytes() == EICAR
    out = tmp_path / "evidence"
    khoso.json("quarantine", "export", listed["id"], "--out", out)
    assert (out / NAME).read_bytes() == EICAR
    error = khoso.json("quarantine", "export", listed["id"], "--out", out, code=2)["error"]
    assert "new or empty folder" in error["message"]
    assert khoso.json("quarantine", "export", "urn:uuid:nope", "--out", tmp_path / "x",
                      code=2)["error"]["kind"] == "not-found"
