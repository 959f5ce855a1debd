"""Users and grants: who exists, and who approved whose access to which record."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from policies.engine import Actor, GrantFacts, Record, decide_grant, decide_revoke
from repository import events
from repository.catalog.models import Aip, Grant, User
from repository.context import Repository
from repository.decisions import refuse
from repository.errors import NotFound, UsageError


def add_user(repo: Repository, name: str, role: str, unit: str | None,
             authority: str | None) -> dict:
    roles = repo.policies.access.roles
    if role not in roles:
        raise UsageError(reason=f"unknown role {role!r} (known: {', '.join(roles)})")
    level = repo.policies.level(authority).key if authority else None
    with repo.catalog.session() as session:
        if session.scalar(select(User).where(User.name == name)) is not None:
            raise UsageError(reason=f"a user named {name!r} already exists")
        user = User(name=name, role=role, unit=unit, authority=level)
        session.add(user)
        events.record(session, events.POLICY_ASSIGNMENT, events.SUCCESS, repo.agent,
                      detail={"action": "user added", "user": name, "role": role,
                              "authority": level, "unit": unit})
    return describe_user(user)


def describe_user(user: User) -> dict:
    return {"name": user.name, "role": user.role, "unit": user.unit,
            "authority": user.authority}


def get_user(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFound(kind="user", name=name)
    return user


def get_aip(session: Session, aip_id: str) -> Aip:
    aip = session.get(Aip, aip_id)
    if aip is None:
        raise NotFound(kind="AIP", name=aip_id)
    return aip


def actor(user: User) -> Actor:
    return Actor(user.name, user.role, user.authority)


def record_of(repo: Repository, aip: Aip) -> Record:
    return Record(aip.id, repo.policies.level(aip.classification), aip.access_mode)


def grant(repo: Repository, aip_id: str, user_name: str, approver_name: str,
          until: date | None, purpose: str | None) -> dict:
    """Record a grant of one record to one user by an approver whose authority covers it
    (Law 29/2018 Điều 11, 15); a refusal is an event and exit 3."""
    with repo.catalog.session() as session:
        aip = get_aip(session, aip_id)
        user = get_user(session, user_name)
        approver = get_user(session, approver_name)
        decision = decide_grant(repo.policies, actor(approver), record_of(repo, aip))
    if not decision.allowed:
        refuse(repo, decision, aip=aip_id,
               detail={"action": "grant", "user": user_name, "by": approver_name})
    until_at = datetime.combine(until, time.max, tzinfo=UTC) if until else None
    if until_at is not None and until_at <= datetime.now(UTC):
        raise UsageError(reason=f"--until {until} is in the past")
    with repo.catalog.session() as session:
        row = Grant(aip_id=aip_id, user_id=user.id, approver_id=approver.id,
                    purpose=purpose or "", until=until_at)
        session.add(row)
        session.flush()
        events.record(session, events.ACCESS_GRANTED, events.SUCCESS, repo.agent, aip=aip_id,
                      detail={"grant": row.id, "user": user_name, "by": approver_name,
                              "until": until_at.isoformat() if until_at else None,
                              "purpose": purpose or "", "rule": decision.rule})
    return {"grant": row.id, "aip": aip_id, "user": user_name, "by": approver_name,
            "until": until_at.isoformat() if until_at else None, "purpose": purpose or ""}


def _get_grant(session: Session, grant_id: int) -> Grant:
    row = session.scalar(select(Grant).where(Grant.id == grant_id).options(
        selectinload(Grant.user), selectinload(Grant.approver)))
    if row is None:
        raise NotFound(kind="grant", name=str(grant_id))
    return row


def revoke(repo: Repository, grant_id: int, by_name: str, reason: str | None) -> dict:
    """Withdraw a grant: later copies under it are refused (rule access.grant-lapsed)."""
    with repo.catalog.session() as session:
        row = _get_grant(session, grant_id)
        by = get_user(session, by_name)
        facts = GrantFacts(row.user.name, actor(row.approver), row.until,
                           row.revoked_at is not None)
        decision = decide_revoke(repo.policies, actor(by), facts)
        aip_id, user_name = row.aip_id, row.user.name
    if not decision.allowed:
        refuse(repo, decision, aip=aip_id, detail={"action": "revoke", "grant": grant_id,
                                                   "user": user_name, "by": by_name})
    now = datetime.now(UTC)
    with repo.catalog.session() as session:
        row = session.get(Grant, grant_id, with_for_update=True)
        if row is None or row.revoked_at is not None:  # revoked meanwhile: nothing to do
            raise UsageError(reason=f"grant {grant_id} was revoked meanwhile")
        row.revoked_at, row.revoked_by_id, row.revoke_reason = now, by.id, reason or ""
        # PREMIS has no "revocation" type: a policy assignment that ends the grant.
        events.record(session, events.POLICY_ASSIGNMENT, events.SUCCESS, repo.agent,
                      aip=aip_id, detail={"action": "grant revoked", "grant": grant_id,
                                          "user": user_name, "by": by_name,
                                          "reason": reason or "", "rule": decision.rule})
    return {"grant": grant_id, "aip": aip_id, "user": user_name, "revoked_by": by_name,
            "revoked_at": now.isoformat(), "reason": reason or ""}


def describe_grant(g: Grant, now: datetime | None = None) -> dict:
    now = now or datetime.now(UTC)
    state = ("revoked" if g.revoked_at else
             "expired" if g.until is not None and g.until <= now else "active")
    return {"grant": g.id, "aip": g.aip_id, "user": g.user.name, "by": g.approver.name,
            "purpose": g.purpose, "granted_at": g.granted_at.isoformat(),
            "until": g.until.isoformat() if g.until else None, "state": state,
            "revoked_at": g.revoked_at.isoformat() if g.revoked_at else None,
            "revoke_reason": g.revoke_reason}


def list_grants(repo: Repository, aip_id: str | None = None,
                user_name: str | None = None) -> dict:
    with repo.catalog.session() as session:
        query = select(Grant).options(selectinload(Grant.user), selectinload(Grant.approver))
        if aip_id:
            query = query.where(Grant.aip_id == aip_id)
        if user_name:
            query = query.where(Grant.user_id == get_user(session, user_name).id)
        return {"grants": [describe_grant(g) for g in session.scalars(query.order_by(Grant.id))]}
