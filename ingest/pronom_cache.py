"""A cache on disk of what compiling FIDO's signatures works out (ingest/pronom_match.py).

Building the matcher costs ~0.9 s of CPU in every process that identifies files: parsing
~2,300 regexes with the stdlib's parser to find their literal starts, needles and widths,
trying each needle-less one in Hyperscan's prefilter mode, and compiling the Hyperscan
database. The answers depend only on the signature files, on pronom_match.py itself and on
the Python and Hyperscan versions, so they are kept in ``~/.cache/khoso/`` (or
``$XDG_CACHE_HOME/khoso/``) under a name made from all of those: a change to any of them
reads a different file.

Safe to load: the analysis is JSON (bytes as hex), the database a file whose SHA-256 the JSON
names (``hyperscan.loadb``). A cache that cannot be read, does not parse, or does not match is
ignored and written again; one that cannot be written leaves identification as it was. The
compiled ``re`` patterns themselves are made fresh in every process.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

FORMAT = "khoso-pronom-cache/1"
Analysis = tuple[int, bytes, int, int, tuple[bytes, ...], int, bytes]


def cache_dir() -> Path | None:
    """Where the cache lives; None when there is no home to put it in (no cache then)."""
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # no HOME and no password entry for this user
            return None
    return Path(base) / "khoso"


def cache_key(inputs: Iterable[Path], versions: Iterable[str]) -> str:
    digest = hashlib.sha256(FORMAT.encode())
    for path in inputs:
        digest.update(path.read_bytes())
    for version in (*versions, sys.version):
        digest.update(version.encode())
    return digest.hexdigest()[:32]


class AnalysisCache:
    """What one key's files hold; ``save`` writes what this process added (whole or not)."""

    def __init__(self, folder: Path | None, key: str) -> None:
        self._json = folder / f"pronom-{key}.json" if folder else None
        self._db = folder / f"pronom-{key}.hsdb" if folder else None
        self._patterns: dict[str, list[Any]] = {}
        self._prefilter: dict[str, str | None] = {}
        self._database: bytes | None = None
        self._database_for = ""
        self._changed = False
        self._lock = threading.Lock()
        self._load()

    def pattern(self, position: str, regex: bytes,
                analyse: Callable[[str, bytes], Analysis]) -> Analysis:
        key = f"{position}:{regex.hex()}"
        cached = self._patterns.get(key)
        if cached is not None:
            kind, source, max_start, tail, needles, min_start, prefix = cached
            return (kind, bytes.fromhex(source), max_start, tail,
                    tuple(bytes.fromhex(n) for n in needles), min_start, bytes.fromhex(prefix))
        found = analyse(position, regex)
        kind, source, max_start, tail, needles, min_start, prefix = found
        with self._lock:
            self._patterns[key] = [kind, source.hex(), max_start, tail,
                                   [n.hex() for n in needles], min_start, prefix.hex()]
            self._changed = True
        return found

    def prefilter(self, regex: bytes, work_out: Callable[[bytes], bytes | None]) -> bytes | None:
        key = regex.hex()
        if key in self._prefilter:
            form = self._prefilter[key]
            return None if form is None else bytes.fromhex(form)
        found = work_out(regex)
        with self._lock:
            self._prefilter[key] = None if found is None else found.hex()
            self._changed = True
        return found

    def database(self, expressions: list[bytes], flags: list[int],
                 build: Callable[[], bytes]) -> bytes:
        """The serialized Hyperscan database of these expressions and flags."""
        wanted = hashlib.sha256(json.dumps([[e.hex() for e in expressions], flags])
                                .encode()).hexdigest()
        if self._database is not None and self._database_for == wanted:
            return self._database
        self._database, self._database_for = build(), wanted
        self._changed = True
        return self._database

    def save(self) -> None:
        if not self._changed or self._json is None or self._db is None:
            return
        doc = {"format": FORMAT, "patterns": self._patterns, "prefilter": self._prefilter}
        if self._database is not None:
            doc["database"] = {"for": self._database_for,
                               "sha256": hashlib.sha256(self._database).hexdigest()}
        try:
            self._json.parent.mkdir(parents=True, exist_ok=True)
            if self._database is not None:
                _write_whole(self._db, self._database)
            _write_whole(self._json, json.dumps(doc).encode())
        except OSError:
            return  # a read-only or full cache folder: the next process works it out again
        self._changed = False

    def _load(self) -> None:
        if self._json is None or self._db is None:
            return
        try:
            doc = json.loads(self._json.read_bytes())
            if doc.get("format") != FORMAT:
                return
            patterns, prefilter = doc["patterns"], doc["prefilter"]
            database = doc.get("database")
            data = self._db.read_bytes() if database else None
        except (OSError, ValueError, KeyError, TypeError):
            return  # missing or damaged: worked out again and written anew
        if not isinstance(patterns, dict) or not isinstance(prefilter, dict):
            return
        self._patterns, self._prefilter = patterns, prefilter
        if database and data is not None \
                and hashlib.sha256(data).hexdigest() == database.get("sha256"):
            self._database, self._database_for = data, str(database.get("for"))


def _write_whole(path: Path, data: bytes) -> None:
    """Written under a private name, then renamed: a reader never sees half a file, and
    racing processes write the same bytes."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
