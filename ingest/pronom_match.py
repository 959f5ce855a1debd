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
from dataclasses import dataclass
from typing import Any

BOF, EOF, VAR = 0, 1, 2
# "(?s)\A.{0,N}<rest>": rest must start within N bytes of the head. Backtracking through
# .{0,N} costs milliseconds (PRONOM's HTML signature fmt/96 alone did); searching for <rest>
# and checking where it starts gives the same answer at literal-scan speed.
_LEADING_GAP = re.compile(rb"^\(\?s\)\\A\.\{0,(\d+)\}")


@dataclass(frozen=True)
class _Format:
    element: Any
    puid: str
    # each signature: (name, ((kind, compiled pattern, max start or -1), ...))
    signatures: tuple[tuple[str, tuple[tuple[int, re.Pattern[bytes], int], ...]], ...]


def _compile(position: str, regex: bytes) -> tuple[int, re.Pattern[bytes], int]:
    kind = {"BOF": BOF, "EOF": EOF}.get(position, VAR)
    gap = _LEADING_GAP.match(regex) if kind == BOF else None
    if gap is not None:
        return VAR, re.compile(b"(?s)" + regex[gap.end():]), int(gap.group(1))
    return kind, re.compile(regex), -1


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
                for kind, regex, max_start in patterns:
                    if kind == BOF:
                        if regex.match(bof) is None:
                            break
                    elif kind == EOF:
                        if regex.search(eof) is None:
                            break
                    else:
                        hit = regex.search(bof)
                        if hit is None or (max_start >= 0 and hit.start() > max_start):
                            break
                else:
                    found.append((fmt, name))
        return [(fmt.element, name) for fmt, name in found if not self._beaten(fmt.puid, found)]

    def match_extension(self, filename: str) -> list[tuple[Any, str]]:
        """FIDO's match_extensions, from a dictionary instead of a walk of every format."""
        ext = os.path.splitext(filename)[1].lower().lstrip(".")
        found = [(fmt, self.external_name) for fmt in self.by_extension.get(ext, [])]
        return [(fmt.element, name) for fmt, name in found if not self._beaten(fmt.puid, found)]
