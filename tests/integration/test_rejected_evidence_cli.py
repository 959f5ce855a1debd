"""What a transfer leaves outside the catalog: quarantined evidence and the transfer report,
sealed or without names when the transfer is classified."""

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


def test_classified_transfer_report_names_no_file_title_or_source(khoso, tmp_path: Path) -> None:
    folder = _infected(tmp_path, "Hồ sơ mật")
    error = khoso.json("ingest", folder, "--classification", "mat", code=1)["error"]
    assert NAME in error["details"][0]["message"]  # the operator's own output names it
    reports = khoso.home / "reports" / "transfers"
    [as_json] = reports.glob("*.json")
    [as_html] = reports.glob("*.html")
    for text in (as_json.read_text(encoding="utf-8"), as_html.read_text(encoding="utf-8")):
        assert "đính kèm mật" not in text and "thư mục kín" not in text
        assert "Hồ sơ mật" not in text and "Tờ trình" not in text
        assert "classified confidential" in text
    report = json.loads(as_json.read_text(encoding="utf-8"))
    assert report["outcome"] == "rejected"
    [problem] = report["problems"]
    assert problem["code"] == "virus-found" and problem["path"].startswith("file ")


def test_unclassified_transfer_report_keeps_names(khoso, tmp_path: Path) -> None:
    folder = _infected(tmp_path, "Hồ sơ")
    khoso.json("ingest", folder, code=1)
    [as_json] = (khoso.home / "reports" / "transfers").glob("*.json")
    report = json.loads(as_json.read_text(encoding="utf-8"))
    assert report["problems"][0]["path"] == NAME and "redacted" not in report
    assert "Hồ sơ" in report["source"]


def test_accepted_classified_transfer_report_lists_formats_by_number(khoso,
                                                                     tmp_path: Path) -> None:
    folder, _ = make_sample_transfer(tmp_path / "in", "Hồ sơ tối mật", "x")
    result = khoso.json("ingest", folder, "--classification", "toi-mat")
    report = json.loads(Path(result["report"]).with_suffix(".json").read_text(encoding="utf-8"))
    assert report["outcome"] == "accepted"
    assert sorted(report["formats"]) == ["file 1", "file 2", "file 3"]
    assert "application/pdf" in report["formats"].values() or any(
        (fmt or "").startswith("fmt/") for fmt in report["formats"].values())
    text = Path(result["report"]).read_text(encoding="utf-8")
    assert "Tờ trình" not in text and "Hồ sơ tối mật" not in text


def test_evidence_of_a_package_whose_level_cannot_be_read_gets_the_strictest_key(
        khoso, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from repository import ingest_service
    from repository.context import open_repository
    from repository.errors import UsageError
    from repository.ingest_service import IngestOptions

    repo = open_repository(str(khoso.home))
    try:
        decided = ingest_service._Classification(repo, IngestOptions(Path("x")))

        def unreadable(_self: object, _description: object) -> None:
            raise UsageError(reason="unknown classification level 'bí mật lắm'")

        monkeypatch.setattr(ingest_service._Classification, "__call__", unreadable)
        keys = ingest_service._evidence_keys(repo, decided, object())  # type: ignore[arg-type]
        assert keys is not None
        top = max(repo.policies.classification.levels, key=lambda lvl: lvl.rank)
        assert keys().record["level"] == top.key  # type: ignore[union-attr]
    finally:
        repo.close()
