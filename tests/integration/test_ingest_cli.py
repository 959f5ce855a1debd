"""Ingest through the CLI on both catalogs: bytes preserved, digests, copies, rejections."""

from __future__ import annotations

import hashlib
import os
import unicodedata
from pathlib import Path

import bagit

from repository.demo import make_sample_transfer
from tests.helpers.storage import location_root, staging_leftovers, stored_files


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _second_location(khoso, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    root = tmp_path / "offsite"
    khoso.ok("storage", "add", "offsite", root.as_uri())
    return root


def test_ingest_stores_verified_bag_in_two_locations(khoso, tmp_path: Path) -> None:
    offsite = _second_location(khoso, tmp_path)
    transfer, metadata = make_sample_transfer(tmp_path / "in", "Hồ sơ 01", "Kế hoạch năm 2026")
    result = khoso.json("ingest", transfer, "--metadata", metadata)

    assert result["files"] == 3
    assert result["bytes"] == sum(p.stat().st_size for p in transfer.rglob("*") if p.is_file())
    assert sorted(r["location"] for r in result["replicas"]) == ["local", "offsite"]
    assert all(r["status"] == "verified" for r in result["replicas"])

    prefix = result["aip"].replace(":", "_")
    for root in (location_root(khoso.home, "local"), offsite):
        bag = bagit.Bag(str(root / prefix))
        bag.validate()  # full validation: every payload digest recomputed by bagit
        assert bag.version_info == (1, 0)
        assert set(bag.algorithms) == {"sha256"}
        assert bag.info["External-Identifier"] == result["aip"]
        assert bag.info["Bag-Software-Agent"].startswith("khoso ")
        assert bag.info["Source-Organization"] == "Ủy ban nhân dân tỉnh Hà Nam"
        assert "Bagging-Date" in bag.info
        for original in (p for p in transfer.rglob("*") if p.is_file()):
            rel = original.relative_to(transfer).as_posix()
            stored = root / prefix / "data/representations/rep1/data" / rel
            assert stored.read_bytes() == original.read_bytes()
        assert (root / prefix / "data/METS.xml").is_file()
        assert (root / prefix / "data/metadata/preservation/PREMIS.xml").is_file()
    # "local" (staging's filesystem) took the staged files themselves: hard links, left with
    # one name each once staging is gone, never shared with the other location's copy.
    local, other = (stored_files(root / prefix) for root in
                    (location_root(khoso.home, "local"), offsite))
    assert len(local) == len(other) > 3
    local_inodes = {os.stat(p).st_ino for p in local}
    assert all(os.stat(p).st_nlink == 1 for p in local + other)
    assert not local_inodes & {os.stat(p).st_ino for p in other}
    assert staging_leftovers(khoso.home) == []


def test_aip_show_lists_files_digests_copies_and_premis_events(khoso, tmp_path: Path) -> None:
    _second_location(khoso, tmp_path)
    transfer, metadata = make_sample_transfer(tmp_path / "in", "Hồ sơ 02", "Báo cáo")
    aip = khoso.json("ingest", transfer, "--metadata", metadata)["aip"]

    listed = khoso.json("aip", "list")["aips"]
    assert [a["aip"] for a in listed] == [aip]
    assert listed[0]["classification"] == "unclassified"

    shown = khoso.json("aip", "show", aip)
    by_path = {f["path"]: f for f in shown["files"]}
    pdf = next(p for p in by_path if p.endswith(".pdf"))
    source_pdf = next(transfer.rglob("*.pdf"))
    assert by_path[pdf]["sha256"] == _sha(source_pdf)
    assert by_path[pdf]["size"] == source_pdf.stat().st_size
    assert by_path[pdf]["mime"] == "application/pdf"
    assert {r["location"] for r in shown["replicas"]} == {"local", "offsite"}
    assert all(r["last_verified"] for r in shown["replicas"])
    types = [e["type"] for e in shown["events"]]
    assert types[0] == "ingestion start" and types[-1] == "ingestion end"
    assert "message digest calculation" in types
    assert types.count("replication") == 2
    assert all(e["agent"] and e["outcome"] == "success" for e in shown["events"])


def test_nfc_and_nfd_names_are_rejected_with_both_names(khoso, tmp_path: Path) -> None:
    transfer = tmp_path / "in"
    transfer.mkdir()
    name = "Quyết định.txt"
    (transfer / unicodedata.normalize("NFC", name)).write_text("một")
    (transfer / unicodedata.normalize("NFD", name)).write_text("hai")
    before = stored_files(location_root(khoso.home, "local"))

    error = khoso.json("ingest", transfer, code=1)["error"]

    assert error["code"] == 1
    assert [d["code"] for d in error["details"]] == ["name-normalization-collision"]
    assert khoso.json("aip", "list")["aips"] == []
    assert stored_files(location_root(khoso.home, "local")) == before
    assert staging_leftovers(khoso.home) == []


def test_rejected_transfer_lists_every_problem_and_leaves_no_copy(khoso, tmp_path: Path) -> None:
    _second_location(khoso, tmp_path)
    transfer = tmp_path / "in"
    (transfer / "sub").mkdir(parents=True)
    (transfer / "ok.txt").write_text("good")
    os.symlink("/etc/passwd", transfer / "sub" / "passwd")
    (transfer / "Readme.TXT").write_text("a")
    (transfer / "readme.txt").write_text("b")
    os.mkfifo(transfer / "pipe")

    error = khoso.json("ingest", transfer, code=1)["error"]

    codes = sorted(d["code"] for d in error["details"])
    assert codes == ["link-not-allowed", "name-case-collision", "special-file-not-allowed"]
    assert "/etc/passwd" in next(d["message"] for d in error["details"]
                                 if d["code"] == "link-not-allowed")
    assert khoso.json("aip", "list")["aips"] == []
    for loc in ("local", "offsite"):
        assert stored_files(location_root(khoso.home, loc)) == []
    assert staging_leftovers(khoso.home) == []
    events = khoso.json("log", "verify")
    assert events["intact"]


def test_missing_transfer_and_bad_metadata_are_input_errors(khoso, tmp_path: Path) -> None:
    assert khoso.json("ingest", tmp_path / "nowhere", code=1)["error"]["message"].endswith(
        "no such file or folder")
    transfer, _ = make_sample_transfer(tmp_path / "in", "Hồ sơ", "x")
    bad = tmp_path / "bad.json"
    bad.write_text('{"title": "x", "mode": "09"}', encoding="utf-8")
    error = khoso.json("ingest", transfer, "--metadata", bad, code=1)["error"]
    assert "mode" in {d.get("field") for d in error["details"]}
    assert "bad.json" in error["message"]
    assert khoso.json("aip", "list")["aips"] == []


def test_classified_ingest_refused_when_no_location_may_hold_it(khoso, tmp_path: Path) -> None:
    khoso.ok("storage", "add", "cloud", (tmp_path / "cloud").as_uri(),
             "--option", "max_classification=unclassified")
    transfer, _ = make_sample_transfer(tmp_path / "in", "Hồ sơ mật", "Mật")
    error = khoso.json("ingest", transfer, "--classification", "mat", code=3)["error"]
    assert "replication.min_copies" in error["message"]
    assert "cloud" in error["message"]
    assert stored_files(tmp_path / "cloud") == []
    assert khoso.json("aip", "list")["aips"] == []
