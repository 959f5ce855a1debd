"""Find and verify the files E-ARK METS documents point at: lookups, one-read hashing, checks.

An ``xlink:href`` is a URL path relative to the METS file that holds it (CSIP76: "the file
protocol using the relative location"). It is percent-decoded once, joined to that METS
file's folder and normalised; anything that is absolute, carries a URL scheme other than a
relative ``file:``, uses backslashes or climbs out of the package is refused and never opened.
A resolved path is only a key into the walk of the package (:func:`ingest.transfer.read_transfer`),
so no link or special file is ever followed.

When no file has exactly that name but exactly one has it after Unicode NFC normalisation (or,
failing that, after case folding), that file is used with a warning, as RFC 8493 §5 lets BagIt
validators do: the DILCIS corpus's own valid packages point at ``schemas/METS.xsd`` for
``schemas/mets.xsd``. Its checksum must still verify.

Checksums: every algorithm of the METS CHECKSUMTYPE list that Python can compute (MD5, SHA-1,
SHA-256/384/512, Adler-32, CRC32) is verified; a declared type khoso cannot compute (HAVAL,
TIGER, WHIRLPOOL, MNP) is an error, because the file's integrity would go unchecked.

Deferred verification (ingest): ``ReferenceCheck.run(workers, defer=...)`` does not read the
files the predicate names. Their SIZE is compared with the size the walk saw, and what their
checksums must be is handed over as :class:`DeferredChecksums`, for the caller that reads the
bytes anyway (to copy them) to verify with the same problems (``checksum-mismatch``,
``size-mismatch``, ``file-unreadable``).
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import unicodedata
import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote_to_bytes

from ingest.mets import Findings, MetsDocument, Ref
from ingest.safety import open_regular, shown
from ingest.transfer import TransferFile
from repository.errors import Problem
from storage.backend import CHUNK

# METS 1.12 CHECKSUMTYPE enumeration → our algorithm names (None: not computable here).
METS_CHECKSUM_TYPES: dict[str, str | None] = {
    "MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384",
    "SHA-512": "sha512", "Adler-32": "adler32", "CRC32": "crc32", "HAVAL": None, "MNP": None,
    "TIGER": None, "WHIRLPOOL": None}
_LOOSE = {k.upper().replace("-", ""): v for k, v in METS_CHECKSUM_TYPES.items()}
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]+):")


@dataclass(frozen=True)
class DeferredChecksums:
    """What the METS documents declare for one file, left to whoever reads it next to verify."""

    path: str  # package-relative
    refs: tuple[tuple[str, Ref], ...] = ()  # (the METS document's path, its reference)

    def hashers(self) -> dict[str, _Hasher]:
        return {a: _hasher(a) for _, ref in self.refs if ref.checksum is not None
                and (a := checksum_algorithm(ref.checksum_type or "")[0])}

    def problems(self, size: int, digests: dict[str, str]) -> list[Problem]:
        """What :func:`ingest.eark.validate_eark` reports for ``size`` bytes with ``digests``."""
        found = Findings()
        for where, ref in self.refs:
            _size_problem(found, where, ref, self.path, size)
            _checksum_problem(found, where, ref, self.path, digests)
        return found.errors

    def unreadable(self, error: OSError) -> Problem:
        return _unreadable(self.path, error)


@dataclass(frozen=True)
class Resolved:
    path: str | None  # package-relative path of the file, when found
    code: str | None = None  # problem code when not usable, or a name-mismatch warning code
    reason: str | None = None


def resolve_href(href: str, base: str) -> Resolved:
    """Where ``href`` (from a METS file in folder ``base``, '' or 'a/b/') points, unchecked."""
    scheme = _SCHEME.match(href)
    rest = href
    if scheme:
        rest = href[scheme.end():]
        if scheme.group(1).lower() != "file" or rest.startswith("/"):
            return Resolved(None, "reference-external", "points outside the package (URL "
                            f"scheme {scheme.group(1)}:); khoso never follows such links and "
                            "the file must be inside the package")
    if "\\" in rest or re.match(r"^[A-Za-z]:", rest):
        return Resolved(None, "reference-not-portable", "uses a backslash or a drive letter; "
                        "write a relative URL path with '/'")
    try:
        decoded = unquote_to_bytes(rest).decode("utf-8")
    except UnicodeDecodeError:
        return Resolved(None, "reference-encoding-invalid", "percent-decodes to bytes that are "
                        "not UTF-8")
    if decoded.startswith("/"):
        return Resolved(None, "reference-absolute", "is an absolute path; references are "
                        "relative to the METS file")
    if not decoded or any(ord(ch) < 32 for ch in decoded):
        return Resolved(None, "reference-invalid", "is empty or holds control characters")
    joined = posixpath.normpath(base + decoded)
    if joined == ".." or joined.startswith("../") or joined == ".":
        return Resolved(None, "reference-escapes-package", "climbs out of the package with "
                        "'..'")
    return Resolved(joined)


class FileIndex:
    """The package's regular files by path, with NFC and case-folded spellings for lookup."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = set(paths)
        self._nfc: dict[str, list[str]] = {}
        self._fold: dict[str, list[str]] = {}
        for p in paths:
            nfc = unicodedata.normalize("NFC", p)
            self._nfc.setdefault(nfc, []).append(p)
            self._fold.setdefault(nfc.casefold(), []).append(p)

    def find(self, path: str) -> Resolved:
        if path in self.paths:
            return Resolved(path)
        nfc = unicodedata.normalize("NFC", path)
        for table, key, code in ((self._nfc, nfc, "reference-normalization-mismatch"),
                                 (self._fold, nfc.casefold(), "reference-case-mismatch")):
            hits = table.get(key, [])
            if len(hits) == 1:
                return Resolved(hits[0], code, f"matched {hits[0]!r}, which differs in "
                                f"{'Unicode normal form' if 'normal' in code else 'letter case'}")
        return Resolved(None, "reference-missing", "names no file in the package")


def checksum_algorithm(declared: str) -> tuple[str | None, bool]:
    """(our algorithm name or None when not computable, whether the spelling is METS's)."""
    if declared in METS_CHECKSUM_TYPES:
        return METS_CHECKSUM_TYPES[declared], True
    return _LOOSE.get(declared.strip().upper().replace("-", "").replace("_", "")), False


class _Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def hexdigest(self) -> str: ...


class _Zlib:
    """zlib's running checksums with the hashlib interface (8 hex digits, as METS writes them)."""

    def __init__(self, fn: Callable[[bytes, int], int], start: int) -> None:
        self.fn, self.value = fn, start

    def update(self, data: bytes, /) -> None:
        self.value = self.fn(data, self.value)

    def hexdigest(self) -> str:
        return f"{self.value & 0xFFFFFFFF:08x}"


def _hasher(algorithm: str) -> _Hasher:
    if algorithm == "crc32":
        return _Zlib(zlib.crc32, 0)
    if algorithm == "adler32":
        return _Zlib(zlib.adler32, 1)
    return hashlib.new(algorithm)


def digest_file(path: Path, algorithms: frozenset[str]) -> tuple[int, dict[str, str]]:
    """Byte count and every requested digest from one read in fixed-size chunks."""
    hashers = {a: _hasher(a) for a in algorithms}
    size = 0
    with open_regular(path) as handle:
        while chunk := handle.read(CHUNK):
            size += len(chunk)
            for hasher in hashers.values():
                hasher.update(chunk)
    return size, {a: h.hexdigest() for a, h in hashers.items()}


def locate(href: str, base: str, index: FileIndex) -> Resolved:
    """The file ``href`` names, from a METS file in folder ``base`` ('' or 'a/b/')."""
    where = resolve_href(href, base)
    return where if where.path is None else index.find(where.path)


class ReferenceCheck:
    """Resolves every reference, hashes each file once, compares sizes and checksums."""

    def __init__(self, files: dict[str, TransferFile], index: FileIndex,
                 found: Findings) -> None:
        self.files, self.index, self.found = files, index, found
        self.checks: list[tuple[MetsDocument, Ref, str]] = []
        self.jobs: dict[str, set[str]] = {p: {"sha256"} for p in files}
        self.documents: set[str] = set()
        self.digests: dict[str, tuple[int, dict[str, str]]] = {}
        self.deferred: dict[str, DeferredChecksums] = {}

    def add_document(self, doc: MetsDocument) -> None:
        self.documents.add(doc.where)
        base = posixpath.dirname(doc.where)
        base = f"{base}/" if base else ""
        for ref in doc.refs:
            hit = locate(ref.href, base, self.index)
            if hit.path is None:
                self.found.error(hit.code or "reference-invalid", f"{doc.where}: {ref.element} "
                                 f"xlink:href {ref.href!r} {hit.reason}", path=doc.where,
                                 rule="CSIP79" if ref.section == "fileSec" else "CSIP24")
                continue
            if hit.code:
                self.found.warn(hit.code, f"{doc.where}: {ref.element} xlink:href {ref.href!r} "
                                f"{hit.reason}; fix the reference", path=hit.path,
                                rule="RFC 8493 §5 (by analogy)")
            algorithm = self._algorithm(doc, ref)
            if algorithm:
                self.jobs[hit.path].add(algorithm)
            self.checks.append((doc, ref, hit.path))

    def _algorithm(self, doc: MetsDocument, ref: Ref) -> str | None:
        if ref.checksum is None or ref.checksum_type is None:
            return None
        algorithm, standard = checksum_algorithm(ref.checksum_type)
        if algorithm is None:
            self.found.error("checksum-type-unsupported", f"{doc.where}: {ref.element} "
                             f"CHECKSUMTYPE {ref.checksum_type!r} cannot be verified by khoso; "
                             "re-export with SHA-256", path=doc.where, rule="TT 05/2025 SHA-256")
        elif not standard:
            self.found.warn("checksum-type-nonstandard", f"{doc.where}: {ref.element} "
                            f"CHECKSUMTYPE {ref.checksum_type!r} is not spelled as METS lists "
                            "it; verified as " + algorithm, path=doc.where, rule="METS schema")
        return algorithm

    def run(self, workers: int, defer: Callable[[str], bool] | None = None,
            ) -> dict[str, tuple[int, dict[str, str]]]:
        """Hash and verify every file; those ``defer`` names are not read: their sizes are the
        walk's, their digests empty, their checksums in ``deferred`` (path -> checksums)."""
        later = {p for p in self.jobs if defer is not None and defer(p)}
        self._hash(set(self.jobs) - later, workers)
        refs: dict[str, list[tuple[str, Ref]]] = {p: [] for p in later}
        for doc, ref, path in self.checks:
            if path in later:
                refs[path].append((doc.where, ref))
                _size_problem(self.found, doc.where, ref, path, self.files[path].size)
            elif path in self.digests:
                size, digests = self.digests[path]
                _size_problem(self.found, doc.where, ref, path, size)
                _checksum_problem(self.found, doc.where, ref, path, digests)
        for path in later:
            self.digests[path] = (self.files[path].size, {})
            self.deferred[path] = DeferredChecksums(path, tuple(refs[path]))
        return self.digests

    def verify_deferred(self, workers: int) -> None:
        """Verify the deferred checksums here after all (for a package rejected before any
        copy, so that every problem is listed); sizes were compared in :meth:`run`."""
        later, self.deferred = self.deferred, {}
        for path in later:
            del self.digests[path]
        self._hash(set(later), workers)
        for path, deferred in later.items():
            if path in self.digests:
                for where, ref in deferred.refs:
                    _checksum_problem(self.found, where, ref, path, self.digests[path][1])

    def _hash(self, paths: set[str], workers: int) -> None:
        def one(path: str) -> tuple[str, tuple[int, dict[str, str]] | OSError]:
            try:
                return path, digest_file(self.files[path].source, frozenset(self.jobs[path]))
            except OSError as exc:
                return path, exc

        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for path, result in pool.map(one, sorted(paths)):
                if isinstance(result, OSError):
                    self.found.errors.append(_unreadable(path, result))
                else:
                    self.digests[path] = result

    def targets(self, doc: MetsDocument, sections: Iterable[str]) -> list[tuple[Ref, str]]:
        wanted = set(sections)
        return [(r, p) for d, r, p in self.checks if d is doc and r.section in wanted]


def _size_problem(found: Findings, where: str, ref: Ref, path: str, size: int) -> None:
    if ref.size is not None and ref.size != size:
        found.error("size-mismatch", f"{shown(path)}: {size} bytes, but {where} "
                    f"({ref.element}) declares SIZE {ref.size}", path=shown(path),
                    rule="CSIP69" if ref.section == "fileSec" else "CSIP27",
                    extra={"expected": ref.size, "found": size})


def _checksum_problem(found: Findings, where: str, ref: Ref, path: str,
                      digests: dict[str, str]) -> None:
    algorithm = checksum_algorithm(ref.checksum_type or "")[0]
    if ref.checksum is None or algorithm is None:
        return
    actual = digests[algorithm]
    if actual.lower() != ref.checksum.strip().lower():
        found.error("checksum-mismatch", f"{shown(path)}: {ref.checksum_type} is "
                    f"{actual.upper()}, but {where} ({ref.element}) declares "
                    f"{ref.checksum}; the file is damaged or was changed",
                    path=shown(path), rule="CSIP71" if ref.section == "fileSec"
                    else "CSIP29", extra={"algorithm": algorithm, "expected": ref.checksum,
                                       "found": actual})


def _unreadable(path: str, error: OSError) -> Problem:
    return Problem("file-unreadable", f"{shown(path)}: cannot read: {error}", path=shown(path))
