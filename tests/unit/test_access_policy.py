"""The dissemination section of policies/access.yaml is validated when it loads."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from policies.loader import DEFAULTS_DIR, load_policies
from repository.errors import ConfigError


def _home_with(tmp_path: Path, old: str, new: str) -> Path:
    for name in DEFAULTS_DIR.glob("*.yaml"):
        shutil.copyfile(name, tmp_path / name.name)
    access = tmp_path / "access.yaml"
    text = access.read_text(encoding="utf-8")
    assert old in text
    access.write_text(text.replace(old, new), encoding="utf-8")
    return tmp_path


def test_classified_marking_without_the_level_on_every_page_is_refused(tmp_path: Path) -> None:
    home = _home_with(tmp_path, '{text: "{label}", pages: all', '{text: "{label}", pages: first')
    with pytest.raises(ConfigError, match="classified marks must include"):
        load_policies(home)


def test_unknown_mark_position_is_refused_naming_the_key(tmp_path: Path) -> None:
    home = _home_with(tmp_path, "position: top-center", "position: middle")
    with pytest.raises(ConfigError, match=r"access.yaml: dissemination.marking.classified.0"):
        load_policies(home)


def test_a_home_access_policy_without_a_dissemination_section_still_marks_copies(
        tmp_path: Path) -> None:
    home = _home_with(tmp_path, "dissemination:", "unused_dissemination:")
    text = (home / "access.yaml").read_text(encoding="utf-8")
    (home / "access.yaml").write_text(text[:text.index("unused_dissemination:")],
                                      encoding="utf-8")
    marking = load_policies(home).access.dissemination.marking
    assert any(m.text == "{label}" and m.pages == "all" for m in marking.classified)
    assert [m.text for m in marking.unclassified] == ["BẢN SAO"]
