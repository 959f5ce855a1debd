"""Validators that defer content digests to the copy: same checks before it, same problems after.

``validate_bag(defer_payload=True)`` and ``validate_eark(defer_representations=True)`` (what
ingest uses) must not read the content files, must still report everything else before any
copying, and must hand over expectations that give exactly the problems full validation gives
when they are compared with digests computed elsewhere (ingest/pipeline.py does so from the
chunks it copies). Full validation stays the default.
"""

from __future__ import annotations

import hashlib
import io
import os
import zlib
from pathlib import Path

import bagit
import pytest

from ingest.bag import validate_bag
from ingest.eark import validate_eark
from storage.fixity import copy_and_hash
from tests.helpers.eark import build_sip
from tests.helpers.opens import record_opens

FILES = {"Tờ trình.txt": "Tờ trình về việc lưu trữ hồ sơ\n".encode(),
         "Văn bản đi/Quyết định số 15.pdf": b"%PDF-1.4\n" + bytes(range(256)) * 40,
         "rỗng.txt": b""}


def _bag(tmp_path: Path, checksums: list[str]) -> Path:
    folder = tmp_path / "Túi"
    for rel, data in FILES.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    return Path(bagit.make_bag(str(folder), checksums=checksums).path)


def _flip(path: Path) -> bytes:
    """Change one byte, keeping the size (so Payload-Oxum and METS SIZE still agree)."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x20
    path.write_bytes(bytes(data))
    return bytes(data)


def _digests(path: Path, algorithms: set[str]) -> tuple[int, dict[str, str]]:
    """What copy_transfer reports: size, the algorithms asked for, and SHA-256."""
    data = path.read_bytes()
    out = {a: hashlib.new(a, data).hexdigest() for a in algorithms | {"sha256"}}
    return len(data), out


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every path opened (os.open, open, io.open) while the test runs."""
    return record_opens(monkeypatch)


def test_deferred_bag_validation_reads_no_payload_file(tmp_path: Path, opened: list[str]) -> None:
    bag = _bag(tmp_path, ["sha256", "md5"])
    report = validate_bag(bag, defer_payload=True)
    assert report.valid, report.errors
    assert not [p for p in opened if "/data/" in p]
    assert set(report.deferred) == {f"data/{rel}" for rel in FILES}
    manifests = bagit.Bag(str(bag)).entries
    for path, deferred in report.deferred.items():
        assert set(deferred.expected) == {"sha256", "md5"}
        for algorithm, declared in deferred.expected.items():
            assert declared == {manifests[path][algorithm]: f"manifest-{algorithm}.txt"}
    assert "fixity-not-checked" not in {w.code for w in report.warnings}


def test_full_validation_stays_the_default(tmp_path: Path, opened: list[str]) -> None:
    bag = _bag(tmp_path, ["sha256"])
    report = validate_bag(bag)
    assert report.deferred == {}
    assert {p.split("/data/", 1)[1] for p in opened if "/data/" in p} == set(FILES)
    assert validate_eark(build_sip(tmp_path / "sip")).deferred == {}


@pytest.mark.parametrize("checksums", [["sha256"], ["md5"], ["sha512", "sha1"]])
def test_deferred_bag_digests_give_the_problems_full_validation_gives(
        tmp_path: Path, checksums: list[str]) -> None:
    bag = _bag(tmp_path, checksums)
    altered = bag / "data" / "Tờ trình.txt"
    _flip(altered)
    full = validate_bag(bag)
    deferred = validate_bag(bag, defer_payload=True)
    assert deferred.valid and deferred.errors == []  # the size is unchanged: nothing else
    assert {p.code for p in full.errors} == {"payload-digest-mismatch"}
    later = []
    for path, expected in sorted(deferred.deferred.items()):
        assert set(expected.hashers()) == set(checksums)
        later += expected.problems(*_digests(bag / path, set(checksums)))
    assert [p.as_dict() for p in later] == [p.as_dict() for p in full.errors]
    assert all(p.path == "data/Tờ trình.txt" for p in later)
    unreadable = deferred.deferred["data/Tờ trình.txt"].unreadable(PermissionError(13, "denied"))
    assert (unreadable.code, unreadable.path) == ("payload-file-unreadable", "data/Tờ trình.txt")


def test_a_bag_invalid_otherwise_is_verified_before_copying_and_lists_every_problem(
        tmp_path: Path) -> None:
    bag = _bag(tmp_path, ["sha256"])
    (bag / "data" / "Tờ trình.txt").write_bytes("sửa đổi".encode())  # size changes too
    full = validate_bag(bag)
    deferred = validate_bag(bag, defer_payload=True)
    assert {p.code for p in full.errors} == {"oxum-mismatch", "payload-digest-mismatch"}
    assert sorted((p.code, p.path, p.message) for p in deferred.errors) == \
        sorted((p.code, p.path, p.message) for p in full.errors)
    assert deferred.deferred == {}


@pytest.mark.parametrize("algorithm", ["SHA-256", "MD5", "SHA-1"])
def test_deferred_eark_checksums_give_the_problems_full_validation_gives(
        tmp_path: Path, algorithm: str, opened: list[str]) -> None:
    sip = build_sip(tmp_path, algorithm=algorithm)
    target = sip / "representations/rep1/data/Tờ trình số 2.txt"
    _flip(target)
    opened.clear()
    deferred = validate_eark(sip, defer_representations=True)
    assert not [p for p in opened if "/representations/rep1/data/" in p]
    assert deferred.valid, deferred.errors
    assert set(deferred.deferred) == {f.path for f in deferred.files
                                      if f.path.startswith("representations/")}
    full = validate_eark(sip)
    assert [p.code for p in full.errors] == ["checksum-mismatch"]
    ours = algorithm.replace("-", "").lower()
    later = []
    for path, expected in sorted(deferred.deferred.items()):
        assert set(expected.hashers()) <= {ours}
        later += expected.problems(*_digests(sip / path, {ours}))
    assert [p.as_dict() for p in later] == [p.as_dict() for p in full.errors]


def test_deferred_eark_validation_still_compares_sizes_before_copying(tmp_path: Path) -> None:
    sip = build_sip(tmp_path)
    target = sip / "representations/rep1/data/Tờ trình số 2.txt"
    target.write_bytes(target.read_bytes() + b"!")
    deferred = validate_eark(sip, defer_representations=True)
    assert {p.code for p in deferred.errors} == {"size-mismatch", "checksum-mismatch"}
    assert {p.code for p in validate_eark(sip).errors} == {"size-mismatch", "checksum-mismatch"}
    assert deferred.deferred == {}  # invalid anyway: verified here, every problem listed


def test_copy_and_hash_feeds_extra_hashers_the_same_chunks(tmp_path: Path) -> None:
    from ingest.eark_refs import _hasher

    data = os.urandom(3 * 1024 * 1024 + 17)
    extra = {"md5": hashlib.md5(), "sha1": hashlib.sha1(), "crc32": _hasher("crc32")}
    out = io.BytesIO()
    digest = copy_and_hash(io.BytesIO(data), out, extra=extra.values())
    assert out.getvalue() == data
    assert (digest.size, digest.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert extra["md5"].hexdigest() == hashlib.md5(data).hexdigest()
    assert extra["sha1"].hexdigest() == hashlib.sha1(data).hexdigest()
    assert extra["crc32"].hexdigest() == f"{zlib.crc32(data) & 0xFFFFFFFF:08x}"


@pytest.mark.parametrize("kind", ["bag", "sip"])
def test_a_file_that_appears_after_validation_is_refused(tmp_path: Path, kind: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The copy follows its own walk of the content: a file written in between would be
    copied with no digest to check it against, so intake names it and refuses."""
    import ingest.intake as intake_module
    from policies.model import IntakeLimits

    package = _bag(tmp_path, ["sha256"]) if kind == "bag" else build_sip(tmp_path / "sip")
    content = package / "data" if kind == "bag" else next(
        p.parent for p in (package / "representations").rglob("*") if p.is_file()
        and p.name != "METS.xml")
    real_read = intake_module.read_transfer

    def racing_read(root: Path):  # type: ignore[no-untyped-def]
        (content / "mới thêm.txt").write_bytes(b"written after the validator walked\n")
        return real_read(root)

    monkeypatch.setattr(intake_module, "read_transfer", racing_read)
    with intake_module.open_intake(package, tmp_path / "unpack", IntakeLimits()) as intake:
        changed = [p for p in intake.problems if p.code == "content-changed-during-intake"]
    assert len(changed) == 1 and changed[0].path is not None
    assert changed[0].path.endswith("mới thêm.txt") and "appeared" in changed[0].message
