"""Readers for the text tag files of a BagIt bag (RFC 8493), each usable on a single fragment.

``read_bagit_txt``, ``read_manifest``, ``read_fetch`` and ``read_bag_info`` take the bytes of one
tag file (or text already decoded) and return a :class:`Parsed`: what could be read, plus every
error and warning as a :class:`~repository.errors.Problem`. They never raise on bad input and
never touch the filesystem, so ``ingest.bag`` can collect every problem of a bag in one pass.

Paths read from manifests and ``fetch.txt`` are decoded (BagIt 1.0 percent-encodes only ``%``,
CR and LF), checked for escapes (``..``, absolute, ``~``, drive letters, UNC, URLs, ``%VAR%``)
and brought to one canonical spelling (no ``./``, no empty component). Tag files before 1.0 are
read with the leniency RFC 8493 §2.2.2 asks for (whitespace around the colon); 1.0 is strict.
"""

from __future__ import annotations

import codecs
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

import bagit

from ingest.safety import shown
from repository.errors import Problem

T = TypeVar("T")
Version = tuple[int, int]

RFC_VERSION: Version = (1, 0)
SUPPORTED_VERSIONS: frozenset[Version] = frozenset(
    {(0, 93), (0, 94), (0, 95), (0, 96), (0, 97), (1, 0)})
# bagit-python's list (hashlib's guaranteed algorithms) minus SHAKE, whose output length a
# manifest file name cannot state.
SUPPORTED_ALGORITHMS: frozenset[str] = frozenset(
    a for a in bagit.CHECKSUM_ALGOS if not a.startswith("shake_"))
MANIFEST_NAME = re.compile(r"^(tag)?manifest-([^/]+)\.txt$")

_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # RFC 8493 §2.3: LF, CR or CRLF end a line
_MANIFEST_LINE = re.compile(r"^[ \t]*([^ \t]+)[ \t]+(.*)$")
_FETCH_LINE = re.compile(r"^[ \t]*([^ \t]+)[ \t]+([^ \t]+)[ \t]+(.+)$")
_HEX = re.compile(r"^[0-9A-Fa-f]+$")
_VERSION = re.compile(r"^(\d+)\.(\d+)$")
_OXUM = re.compile(r"^(\d+)\.(\d+)$")
_SCHEME_OR_DRIVE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_WINDOWS_ENV_VAR = re.compile(r"^%[^%/\\]+%")
_BAD_PERCENT = re.compile(r"%(?!25|0[AaDd])")
_PERCENT_CODE = re.compile(r"%(25|0[AaDd])")
_DECODED = {"25": "%", "0a": "\n", "0d": "\r"}


@dataclass(frozen=True)
class Parsed(Generic[T]):
    """What a reader got out of one tag file, and what is wrong with it."""

    value: T
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


class Findings:
    """Collects errors and warnings while a tag file or a bag is checked."""

    def __init__(self) -> None:
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []

    def error(self, code: str, message: str, **where: Any) -> None:
        self.errors.append(_problem(code, message, where))

    def warn(self, code: str, message: str, **where: Any) -> None:
        self.warnings.append(_problem(code, message, where))

    def add(self, code: str, message: str, *, as_error: bool, **where: Any) -> None:
        (self.error if as_error else self.warn)(code, message, **where)

    def take(self, parsed: Parsed[T]) -> T:
        self.errors.extend(parsed.errors)
        self.warnings.extend(parsed.warnings)
        return parsed.value

    def result(self, value: T) -> Parsed[T]:
        return Parsed(value, list(self.errors), list(self.warnings))


def _problem(code: str, message: str, where: dict[str, Any]) -> Problem:
    extra = where.pop("extra", None) or {}
    return Problem(code, message, path=where.get("path"), field=where.get("field"),
                   rule=where.get("rule"), extra=extra)


@dataclass(frozen=True)
class BagDeclaration:
    version: str
    version_info: Version
    encoding: str


@dataclass(frozen=True)
class ManifestEntry:
    path: str  # bag-relative, decoded and canonical: "data/a b.txt"
    digest: str  # lowercase hex
    line: int


@dataclass(frozen=True)
class Manifest:
    name: str
    algorithm: str
    tag: bool
    entries: tuple[ManifestEntry, ...]


@dataclass(frozen=True)
class FetchEntry:
    url: str
    length: int | None
    path: str
    line: int


def quoted(text: str) -> str:
    """A name or line as a message shows it: quoted, control characters and bad bytes escaped."""
    return f"'{shown(text)}'"


def unicode_form(text: str) -> str:
    """Which normal form a name is in, for messages about NFC/NFD differences."""
    if unicodedata.is_normalized("NFC", text):
        return "NFC"
    return "NFD" if unicodedata.is_normalized("NFD", text) else "mixed"


def split_lines(text: str) -> tuple[list[str], bool]:
    """The lines of a tag file, and whether the last one was terminated."""
    lines = _LINE_BREAK.split(text)
    terminated = lines[-1] == ""
    if terminated:
        lines.pop()
    return lines, terminated


def decode_tag_file(data: bytes, encoding: str, name: str) -> Parsed[str | None]:
    """Decode a tag file in the encoding bagit.txt declares (RFC 8493 §2.3)."""
    found = Findings()
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        found.error("tag-file-encoding-invalid", f"{name} cannot be read as {encoding} "
                    f"(declared in bagit.txt): {exc}", path=name, rule="RFC 8493 §2.3")
        return found.result(None)
    if text.startswith("\ufeff"):
        text = text[1:]
        if codecs.lookup(encoding).name == "utf-8":
            found.warn("tag-file-bom", f"{name} starts with a byte-order mark, which UTF-8 "
                       "does not need; remove it", path=name, rule="RFC 8493 §2.3")
    return found.result(text)


def parse_version(text: str) -> Version | None:
    match = _VERSION.match(text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def parse_oxum(value: str) -> tuple[int, int] | None:
    """``OctetCount.StreamCount`` (RFC 8493 §2.2.2) as (bytes, files)."""
    match = _OXUM.match(value.strip())
    return (int(match.group(1)), int(match.group(2))) if match else None


def manifest_kind(name: str) -> tuple[bool, str] | None:
    """(is a tag manifest, algorithm as written) for a manifest file name, else None."""
    match = MANIFEST_NAME.match(name)
    return (match.group(1) is not None, match.group(2)) if match else None


def digest_length(algorithm: str) -> int | None:
    if algorithm not in SUPPORTED_ALGORITHMS:
        return None
    return hashlib.new(algorithm).digest_size * 2


def encode_path(path: str) -> str:
    """A bag-relative path as a BagIt 1.0 manifest or fetch.txt writes it (RFC 8493 §2.1.3)."""
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_reason(path: str) -> str | None:
    """Why a manifest or fetch.txt path would reach outside the bag (RFC 8493 §6.1), if it does."""
    if path == "":
        return "is empty"
    if "\x00" in path:
        return "contains a NUL character"
    if path.startswith("\\"):
        return "starts with a backslash (a rooted or UNC path on Windows)"
    if path.startswith("/"):
        return "is absolute"
    if path.startswith("~"):
        return "starts with ~ (a home-directory shortcut)"
    if _SCHEME_OR_DRIVE.match(path):
        return "starts with a drive letter or URL scheme"
    if _WINDOWS_ENV_VAR.match(path):
        return "starts with a Windows environment variable"
    if ".." in path.replace("\\", "/").split("/"):
        return "contains a '..' component"
    return None


def read_path(raw: str, where: str, version: Version, found: Findings) -> str | None:
    """Decode, check and canonicalise one path from a manifest or fetch.txt."""
    reason = escape_reason(raw)
    if reason is None and version >= RFC_VERSION:
        if _BAD_PERCENT.search(raw):
            found.error("manifest-path-encoding-invalid", f"{where}: {quoted(raw)} has a '%' "
                        "that is not %25, %0A or %0D; BagIt 1.0 writes a literal % as %25",
                        path=raw, rule="RFC 8493 §2.1.3")
            return None
        raw = _PERCENT_CODE.sub(lambda m: _DECODED[m.group(1).lower()], raw)
        reason = escape_reason(raw)
    if reason is not None:
        found.error("path-escape", f"{where}: path {quoted(raw)} {reason}; a bag may only name "
                    "files inside itself", path=raw, rule="RFC 8493 §6.1")
        return None
    if "\\" in raw:
        found.error("path-not-portable", f"{where}: path {quoted(raw)} contains a backslash, which "
                    "Windows reads as a separator; RFC 8493 requires '/'", path=raw,
                    rule="RFC 8493 §2.1.3")
        return None
    canonical = "/".join(part for part in raw.split("/") if part not in ("", "."))
    if canonical != raw:
        found.warn("manifest-path-not-canonical", f"{where}: path {quoted(raw)} is read as "
                   f"{quoted(canonical)}; write it without './' or empty components",
                   path=canonical, rule="RFC 8493 §2.1.3")
    return canonical


def _text(data: bytes | str, encoding: str, name: str, found: Findings) -> str | None:
    if isinstance(data, str):
        return data
    return found.take(decode_tag_file(data, encoding, name))


def read_manifest(data: bytes | str, *, name: str = "manifest-sha256.txt",
                  version: Version = RFC_VERSION, encoding: str = "utf-8") -> Parsed[Manifest]:
    """A payload or tag manifest (RFC 8493 §2.1.3, §2.2.1); the kind comes from ``name``."""
    found = Findings()
    kind = manifest_kind(name)
    tag, algorithm = kind if kind else (False, "")
    entries: dict[str, ManifestEntry] = {}
    text = _text(data, encoding, name, found)
    for number, line in enumerate(split_lines(text or "")[0], 1):
        entry = _manifest_line(line, number, name, algorithm.lower(), version, found)
        if entry is None:
            continue
        in_payload = entry.path.startswith("data/")
        if in_payload == tag or entry.path == "data":
            _wrong_side(entry, name, tag, found)
        elif entry.path in entries:
            _duplicate(entries[entry.path], entry, name, version, found)
        else:
            entries[entry.path] = entry
    return found.result(Manifest(name, algorithm.lower(), tag, tuple(entries.values())))


def _manifest_line(line: str, number: int, name: str, algorithm: str, version: Version,
                   found: Findings) -> ManifestEntry | None:
    if not line.strip():
        return None
    where = f"{name} line {number}"
    match = _MANIFEST_LINE.match(line)
    if match is None or not _HEX.match(match.group(1)) or not match.group(2):
        found.error("manifest-line-invalid", f"{where} is not '<checksum> <filepath>': "
                    f"{quoted(line[:200])}", path=name, rule="RFC 8493 §2.1.3")
        return None
    digest, raw = match.group(1), match.group(2)
    expected = digest_length(algorithm)
    if expected is not None and len(digest) != expected:
        found.error("manifest-line-invalid", f"{where}: a {algorithm} checksum has {expected} "
                    f"hex digits, not {len(digest)}", path=name, rule="RFC 8493 §2.1.3")
        return None
    if raw.startswith("*") and raw != "*":
        raw = raw[1:]
        found.warn("manifest-binary-marker", f"{where}: '*' before {quoted(raw)} is md5sum's "
                   "binary marker, not part of the name; write the path alone", path=raw,
                   rule="RFC 8493 §5.3")
    path = read_path(raw, where, version, found)
    return None if path is None else ManifestEntry(path, digest.lower(), number)


def _wrong_side(entry: ManifestEntry, name: str, tag: bool, found: Findings) -> None:
    if tag:
        found.error("tag-manifest-lists-payload", f"{name} line {entry.line} lists payload "
                    f"file {quoted(entry.path)}; tag manifests list tag files only",
                    path=entry.path, rule="RFC 8493 §2.2.1")
    else:
        found.error("manifest-entry-outside-payload", f"{name} line {entry.line} lists "
                    f"{quoted(entry.path)}, which is not under data/; a payload manifest lists "
                    "payload files only", path=entry.path, rule="RFC 8493 §2.1.3")


def _duplicate(first: ManifestEntry, again: ManifestEntry, name: str, version: Version,
               found: Findings) -> None:
    where = f"{name} lists {quoted(again.path)} on lines {first.line} and {again.line}"
    if first.digest != again.digest:
        found.error("manifest-duplicate-entry", f"{where} with different checksums",
                    path=again.path, rule="RFC 8493 §2.1.3")
    else:
        found.add("manifest-duplicate-entry", f"{where}; list each file once",
                  as_error=version >= RFC_VERSION, path=again.path, rule="RFC 8493 §2.1.3")


def read_fetch(data: bytes | str, *, name: str = "fetch.txt", version: Version = RFC_VERSION,
               encoding: str = "utf-8") -> Parsed[tuple[FetchEntry, ...]]:
    """``fetch.txt`` lines ``URL LENGTH FILEPATH`` (RFC 8493 §2.2.3)."""
    found = Findings()
    entries: list[FetchEntry] = []
    text = _text(data, encoding, name, found)
    for number, line in enumerate(split_lines(text or "")[0], 1):
        if not line.strip():
            continue
        where = f"{name} line {number}"
        match = _FETCH_LINE.match(line)
        if match is None:
            found.error("fetch-line-invalid", f"{where} is not 'URL LENGTH FILEPATH': "
                        f"{quoted(line[:200])}", path=name, rule="RFC 8493 §2.2.3")
            continue
        url, length, raw = match.groups()
        if not (length == "-" or length.isdecimal()):
            found.error("fetch-line-invalid", f"{where}: length {quoted(length)} is neither a "
                        "number of octets nor '-'", path=name, rule="RFC 8493 §2.2.3")
            continue
        if not _fetch_url_ok(url, where, found):
            continue
        path = read_path(raw, where, version, found)
        if path is not None:
            entries.append(FetchEntry(url, None if length == "-" else int(length), path, number))
    return found.result(tuple(entries))


def _fetch_url_ok(url: str, where: str, found: Findings) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced "[" (found by scripts/fuzz/fuzz_bagit.py)
        parts = None
    if parts is not None and parts.scheme.lower() in ("http", "https") and parts.netloc:
        return True
    found.error("fetch-url-invalid", f"{where}: {quoted(url[:200])} is not an http(s) URL with "
                "a host", field="URL", rule="RFC 8493 §6.2")
    return False


def read_bag_info(data: bytes | str, *, name: str = "bag-info.txt",
                  version: Version = RFC_VERSION,
                  encoding: str = "utf-8") -> Parsed[tuple[tuple[str, str], ...]]:
    """Metadata elements ``Label: value`` with folded continuation lines (RFC 8493 §2.2.2)."""
    found = Findings()
    elements: list[list[str]] = []
    text = _text(data, encoding, name, found)
    for number, line in enumerate(split_lines(text or "")[0], 1):
        if not line.strip():
            continue
        where = f"{name} line {number}"
        if line[0] in " \t":
            if elements:
                elements[-1][1] += "\n" + line.strip(" \t")
            else:
                found.error("bag-info-invalid", f"{where} is indented but continues no element",
                            path=name, rule="RFC 8493 §2.2.2")
            continue
        element = _label_value(line, where, name, version, found)
        if element is not None:
            elements.append(element)
    return found.result(tuple((label, value.strip(" \t")) for label, value in elements))


def _label_value(line: str, where: str, name: str, version: Version,
                 found: Findings) -> list[str] | None:
    label, colon, value = line.partition(":")
    if not colon or not label.strip(" \t"):
        found.error("bag-info-invalid", f"{where} is not 'Label: value' (or an indented "
                    f"continuation): {quoted(line[:200])}", path=name, rule="RFC 8493 §2.2.2")
        return None
    if version >= RFC_VERSION and label != label.rstrip(" \t"):
        found.error("bag-info-invalid", f"{where}: whitespace before the colon after "
                    f"{quoted(label.strip())}; BagIt 1.0 labels must not end with whitespace",
                    path=name, field=label.strip(), rule="RFC 8493 §2.2.2")
        return None
    if version >= RFC_VERSION and value.strip(" \t") and not re.match(r"^[ \t][^ \t]", value):
        found.warn("bag-info-whitespace", f"{where}: BagIt 1.0 puts exactly one space or tab "
                   f"after the colon of {quoted(label)}", path=name, field=label,
                   rule="RFC 8493 §2.2.2")
    return [label.strip(" \t"), value]


def read_bagit_txt(data: bytes) -> Parsed[BagDeclaration | None]:
    """The bag declaration: UTF-8 without BOM, ``BagIt-Version`` then the encoding (§2.1.1)."""
    found = Findings()
    rule = "RFC 8493 §2.1.1"
    if data.startswith(codecs.BOM_UTF8):
        found.error("bag-declaration-invalid", "bagit.txt starts with a byte-order mark (BOM); "
                    "save it as UTF-8 without BOM", path="bagit.txt", rule=rule)
        data = data[len(codecs.BOM_UTF8):]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        found.error("bag-declaration-invalid", f"bagit.txt is not UTF-8: {exc}",
                    path="bagit.txt", rule=rule)
        return found.result(None)
    lines, terminated = split_lines(text)
    records = [r for r in (_declaration_line(n, line, found) for n, line in
                           enumerate(lines, 1) if line.strip()) if r is not None]
    declaration = _declaration(records, found)
    if declaration is not None:
        _strict_declaration(records, lines, terminated, declaration.version_info, found)
    return found.result(declaration)


def _declaration_line(number: int, line: str, found: Findings) -> tuple[str, str, str] | None:
    label, colon, value = line.partition(":")
    if not colon:
        found.error("bag-declaration-invalid", f"bagit.txt line {number} is not 'Label: value': "
                    f"{quoted(line[:200])}", path="bagit.txt", rule="RFC 8493 §2.1.1")
        return None
    return label, value, line


def _declaration(records: list[tuple[str, str, str]], found: Findings) -> BagDeclaration | None:
    values = {label.strip(" \t").casefold(): value.strip(" \t") for label, value, _ in records}
    version = values.get("bagit-version")
    encoding = values.get("tag-file-character-encoding")
    for label, value in (("BagIt-Version", version), ("Tag-File-Character-Encoding", encoding)):
        if value is None:
            found.error("bag-declaration-invalid", f"bagit.txt has no {label} line",
                        path="bagit.txt", field=label, rule="RFC 8493 §2.1.1")
    if version is None or encoding is None:
        return None
    info = parse_version(version)
    if info is None:
        found.error("bag-declaration-invalid", f"bagit.txt: BagIt-Version {quoted(version)} is not "
                    "MAJOR.MINOR (for example 1.0)", path="bagit.txt", field="BagIt-Version",
                    rule="RFC 8493 §2.1.1")
        return None
    try:
        codecs.lookup(encoding)
    except (LookupError, ValueError):  # ValueError: a NUL in the name (found by fuzzing)
        found.error("tag-encoding-unsupported", f"bagit.txt declares Tag-File-Character-Encoding "
                    f"{quoted(encoding)}, which khoso cannot decode", path="bagit.txt",
                    field="Tag-File-Character-Encoding", rule="RFC 8493 §2.1.1")
        return None
    return BagDeclaration(version, info, encoding)


def _strict_declaration(records: list[tuple[str, str, str]], lines: list[str], terminated: bool,
                        version: Version, found: Findings) -> None:
    """RFC 8493 §2.1.1 wants exactly the two lines; versions before 1.0 get warnings only."""
    strict = version >= RFC_VERSION
    expected = ["BagIt-Version", "Tag-File-Character-Encoding"]
    for label, value, line in records:
        if label != label.strip(" \t"):
            found.add("bag-declaration-invalid", f"bagit.txt: whitespace around the label in "
                      f"{quoted(line)}; write '{label.strip()}: {value.strip()}'", as_error=strict,
                      path="bagit.txt", field=label.strip(), rule="RFC 8493 §2.1.1")
        elif value != " " + value.strip(" \t"):
            found.warn("bag-declaration-whitespace", f"bagit.txt: {quoted(line)} should have "
                       "exactly one space after the colon and none at the end", path="bagit.txt",
                       field=label, rule="RFC 8493 §2.1.1")
    labels = [label.strip(" \t") for label, _, _ in records]
    if labels != expected:
        found.add("bag-declaration-invalid", f"bagit.txt has the lines {labels}; it must have "
                  f"exactly {expected} in that order", as_error=strict, path="bagit.txt",
                  rule="RFC 8493 §2.1.1")
    if strict and (not terminated or len(lines) != len(records)):
        found.warn("bag-declaration-whitespace", "bagit.txt has blank lines or no line break "
                   "after its last line", path="bagit.txt", rule="RFC 8493 §2.3")
