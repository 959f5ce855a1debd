"""The files of a bag as they are on disk: the walk that finds them and the reads that hash them.

``walk_bag(root, found)`` lists every regular file (bag-relative path -> size) and directory
under ``root`` without following links; symlinks, devices, FIFOs, names that are not UTF-8 and
entries that cannot be examined are reported to ``found``, never entered. ``hash_file``
computes every requested digest of one file in a single read, and ``report_mismatches`` turns
a computed digest that differs from a declared one into an error (RFC 8493 §3). ``nfc`` is
the spelling names are compared in (RFC 8493 §5.1); ``is_os_metadata`` recognizes
operating-system metadata files (``.DS_Store``, ``Thumbs.db``, ...).
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from ingest.bagit_parsers import SUPPORTED_ALGORITHMS, Findings, quoted
from ingest.safety import open_regular, shown, undecodable
from repository.errors import Problem

CHUNK = 1024 * 1024
OS_METADATA = frozenset({".ds_store", "thumbs.db", "ehthumbs.db", "desktop.ini", "icon\r"})


@dataclass
class BagTree:
    files: dict[str, int] = field(default_factory=dict)  # regular files -> size
    dirs: set[str] = field(default_factory=set)

    def payload(self) -> list[str]:
        return sorted(p for p in self.files if p.startswith("data/"))

    def tags(self) -> set[str]:
        return {p for p in self.files if not p.startswith("data/")}


def walk_bag(root: Path, found: Findings) -> BagTree:
    """Every entry under ``root``, without following links (they are reported, not entered)."""
    tree = BagTree()
    pending: list[tuple[str, str]] = [("", str(root))]
    while pending:
        prefix, directory = pending.pop()
        try:
            with os.scandir(directory) as scan:
                entries = list(scan)
        except OSError as exc:
            found.error("bag-unreadable", f"cannot list {shown(prefix) or 'the bag'}: "
                        f"{exc.strerror}", path=shown(prefix.rstrip("/")) or ".")
            continue
        for entry in entries:
            _classify(entry, prefix + entry.name, tree, pending, found)
    return tree


def _classify(entry: os.DirEntry[str], rel: str, tree: BagTree, pending: list[tuple[str, str]],
              found: Findings) -> None:
    if undecodable(entry.name):
        found.error("name-not-utf8", f"{quoted(rel)}: the name is not valid UTF-8, so no "
                    "manifest can list it", path=shown(rel))
    try:
        if entry.is_symlink():
            found.error("symlink-in-bag", f"{quoted(rel)} is a symbolic link; a bag must hold "
                        "the files themselves", path=shown(rel))
        elif entry.is_dir(follow_symlinks=False):
            tree.dirs.add(rel)
            pending.append((rel + "/", entry.path))
        elif entry.is_file(follow_symlinks=False):
            tree.files[rel] = entry.stat(follow_symlinks=False).st_size
        else:
            found.error("special-file-in-bag", f"{quoted(rel)} is a device, FIFO or socket, not "
                        "a regular file", path=shown(rel))
    except OSError as exc:
        found.error("bag-unreadable", f"cannot examine {quoted(rel)}: {exc.strerror}",
                    path=shown(rel))


def hash_file(path: Path, algorithms: frozenset[str]) -> dict[str, str]:
    """Every requested digest of one file from a single read in 1 MiB chunks."""
    hashers = {a: hashlib.new(a) for a in algorithms}
    with open_regular(path) as handle:
        while chunk := handle.read(CHUNK):
            for hasher in hashers.values():
                hasher.update(chunk)
    return {a: h.hexdigest() for a, h in hashers.items()}


def report_mismatches(found: Findings, rel: str, actual: dict[str, str],
                      expected: dict[str, dict[str, str]], code: str) -> None:
    for algorithm, value in sorted(actual.items()):  # a stable order, however they were hashed
        for declared, manifest in expected[algorithm].items():
            if declared != value:
                found.error(code, f"{quoted(rel)}: {algorithm} is {value}, but {manifest} says "
                            f"{declared}; the file changed after bagging", path=rel,
                            rule="RFC 8493 §3", extra={"algorithm": algorithm,
                                                       "expected": declared, "found": value})


def unreadable_problem(code: str, rel: str, error: OSError) -> Problem:
    found = Findings()
    found.error(code, f"cannot read {quoted(rel)}: {error}", path=rel)
    return found.errors[0]


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def is_os_metadata(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return name.casefold() in OS_METADATA or name.startswith("._")


def is_empty_digest(algorithm: str, digest: str) -> bool:
    """Whether ``digest`` is the ``algorithm`` digest of zero bytes."""
    return (algorithm in SUPPORTED_ALGORITHMS
            and hashlib.new(algorithm).hexdigest() == digest)
