"""Pure policy decisions: no I/O, no clock, no database. Every refusal names its rule.

``decide_*(…) -> Decision(allowed, reason, rule, source)``; the services load the facts
(users, grants, records) and record the decision as an event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: deciding needs no pydantic (CLI start-up time)
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


def decide_action(policies: Policies, actor: Actor, action: str) -> Decision:
    """May ``actor``'s role take ``action`` at all? (policies/access.yaml ``roles``)."""
    source = policies.access.source
    role = policies.access.roles.get(actor.role)
    if role is None or action not in role.may:
        return _refuse(f"{actor.name} has role {actor.role!r}, which may not {action}",
                       f"role.{action}", source)
    return _allow(f"role {actor.role!r} may {action}", f"role.{action}", source)


def _covers(policies: Policies, who: Actor, record: Record, rule: str) -> Decision:
    """Law 29/2018 Điều 11: the authority of a person covers levels up to their own tier."""
    source = f"{policies.classification.source}"
    tier = f" ({record.level.authority_tier})" if record.level.authority_tier else ""
    if who.authority is None:
        return _refuse(f"{who.name} has no approval authority for classified records; "
                       f"{record.level.vi}{tier} needs one", rule, source)
    authority = policies.level(who.authority)
    if authority.rank < record.level.rank:
        return _refuse(
            f"{who.name}'s authority ({authority.vi}/{authority.key}) does not cover "
            f"{record.level.vi}/{record.level.key}{tier}", rule, source)
    return _allow(f"{who.name}'s authority covers {record.level.key}{tier}", rule, source)


def decide_grant(policies: Policies, approver: Actor, record: Record) -> Decision:
    """May ``approver`` grant access to ``record``? (Law 29/2018 Điều 11: authority by level)."""
    source = policies.access.source
    role = policies.access.roles.get(approver.role)
    if role is None or "grant" not in role.may:
        return _refuse(f"{approver.name} has role {approver.role!r}, which may not grant access",
                       "grant.approver-role", source)
    if record.level.rank == 0:
        return _allow("record is unclassified", "grant.unclassified", source)
    return _covers(policies, approver, record, "grant.authority")


def decide_revoke(policies: Policies, actor: Actor, grant: GrantFacts) -> Decision:
    """May ``actor`` withdraw ``grant``? Withdrawing access cannot disclose anything, so any
    role that may revoke may do so, and so may the approver who made the grant."""
    source = policies.access.source
    if grant.revoked:
        return _refuse("the grant is already revoked", "revoke.already-revoked", source)
    if actor.name == grant.approver.name:
        return _allow(f"{actor.name} made the grant", "revoke.own-grant", source)
    role = policies.access.roles.get(actor.role)
    if role is None or "revoke" not in role.may:
        return _refuse(f"{actor.name} has role {actor.role!r}, which may not revoke grants "
                       "made by others", "revoke.role", source)
    return _allow(f"role {actor.role!r} may revoke grants", "revoke.role", source)


def decide_names(policies: Policies, actor: Actor, record: Record) -> Decision:
    """May ``actor`` read the names of ``record``'s files and problems on the officers'
    pages? A name can itself be secret: only when the record is unclassified or the actor's
    authority covers its level (Law 29/2018 Điều 11)."""
    if record.level.rank == 0:
        return _allow("record is unclassified", "names.unclassified", policies.access.source)
    return _covers(policies, actor, record, "names.authority")


def decide_view(policies: Policies, actor: Actor, record: Record,
                grants: list[GrantFacts], now: datetime) -> Decision:
    """May ``actor`` see ``record``'s catalog entry? Roles with ``catalog`` see every entry;
    anyone else only the records they could receive a copy of (ND 30/2020 Annex VI 5.a)."""
    if "catalog" in getattr(policies.access.roles.get(actor.role), "may", ()):
        return _allow(f"role {actor.role!r} may see the catalog", "view.catalog",
                      policies.access.source)
    return decide_access(policies, actor, record, grants, now)


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


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a non-leap target year
        return day.replace(year=day.year + years, day=28)


def protection_ends(level: Level, classified_on: date, extension_years: int = 0) -> date | None:
    """Law 29/2018 Điều 19: the period runs from the classification date (+ extensions)."""
    if level.rank == 0 or level.protection_years is None:
        return None
    return add_years(classified_on, level.protection_years + extension_years)


def max_extension_years(policies: Policies, level: Level) -> int:
    """Điều 20 k2: each extension is at most the level's base period (or the policy's cap)."""
    cap = policies.classification.extension.max_years
    if cap == "base_period":
        return level.protection_years or 0
    return int(cap)


def decide_extension(policies: Policies, approver: Actor, record: Record,
                     protect_until: date | None, years: int, today: date) -> Decision:
    """May ``approver`` extend ``record``'s protection by ``years`` today? (Điều 20)."""
    ext = policies.classification.extension
    source = ext.source or policies.classification.source
    role = policies.access.roles.get(approver.role)
    if role is None or "extend" not in role.may:
        return _refuse(f"{approver.name} has role {approver.role!r}, which may not extend "
                       "protection periods", "extension.role", source)
    if record.level.rank == 0 or protect_until is None:
        return _refuse("the record is not classified or has no protection period to extend",
                       "extension.unclassified", source)
    limit = max_extension_years(policies, record.level)
    if years < 1 or years > limit:
        return _refuse(f"an extension of {years} year(s) is not allowed: each extension of "
                       f"{record.level.vi} is 1 to {limit} years (Điều 20 k2)",
                       "extension.max-years", source)
    deadline = protect_until - timedelta(days=ext.decide_days_before_expiry)
    if today > deadline:
        return _refuse(f"protection ends {protect_until.isoformat()}: an extension must be "
                       f"decided no later than {ext.decide_days_before_expiry} days before "
                       f"expiry, i.e. by {deadline.isoformat()} (Điều 20 k1)",
                       "extension.deadline", source)
    covers = _covers(policies, approver, record, "extension.authority")
    if not covers.allowed:
        return covers
    return _allow(f"extended by {years} year(s) to "
                  f"{add_years(protect_until, years).isoformat()}; {covers.reason}",
                  "extension.allowed", source)


def decide_declassification(record: Record, protect_until: date | None,
                            today: date) -> Decision:
    """Law 29/2018 Điều 22 k1a: declassified automatically when the period (and every
    extension, which moved ``protect_until``) has ended."""
    source = "Luật 29/2018/QH14 Điều 22 k1a"
    if record.level.rank == 0:
        return _refuse("the record is not classified", "declassify.unclassified", source)
    if protect_until is None or protect_until > today:
        until = protect_until.isoformat() if protect_until else "no end date"
        return _refuse(f"protection runs until {until}", "declassify.protected", source)
    return _allow(f"protection ended {protect_until.isoformat()}", "declassify.expired",
                  source)


def decide_download(policies: Policies, made_at: datetime, now: datetime,
                    recipient: str | None = None, actor: Actor | None = None) -> Decision:
    """TT 05/2025 Điều 40: a copy may be downloaded within the policy's window, and only by
    the person it was made for (the copy register names the recipient)."""
    source = policies.access.dissemination.source
    if actor is not None and recipient is not None and actor.name != recipient:
        return _refuse(f"the copy was made for {recipient}, not {actor.name}",
                       "download.recipient", source)
    days = policies.access.dissemination.download_window_days
    if days is not None and now > made_at + timedelta(days=days):
        return _refuse(f"the copy was made {made_at.date().isoformat()}; copies may be "
                       f"downloaded within {days} days", "download.window", source)
    return _allow("within the download window", "download.window", source)
