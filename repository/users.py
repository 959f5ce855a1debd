"""Users and grants: who exists, and who approved whose access to which record."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from policies.engine import Actor, Record, decide_grant
from repository import events
from repository.catalog.models import Aip, Grant, User
from repository.context import Repository
from repository.errors import NotFound, PolicyRefused, UsageError


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
    with repo.catalog.session() as session:
        aip = get_aip(session, aip_id)
        user = get_user(session, user_name)
        approver = get_user(session, approver_name)
        decision = decide_grant(repo.policies, actor(approver), record_of(repo, aip))
    if not decision.allowed:
        with repo.catalog.session() as session:
            events.record(session, events.ACCESS_REFUSED, events.FAILURE, repo.agent, aip=aip_id,
                          detail={"action": "grant", "user": user_name, "by": approver_name,
                                  "rule": decision.rule, "reason": decision.reason})
        raise PolicyRefused(rule=decision.rule, reason=decision.reason)
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
