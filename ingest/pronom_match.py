"""FIDO's PRONOM signature matching, with the signatures compiled once per process.

``fido.Fido.match_formats`` walks its ElementTree (about 1,700 formats and 2,000
signatures) with ``find``/``findall`` for every file and hands regex *strings* to ``re``
(whose cache holds 512): about 20 ms a file, nearly all of it lookups, not matching. This
flattens the same signatures into tuples of compiled patterns and applies FIDO's own rules
unchanged, so results are identical (tests/ingest/test_formats.py compares them):

- a pattern at ``BOF`` must match at the start of the head buffer (``re.match``); ``EOF``
  searches the tail buffer; ``VAR`` and ``IFB`` search the head buffer;
- a signature matches when all its patterns do; a format matches with its first matching
  signature;
- a format is skipped, and a match dropped at the end, when another match has priority over
  it (``has_priority_over`` in the signature file).
"""

from __future__ import annotations

import os
import re
import re._parser as sre_parse  # the stdlib's own regex parser: widths and literals
from dataclasses import dataclass
from typing import Any

BOF, EOF, VAR = 0, 1, 2
# "(?s)\A.{M,N}<rest>" (M may be absent: 0): rest must start between M and N bytes into the
# head. Backtracking through .{M,N} costs milliseconds (PRONOM's HTML signature fmt/96 and the
# ISO 9660 ones did); searching for <rest> from M and checking where it starts gives the same
# answer at literal-scan speed.
_LEADING_GAP = re.compile(rb"^\(\?s\)\\A\.\{(?:(\d+),)?(\d+)\}")


@dataclass(frozen=True)
class _Format:
    element: Any
    puid: str
    signatures: tuple[tuple[str, tuple[_Pattern, ...]], ...]


@dataclass(frozen=True)
class _Pattern:
    kind: int
    regex: re.Pattern[bytes]
    max_start: int = -1          # VAR from a "\A.{0,N}" BOF pattern: latest allowed start
    tail: int = 0                # EOF pattern ending in \Z with bounded width: search the tail
    needles: tuple[bytes, ...] = ()  # literals every match contains: a cheap pre-check
    min_start: int = 0           # VAR from a "\A.{M,N}" BOF pattern: earliest allowed start


def _compile(position: str, regex: bytes) -> _Pattern:
    kind = {"BOF": BOF, "EOF": EOF}.get(position, VAR)
    gap = _LEADING_GAP.match(regex) if kind == BOF else None
    if gap is not None:
        rest = b"(?s)" + regex[gap.end():]
        low = int(gap.group(1) or 0)
        return _Pattern(VAR, re.compile(rest), int(gap.group(2)), 0, _needles(rest), low)
    tail = _tail_width(regex) if kind == EOF else 0
    return _Pattern(kind, re.compile(regex), -1, tail, _needles(regex))


def _tree(regex: bytes):  # type: ignore[no-untyped-def]
    try:
        return sre_parse.parse(regex.decode("latin-1"))
    except (re.error, ValueError, OverflowError):
        return None


def _needles(regex: bytes) -> tuple[bytes, ...]:
    """Runs of 3+ literal bytes at the top level of the pattern: every match contains them."""
    tree = _tree(regex)
    if tree is None or tree.state.flags & re.IGNORECASE:
        return ()
    runs: list[bytes] = []
    current = bytearray()
    for op, arg in tree:
        if op is sre_parse.LITERAL:
            current.append(arg)
            continue
        if len(current) >= 3:
            runs.append(bytes(current))
        current = bytearray()
    if len(current) >= 3:
        runs.append(bytes(current))
    return tuple(runs)


def _tail_width(regex: bytes) -> int:
    r"""For a pattern anchored at the end (\Z) with a bounded width, how many trailing bytes
    can hold a match; 0 when not applicable (lookbehind or start anchors could see more)."""
    if b"(?<" in regex or b"\\A" in regex or b"^" in regex:
        return 0
    tree = _tree(regex)
    if tree is None or not len(tree):
        return 0
    last_op, last_arg = tree[-1]
    if last_op is not sre_parse.AT or last_arg is not sre_parse.AT_END_STRING:
        return 0
    high = tree.getwidth()[1]
    return high if high < 1 << 30 else 0


class CompiledSignatures:
    def __init__(self, fido: Any) -> None:
        self.priority: dict[str, frozenset[str]] = fido.puid_has_priority_over_map
        self.formats: list[_Format] = []
        self.by_extension: dict[str, list[_Format]] = {}
        for element in fido.formats:
            signatures = []
            try:
                for sig in element.findall("signature"):
                    patterns = tuple(_compile(pat.find("position").text,
                                              pat.find("regex").text.encode("utf8"))
                                     for pat in sig.findall("pattern"))
                    signatures.append((sig.findtext("name") or "", patterns))
            except (re.error, AttributeError):
                signatures = []  # FIDO skips a format whose pattern raises; names still count
            fmt = _Format(element, element.find("puid").text, tuple(signatures))
            self.formats.append(fmt)
            for ext in element.findall("extension"):
                if ext.text:
                    bucket = self.by_extension.setdefault(ext.text, [])
                    if fmt not in bucket:
                        bucket.append(fmt)
        self.external_name = fido.externalsig.findtext("name")

    def _beaten(self, puid: str, found: list[tuple[_Format, str]]) -> bool:
        return any(puid in self.priority[other.puid] for other, _ in found
                   if other.puid != puid)

    def match(self, bof: bytes, eof: bytes) -> list[tuple[Any, str]]:
        found: list[tuple[_Format, str]] = []
        for fmt in self.formats:
            if found and self._beaten(fmt.puid, found):
                continue
            for name, patterns in fmt.signatures:
                for pat in patterns:
                    if not _matches(pat, bof, eof):
                        break
                else:
                    found.append((fmt, name))
        return [(fmt.element, name) for fmt, name in found if not self._beaten(fmt.puid, found)]

    def match_extension(self, filename: str) -> list[tuple[Any, str]]:
        """FIDO's match_extensions, from a dictionary instead of a walk of every format."""
        ext = os.path.splitext(filename)[1].lower().lstrip(".")
        found = [(fmt, self.external_name) for fmt in self.by_extension.get(ext, [])]
        return [(fmt.element, name) for fmt, name in found if not self._beaten(fmt.puid, found)]


def _matches(pat: _Pattern, bof: bytes, eof: bytes) -> bool:
    if pat.kind == BOF:
        # A match anchored at the start fails within a few bytes: no pre-check pays off.
        return pat.regex.match(bof) is not None
    if pat.kind == EOF:
        start = len(eof) - pat.tail if pat.tail and len(eof) > pat.tail else 0
        # Anchored at \Z with bounded width: no match can start before the tail.
        if any(eof.find(needle, start) < 0 for needle in pat.needles):
            return False
        return pat.regex.search(eof, start) is not None
    if any(needle not in bof for needle in pat.needles):
        return False
    hit = pat.regex.search(bof, pat.min_start)
    return hit is not None and (pat.max_start < 0 or hit.start() <= pat.max_start)
