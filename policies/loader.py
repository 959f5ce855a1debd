"""Load and validate the policy files: the defaults shipped here, or the home's copies.

A home's ``policies/NAME.yaml`` replaces the shipped ``NAME.yaml`` as a whole (``khoso init``
copies the defaults there so they can be edited). Every error names the file, the key path and
the problem, e.g. ``policies/classification.yaml: levels.2.protection_years: Input should be
greater than or equal to 1``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from policies.model import (
    AccessPolicy,
    ClassificationPolicy,
    IntakePolicy,
    Level,
    ReplicationPolicy,
    SchedulesPolicy,
)
from policies.yaml_text import safe_load
from repository.errors import ConfigError, Problem, UsageError

DEFAULTS_DIR = Path(__file__).parent
POLICY_FILES: dict[str, type[BaseModel]] = {
    "classification": ClassificationPolicy,
    "replication": ReplicationPolicy,
    "access": AccessPolicy,
    "intake": IntakePolicy,
    "schedules": SchedulesPolicy,
}


@dataclass(frozen=True)
class Policies:
    classification: ClassificationPolicy
    replication: ReplicationPolicy
    access: AccessPolicy
    intake: IntakePolicy
    schedules: SchedulesPolicy = field(default_factory=SchedulesPolicy)

    def level(self, name: str | None) -> Level:
        """The level for a key or alias (case-insensitive); unknown names are usage errors."""
        wanted = (name or "unclassified").strip().lower().replace("_", "-").replace(" ", "-")
        for lvl in self.classification.levels:
            if wanted == lvl.key or wanted in lvl.aliases:
                return lvl
        known = ", ".join(lvl.key for lvl in self.classification.levels)
        raise UsageError(reason=f"unknown classification level {name!r} (known: {known}; "
                                "Vietnamese aliases mat, toi-mat, tuyet-mat)")

    def highest(self, names: list[str]) -> Level:
        """Law 29/2018 Điều 10 k2: the highest level present applies to the whole."""
        levels = [self.level(n) for n in names] or [self.level(None)]
        return max(levels, key=lambda lvl: lvl.rank)


def load_policies(home_policies: Path | None = None) -> Policies:
    loaded: dict[str, Any] = {}
    problems: list[Problem] = []
    for name, model in POLICY_FILES.items():
        path = DEFAULTS_DIR / f"{name}.yaml"
        if home_policies is not None and (home_policies / f"{name}.yaml").is_file():
            path = home_policies / f"{name}.yaml"
        try:
            loaded[name] = _load_one(path, model)
        except ConfigError as exc:
            problems.extend(exc.details)
    if problems:
        raise ConfigError(
            reason="; ".join(p.message for p in problems), details=problems)
    return Policies(**loaded)


def _load_one(path: Path, model: type[BaseModel]) -> BaseModel:
    try:
        data = safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise _bad(path, None, f"cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else None
        raise _bad(path, where, f"not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(data, dict):
        raise _bad(path, None, "must be a YAML mapping")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            Problem(code="policy-invalid", path=str(path),
                    field=".".join(str(p) for p in err["loc"]) or None,
                    message=f"{path}: {'.'.join(str(p) for p in err['loc']) or '(top)'}: "
                            f"{err['msg']}")
            for err in exc.errors()
        ]
        raise ConfigError(reason=problems[0].message, details=problems) from exc


def _bad(path: Path, where: str | None, what: str) -> ConfigError:
    text = f"{path}: {where + ': ' if where else ''}{what}"
    return ConfigError(reason=text, details=[Problem(code="policy-invalid", path=str(path),
                                                     field=where, message=text)])
