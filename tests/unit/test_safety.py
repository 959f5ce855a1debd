"""File-name safety: nothing merged silently, nothing renamed, hostile names refused."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.safety import check_name, find_collisions


def test_nfc_nfd_pair_collides() -> None:
    name = "Hồ sơ/Quyết định.pdf"
    problems = find_collisions([unicodedata.normalize("NFC", name),
                                unicodedata.normalize("NFD", name)])
    assert [p.code for p in problems] == ["name-normalization-collision"]


def test_case_only_difference_collides() -> None:
    assert [p.code for p in find_collisions(["a/Báo cáo.txt", "a/BÁO CÁO.txt"])] == [
        "name-case-collision"]


def test_distinct_vietnamese_names_do_not_collide() -> None:
    assert find_collisions(["Tài liệu.txt", "Tai lieu.txt", "Tải liệu.txt"]) == []


def test_hostile_names_are_refused() -> None:
    assert check_name("a/\x07bell.txt")[0].code == "name-control-character"
    assert check_name("../etc/passwd")[0].code == "path-escape"
    assert check_name("C:/Windows/x")[0].code == "path-windows"
    assert check_name("bad\udcffname")[0].code == "name-not-utf8"
    assert check_name("Quyết định 100%.pdf") == []


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=6))
def test_collisions_do_not_depend_on_listing_order(names: list[str]) -> None:
    def involved(found: list) -> set[str]:  # type: ignore[type-arg]
        return {n for p in found for n in (p.path, p.extra["other"])}

    assert involved(find_collisions(names)) == involved(find_collisions(names[::-1]))


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.text(max_size=40))
def test_check_name_returns_problems_not_exceptions(name: str) -> None:
    for problem in check_name(name):
        assert problem.code and problem.message
