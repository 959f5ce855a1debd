"""Format identification: PRONOM PUID from FIDO's signatures, MIME type from libmagic.

FIDO (PRONOM v109) is driven in-process, one engine per process: loading its signatures takes
~0.15 s, matching a file ~10 ms. FIDO's own ``identify_file`` is not used because it writes
read errors to stderr instead of raising, and re-parses the container signature file for
every ZIP or OLE2 file. Container signatures (DOCX/XLSX/PPTX, ODF, Word 97) are matched here
from FIDO's ``container-signature-20200121.xml`` because FIDO 1.6.1 never reaches them for
OOXML (its own ``fido-fmt/189.*`` ids outrank the ZIP trigger) and, for OLE2, applies the byte
sequence of one stream to another (so Word 97 files come out as bare OLE2, fmt/111).

``basis`` says what the PUID rests on: ``container`` or ``signature`` (the bytes), ``extension``
(the name only: never evidence, and no PUID when several formats share the extension) or
``none``. FIDO matching is pure Python and holds the GIL, so ``identify_many`` uses processes.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import struct
import threading
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import magic
import olefile
import yaml
from fido import CONFIG_DIR
from fido.fido import Fido

from ingest import pronom_match
from ingest.pronom_cache import AnalysisCache, cache_dir, cache_key
from ingest.pronom_match import CompiledSignatures
from policies.yaml_text import safe_load
from repository.errors import ConfigError, Problem

FORMAT_FILES = ["formats-v109.xml", "format_extensions.xml"]
CONTAINER_FILE = "container-signature-20200121.xml"
DEFAULT_POLICY = Path(__file__).resolve().parents[1] / "policies" / "formats.yaml"
T = TypeVar("T")
_ZIP_MAGIC = b"PK\x03\x04"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# What zipfile, zlib and olefile raise on damaged containers (found by fuzzing the corpus;
# NotImplementedError is zipfile's answer to an unknown compression or version).
_DAMAGED = (KeyError, RuntimeError, OSError, ValueError, EOFError, zipfile.BadZipFile,
            zlib.error, NotImplementedError, struct.error, IndexError)
# Container members are read only this far: the signatures look at the first few KiB, and
# a bounded read keeps a zip bomb member from being inflated in full.
_MEMBER_READ_LIMIT = 1 << 20


@dataclass(frozen=True)
class FormatId:
    puid: str | None
    format_name: str | None
    mime: str | None
    basis: str  # "signature" | "container" | "extension" | "none"
    version: str | None
    # Every PUID that matched on the same basis, best first (several when only the
    # extension is known: text_file_six.pdf fits 29 PDF variants).
    candidates: tuple[str, ...] = ()


@dataclass(frozen=True)
class _SubSequence:
    regex: re.Pattern[bytes]
    min_offset: int
    max_offset: int | None


@dataclass(frozen=True)
class _ContainerSignature:
    puid: str
    kind: str  # "ZIP" | "OLE2"
    # (member path, alternative signatures: each a list of (reference, subsequences));
    # a member without signatures only has to exist.
    files: tuple[tuple[str, tuple[tuple[tuple[str, tuple[_SubSequence, ...]], ...], ...]], ...]


def _signature_cache() -> AnalysisCache:
    """The on-disk cache for this signature set and code (ingest/pronom_cache.py);
    KHOSO_PRONOM_CACHE=off works everything out in the process."""
    import fido

    inputs = [*(Path(CONFIG_DIR) / name for name in FORMAT_FILES), Path(pronom_match.__file__)]
    key = cache_key(inputs, [str(getattr(pronom_match.hyperscan, "__version__", "none")),
                             str(getattr(fido, "__version__", "?"))])
    off = os.environ.get("KHOSO_PRONOM_CACHE", "").lower() in ("off", "0", "no")
    return AnalysisCache(None if off else cache_dir(), key)  # None: nothing on disk


class _Engine:
    """FIDO's signatures plus the parsed container signatures; one per process."""

    def __init__(self) -> None:
        self.fido = Fido(quiet=True, handle_matches=self._unexpected, format_files=FORMAT_FILES)
        cache = _signature_cache()
        self.matcher = CompiledSignatures(self.fido, cache)  # FIDO's rules, ~20x faster
        cache.save()
        self.containers = _load_containers(Path(CONFIG_DIR) / CONTAINER_FILE)
        # Fido keeps per-file state on the instance (current_file, counters): one at a time.
        self.lock = threading.Lock()

    @staticmethod
    def _unexpected(*_args: Any) -> None:
        raise AssertionError("FIDO's own file walker is not used")  # we call match_* directly

    def identify(self, path: Path) -> FormatId:
        mime = magic.from_file(str(path), mime=True)
        size = path.stat().st_size
        if size == 0:
            # A 0-byte file has no format; its extension proves nothing (FIDO would call
            # empty_file_six.pdf a PDF/A by name).
            return FormatId(None, None, mime, "none", None)
        with path.open("rb") as fh, self.lock:
            bof, eof, _ = self.fido.get_buffers(fh, size, seekable=True)
            matches = self.matcher.match(bof, eof)
        if bof.startswith((_ZIP_MAGIC, _OLE2_MAGIC)):
            found = self._container(path, "ZIP" if bof.startswith(_ZIP_MAGIC) else "OLE2")
            if found:
                return self._result(found, mime, "container")
        if matches:
            return self._result([self.fido.get_puid(f) for f, _ in matches], mime, "signature")
        with self.lock:
            by_name = [self.fido.get_puid(f) for f, _ in self.matcher.match_extension(path.name)]
        if by_name:
            return self._result(by_name, mime, "extension")
        return FormatId(None, None, mime, "none", None)

    def _result(self, puids: list[str], mime: str | None, basis: str) -> FormatId:
        puids = list(dict.fromkeys(puids))
        if basis == "extension" and len(puids) > 1:
            return FormatId(None, None, mime, basis, None, tuple(puids))
        element = self.fido.puid_format_map.get(puids[0])
        name = element.findtext("name") if element is not None else None
        version = (element.findtext("version") or None) if element is not None else None
        return FormatId(puids[0], name, mime, basis, version, tuple(puids))

    def _container(self, path: Path, kind: str) -> list[str]:
        try:
            members = _ZipMembers(path) if kind == "ZIP" else _OleMembers(path)
        except _DAMAGED:
            return []  # not a readable container after all: fall back to the byte signature
        with members:
            hits = [sig.puid for sig in self.containers if sig.kind == kind
                    and _container_matches(sig, members)]
        priority = self.fido.puid_has_priority_over_map
        # PRONOM priorities: ODT 1.2 (fmt/291) outranks 1.1 (fmt/290), whose signature
        # matches every ODT because 1.1 is the version assumed when none is written.
        return [p for p in dict.fromkeys(hits)
                if not any(p in priority.get(q, ()) for q in hits if q != p)]


class _Members:
    """Members of a ZIP or OLE2 container, each read once and only as far as needed."""

    def __init__(self) -> None:
        self.cache: dict[str, bytes | None] = {}

    def read(self, name: str) -> bytes | None:
        if name not in self.cache:
            try:
                self.cache[name] = self._read(name)
            except _DAMAGED:
                self.cache[name] = None  # absent, encrypted or damaged member
        return self.cache[name]

    def _read(self, name: str) -> bytes | None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> _Members:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class _ZipMembers(_Members):
    def __init__(self, path: Path) -> None:
        super().__init__()
        self.zip = zipfile.ZipFile(path)

    def _read(self, name: str) -> bytes | None:
        with self.zip.open(name) as fh:  # KeyError when absent
            return fh.read(_MEMBER_READ_LIMIT)

    def close(self) -> None:
        self.zip.close()


class _OleMembers(_Members):
    def __init__(self, path: Path) -> None:
        super().__init__()
        self.ole = olefile.OleFileIO(str(path))
        # Stream names such as "\x01CompObj" are listed in the signatures without the
        # leading control character.
        self.paths = {"/".join(_printable(p) for p in parts): "/".join(parts)
                      for parts in self.ole.listdir()}

    def _read(self, name: str) -> bytes | None:
        real = self.paths.get(name)
        return None if real is None else self.ole.openstream(real).read(_MEMBER_READ_LIMIT)

    def close(self) -> None:
        self.ole.close()


def _printable(part: str) -> str:
    return "".join(ch for ch in part if ord(ch) >= 32)


def _container_matches(sig: _ContainerSignature, members: _Members) -> bool:
    for member, alternatives in sig.files:
        data = members.read(member)
        if data is None:
            return False
        if alternatives and not any(all(_sequence_found(data, ref, subs) for ref, subs in alt)
                                    for alt in alternatives):
            return False
    return True


def _sequence_found(data: bytes, reference: str, subs: tuple[_SubSequence, ...]) -> bool:
    if reference == "EOFoffset":
        # Only two Revit signatures anchor at the end; a match in the last bytes read will do.
        ends = [m.end() for m in subs[0].regex.finditer(data)]
        return bool(ends) and (subs[0].max_offset is None
                               or len(data) - ends[-1] <= subs[0].max_offset)
    pos = 0
    for sub in subs:  # each subsequence is placed after the previous one (DROID semantics)
        found = sub.regex.search(data, pos + sub.min_offset)
        if found is None or (sub.max_offset is not None
                             and found.start() > pos + sub.max_offset):
            return False
        pos = found.end()
    return True


def _load_containers(path: Path) -> list[_ContainerSignature]:
    root = ET.parse(path).getroot()
    puid_of = {m.get("signatureId"): m.get("Puid")
               for m in root.iter("FileFormatMapping")}
    sigs = []
    for cs in root.iter("ContainerSignature"):
        puid = puid_of.get(cs.get("Id"))
        if puid is None:
            continue
        files = []
        for f in cs.iter("File"):
            alternatives = tuple(
                tuple((bs.get("Reference", "BOFoffset"), tuple(
                    _SubSequence(re.compile(_droid_regex(ss.findtext("Sequence") or "")),
                                 int(ss.get("SubSeqMinOffset", "0")),
                                 int(ss.get("SubSeqMaxOffset")) if ss.get("SubSeqMaxOffset")
                                 else None)
                    for ss in bs.iter("SubSequence"))) for bs in sig.iter("ByteSequence"))
                for sig in f.iter("InternalSignature"))
            files.append((f.findtext("Path") or "", alternatives))
        sigs.append(_ContainerSignature(puid, cs.get("ContainerType", ""), tuple(files)))
    return sigs


def _droid_regex(seq: str) -> bytes:
    """A DROID container byte sequence (hex, 'text', [set or range]) as a bytes regex."""
    out, i = b"(?s)", 0
    while i < len(seq):
        ch = seq[i]
        if ch.isspace():
            i += 1
        elif ch == "'":
            end = seq.index("'", i + 1)
            out += re.escape(seq[i + 1:end].encode("latin-1"))
            i = end + 1
        elif ch == "[":
            end = seq.index("]", i)
            values = _byte_class(seq[i + 1:end])
            out += b"[" + b"".join(re.escape(bytes([v])) for v in sorted(values)) + b"]"
            i = end + 1
        else:
            out += re.escape(bytes.fromhex(seq[i:i + 2]))
            i += 2
    return out


def _byte_class(text: str) -> set[int]:
    text = text.strip()
    if text.startswith("&"):  # bitmask: every byte with these bits set
        mask = int(text[1:], 16)
        return {b for b in range(256) if b & mask == mask}
    tokens = re.findall(r"'.'|[0-9A-Fa-f]{2}|[:-]", text)
    values: set[int] = set()
    k = 0
    while k < len(tokens):
        low = ord(tokens[k][1]) if tokens[k].startswith("'") else int(tokens[k], 16)
        if k + 2 < len(tokens) and tokens[k + 1] in ":-":
            high = tokens[k + 2]
            high_v = ord(high[1]) if high.startswith("'") else int(high, 16)
            values.update(range(low, high_v + 1))
            k += 3
        else:
            values.add(low)
            k += 1
    return values


_engine_lock = threading.Lock()
_engine: _Engine | None = None


def _get_engine() -> _Engine:
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = _Engine()
        return _engine


def identify(path: Path) -> FormatId:
    """Identify one file; raises OSError if it cannot be read."""
    return _get_engine().identify(Path(path))


PRELOAD = "ingest.formats_preload"  # imported once by the fork server: builds the engine


def identify_many(paths: list[Path], workers: int = 2) -> list[FormatId]:
    """Identify files in order, in ``workers`` processes (each loads the signatures once)."""
    if workers <= 1 or len(paths) < 16 * workers:
        return [identify(p) for p in paths]  # a pool costs more than it saves here
    # forkserver, not fork: the caller may be a threaded server, and forking threads is unsafe.
    # Callers that are scripts need the usual ``if __name__ == "__main__":`` guard.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([PRELOAD])  # workers fork with the engine already built
    chunk = max(1, len(paths) // (workers * 8))
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_get_engine) as pool:
        return list(pool.map(identify, [Path(p) for p in paths], chunksize=chunk))


class IdentificationPool:
    """Identify files (and check PDFs) while the transfer is still being copied.

    Each staged file is submitted as soon as it lands, so the worker processes start their
    signature loading during the copy and both cores stay busy; results are collected after.
    Small transfers run in one background thread instead (a pool costs more than it saves).
    """

    def __init__(self, expected: int, workers: int = 2) -> None:
        self._executor: Executor
        if workers > 1 and expected >= 16 * workers:
            # forkserver, not fork: the caller may be threaded (copy threads, a server), and
            # forking a threaded process is unsafe. Workers fork with the engine built (PRELOAD).
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([PRELOAD])
            self._executor = ProcessPoolExecutor(workers, mp_context=context,
                                                 initializer=_get_engine)
        else:
            self._executor = ThreadPoolExecutor(1)

    def identify(self, path: Path) -> Future[FormatId]:
        return self._executor.submit(identify, Path(path))

    def run(self, fn: Callable[[Path], T], path: Path) -> Future[T]:
        """Any other per-file check (a module-level function: it may cross processes)."""
        return self._executor.submit(fn, Path(path))

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> IdentificationPool:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class AcceptedFormat:
    key: str
    vi: str
    puids: frozenset[str]
    mimes: frozenset[str]


@dataclass(frozen=True)
class FormatPolicy:
    source: str
    on_other: str  # "warn" | "reject"
    formats: tuple[AcceptedFormat, ...]

    def accepts(self, fid: FormatId) -> AcceptedFormat | None:
        # A content-based PUID is more precise than a MIME type (GIF 87a and 89a share
        # image/gif); a PUID from the extension alone is never trusted.
        if fid.puid and fid.basis in ("signature", "container"):
            return next((f for f in self.formats if fid.puid in f.puids), None)
        return next((f for f in self.formats if fid.mime in f.mimes), None)


def load_format_policy(path: Path | None = None) -> FormatPolicy:
    path = path or DEFAULT_POLICY
    try:
        data = safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(reason=f"{path}: cannot read format policy: {exc}") from exc
    try:
        on_other = data.get("on_other", "warn")
        if on_other not in ("warn", "reject"):
            raise ValueError(f"on_other must be warn or reject, not {on_other!r}")
        formats = tuple(AcceptedFormat(str(f["key"]), str(f.get("vi", "")),
                                       frozenset(f.get("puid") or ()),
                                       frozenset(f.get("mime") or ()))
                        for f in data["formats"])
        return FormatPolicy(str(data.get("source", "")), on_other, formats)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        field = exc.args[0] if isinstance(exc, KeyError) else None
        raise ConfigError(reason=f"{path}: bad format policy: {exc}",
                          details=[Problem("policy-invalid", str(exc), path=str(path),
                                           field=field)]) from exc


def assess(fid: FormatId, policy: FormatPolicy, path: str | None = None) -> Problem | None:
    """None if the format is accepted, else a Problem (severity per ``on_other``)."""
    if policy.accepts(fid) is not None:
        return None
    what = {"signature": f"{fid.puid} ({fid.format_name})",
            "container": f"{fid.puid} ({fid.format_name})",
            "extension": f"unidentified ({fid.mime}; the extension alone suggests "
                         f"{', '.join(fid.candidates[:3]) or '?'})",
            "none": f"unidentified ({fid.mime})"}[fid.basis]
    severity = "error" if policy.on_other == "reject" else "warning"
    return Problem("format-not-accepted",
                   f"{path or 'file'}: format {what} is not in the accepted list; "
                   "convert it to an accepted format or record why it is kept",
                   path=path, rule=policy.source,
                   extra={"severity": severity, "puid": fid.puid, "mime": fid.mime,
                          "basis": fid.basis})
