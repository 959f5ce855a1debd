"""Pure policy decisions: no I/O, no clock, no database. Every refusal names its rule.

``decide_*(…) -> Decision(allowed, reason, rule, source)``; the services load the facts
(users, grants, records) and record the decision as an event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from policies.loader import Policies
from policies.model import Level


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    rule: str
    source: str = ""


@dataclass(frozen=True)
class Actor:
    name: str
    role: str
    authority: str | None = None  # highest level this person may approve (approvers only)


@dataclass(frozen=True)
class Record:
    aip: str
    level: Level
    access_mode: str = "01"


@dataclass(frozen=True)
class GrantFacts:
    user: str
    approver: Actor
    until: datetime | None
    revoked: bool


def _allow(reason: str, rule: str, source: str = "") -> Decision:
    return Decision(True, reason, rule, source)


def _refuse(reason: str, rule: str, source: str = "") -> Decision:
    return Decision(False, reason, rule, source)


def decide_grant(policies: Policies, approver: Actor, record: Record) -> Decision:
    """May ``approver`` grant access to ``record``? (Law 29/2018 Điều 11: authority by level)."""
    source = policies.access.source
    role = policies.access.roles.get(approver.role)
    if role is None or "grant" not in role.may:
        return _refuse(f"{approver.name} has role {approver.role!r}, which may not grant access",
                       "grant.approver-role", source)
    if record.level.rank == 0:
        return _allow("record is unclassified", "grant.unclassified", source)
    if approver.authority is None:
        return _refuse(f"{approver.name} has no approval authority for classified records",
                       "grant.authority", source)
    authority = policies.level(approver.authority)
    if authority.rank < record.level.rank:
        return _refuse(
            f"{approver.name}'s authority ({authority.vi}/{authority.key}) does not cover "
            f"{record.level.vi}/{record.level.key}", "grant.authority", source)
    return _allow(f"{approver.name}'s authority covers {record.level.key}", "grant.authority",
                  source)


def decide_access(policies: Policies, actor: Actor, record: Record,
                  grants: list[GrantFacts], now: datetime) -> Decision:
    """May ``actor`` receive a dissemination copy of ``record`` now?"""
    source = policies.access.source
    role = policies.access.roles.get(actor.role)
    if role is None or "access" not in role.may:
        return _refuse(f"{actor.name} has role {actor.role!r}, which may not receive copies",
                       "access.role", source)
    needs_grant = record.level.rank > 0 or record.access_mode in (
        policies.access.grant_required_for_modes)
    if not needs_grant:
        return _allow("public, unclassified record", "access.open", source)
    why = (f"record is classified {record.level.vi} ({record.level.key})" if record.level.rank
           else f"record has access mode {record.access_mode} (conditional)")
    mine = [g for g in grants if g.user == actor.name]
    if not mine:
        return _refuse(f"{why} and {actor.name} holds no grant for it", "access.grant-required",
                       source)
    lapsed: list[str] = []
    for grant in mine:
        if grant.revoked:
            lapsed.append("revoked")
            continue
        if grant.until is not None and grant.until <= now:
            lapsed.append(f"expired {grant.until.date().isoformat()}")
            continue
        covers = decide_grant(policies, grant.approver, record)
        if not covers.allowed:
            lapsed.append(f"approver no longer qualified: {covers.reason}")
            continue
        return _allow(f"{why}; granted by {grant.approver.name}", "access.grant", source)
    return _refuse(f"{why} and {actor.name}'s grant is {', '.join(lapsed)}",
                   "access.grant-lapsed", source)


def protection_ends(level: Level, classified_on: date, extension_years: int = 0) -> date | None:
    """Law 29/2018 Điều 19: the period runs from the classification date (+ extensions)."""
    if level.rank == 0 or level.protection_years is None:
        return None
    years = level.protection_years + extension_years
    try:
        return classified_on.replace(year=classified_on.year + years)
    except ValueError:  # 29 February in a non-leap target year
        return classified_on.replace(year=classified_on.year + years, day=28)
