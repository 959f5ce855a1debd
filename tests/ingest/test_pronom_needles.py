"""The literal prefilter of the PRONOM matcher: every needle present is reported.

``_NeedleIndex`` decides which signatures are tried at all, so a needle it misses would turn
a match into a miss. Hyperscan's answers are compared with plain ``needle in buffer``.
"""

from __future__ import annotations

import os
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.pronom_match import _NeedleIndex, hyperscan, prefilter_form
from tests.helpers.require import missing

NEEDLES = [b"\x00\x00\x00\x0cjP", b"%PDF-", b"PDF", b"DF-1", b"%%EOF", b"\x00\x00\x00",
           b"\xff\xd8\xff", b"obj", b"endobj", b"<?xml", b"xml"]


def _fast() -> _NeedleIndex:
    if hyperscan is None:
        missing("no hyperscan wheel for this platform")
    return _NeedleIndex(NEEDLES)


def _expected(buffer: bytes) -> frozenset[int]:
    return frozenset(i for i, needle in enumerate(NEEDLES) if needle in buffer)


def test_overlapping_and_nul_needles_are_all_found() -> None:
    buffer = os.urandom(4096) + b"%PDF-1.7\n1 0 obj\nendobj\n%%EOF" + b"\x00\x00\x00\x0cjP"
    found = _fast().present(buffer)
    names = {NEEDLES[i] for i in found}
    # "%PDF-" contains "PDF" and overlaps "DF-1"; "endobj" contains "obj"; NUL runs count.
    assert {b"%PDF-", b"PDF", b"DF-1", b"obj", b"endobj", b"%%EOF",
            b"\x00\x00\x00", b"\x00\x00\x00\x0cjP"} <= names
    assert found == _expected(buffer)


def test_a_buffer_without_needles_reports_none() -> None:
    assert _fast().present(b"plain words and nothing else") == frozenset()
    assert _fast().present(b"") == frozenset()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(NEEDLES), st.binary(max_size=40)), max_size=30))
def test_hyperscan_and_the_plain_search_agree(parts: list[bytes]) -> None:
    buffer = b"".join(parts)
    assert _fast().present(buffer) == _expected(buffer)
    assert _NeedleIndex(NEEDLES, use_hyperscan=False).present(buffer) == _expected(buffer)


# Whole regexes in Hyperscan's prefilter mode: it may say "maybe" where re says no, but a
# "no" where re finds a match would drop a real identification.

def _signature_regexes() -> list[bytes]:
    from ingest.formats import _get_engine

    return list(_get_engine().matcher.index.regexes)


def test_the_signature_set_has_prefiltered_regexes() -> None:
    if hyperscan is None:
        missing("no hyperscan wheel for this platform")
    regexes = _signature_regexes()
    assert len(regexes) >= 20  # the needle-less VAR/EOF patterns of PRONOM
    assert all(b"{," not in rx for rx in regexes)


@pytest.mark.parametrize("regex", [rb"(?s)a{,3}b", rb"(?i)abc", rb"(?s)\bword\b",
                                   rb"(?s)(?<=x)y", rb"(?s)\{.{1,600}\}.{0,20000}\Z",
                                   rb"(?s)\d+"])
def test_regexes_that_could_mean_something_else_are_not_prefiltered(regex: bytes) -> None:
    assert prefilter_form(regex) is None


@pytest.fixture(scope="module")
def signature_index() -> tuple[list[bytes], _NeedleIndex]:
    if hyperscan is None:
        missing("no hyperscan wheel for this platform")
    regexes = _signature_regexes()
    return regexes, _NeedleIndex([], regexes)


@pytest.mark.parametrize("number", range(40))
@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_a_prefiltered_regex_is_reported_wherever_re_finds_it(
        signature_index: tuple[list[bytes], _NeedleIndex], number: int,
        data: st.DataObject) -> None:
    regexes, index = signature_index
    if number >= len(regexes):
        return  # fewer prefiltered regexes than slots (asserted >= 20 above)
    pattern = re.compile(b"(?s)" + regexes[number])
    inside = data.draw(st.from_regex(pattern))
    before, after = data.draw(st.binary(max_size=64)), data.draw(st.binary(max_size=64))
    assert pattern.search(inside)
    for buffer in (inside, before + inside, inside + after, before + inside + after):
        if pattern.search(buffer):  # (anchored patterns may not match with bytes around)
            assert number in index.present(buffer), buffer
