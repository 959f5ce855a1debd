"""Read a transfer folder: every regular file with its relative path, nothing else.

Symbolic links, devices, FIFOs and sockets are refused by name (a link could point anywhere,
a device could read forever). Names are kept exactly as the filesystem gives them
(``os.fsdecode``, so undecodable bytes survive as surrogates and are reported, not altered).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ingest.safety import check_name, find_collisions, shown
from repository.errors import Problem


@dataclass(frozen=True)
class TransferFile:
    rel_path: str
    source: Path
    size: int


@dataclass(frozen=True)
class Transfer:
    root: Path
    files: tuple[TransferFile, ...]
    problems: tuple[Problem, ...]

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


def read_transfer(root: Path) -> Transfer:
    files: list[TransferFile] = []
    problems: list[Problem] = []
    _walk(root, "", files, problems)
    if not files and not problems:
        problems.append(Problem("transfer-empty", f"{root}: the transfer holds no files",
                                path=str(root)))
    problems.extend(find_collisions(f.rel_path for f in files))
    for f in files:
        problems.extend(check_name(f.rel_path))
    files.sort(key=lambda f: f.rel_path.encode("utf-8", "surrogateescape"))
    return Transfer(root, tuple(files), tuple(problems))


def _walk(root: Path, prefix: str, files: list[TransferFile], problems: list[Problem]) -> None:
    try:
        entries = list(os.scandir(root / prefix if prefix else root))
    except OSError as exc:
        problems.append(Problem("transfer-unreadable", f"{shown(prefix) or root}: cannot list "
                                f"folder: {exc.strerror}", path=shown(prefix) or str(root)))
        return
    for entry in entries:
        rel = f"{prefix}/{os.fsdecode(entry.name)}" if prefix else os.fsdecode(entry.name)
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError as exc:
            problems.append(Problem("transfer-unreadable", f"{shown(rel)}: {exc.strerror}",
                                    path=shown(rel)))
            continue
        if stat.S_ISLNK(st.st_mode):
            target = os.readlink(entry.path)
            problems.append(Problem("link-not-allowed", f"{shown(rel)}: symbolic link to "
                                    f"{shown(target)}; transfers may hold regular files only",
                                    path=shown(rel)))
        elif stat.S_ISDIR(st.st_mode):
            _walk(root, rel, files, problems)
        elif stat.S_ISREG(st.st_mode):
            files.append(TransferFile(rel, Path(entry.path), st.st_size))
        else:
            problems.append(Problem("special-file-not-allowed", f"{shown(rel)}: device, FIFO "
                                    "or socket; transfers may hold regular files only",
                                    path=shown(rel)))
