"""Hostile manifests, names and archives: every one ends as a named problem, never a crash.

Bags are built here as BagIt 1.0 with sha256 manifests; the fixtures are named after the problem
code they must produce.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tarfile
import unicodedata
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.bag import open_serialized_bag, validate_bag
from ingest.bagit_parsers import (
    encode_path,
    read_bag_info,
    read_bagit_txt,
    read_fetch,
    read_manifest,
)
from repository.errors import InvalidInput, Problem

KEBAB = r"^[a-z0-9]+(-[a-z0-9]+)*$"
FAST = settings(max_examples=150, derandomize=True, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_bag(root: Path, files: dict[str, bytes], *, manifest_names: dict[str, str] | None = None,
             extra_lines: str = "", fetch: str | None = None) -> Path:
    """A BagIt 1.0 bag; ``manifest_names`` lists a payload file under another spelling."""
    names = manifest_names or {}
    for rel, data in files.items():
        target = root / "data" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "bagit.txt").write_text("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n",
                                    encoding="utf-8")
    lines = "".join(f"{_sha256(data)}  {encode_path('data/' + names.get(rel, rel))}\n"
                    for rel, data in files.items())
    (root / "manifest-sha256.txt").write_text(lines + extra_lines, encoding="utf-8")
    if fetch is not None:
        (root / "fetch.txt").write_text(fetch, encoding="utf-8")
    return root


def codes(problems: list[Problem]) -> set[str]:
    return {p.code for p in problems}


# --- the manifest reader ---------------------------------------------------------------------

@FAST
@given(data=st.binary(max_size=400), version=st.sampled_from([(0, 96), (0, 97), (1, 0)]),
       encoding=st.sampled_from(["utf-8", "utf-16", "iso-8859-1"]))
def test_manifest_reader_turns_any_bytes_into_problems_not_exceptions(
        data: bytes, version: tuple[int, int], encoding: str) -> None:
    parsed = read_manifest(data, name="manifest-sha256.txt", version=version, encoding=encoding)
    for problem in parsed.errors + parsed.warnings:
        assert isinstance(problem, Problem)
        assert re.match(KEBAB, problem.code), problem
    for entry in parsed.value.entries:
        assert entry.path.startswith("data/")
        assert ".." not in entry.path.split("/")


_COMPONENT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/\\\x00"),
    min_size=1, max_size=12).filter(lambda c: c not in (".", ".."))


@FAST
@given(parts=st.lists(_COMPONENT, min_size=1, max_size=4), content=st.binary(max_size=64))
def test_manifest_line_round_trips_any_safe_path(parts: list[str], content: bytes) -> None:
    path = "data/" + "/".join(parts)
    digest = _sha256(content)
    parsed = read_manifest(f"{digest}  {encode_path(path)}\n", name="manifest-sha256.txt")
    assert parsed.errors == []
    assert [(e.path, e.digest) for e in parsed.value.entries] == [(path, digest)]


@FAST
@given(prefix=st.sampled_from(["/", "~", "~root/", "C:\\", "c:/", "\\\\?\\UNC\\", "file:///",
                               "%HomeDrive%\\", "data/../", "../", "data/x/../../"]),
       rest=_COMPONENT)
def test_every_escaping_path_is_a_path_escape(prefix: str, rest: str) -> None:
    line = f"{_sha256(b'')}  {encode_path(prefix + rest)}\n"
    parsed = read_manifest(line, name="manifest-sha256.txt")
    assert "path-escape" in codes(parsed.errors)
    assert parsed.value.entries == ()


@pytest.mark.parametrize(("line", "code"), [
    ("zz  data/a.txt", "manifest-line-invalid"),
    (f"{'0' * 63}  data/a.txt", "manifest-line-invalid"),
    (f"{'0' * 64}", "manifest-line-invalid"),
    (f"{'0' * 64}  data/50%.txt", "manifest-path-encoding-invalid"),
    (f"{'0' * 64}  data/a%2Fb.txt", "manifest-path-encoding-invalid"),
    (f"{'0' * 64}  data\\a.txt", "path-not-portable"),
    (f"{'0' * 64}  bag-info.txt", "manifest-entry-outside-payload"),
    (f"{'0' * 64}  data", "manifest-entry-outside-payload"),
    (f"{'0' * 64}  data/a\x00b", "path-escape"),
])
def test_hostile_manifest_line_is_named(line: str, code: str) -> None:
    assert code in codes(read_manifest(line + "\n", name="manifest-sha256.txt").errors)


def test_percent_is_literal_before_bagit_1_0() -> None:
    parsed = read_manifest(f"{'0' * 32} data/%7Etest1.txt\n", name="manifest-md5.txt",
                           version=(0, 97))
    assert [e.path for e in parsed.value.entries] == ["data/%7Etest1.txt"]


def test_bagit_1_0_decodes_percent_cr_lf_only() -> None:
    parsed = read_manifest(f"{'0' * 64}  data/a%0Ab%0Dc%25d%250A.txt\n",
                           name="manifest-sha256.txt")
    assert [e.path for e in parsed.value.entries] == ["data/a\nb\rc%d%0A.txt"]


def test_tag_manifest_may_not_list_payload() -> None:
    parsed = read_manifest(f"{'0' * 64} data/a.txt\n", name="tagmanifest-sha256.txt")
    assert "tag-manifest-lists-payload" in codes(parsed.errors)


# --- the other readers -----------------------------------------------------------------------

@pytest.mark.parametrize(("data", "version", "expect_error"), [
    (b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n", (1, 0), False),
    (b"BagIt-Version : 1.0\nTag-File-Character-Encoding: UTF-8\n", (1, 0), True),
    (b"Tag-File-Character-Encoding: UTF-8\nBagIt-Version: 1.0\n", (1, 0), True),
    (b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\nExtra: 1\n", (1, 0), True),
    (b"BagIt-Version: 0.97\r\nTag-File-Character-Encoding: UTF-8", (0, 97), False),
    (b"\xef\xbb\xbfBagIt-Version: 0.97\nTag-File-Character-Encoding: UTF-8\n", (0, 97), True),
    (b"BagIt-Version: 1.0\nTag-File-Character-Encoding: KLINGON\n", None, True),
    (b"BagIt-Version: 1\nTag-File-Character-Encoding: UTF-8\n", None, True),
])
def test_bag_declaration(data: bytes, version: tuple[int, int] | None,
                         expect_error: bool) -> None:
    parsed = read_bagit_txt(data)
    assert bool(parsed.errors) is expect_error, parsed.errors
    if version is not None:
        assert parsed.value is not None and parsed.value.version_info == version


def test_bag_info_folds_continuation_lines_and_keeps_order() -> None:
    text = "Source-Organization: Chi cục\nExternal-Description: Hồ sơ\n  Núñez: 1\nA: 1\nA: 2\n"
    parsed = read_bag_info(text)
    assert parsed.errors == []
    assert parsed.value == (("Source-Organization", "Chi cục"),
                            ("External-Description", "Hồ sơ\nNúñez: 1"), ("A", "1"), ("A", "2"))


def test_bag_info_label_ending_in_space_is_invalid_only_from_1_0() -> None:
    assert "bag-info-invalid" in codes(read_bag_info("Label : v\n").errors)
    assert read_bag_info("Label : v\n", version=(0, 97)).value == (("Label", "v"),)


@pytest.mark.parametrize(("line", "code"), [
    ("ftp://example.org/a - data/a", "fetch-url-invalid"),
    ("http:///a - data/a", "fetch-url-invalid"),
    ("http://example.org/a 12kB data/a", "fetch-line-invalid"),
    ("http://example.org/a -", "fetch-line-invalid"),
    ("http://example.org/a - data/../../etc/passwd", "path-escape"),
    ("http://example.org/a - /etc/passwd", "path-escape"),
])
def test_hostile_fetch_line_is_named(line: str, code: str) -> None:
    assert code in codes(read_fetch(line + "\r\n").errors)


# --- whole bags ------------------------------------------------------------------------------

def test_payload_entries_carry_sizes_and_computed_digests(tmp_path: Path) -> None:
    files = {"hồ sơ/quyết định.pdf": b"%PDF-1.7 demo", "empty": b""}
    report = validate_bag(make_bag(tmp_path / "bag", files), processes=3)
    assert report.valid and report.version == "1.0", report.errors
    assert [(p.path, p.size, p.digests) for p in report.payload] == sorted(
        (f"data/{rel}", len(data), {"sha256": _sha256(data)}) for rel, data in files.items())


def test_validation_writes_nothing(tmp_path: Path) -> None:
    bag = make_bag(tmp_path / "bag", {"a.txt": b"a", "sub/b.txt": b"b"})
    before = {p: (p.stat().st_mtime_ns, p.read_bytes() if p.is_file() else None)
              for p in bag.rglob("*")}
    validate_bag(bag)
    validate_bag(bag, fast=True)
    assert {p: (p.stat().st_mtime_ns, p.read_bytes() if p.is_file() else None)
            for p in bag.rglob("*")} == before


def test_payload_digest_mismatch(tmp_path: Path) -> None:
    bag = make_bag(tmp_path / "bag", {"a.txt": b"original"})
    (bag / "data" / "a.txt").write_bytes(b"tampered")
    report = validate_bag(bag)
    assert codes(report.errors) == {"payload-digest-mismatch"}
    assert report.errors[0].path == "data/a.txt"
    assert "manifest-sha256.txt" in report.errors[0].message


def test_fast_validation_hashes_nothing_and_says_so(tmp_path: Path) -> None:
    bag = make_bag(tmp_path / "bag", {"a.txt": b"original"})
    (bag / "data" / "a.txt").write_bytes(b"tampered")
    report = validate_bag(bag, fast=True)
    assert report.valid and "fixity-not-checked" in codes(report.warnings)
    assert report.payload[0].digests == {"sha256": _sha256(b"original")}


def test_symlink_in_bag(tmp_path: Path) -> None:
    bag = make_bag(tmp_path / "bag", {"a.txt": b"a"})
    os.symlink("/etc/passwd", bag / "data" / "passwd")
    report = validate_bag(bag)
    assert "symlink-in-bag" in codes(report.errors)
    assert [p.path for p in report.payload] == ["data/a.txt"]


def test_special_file_in_bag(tmp_path: Path) -> None:
    bag = make_bag(tmp_path / "bag", {"a.txt": b"a"})
    os.mkfifo(bag / "data" / "pipe")
    assert "special-file-in-bag" in codes(validate_bag(bag).errors)


def test_name_normalization_mismatch(tmp_path: Path) -> None:
    nfc = unicodedata.normalize("NFC", "Nguyễn.txt")
    nfd = unicodedata.normalize("NFD", nfc)
    bag = make_bag(tmp_path / "bag", {nfc: b"x"}, manifest_names={nfc: nfd})
    report = validate_bag(bag)
    assert report.valid, report.errors
    assert "name-normalization-mismatch" in codes(report.warnings)


def test_name_normalization_collision_on_disk(tmp_path: Path) -> None:
    nfc = unicodedata.normalize("NFC", "Nguyễn.txt")
    nfd = unicodedata.normalize("NFD", nfc)
    report = validate_bag(make_bag(tmp_path / "bag", {nfc: b"x", nfd: b"y"}))
    assert "name-normalization-collision" in codes(report.errors)


def test_entry_listed_twice_by_case_is_an_error_in_1_0(tmp_path: Path) -> None:
    bag = make_bag(tmp_path / "bag", {"hello.txt": b"hi"},
                   extra_lines=f"{_sha256(b'hi')}  data/HELLO.txt\n")
    assert "name-case-collision" in codes(validate_bag(bag).errors)


def test_unmatched_entry_is_payload_file_missing(tmp_path: Path) -> None:
    bag = make_bag(tmp_path / "bag", {"a.txt": b"a"},
                   extra_lines=f"{_sha256(b'')}  data/b.txt\n")
    assert codes(validate_bag(bag).errors) == {"payload-file-missing"}


def test_unfetched_item_is_fetch_not_allowed(tmp_path: Path) -> None:
    bag = make_bag(tmp_path / "bag", {"a.txt": b"a"},
                   extra_lines=f"{_sha256(b'b')}  data/b.txt\n",
                   fetch="https://example.org/b - data/b.txt\n")
    assert codes(validate_bag(bag).errors) == {"fetch-not-allowed"}


def test_unsupported_algorithm_alone_is_an_error(tmp_path: Path) -> None:
    bag = make_bag(tmp_path / "bag", {"a.txt": b"a"})
    (bag / "manifest-sha256.txt").rename(bag / "manifest-blake3.txt")
    report = validate_bag(bag)
    assert "unsupported-algorithm" in codes(report.errors)
    assert "unsupported algorithm" in report.errors[0].message


def test_not_a_directory(tmp_path: Path) -> None:
    (tmp_path / "bag.zip").write_bytes(b"PK")
    assert codes(validate_bag(tmp_path / "bag.zip").errors) == {"bag-not-a-directory"}
    assert codes(validate_bag(tmp_path / "nothing").errors) == {"bag-not-found"}


def test_missing_profile_file_is_named(tmp_path: Path) -> None:
    bag = make_bag(tmp_path / "bag", {"a.txt": b"a"})
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    assert "profile-unavailable" in codes(
        validate_bag(bag, profile=tmp_path / "absent.json").errors)
    assert "profile-invalid" in codes(validate_bag(bag, profile=tmp_path / "broken.json").errors)


# --- serialized bags -------------------------------------------------------------------------

def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.mark.parametrize("evil", ["../evil.txt", "/etc/evil", "bag/../../evil", "C:/evil",
                                  "bag\\..\\evil"])
def test_zip_member_escaping_the_workdir_is_rejected_before_writing(tmp_path: Path,
                                                                   evil: str) -> None:
    archive = _zip(tmp_path / "bag.zip", {"bag/bagit.txt": b"", evil: b"x"})
    workdir = tmp_path / "work"
    workdir.mkdir()
    with pytest.raises(InvalidInput) as caught:
        open_serialized_bag(archive, workdir)
    assert "serialization-unsafe-member" in codes(caught.value.details)
    assert list(workdir.iterdir()) == []
    assert not (tmp_path / "evil.txt").exists()


def test_tar_link_member_is_rejected(tmp_path: Path) -> None:
    archive = tmp_path / "bag.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        link = tarfile.TarInfo("bag/data/passwd")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
        info = tarfile.TarInfo("bag/bagit.txt")
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(InvalidInput) as caught:
        open_serialized_bag(archive, tmp_path)
    assert "serialization-unsafe-member" in codes(caught.value.details)


def test_serialized_bag_round_trip(tmp_path: Path) -> None:
    bag = make_bag(tmp_path / "src" / "mybag", {"a.txt": b"a"})
    members = {f"mybag/{p.relative_to(bag).as_posix()}": p.read_bytes()
               for p in bag.rglob("*") if p.is_file()}
    unpacked = open_serialized_bag(_zip(tmp_path / "mybag.zip", members), tmp_path / "out")
    assert unpacked.root == tmp_path / "out" / "mybag" and unpacked.warnings == []
    assert validate_bag(unpacked.root).valid


def test_fetch_url_with_unbalanced_bracket_is_a_problem_not_a_crash() -> None:
    # Found by scripts/fuzz/fuzz_bagit.py: urlsplit raises ValueError("Invalid IPv6 URL").
    from ingest.bagit_parsers import read_fetch

    parsed = read_fetch(b"https://en.wikipedia.o[rguuuu - /tmp/test.txt\r\n")
    assert [e.code for e in parsed.errors][:1] == ["fetch-url-invalid"]


def test_encoding_name_with_nul_is_a_problem_not_a_crash() -> None:
    # Found by scripts/fuzz/fuzz_bagit.py: codecs.lookup raises ValueError on a NUL.
    from ingest.bagit_parsers import read_bagit_txt

    parsed = read_bagit_txt(b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF\x00-8\n")
    assert "tag-encoding-unsupported" in [e.code for e in parsed.errors]
