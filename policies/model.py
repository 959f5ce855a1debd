"""The validated shape of the policy files (pydantic models; unknown keys are errors)."""

from __future__ import annotations

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


class Extension(_Strict):
    decide_days_before_expiry: int = Field(default=60, ge=0)
    max_years: str | int = "base_period"


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


class ReplicationPolicy(_Strict):
    source: str = ""
    min_copies: int = Field(default=2, ge=1, le=20)
    allow_fewer_when_locations_missing: bool = True


class Role(_Strict):
    vi: str = ""
    may: tuple[str, ...] = ()


class AccessPolicy(_Strict):
    source: str = ""
    roles: dict[str, Role]
    grant_required_for_modes: tuple[str, ...] = ("02", "03")

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
