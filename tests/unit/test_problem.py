"""Problem.as_dict: the shape every --json error document and transfer report carries."""

from __future__ import annotations

from dataclasses import asdict

from hypothesis import given
from hypothesis import strategies as st

from repository.errors import Problem

texts = st.text(max_size=20)
maybe = st.none() | texts
extras = st.dictionaries(texts, st.none() | st.integers() | texts | st.lists(texts, max_size=3),
                         max_size=4)


@given(texts, texts, maybe, maybe, maybe, extras)
def test_as_dict_is_the_dataclass_without_empty_fields(code: str, message: str,
                                                        path: str | None, field: str | None,
                                                        rule: str | None, extra: dict) -> None:
    problem = Problem(code, message, path=path, field=field, rule=rule, extra=extra)
    expected = {k: v for k, v in asdict(problem).items() if v not in (None, {})}
    assert problem.as_dict() == expected


def test_as_dict_does_not_share_the_extra_dict() -> None:
    problem = Problem("virus-found", "a.txt: virus", path="a.txt", extra={"signature": "X"})
    shown = problem.as_dict()
    shown["extra"]["signature"] = "changed"
    assert problem.extra == {"signature": "X"}
    assert "field" not in shown and "rule" not in shown
