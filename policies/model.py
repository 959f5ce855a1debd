"""The validated shape of the policy files (pydantic models; unknown keys are errors)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Level(_Strict):
    key: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    rank: int = Field(ge=0)
    vi: str
    en: str
    label: str | None = None
    protection_years: int | None = Field(default=None, ge=1, le=100)
    aliases: tuple[str, ...] = ()
    # Law 29/2018 Điều 11: which of the three tiers of authorities may approve copies/provision.
    authority_tier: str | None = None


class Extension(_Strict):
    source: str = ""
    decide_days_before_expiry: int = Field(default=60, ge=0)
    max_years: str | int = "base_period"
    stamp: str = "Gia hạn thời hạn bảo vệ bí mật nhà nước"

    @field_validator("max_years")
    @classmethod
    def _max_years(cls, value: str | int) -> str | int:
        if isinstance(value, str) and value != "base_period":
            raise ValueError("must be a number of years or 'base_period'")
        if isinstance(value, int) and value < 1:
            raise ValueError("must be at least 1 year")
        return value


class ClassificationPolicy(_Strict):
    source: str = ""
    levels: tuple[Level, ...]
    extension: Extension = Extension()

    @model_validator(mode="after")
    def _check_levels(self) -> ClassificationPolicy:
        ranks = [lvl.rank for lvl in self.levels]
        if ranks != sorted(set(ranks)):
            raise ValueError("levels must be listed lowest rank first with distinct ranks")
        if not self.levels or self.levels[0].rank != 0:
            raise ValueError("the first level must be the unclassified level with rank 0")
        names: set[str] = set()
        for lvl in self.levels:
            for name in (lvl.key, *lvl.aliases):
                if name in names:
                    raise ValueError(f"level name or alias {name!r} is used twice")
                names.add(name)
            if lvl.rank > 0 and lvl.protection_years is None:
                raise ValueError(f"level {lvl.key!r} is classified but has no protection_years")
        return self


NETWORKS = ("isolated", "lan", "cloud")
Network = Literal["isolated", "lan", "cloud"]


class LocationMatch(_Strict):
    """Attributes a location must have; every key given must match (absent keys match all)."""

    network: tuple[Network, ...] | None = None
    media: tuple[str, ...] | None = None
    write_once: bool | None = None
    offline: bool | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> LocationMatch:
        if self.model_dump(exclude_none=True) == {}:
            raise ValueError("give at least one of network, media, write_once, offline")
        return self


class LevelReplication(_Strict):
    """Stricter copy rules for one level and the levels above it (QCVN 12:2026)."""

    min_copies: int | None = Field(default=None, ge=1, le=20)
    # At least one copy on a location matching any one of these.
    at_least_one_on: tuple[LocationMatch, ...] = ()
    source: str = ""


class ForbidRule(_Strict):
    """Content of ``from_level`` and above never goes to a location matching ``where``."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    from_level: str
    where: LocationMatch  # ("on" would be YAML 1.1 for true)
    source: str = ""


class ReplicationPolicy(_Strict):
    source: str = ""
    min_copies: int = Field(default=2, ge=1, le=20)
    allow_fewer_when_locations_missing: bool = True
    # Keyed by level key; a level without an entry takes the entry of the nearest level
    # below it that has one (so "secret" rules also bind "top-secret").
    levels: dict[str, LevelReplication] = {}
    forbid: tuple[ForbidRule, ...] = ()

    @field_validator("forbid")
    @classmethod
    def _unique_names(cls, rules: tuple[ForbidRule, ...]) -> tuple[ForbidRule, ...]:
        names = [r.name for r in rules]
        if len(names) != len(set(names)):
            raise ValueError("forbid rule names must be unique")
        return rules


class Role(_Strict):
    vi: str = ""
    may: tuple[str, ...] = ()


class MarkSpec(_Strict):
    """One line stamped on copies; ``text`` may use {label} {number} {form} {date} {recipient}
    {approver} {request}."""

    text: str = Field(min_length=1)
    pages: Literal["all", "first", "last"] = "all"
    position: Literal["top-left", "top-center", "top-right",
                      "bottom-left", "bottom-center", "bottom-right"] = "top-right"
    size: float = Field(default=10, ge=4, le=48)
    colour: Literal["red", "black"] = "red"
    bold: bool = False


# The marks of policies/access.yaml, also the defaults when a home's older access.yaml has no
# dissemination section: a copy must never leave unmarked because a section is missing.
_UNCLASSIFIED_MARKS = (MarkSpec(text="BẢN SAO", pages="first", position="top-right", size=10,
                                colour="black", bold=True),)
_CLASSIFIED_MARKS = (
    MarkSpec(text="{label}", pages="all", position="top-center", size=14, bold=True),
    MarkSpec(text="Bản sao số {number}", pages="first", position="top-right", size=11,
             bold=True),
    MarkSpec(text="Bản sao bí mật nhà nước", pages="last", position="bottom-right", size=11,
             bold=True),
)


class Marking(_Strict):
    unclassified: tuple[MarkSpec, ...] = _UNCLASSIFIED_MARKS
    classified: tuple[MarkSpec, ...] = _CLASSIFIED_MARKS

    @model_validator(mode="after")
    def _level_on_every_page(self) -> Marking:
        # TT 24/2020 Mẫu 02 / Law 29/2018 Điều 10: a classified copy shows its level.
        if not any(m.pages == "all" and "{label}" in m.text for m in self.classified):
            raise ValueError("classified marks must include one with text '{label}' on "
                             "pages: all (the level's stamp on every page)")
        return self


class DisseminationPolicy(_Strict):
    source: str = ""
    # TT 05/2025 Annex V: purpose of the request (01 personal, 02 official, 03 special).
    purpose_codes: dict[str, str] = {"01": "Cá nhân", "02": "Công vụ", "03": "Công vụ đặc biệt"}
    default_purpose_code: str = "01"
    copy_form: str = "sao y"
    download_window_days: int | None = Field(default=15, ge=1)
    strip_metadata: bool = False
    pdfa: bool = False
    marking: Marking = Marking()

    @model_validator(mode="after")
    def _default_code_known(self) -> DisseminationPolicy:
        if self.default_purpose_code not in self.purpose_codes:
            raise ValueError(f"default_purpose_code {self.default_purpose_code!r} is not one "
                             f"of purpose_codes {sorted(self.purpose_codes)}")
        return self


class AccessPolicy(_Strict):
    source: str = ""
    roles: dict[str, Role]
    grant_required_for_modes: tuple[str, ...] = ("02", "03")
    dissemination: DisseminationPolicy = DisseminationPolicy()

    @field_validator("roles")
    @classmethod
    def _roles_needed(cls, roles: dict[str, Role]) -> dict[str, Role]:
        missing = {"reader", "approver"} - set(roles)
        if missing:
            raise ValueError(f"roles {sorted(missing)} must be defined")
        return roles


class IntakeLimits(_Strict):
    max_total_bytes: int = Field(default=100 * 2**30, ge=1)
    max_files: int = Field(default=1_000_000, ge=1)
    max_ratio: float = Field(default=200, gt=1)
    max_path_bytes: int = Field(default=4096, ge=64)


class VirusScanPolicy(_Strict):
    socket: str = "/var/run/clamav/clamd.ctl"
    allow_without_scanner: bool = False


class IntakePolicy(_Strict):
    source: str = ""
    limits: IntakeLimits = IntakeLimits()
    virus_scan: VirusScanPolicy = VirusScanPolicy()


# TT 05/2025/TT-BNV: the whole holding is checked within 3 years at the latest.
MAX_VERIFY_DAYS = 3 * 365


def _hh_mm(value: str) -> str:
    hour, sep, minute = value.partition(":")
    if not (sep and hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
        raise ValueError(f"{value!r} is not a time of day (HH:MM)")
    return f"{int(hour):02d}:{int(minute):02d}"


class FixitySchedule(_Strict):
    verify_every_days: int = Field(default=90, ge=1, le=MAX_VERIFY_DAYS)
    daily_at: str = "01:30"
    claim_batch: int = Field(default=8, ge=1, le=1000)
    lease_minutes: int = Field(default=240, ge=1)

    _time = field_validator("daily_at")(_hh_mm)


class DailyJob(_Strict):
    daily_at: str = "00:30"

    _time = field_validator("daily_at")(_hh_mm)


class IntervalMinutes(_Strict):
    every_minutes: int = Field(default=60, ge=1)


class IntervalHours(_Strict):
    every_hours: int = Field(default=6, ge=1)


class SchedulesPolicy(_Strict):
    source: str = ""
    timezone: str = "Asia/Ho_Chi_Minh"
    fixity: FixitySchedule = FixitySchedule()
    declassification: DailyJob = DailyJob()
    replication: IntervalMinutes = IntervalMinutes()
    checkpoint: IntervalHours = IntervalHours()
    standby_poll_seconds: int = Field(default=30, ge=1)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Ho_Chi_Minh)") from exc
        return value
