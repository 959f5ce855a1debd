"""Recognise a transfer by its content and unpack archives safely inside staging.

Formats: ZIP, tar, and gzip- or bzip2-compressed tar, recognised by their magic bytes, never
by extension. Every member is checked before a byte is written: names that escape (absolute,
``..``, drive letters, backslashes), links, devices and FIFOs, duplicates, and the policy's
limits on file count and declared size. While extracting, the bytes actually written are
counted again (declared sizes can lie) against the total and the expansion ratio; passing
any limit stops extraction and names the limit. The caller removes the staging folder.
"""

from __future__ import annotations

import bz2
import gzip
import os
import shutil
import stat
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ingest.safety import check_name, shown
from policies.model import IntakeLimits
from repository.errors import Problem, TransferRejected
from storage.backend import CHUNK

FOLDER, ZIP, TAR, TAR_GZ, TAR_BZ2, UNKNOWN = "folder", "zip", "tar", "tar.gz", "tar.bz2", "?"


def detect(path: Path) -> str:
    """What a transfer is, from its content."""
    if path.is_dir():
        return FOLDER
    with open(path, "rb") as fh:
        head = fh.read(512)
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        return ZIP
    if head[:2] == b"\x1f\x8b":
        return TAR_GZ if _inner_is_tar(gzip.open(path)) else UNKNOWN
    if head[:3] == b"BZh":
        return TAR_BZ2 if _inner_is_tar(bz2.open(path)) else UNKNOWN
    if len(head) >= 262 and head[257:262] == b"ustar":
        return TAR
    return UNKNOWN


def _inner_is_tar(stream: BinaryIO) -> bool:
    try:
        with stream:
            block = stream.read(512)
    except (OSError, EOFError):
        return False
    return len(block) >= 262 and block[257:262] == b"ustar"


@dataclass(frozen=True)
class Member:
    name: str
    size: int
    is_dir: bool


class _Budget:
    def __init__(self, limits: IntakeLimits, archive_size: int, source: str) -> None:
        self.limits, self.archive_size, self.source = limits, max(archive_size, 1), source
        self.written = 0

    def add(self, n: int) -> None:
        self.written += n
        if self.written > self.limits.max_total_bytes:
            self._stop("unpack-too-large", f"unpacks to more than max_total_bytes "
                       f"({self.limits.max_total_bytes} bytes)")
        if self.written > 1_048_576 and self.written / self.archive_size > self.limits.max_ratio:
            self._stop("unpack-ratio", f"expands more than max_ratio "
                       f"({self.limits.max_ratio:g}x its {self.archive_size} bytes): "
                       "a decompression bomb?")

    def _stop(self, code: str, text: str) -> None:
        raise TransferRejected(source=self.source, count=1, details=[
            Problem(code, f"{self.source}: {text}", rule="policies/intake.yaml limits")])


def unpack(path: Path, dest: Path, limits: IntakeLimits) -> Path:
    """Extract the archive at ``path`` into ``dest`` (created); return the transfer root."""
    kind = detect(path)
    if kind == UNKNOWN:
        raise TransferRejected(source=str(path), count=1, details=[Problem(
            "unknown-container", f"{path.name}: not a folder, ZIP or tar archive (by content)",
            path=str(path))])
    if dest.exists():
        raise FileExistsError(f"staging folder {dest} already exists")
    budget = _Budget(limits, path.stat().st_size, path.name)
    try:
        if kind == ZIP:
            _unzip(path, dest, limits, budget)
        else:
            _untar(path, dest, limits, budget)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)  # nothing half-written stays behind
        raise
    return dest


def _check_members(source: str, members: list[Member], limits: IntakeLimits,
                   problems: list[Problem]) -> None:
    seen: set[str] = set()
    for m in members:
        name = m.name.rstrip("/")
        if not name:
            continue
        for p in check_name(name):
            problems.append(Problem(p.code, f"{source}: member {p.message}", path=p.path))
        if len(name.encode("utf-8", "surrogateescape")) > limits.max_path_bytes:
            problems.append(Problem("path-too-long", f"{source}: member {shown(name)[:80]}… "
                                    f"is longer than max_path_bytes ({limits.max_path_bytes})",
                                    path=shown(name)))
        if name in seen and not m.is_dir:
            problems.append(Problem("duplicate-member", f"{source}: {shown(name)} appears twice "
                                    "in the archive", path=shown(name)))
        seen.add(name)
    files = [m for m in members if not m.is_dir]
    if len(files) > limits.max_files:
        problems.append(Problem("unpack-too-many-files", f"{source}: {len(files)} files, more "
                                f"than max_files ({limits.max_files})",
                                rule="policies/intake.yaml limits"))
    declared = sum(m.size for m in files)
    if declared > limits.max_total_bytes:
        problems.append(Problem("unpack-too-large", f"{source}: declares {declared} bytes, more "
                                f"than max_total_bytes ({limits.max_total_bytes})",
                                rule="policies/intake.yaml limits"))


def _unzip(path: Path, dest: Path, limits: IntakeLimits, budget: _Budget) -> None:
    source = path.name
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise _broken(source, exc) from exc
    with archive:
        infos = archive.infolist()
        problems: list[Problem] = []
        for info in infos:
            # Unix mode in the high 16 bits; many writers leave the file-type bits empty.
            ftype = stat.S_IFMT(info.external_attr >> 16)
            if ftype and ftype not in (stat.S_IFREG, stat.S_IFDIR):
                problems.append(Problem("link-not-allowed", f"{source}: member {info.filename} is "
                                        "a link or special file", path=info.filename))
            if info.flag_bits & 0x1:
                problems.append(Problem("archive-encrypted", f"{source}: member {info.filename} "
                                        "is encrypted", path=info.filename))
        members = [Member(i.filename, i.file_size, i.is_dir()) for i in infos]
        _extract(source, members, problems, limits, dest, budget,
                 lambda n: archive.open(infos[n]), (zipfile.BadZipFile, OSError, EOFError))


def _untar(path: Path, dest: Path, limits: IntakeLimits, budget: _Budget) -> None:
    source = path.name
    try:
        # Not a with-statement: open errors and extraction errors get different messages.
        archive = tarfile.open(path, mode="r:*")  # noqa: SIM115
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise _broken(source, exc) from exc
    with archive:
        try:
            infos = archive.getmembers()
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise _broken(source, exc) from exc
        problems: list[Problem] = []
        for info in infos:
            if info.issym() or info.islnk():
                problems.append(Problem("link-not-allowed", f"{source}: member {info.name} links "
                                        f"to {info.linkname}", path=info.name))
            elif not (info.isreg() or info.isdir()):
                problems.append(Problem("special-file-not-allowed", f"{source}: member "
                                        f"{info.name} is a device, FIFO or other special file",
                                        path=info.name))
        members = [Member(i.name, i.size, i.isdir()) for i in infos]
        _extract(source, members, problems, limits, dest, budget,
                 lambda n: _tar_stream(archive, infos[n]), (tarfile.TarError, OSError, EOFError))


def _tar_stream(archive: tarfile.TarFile, info: tarfile.TarInfo) -> BinaryIO:
    stream = archive.extractfile(info)
    assert stream is not None  # only regular members reach here
    return stream


def _extract(source: str, members: list[Member], problems: list[Problem],
             limits: IntakeLimits, dest: Path, budget: _Budget,
             open_member: Callable[[int], BinaryIO],
             broken: tuple[type[BaseException], ...]) -> None:
    """Check every member first; only then create ``dest`` and write the files."""
    _check_members(source, members, limits, problems)
    if problems:
        raise TransferRejected(source=source, count=len(problems), details=problems)
    dest.mkdir(parents=True)
    for n, member in enumerate(members):
        target = _target(dest, member.name)
        if member.is_dir:
            target.mkdir(parents=True, exist_ok=True)
            continue
        try:
            with open_member(n) as src:
                _write(src, target, budget)
        except broken as exc:
            raise _broken(source, exc, member.name) from exc


def _target(dest: Path, name: str) -> Path:
    target = (dest / name.rstrip("/")).resolve()
    # check_name already refused escapes; this is the belt to its braces.
    if not target.is_relative_to(dest.resolve()):
        raise TransferRejected(source=name, count=1, details=[Problem(
            "path-escape", f"{shown(name)}: would be written outside the staging area")])
    return target


def _write(src: BinaryIO, target: Path, budget: _Budget) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as out:
        while chunk := src.read(CHUNK):
            budget.add(len(chunk))
            out.write(chunk)


def _broken(source: str, exc: BaseException, member: str | None = None) -> TransferRejected:
    where = f" (member {member})" if member else ""
    return TransferRejected(source=source, count=1, details=[Problem(
        "archive-unreadable", f"{source}: damaged or unreadable archive{where}: {exc}",
        path=member)])


@contextmanager
def opened(path: Path, staging: Path, limits: IntakeLimits) -> Iterator[Path]:
    """The transfer root: the folder itself, or the archive unpacked into ``staging``."""
    if detect(path) == FOLDER:
        yield path
        return
    root = unpack(path, staging, limits)
    yield _single_top_folder(root)


def _single_top_folder(root: Path) -> Path:
    """Archives usually hold one top folder; use it as the transfer root when so."""
    entries = [e for e in root.iterdir()]
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0]
    return root
