"""``khoso extend``: extend a record's protection period (Law 29/2018/QH14 Điều 20).

The head of the classifying body decides, no later than 60 days before the period ends; each
extension is at most the level's base period (both from policies/classification.yaml). An
allowed extension moves ``aips.protect_until``, adds an ``extensions`` row and records a
``protection extension`` event in one transaction; a refusal is an event and exit 3.
Declassification reads ``protect_until``, so it always respects every extension.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select

from policies.engine import add_years, decide_extension
from repository import events
from repository.catalog.models import Aip, Extension
from repository.context import Repository
from repository.decisions import refuse
from repository.users import actor, get_aip, get_user, record_of

# PREMIS 3 has no type for this decision; ours, beside "declassification".
PROTECTION_EXTENSION = "protection extension"


def extend(repo: Repository, aip_id: str, years: int, by_name: str, reason: str | None,
           today: date | None = None) -> dict:
    today = today or datetime.now(UTC).date()
    with repo.catalog.session() as session:
        get_aip(session, aip_id)
        aip = session.scalar(select(Aip).where(Aip.id == aip_id).with_for_update())
        approver = get_user(session, by_name)
        previous = aip.protect_until
        decision = decide_extension(repo.policies, actor(approver), record_of(repo, aip),
                                    previous, years, today)
        if decision.allowed:
            assert previous is not None  # decide_extension refuses a record without one
            new_until = add_years(previous, years)
            aip.protect_until = new_until
            session.add(Extension(aip_id=aip_id, years=years, approver_id=approver.id,
                                  decided_at=datetime.now(UTC), previous_until=previous,
                                  new_until=new_until, reason=reason or ""))
            events.record(session, PROTECTION_EXTENSION, events.SUCCESS, repo.agent,
                          aip=aip_id, detail={
                              "years": years, "by": by_name, "reason": reason or "",
                              "previous_until": previous.isoformat(),
                              "protect_until": new_until.isoformat(), "rule": decision.rule,
                              "stamp": repo.policies.classification.extension.stamp})
    if not decision.allowed:
        refuse(repo, decision, aip=aip_id, event_type=PROTECTION_EXTENSION,
               detail={"years": years, "by": by_name, "reason": reason or "",
                       "protect_until": previous.isoformat() if previous else None})
    return {"aip": aip_id, "years": years, "by": by_name, "reason": reason or "",
            "previous_until": previous.isoformat(), "protect_until": new_until.isoformat()}


def extensions_of(repo: Repository, aip_id: str) -> list[dict]:
    with repo.catalog.session() as session:
        rows = session.scalars(select(Extension).where(Extension.aip_id == aip_id)
                               .order_by(Extension.id))
        return [{"years": e.years, "decided_at": e.decided_at.isoformat(),
                 "previous_until": e.previous_until.isoformat() if e.previous_until else None,
                 "protect_until": e.new_until.isoformat(), "reason": e.reason}
                for e in rows]
