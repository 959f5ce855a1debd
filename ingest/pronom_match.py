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

Most files match few signatures, so the cost is in proving patterns absent. Every literal run
("needle") that a ``VAR`` or ``EOF`` pattern's matches must contain is looked for in one pass
over each buffer by Hyperscan (all ~500 literals at once, each reported once): 0.035 ms for
a 128 KiB buffer, against 17 ms for 410 separate ``needle in buffer`` scans (and 0.9 ms for
an Aho–Corasick automaton, ahocorasick_rs, which we tried). A pattern whose needles are not
all present is skipped without running its regex. Where no Hyperscan wheel exists for the
platform, the needles are looked for one by one (slower, same answers).
"""

from __future__ import annotations

import os
import re
import re._parser as sre_parse  # the stdlib's own regex parser: widths and literals
from dataclasses import dataclass, replace
from typing import Any

from ingest.pronom_cache import Analysis, AnalysisCache

try:
    import hyperscan
except ImportError:  # no wheel for this platform: _NeedleIndex searches one by one
    hyperscan = None

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
    needle_ids: tuple[int, ...] = ()  # the needles' numbers in CompiledSignatures.needles
    prefix: bytes = b""          # BOF: the literal bytes every match starts with


def _analyse(position: str, regex: bytes) -> Analysis:
    """What a pattern needs besides its compiled regex: (kind, the regex to compile, latest
    start, tail width, needles, earliest start, literal prefix). Plain data: cacheable."""
    kind = {"BOF": BOF, "EOF": EOF}.get(position, VAR)
    gap = _LEADING_GAP.match(regex) if kind == BOF else None
    if gap is not None:
        rest = b"(?s)" + regex[gap.end():]
        low = int(gap.group(1) or 0)
        return (VAR, rest, int(gap.group(2)), 0, _needles(rest), low, b"")
    tail = _tail_width(regex) if kind == EOF else 0
    prefix = _literal_prefix(regex) if kind == BOF else b""
    return (kind, regex, -1, tail, _needles(regex), 0, prefix)


def _compile(position: str, regex: bytes, cache: AnalysisCache | None = None) -> _Pattern:
    kind, source, max_start, tail, needles, min_start, prefix = (
        cache.pattern(position, regex, _analyse) if cache else _analyse(position, regex))
    return _Pattern(kind, re.compile(source), max_start, tail, needles, min_start,
                    prefix=prefix)


def _literal_prefix(regex: bytes) -> bytes:
    r"""The literal bytes right after ``\A`` that every match of a BOF pattern starts with."""
    tree = _tree(regex)
    if tree is None or tree.state.flags & re.IGNORECASE or not len(tree):
        return b""
    ops = list(tree)
    if ops[0] != (sre_parse.AT, sre_parse.AT_BEGINNING_STRING):
        return b""
    prefix = bytearray()
    for op, arg in ops[1:]:
        if op is not sre_parse.LITERAL:
            break
        prefix.append(arg)
    return bytes(prefix)


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
    def __init__(self, fido: Any, cache: AnalysisCache | None = None) -> None:
        self._cache = cache
        self.priority: dict[str, frozenset[str]] = fido.puid_has_priority_over_map
        self.formats: list[_Format] = []
        self.by_extension: dict[str, list[_Format]] = {}
        for element in fido.formats:
            signatures = []
            try:
                for sig in element.findall("signature"):
                    patterns = tuple(_compile(pat.find("position").text,
                                              pat.find("regex").text.encode("utf8"), cache)
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
        self.needles, self.index = self._number_needles()

    def _number_needles(self) -> tuple[list[bytes], _NeedleIndex]:
        """Number every needle; a VAR or EOF pattern without one gets its whole regex
        prefiltered instead (numbered after the needles), where that is safe."""
        numbers: dict[bytes, int] = {}
        for fmt in self.formats:
            for _, patterns in fmt.signatures:
                for pat in patterns:
                    for needle in pat.needles if pat.kind != BOF else ():
                        numbers.setdefault(needle, len(numbers))
        regexes: dict[bytes, int] = {}

        def gate(pat: _Pattern) -> tuple[int, ...]:
            if pat.kind == BOF:  # anchored: re.match fails within a few bytes anyway
                return ()
            if pat.needles:
                return tuple(numbers[n] for n in pat.needles)
            form = (self._cache.prefilter(pat.regex.pattern, prefilter_form) if self._cache
                    else prefilter_form(pat.regex.pattern))
            if form is None:
                return ()
            return (len(numbers) + regexes.setdefault(form, len(regexes)),)

        for i, fmt in enumerate(self.formats):
            signatures = tuple((name, tuple(replace(pat, needle_ids=gate(pat))
                                            for pat in patterns))
                               for name, patterns in fmt.signatures)
            self.formats[i] = _Format(fmt.element, fmt.puid, signatures)
        needles = list(numbers)  # (by_extension keeps the unnumbered copies: names only)
        self._gates = _Gates(self.formats)
        return needles, _NeedleIndex(needles, list(regexes), cache=self._cache)

    def _present(self, buffer: bytes) -> frozenset[int]:
        return self.index.present(buffer)

    def _beaten(self, puid: str, found: list[tuple[_Format, str]]) -> bool:
        return any(puid in self.priority[other.puid] for other, _ in found
                   if other.puid != puid)

    def match(self, bof: bytes, eof: bytes) -> list[tuple[Any, str]]:
        found: list[tuple[_Format, str]] = []
        in_bof = self._present(bof)
        # A file no longer than FIDO's buffer gives the same buffer for both ends: scan once.
        buffers = _Buffers(bof, eof, in_bof, in_bof if eof is bof else self._present(eof))
        # Only formats with a signature that can still match; skipping one that cannot
        # changes nothing, as it would add nothing to ``found``.
        for index in self._gates.open_for(buffers):
            fmt = self.formats[index]
            if found and self._beaten(fmt.puid, found):
                continue
            for name, patterns in fmt.signatures:
                for pat in patterns:
                    if not _matches(pat, buffers):
                        break
                else:
                    found.append((fmt, name))
        return [(fmt.element, name) for fmt, name in found if not self._beaten(fmt.puid, found)]

    def match_extension(self, filename: str) -> list[tuple[Any, str]]:
        """FIDO's match_extensions, from a dictionary instead of a walk of every format."""
        ext = os.path.splitext(filename)[1].lower().lstrip(".")
        found = [(fmt, self.external_name) for fmt in self.by_extension.get(ext, [])]
        return [(fmt.element, name) for fmt, name in found if not self._beaten(fmt.puid, found)]


class _Gates:
    """Cheap conditions a signature needs before its patterns are worth running: the literal
    start of its BOF patterns, and the needles of its VAR and EOF patterns. Signatures are
    filed by the first byte of their literal start, so most are never looked at; those with
    no literal start are filed by one needle they need (a buffer without it cannot open
    them), and only the few that need nothing at all are looked at for every file."""

    def __init__(self, formats: list[_Format]) -> None:
        Gate = tuple[int, bytes, frozenset[int], frozenset[int]]
        self.by_first_byte: dict[int, list[Gate]] = {}
        self.by_bof_needle: dict[int, list[Gate]] = {}  # no literal start: filed by a needle
        self.by_eof_needle: dict[int, list[Gate]] = {}
        self.always: list[Gate] = []  # no literal start and no needle
        for index, fmt in enumerate(formats):
            for _, patterns in fmt.signatures:
                prefix = max((p.prefix for p in patterns if p.kind == BOF), key=len,
                             default=b"")
                in_bof = frozenset(n for p in patterns if p.kind == VAR for n in p.needle_ids)
                in_eof = frozenset(n for p in patterns if p.kind == EOF for n in p.needle_ids)
                gate = (index, prefix, in_bof, in_eof)
                if prefix:
                    self.by_first_byte.setdefault(prefix[0], []).append(gate)
                elif in_bof:
                    self.by_bof_needle.setdefault(min(in_bof), []).append(gate)
                elif in_eof:
                    self.by_eof_needle.setdefault(min(in_eof), []).append(gate)
                else:
                    self.always.append(gate)

    def open_for(self, buffers: _Buffers) -> list[int]:
        bof, in_bof, in_eof = buffers.bof, buffers.in_bof, buffers.in_eof
        candidates = [*(self.by_first_byte.get(bof[0], []) if bof else []), *self.always]
        for needle in in_bof:
            candidates += self.by_bof_needle.get(needle, ())
        for needle in in_eof:
            candidates += self.by_eof_needle.get(needle, ())
        return sorted({index for index, prefix, needs_bof, needs_eof in candidates
                       if bof.startswith(prefix) and in_bof.issuperset(needs_bof)
                       and in_eof.issuperset(needs_eof)})


class _NeedleIndex:
    """Which of a fixed list of literals occur anywhere in a buffer (overlaps included), and
    which of a list of regexes *may* match there (Hyperscan's prefilter mode: it can answer
    yes where Python's ``re`` says no, never the reverse). Numbers: the literals first, then
    the regexes."""

    def __init__(self, needles: list[bytes], regexes: list[bytes] | None = None,
                 use_hyperscan: bool = True, cache: AnalysisCache | None = None) -> None:
        self.needles = needles
        self.regexes = regexes or []
        self._db = None
        if hyperscan is None or not use_hyperscan or not (needles or self.regexes):
            return
        # Each literal byte as \xHH: the bindings pass patterns as C strings, so a literal
        # with a NUL byte would be cut short by hs_compile_lit_multi.
        expressions = [b"".join(b"\\x%02x" % byte for byte in needle) for needle in needles]
        flags = [hyperscan.HS_FLAG_SINGLEMATCH] * len(needles)
        expressions += self.regexes
        flags += [hyperscan.HS_FLAG_SINGLEMATCH | hyperscan.HS_FLAG_PREFILTER
                  | hyperscan.HS_FLAG_DOTALL | hyperscan.HS_FLAG_ALLOWEMPTY] * len(self.regexes)
        if cache is None:
            self._db = _database(expressions, flags)
            return
        data = cache.database(expressions, flags,
                              lambda: hyperscan.dumpb(_database(expressions, flags)))
        try:
            self._db = hyperscan.loadb(data, hyperscan.HS_MODE_BLOCK)
            self._db.scratch = hyperscan.Scratch(self._db)
        except hyperscan.error:  # another platform's or version's database: compile anew
            self._db = _database(expressions, flags)

    def present(self, buffer: bytes) -> frozenset[int]:
        if self._db is None or not buffer:  # without Hyperscan every regex may match
            literal = (i for i, needle in enumerate(self.needles) if needle in buffer)
            return frozenset(literal) | frozenset(
                range(len(self.needles), len(self.needles) + len(self.regexes)))
        found: set[int] = set()

        def on_match(number: int, _start: int, _end: int, _flags: int, _ctx: object) -> None:
            found.add(number)

        self._db.scan(buffer, match_event_handler=on_match)  # one Database per process
        return frozenset(found)


def _database(expressions: list[bytes], flags: list[int]) -> Any:
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    db.compile(expressions=expressions, ids=list(range(len(expressions))),
               elements=len(expressions), flags=flags)
    return db


def prefilter_form(regex: bytes) -> bytes | None:
    """``regex`` as Hyperscan should read it, or None when its meaning could differ from
    Python's (only literals, classes, groups, alternation, counted repeats and the string
    anchors pass), when Hyperscan cannot compile it, or when its long gaps would make the scan
cost more than the regex it saves (unbounded repeats are fine)."""
    tree = _tree(regex)
    if tree is None or b"{," in regex or tree.state.flags & ~(re.DOTALL | re.UNICODE) & 0xFF:
        return None
    if not _plain(tree):
        return None
    form = regex.replace(b"(?s)", b"", 1)
    if hyperscan is None:
        return form
    try:
        hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK).compile(
            expressions=[form], ids=[0], elements=1,
            flags=[hyperscan.HS_FLAG_PREFILTER | hyperscan.HS_FLAG_DOTALL
                   | hyperscan.HS_FLAG_ALLOWEMPTY])
    except hyperscan.error:
        return None
    return form


_PLAIN_OPS = {sre_parse.LITERAL, sre_parse.NOT_LITERAL, sre_parse.IN, sre_parse.ANY,
              sre_parse.BRANCH, sre_parse.SUBPATTERN, sre_parse.MAX_REPEAT,
              sre_parse.MIN_REPEAT, sre_parse.AT, sre_parse.RANGE, sre_parse.NEGATE}
_PLAIN_AT = {sre_parse.AT_BEGINNING_STRING, sre_parse.AT_END_STRING}
_LONGEST_GAP = 1024


def _plain(tree: Any) -> bool:
    for op, arg in tree:
        if op not in _PLAIN_OPS or (op is sre_parse.AT and arg not in _PLAIN_AT):
            return False
        if op is sre_parse.SUBPATTERN:
            if arg[1] or arg[2]:  # inline flags on the group
                return False
            if not _plain(arg[3]):
                return False
        elif op is sre_parse.BRANCH:
            if not all(_plain(branch) for branch in arg[1]):
                return False
        elif op in (sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT):
            # Long counted gaps make Hyperscan's scan slow (.{0,20000}: 3 ms a buffer).
            if _LONGEST_GAP < arg[1] < sre_parse.MAXREPEAT or not _plain(arg[2]):
                return False
        elif op is sre_parse.IN and any(item is sre_parse.CATEGORY for item, _ in arg):
            return False
    return True


@dataclass(frozen=True)
class _Buffers:
    bof: bytes
    eof: bytes
    in_bof: frozenset[int]  # numbers of the needles present in each buffer
    in_eof: frozenset[int]


def _matches(pat: _Pattern, buffers: _Buffers) -> bool:
    bof, eof = buffers.bof, buffers.eof
    if pat.kind == BOF:
        # A match anchored at the start fails within a few bytes: no pre-check pays off.
        return pat.regex.match(bof) is not None
    if pat.kind == EOF:
        if not buffers.in_eof.issuperset(pat.needle_ids):
            return False
        start = len(eof) - pat.tail if pat.tail and len(eof) > pat.tail else 0
        # Anchored at \Z with bounded width: no match can start before the tail.
        if start and any(eof.find(needle, start) < 0 for needle in pat.needles):
            return False
        return pat.regex.search(eof, start) is not None
    if not buffers.in_bof.issuperset(pat.needle_ids):
        return False
    hit = pat.regex.search(bof, pat.min_start)
    return hit is not None and (pat.max_start < 0 or hit.start() <= pat.max_start)
