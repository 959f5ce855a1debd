"""Archives are recognised by content and unpacked only when every member is safe."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from ingest.unpack import FOLDER, TAR, TAR_GZ, UNKNOWN, ZIP, detect, opened, unpack
from policies.model import IntakeLimits
from repository.errors import TransferRejected

LIMITS = IntakeLimits()


def _zip(path: Path, members: dict[str, bytes], *, symlink: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            z.writestr(info, "/etc/passwd")
    return path


def _tar(path: Path, mode: str, members: list[tarfile.TarInfo], data: dict[str, bytes]) -> Path:
    with tarfile.open(path, mode) as t:
        for info in members:
            payload = data.get(info.name)
            if payload is not None:
                info.size = len(payload)
            t.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return path


def _rejected(path: Path, tmp_path: Path, limits: IntakeLimits = LIMITS) -> list[str]:
    with pytest.raises(TransferRejected) as info:
        unpack(path, tmp_path / "out", limits)
    assert not (tmp_path / "out").exists()  # nothing half-written is left
    return sorted(p.code for p in info.value.details)


def test_kind_is_read_from_content_not_extension(tmp_path: Path) -> None:
    z = _zip(tmp_path / "looks-like.tar", {"a.txt": b"x"})
    t = _tar(tmp_path / "looks-like.zip", "w", [tarfile.TarInfo("a.txt")], {"a.txt": b"x"})
    g = _tar(tmp_path / "plain.bin", "w:gz", [tarfile.TarInfo("a.txt")], {"a.txt": b"x"})
    (tmp_path / "notes.zip").write_bytes(b"just text")
    assert [detect(p) for p in (z, t, g, tmp_path / "notes.zip", tmp_path)] == [
        ZIP, TAR, TAR_GZ, UNKNOWN, FOLDER]


def test_vietnamese_zip_unpacks_byte_for_byte(tmp_path: Path) -> None:
    members = {"Hồ sơ 01/Quyết định.txt": "Quyết định".encode(), "Hồ sơ 01/Tờ trình.pdf": b"%PDF"}
    archive = _zip(tmp_path / "t.zip", members)
    with opened(archive, tmp_path / "stage", LIMITS) as root:
        assert root.name == "Hồ sơ 01"
        assert (root / "Quyết định.txt").read_bytes() == "Quyết định".encode()


@pytest.mark.parametrize("name,code", [
    ("../evil.txt", "path-escape"), ("/etc/cron.d/x", "path-escape"),
    ("a/../../x", "path-escape"), ("C:/Windows/x.txt", "path-windows"),
    ("a\\..\\x.txt", "path-windows"),
])
def test_escaping_zip_member_names_are_refused(tmp_path: Path, name: str, code: str) -> None:
    archive = _zip(tmp_path / "t.zip", {"ok.txt": b"1", name: b"2"})
    assert code in _rejected(archive, tmp_path)


def test_zip_symlink_member_is_refused(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "t.zip", {"ok.txt": b"1"}, symlink="passwd")
    assert _rejected(archive, tmp_path) == ["link-not-allowed"]


@pytest.mark.parametrize("kind,code", [
    (tarfile.SYMTYPE, "link-not-allowed"), (tarfile.LNKTYPE, "link-not-allowed"),
    (tarfile.CHRTYPE, "special-file-not-allowed"), (tarfile.FIFOTYPE, "special-file-not-allowed"),
])
def test_tar_links_and_devices_are_refused(tmp_path: Path, kind: bytes, code: str) -> None:
    bad = tarfile.TarInfo("bad")
    bad.type = kind
    bad.linkname = "/etc/shadow"
    archive = _tar(tmp_path / "t.tar", "w", [tarfile.TarInfo("ok.txt"), bad], {"ok.txt": b"1"})
    assert _rejected(archive, tmp_path) == [code]


def test_decompression_bomb_is_stopped_by_the_ratio_limit(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "bomb.zip", {"zeros.bin": bytes(64 * 2**20)})
    codes = _rejected(archive, tmp_path, IntakeLimits(max_ratio=50))
    assert codes == ["unpack-ratio"]


def test_total_size_and_file_count_limits_are_named(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "many.zip", {f"f{i}.txt": b"x" * 100 for i in range(20)})
    assert _rejected(archive, tmp_path, IntakeLimits(max_files=10)) == ["unpack-too-many-files"]
    assert _rejected(archive, tmp_path, IntakeLimits(max_total_bytes=1000)) == [
        "unpack-too-large"]


def test_lying_declared_sizes_are_caught_while_writing(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "t.tar.gz", "w:gz", [tarfile.TarInfo("big.bin")],
                   {"big.bin": bytes(3 * 2**20)})
    codes = _rejected(archive, tmp_path, IntakeLimits(max_total_bytes=2 * 2**20, max_ratio=1e9))
    assert codes == ["unpack-too-large"]


def test_duplicate_members_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "dup.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("a.txt", b"1")
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            z.writestr("a.txt", b"2")
    assert _rejected(path, tmp_path) == ["duplicate-member"]


def test_truncated_archive_is_a_clear_error(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "t.tar.gz", "w:gz", [tarfile.TarInfo("a.bin")],
                   {"a.bin": bytes(range(256)) * 4000})
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    assert _rejected(archive, tmp_path) == ["archive-unreadable"]
