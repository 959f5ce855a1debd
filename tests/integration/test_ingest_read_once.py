"""Issue 3: a submitted bag's payload and a SIP's representation files are read once at ingest.

The validators defer the content digests; ``copy_transfer`` computes SHA-256 and every
algorithm a manifest or METS declares from the chunks it copies; the pipeline then rejects a
mismatch with the validator's own problem (exit 1, nothing stored, staging empty).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import bagit
import pytest

from repository.demo import make_sample_transfer
from tests.helpers.opens import record_opens
from tests.helpers.storage import location_root, staging_leftovers, stored_files


def _flip(path: Path) -> bytes:
    """Change one byte, keeping the size: only the digests can tell."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x20
    path.write_bytes(bytes(data))
    return bytes(data)


def _report(khoso) -> dict:  # type: ignore[no-untyped-def]
    reports = sorted((khoso.home / "reports/transfers").glob("*.json"),
                     key=lambda p: p.stat().st_mtime)
    return json.loads(reports[-1].read_text(encoding="utf-8"))


def _check(report: dict, name: str) -> dict:
    return next(c for c in report["checks"] if c["check"] == name)


def _nothing_kept(khoso) -> None:  # type: ignore[no-untyped-def]
    assert khoso.json("aip", "list")["aips"] == []
    assert stored_files(location_root(khoso.home, "local")) == []
    assert staging_leftovers(khoso.home) == []


@pytest.mark.parametrize("algorithm", ["sha256", "md5"])
def test_bag_altered_after_bagging_is_rejected_with_the_file_named(
        khoso, tmp_path: Path, algorithm: str) -> None:
    folder, _ = make_sample_transfer(tmp_path / "in", "Túi sửa", "Túi")
    bag = Path(bagit.make_bag(str(folder), checksums=[algorithm]).path)
    declared = bagit.Bag(str(bag)).entries["data/Tờ trình.txt"][algorithm]
    altered = _flip(bag / "data" / "Tờ trình.txt")

    error = khoso.json("ingest", bag, code=1)["error"]

    assert [d["code"] for d in error["details"]] == ["payload-digest-mismatch"]
    problem = error["details"][0]
    assert problem["path"] == "data/Tờ trình.txt"
    assert problem["extra"] == {"algorithm": algorithm, "expected": declared,
                                "found": hashlib.new(algorithm, altered).hexdigest()}
    assert f"manifest-{algorithm}.txt says {declared}" in problem["message"]
    _nothing_kept(khoso)
    report = _report(khoso)
    assert report["outcome"] == "rejected"
    assert _check(report, "package validation")["outcome"] == "passed"  # found while copying
    assert _check(report, "package fixity")["outcome"] == "failed"


def test_eark_sip_with_a_wrong_mets_checksum_is_rejected_while_copying(
        khoso, tmp_path: Path) -> None:
    from tests.helpers.eark import build_sip

    sip = build_sip(tmp_path / "sips")
    _flip(sip / "representations/rep1/data/Tờ trình số 2.txt")

    error = khoso.json("ingest", sip, code=1)["error"]

    assert [d["code"] for d in error["details"]] == ["checksum-mismatch"]
    assert error["details"][0]["path"] == "representations/rep1/data/Tờ trình số 2.txt"
    assert "representations/rep1/METS.xml" in error["details"][0]["message"]
    _nothing_kept(khoso)
    assert _check(_report(khoso), "package fixity")["outcome"] == "failed"


def test_unreadable_payload_file_is_rejected_as_the_validator_names_it(
        khoso, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ingest.aip

    folder, _ = make_sample_transfer(tmp_path / "in", "Túi", "Túi")
    bag = Path(bagit.make_bag(str(folder), checksums=["sha256"]).path)
    real = ingest.aip.open_regular

    def refuse(path: Path):  # type: ignore[no-untyped-def]
        if path.name == "Danh sách cán bộ.csv":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(ingest.aip, "open_regular", refuse)
    error = khoso.json("ingest", bag, code=1)["error"]
    assert [(d["code"], d["path"]) for d in error["details"]] == [
        ("payload-file-unreadable", "data/Danh sách cán bộ.csv")]
    _nothing_kept(khoso)


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every path opened by this process (os.open, open/io.open) while the test runs."""
    return record_opens(monkeypatch)


def test_each_payload_byte_of_a_bag_is_read_once(khoso, tmp_path: Path,
                                                 opened: list[str]) -> None:
    folder, _ = make_sample_transfer(tmp_path / "in", "Túi", "Túi")
    bag = Path(bagit.make_bag(str(folder), checksums=["sha256", "md5"]).path)
    payload = {str(p) for p in (bag / "data").rglob("*") if p.is_file()}
    opened.clear()

    result = khoso.json("ingest", bag)

    reads = {p: opened.count(p) for p in payload}
    assert reads == {p: 1 for p in payload}  # copied and hashed (SHA-256 + MD5) in one read
    report = _report(khoso)
    fixity = _check(report, "package fixity")
    assert fixity["outcome"] == "passed" and "md5, sha256" in fixity["detail"]
    events = khoso.json("aip", "show", result["aip"])["events"]
    assert [e["detail"]["check"] for e in events if e["type"] == "fixity check"] == [
        "package fixity"]


def test_each_representation_data_byte_of_a_sip_is_read_once(khoso, tmp_path: Path,
                                                             opened: list[str]) -> None:
    from tests.helpers.eark import build_sip

    sip = build_sip(tmp_path / "sips", algorithm="MD5")
    data = {str(p) for p in (sip / "representations/rep1/data").rglob("*") if p.is_file()}
    opened.clear()

    khoso.json("ingest", sip)

    assert {p: opened.count(p) for p in data} == {p: 1 for p in data}
    assert "md5" in _check(_report(khoso), "package fixity")["detail"]
