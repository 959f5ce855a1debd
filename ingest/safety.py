"""Pure checks on transfer file names and paths (no I/O).

Every byte of a name is kept: khoso never renames. Two names that are equal after Unicode
NFC normalisation, or equal after case folding, cannot both be kept faithfully on every store
(macOS and some S3 gateways normalise or fold), so the transfer is rejected naming both. Names
that are not valid UTF-8 or contain control characters are rejected with the name shown
escaped (RFC 8493 §2.1.3 would percent-encode CR/LF in manifests; we refuse them instead so
the catalog, the manifests and the storage key agree exactly).
"""

from __future__ import annotations

import os
import stat
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from repository.errors import Problem


def shown(name: str) -> str:
    """A name as it can be shown safely: undecodable bytes and control characters escaped."""
    text = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(c.encode("unicode_escape").decode("ascii")
                   if unicodedata.category(c) == "Cc" else c for c in text)


def undecodable(name: str) -> bool:
    """A name os.fsdecode could only keep as surrogate escapes: its bytes are not UTF-8."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_name(rel_path: str) -> list[Problem]:
    problems: list[Problem] = []
    if undecodable(rel_path):
        problems.append(Problem("name-not-utf8", f"{shown(rel_path)}: file name is not valid "
                                "UTF-8; rename it in the transfer", path=shown(rel_path)))
        return problems
    if any(unicodedata.category(c) == "Cc" for c in rel_path):
        problems.append(Problem("name-control-character",
                                f"{shown(rel_path)}: file name contains a control character",
                                path=shown(rel_path)))
    parts = rel_path.split("/")
    if rel_path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        problems.append(Problem("path-escape", f"{shown(rel_path)}: path is absolute or "
                                "contains '.', '..' or an empty component", path=shown(rel_path)))
    if "\\" in rel_path or (len(parts[0]) >= 2 and parts[0][1] == ":"):
        problems.append(Problem("path-windows", f"{rel_path}: backslash or drive letter in path",
                                path=rel_path))
    return problems


def find_collisions(paths: Iterable[str]) -> list[Problem]:
    """Names that differ only by Unicode normal form or by case."""
    problems: list[Problem] = []
    by_nfc: dict[str, str] = {}
    by_fold: dict[str, str] = {}
    for path in paths:
        if undecodable(path):
            continue
        nfc = unicodedata.normalize("NFC", path)
        fold = nfc.casefold()
        if nfc in by_nfc and by_nfc[nfc] != path:
            other = by_nfc[nfc]
            problems.append(Problem(
                "name-normalization-collision",
                f"{path!a} and {other!a} are the same name in different Unicode normal forms "
                "(NFC/NFD); keep only one", path=path, extra={"other": other}))
        elif fold in by_fold and by_fold[fold] != path:
            other = by_fold[fold]
            problems.append(Problem(
                "name-case-collision",
                f"{path} and {other} differ only by letter case and would merge on a "
                "case-insensitive store; rename one", path=path, extra={"other": other}))
        by_nfc.setdefault(nfc, path)
        by_fold.setdefault(fold, path)
    return problems


@contextmanager
def open_regular(path: Path) -> Iterator[IO[bytes]]:
    """Open for reading, refusing a link, FIFO or device swapped in after the walk."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    handle = os.fdopen(os.open(path, flags), "rb")
    with handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise OSError(f"{path.name} is not a regular file")
        yield handle
