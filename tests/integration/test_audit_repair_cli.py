"""Audit and repair through the CLI on both catalogs: damage found, repaired, or reported."""

from __future__ import annotations

from pathlib import Path

from repository.demo import make_sample_transfer
from tests.helpers.storage import flip_byte, object_path


def _two_copies(khoso, tmp_path: Path) -> str:  # type: ignore[no-untyped-def]
    khoso.ok("storage", "add", "offsite", (tmp_path / "offsite").as_uri())
    transfer, metadata = make_sample_transfer(tmp_path / "in", "Hồ sơ 01", "Kế hoạch")
    return khoso.json("ingest", transfer, "--metadata", metadata)["aip"]


def test_clean_audit_checks_every_file_of_every_copy(khoso, tmp_path: Path) -> None:
    aip = _two_copies(khoso, tmp_path)
    files = khoso.json("aip", "show", aip)["files"]
    result = khoso.json("audit")
    assert result["checked"] == 2 * len(files)
    assert result["bytes"] == 2 * sum(f["size"] for f in files)
    assert result["problems"] == []


def test_audit_names_corrupt_and_missing_copies(khoso, tmp_path: Path) -> None:
    aip = _two_copies(khoso, tmp_path)
    flip_byte(object_path(khoso.home, aip, "offsite", ".pdf"))
    object_path(khoso.home, aip, "local", "Tờ trình.txt").unlink()

    result = khoso.json("audit", code=1)

    found = {(p["location"], p["path"].rsplit("/", 1)[-1], p["problem"])
             for p in result["problems"]}
    assert found == {("offsite", "Quyết định số 15-QĐ-UBND.pdf", "corrupt"),
                     ("local", "Tờ trình.txt", "missing")}
    shown = khoso.json("aip", "show", aip)
    assert {r["location"]: r["status"] for r in shown["replicas"]} == {
        "local": "damaged", "offsite": "damaged"}
    fixity = [e for e in shown["events"] if e["type"] == "fixity check"]
    assert {e["outcome"] for e in fixity[-2:]} == {"failure"}


def test_repair_restores_from_the_good_copy_and_audit_is_clean(khoso, tmp_path: Path) -> None:
    aip = _two_copies(khoso, tmp_path)
    damaged = object_path(khoso.home, aip, "offsite", ".pdf")
    good = object_path(khoso.home, aip, "local", ".pdf").read_bytes()
    flip_byte(damaged)
    khoso.json("audit", code=1)

    result = khoso.json("repair")

    assert [(r["location"], r["source"]) for r in result["repaired"]] == [("offsite", "local")]
    assert result["unrecoverable"] == []
    assert damaged.read_bytes() == good
    assert khoso.json("audit")["problems"] == []
    events = khoso.json("aip", "show", aip)["events"]
    assert any(e["type"] == "recovery" and e["outcome"] == "success" for e in events)


def test_unrecoverable_file_is_reported_and_no_copy_is_overwritten(khoso, tmp_path: Path) -> None:
    aip = _two_copies(khoso, tmp_path)
    paths = [object_path(khoso.home, aip, loc, ".pdf") for loc in ("local", "offsite")]
    for p in paths:
        flip_byte(p)
    damaged_bytes = [p.read_bytes() for p in paths]
    khoso.json("audit", code=1)

    result = khoso.json("repair", code=1)

    assert result["repaired"] == []
    assert {r["location"] for r in result["unrecoverable"]} == {"local", "offsite"}
    assert [p.read_bytes() for p in paths] == damaged_bytes
    events = khoso.json("aip", "show", aip)["events"]
    assert any(e["type"] == "recovery" and e["outcome"] == "failure" for e in events)


def test_audit_of_one_aip_and_due_only(khoso, tmp_path: Path) -> None:
    aip = _two_copies(khoso, tmp_path)
    files = len(khoso.json("aip", "show", aip)["files"])
    assert khoso.json("audit", "--aip", aip)["checked"] == 2 * files
    # Every copy was verified at ingest just now: nothing is due.
    assert khoso.json("audit", "--due-only")["checked"] == 0
    assert khoso.json("audit", "--aip", "urn:uuid:NOPE", code=2)["error"]["kind"] == "not-found"


def test_unexpected_objects_are_reported_separately(khoso, tmp_path: Path) -> None:
    aip = _two_copies(khoso, tmp_path)
    stray = object_path(khoso.home, aip, "local", ".pdf").parent / "stray.bin"
    stray.write_bytes(b"not ours")
    result = khoso.json("audit")
    assert result["problems"] == []
    assert [u["key"].rsplit("/", 1)[-1] for u in result["unexpected"]] == ["stray.bin"]


def test_report_formats(khoso, tmp_path: Path) -> None:
    aip = _two_copies(khoso, tmp_path)
    flip_byte(object_path(khoso.home, aip, "offsite", ".pdf"))
    khoso.json("audit", code=1)
    report = khoso.ok("report", "--format", "json").json
    assert report["aips"] == 1
    assert report["event_log"]["intact"] is True
    assert [p["problem"] for p in report["open_problems"]] == ["corrupt"]
    coverage = {loc["location"]: loc["coverage"] for loc in report["locations"]}
    assert coverage == {"local": 1.0, "offsite": 0.0}
    html = tmp_path / "r.html"
    khoso.ok("report", "--format", "html", "--out", html)
    text = html.read_text(encoding="utf-8")
    assert "corrupt" in text and "<svg" in text and "http" not in text.split("<body>")[1]
    csv_text = khoso.ok("report", "--format", "csv").out
    assert "problem,offsite," in csv_text
