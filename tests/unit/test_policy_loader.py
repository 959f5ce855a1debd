"""Policy files are validated at start; errors name file, key and problem."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from policies.loader import DEFAULTS_DIR, load_policies
from repository.errors import ConfigError


@pytest.fixture
def home_policies(tmp_path: Path) -> Path:
    for name in ("classification", "replication", "access"):
        shutil.copyfile(DEFAULTS_DIR / f"{name}.yaml", tmp_path / f"{name}.yaml")
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_shipped_defaults_load() -> None:
    policies = load_policies()
    assert [lvl.key for lvl in policies.classification.levels] == [
        "unclassified", "confidential", "secret", "top-secret"]
    assert [lvl.protection_years for lvl in policies.classification.levels[1:]] == [10, 20, 30]
    assert policies.replication.min_copies == 2


@pytest.mark.parametrize(("file", "old", "new", "key", "problem"), [
    ("replication.yaml", "min_copies: 2", "min_copies: 0", "min_copies", "greater than"),
    ("replication.yaml", "min_copies: 2", "min_copies: 2\nmin_copys: 3", "min_copys",
     "Extra inputs"),
    ("classification.yaml", "    rank: 2", "    rank: 1", "(top)", "distinct ranks"),
    ("classification.yaml", "    protection_years: 30", "    protection_years: null",
     "(top)", "has no protection_years"),
    ("access.yaml", "  reader:", "  lector:", "roles", "reader"),
])
def test_bad_policy_is_named(home_policies: Path, file: str, old: str, new: str, key: str,
                             problem: str) -> None:
    _edit(home_policies / file, old, new)
    with pytest.raises(ConfigError) as info:
        load_policies(home_policies)
    message = str(info.value)
    assert file in message and key in message and problem in message


def test_every_bad_file_is_reported_at_once(home_policies: Path) -> None:
    _edit(home_policies / "replication.yaml", "min_copies: 2", "min_copies: -1")
    (home_policies / "access.yaml").write_text("roles: [", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_policies(home_policies)
    paths = {Path(p.path).name for p in info.value.details}
    assert paths == {"replication.yaml", "access.yaml"}
