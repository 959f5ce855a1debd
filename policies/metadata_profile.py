"""The descriptive metadata profiles (``policies/metadata.yaml``): shape and loader.

Kept apart from ``policies/loader.py`` so the TT 05/2025 field tables can change without
touching the other policies. A home's ``policies/metadata.yaml`` replaces the shipped file as
a whole, as every policy file does. Errors name the file, the key path and the problem, and
are raised as :class:`ConfigError` (exit 2).
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from policies.yaml_text import safe_load
from repository.errors import ConfigError, Problem

DEFAULT_PATH = Path(__file__).parent / "metadata.yaml"
FILE_NAME = "metadata.yaml"

Severity = Literal["error", "warning"]
Confidence = Literal["P", "S", "U"]
FieldType = Literal["string", "code", "codes", "date", "int", "bool", "level"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Strictness(_Strict):
    missing_required: Severity = "error"
    unknown_field: Literal["error", "warning", "ignore"] = "warning"
    identifier_mismatch: Severity = "error"
    total_doc_mismatch: Severity = "error"
    issued_date_outside_dossier: Literal["error", "warning", "ignore"] = "warning"


class CodeList(_Strict):
    vi: str = ""
    source: str
    confidence: Confidence
    codes: dict[str, str] = Field(min_length=1)


class Identifier(_Strict):
    vi: str = ""
    regex: str
    example: str
    links_to: str | None = None  # the dossier field its ``file_code`` group must equal
    source: str
    confidence: Confidence

    @model_validator(mode="after")
    def _compiles(self) -> Identifier:
        try:
            pattern = re.compile(self.regex, re.ASCII)
        except re.error as exc:
            raise ValueError(f"regex does not compile: {exc}") from exc
        if self.links_to and "file_code" not in pattern.groupindex:
            raise ValueError("links_to needs a (?P<file_code>...) group in the regex")
        if not pattern.fullmatch(self.example):
            raise ValueError(f"the example {self.example!r} does not match the regex")
        return self

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        return re.compile(self.regex, re.ASCII)


class Condition(_Strict):
    """``{field: X, in: [...]}``: X has one of these values; ``{field: X, classified: true}``:
    X names a classification level above unclassified."""

    field: str
    in_: tuple[str, ...] = Field(default=(), alias="in")
    classified: bool = False

    @model_validator(mode="after")
    def _one_test(self) -> Condition:
        if bool(self.in_) == self.classified:
            raise ValueError("give exactly one of 'in' or 'classified: true'")
        return self


class FieldRule(_Strict):
    key: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    vi: str
    type: FieldType
    max: int | None = Field(default=None, ge=1)  # characters after NFC
    max_digits: int | None = Field(default=None, ge=1)
    codes: str | None = None
    required: bool = False
    required_when: Condition | None = None
    satisfied_by: tuple[str, ...] = ()  # other keys that stand in for this one when required
    identifier: str | None = None
    default_from_dossier: bool = False
    rule: str | None = None  # overrides the profile's rule prefix in problem messages
    confidence: Confidence
    note: str = ""


class Profile(_Strict):
    vi: str
    rule: str
    source: str
    confidence: Confidence
    date_order: tuple[str, str] | None = None
    counts_items: str | None = None
    fields: tuple[FieldRule, ...] = Field(min_length=1)

    @cached_property
    def by_key(self) -> dict[str, FieldRule]:
        return {f.key: f for f in self.fields}

    @model_validator(mode="after")
    def _consistent(self) -> Profile:
        keys = [f.key for f in self.fields]
        if len(keys) != len(set(keys)):
            raise ValueError("a field key is listed twice")
        named = [*(self.date_order or ()), *([self.counts_items] if self.counts_items else [])]
        for f in self.fields:
            if f.required_when:
                named.append(f.required_when.field)
            named.extend(f.satisfied_by)
        unknown = sorted(set(named) - set(keys))
        if unknown:
            raise ValueError(f"names fields that are not in the profile: {unknown}")
        return self


ProfileName = Literal["dossier", "item", "item_pic", "item_media", "batch"]


class MetadataPolicy(_Strict):
    source: str = ""
    strictness: Strictness = Strictness()
    historical_archive: bool = False
    classified_mode: str = "03"
    list_separators: str = Field(default=",;", min_length=1)
    max_file_bytes: int = Field(default=16 * 2**20, ge=1024)
    code_lists: dict[str, CodeList]
    identifiers: dict[str, Identifier]
    profiles: dict[ProfileName, Profile]

    @model_validator(mode="after")
    def _references(self) -> MetadataPolicy:
        missing = {"dossier", "item"} - set(self.profiles)
        if missing:
            raise ValueError(f"profiles {sorted(missing)} must be defined")
        for pname, profile in self.profiles.items():
            for f in profile.fields:
                where = f"profiles.{pname}.{f.key}"
                if f.type in ("code", "codes") and f.codes not in self.code_lists:
                    raise ValueError(f"{where}: codes {f.codes!r} is not in code_lists")
                if f.identifier and f.identifier not in self.identifiers:
                    raise ValueError(f"{where}: identifier {f.identifier!r} is not defined")
        return self

    def code_list(self, rule: FieldRule) -> CodeList:
        return self.code_lists[rule.codes or ""]


def load_metadata_policy(home_policies: Path | None = None) -> MetadataPolicy:
    """The home's ``metadata.yaml`` when it has one, else the shipped defaults."""
    path = DEFAULT_PATH
    if home_policies is not None and (home_policies / FILE_NAME).is_file():
        path = home_policies / FILE_NAME
    try:
        data = safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise _bad(path, None, f"cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise _bad(path, f"line {mark.line + 1}" if mark else None,
                   f"not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(data, dict):
        raise _bad(path, None, "must be a YAML mapping")
    try:
        return MetadataPolicy.model_validate(data)
    except ValidationError as exc:
        problems = [_problem(path, ".".join(str(p) for p in err["loc"]) or "(top)", err["msg"])
                    for err in exc.errors()]
        raise ConfigError(reason=problems[0].message, details=problems) from exc


def _problem(path: Path, where: str | None, what: str) -> Problem:
    text = f"{path}: {where + ': ' if where else ''}{what}"
    return Problem(code="policy-invalid", message=text, path=str(path), field=where)


def _bad(path: Path, where: str | None, what: str) -> ConfigError:
    problem = _problem(path, where, what)
    return ConfigError(reason=problem.message, details=[problem])
