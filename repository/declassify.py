"""``khoso declassify``: apply protection periods that have ended (Law 29/2018 Điều 22 k1a).

Declassification on expiry is automatic: the record becomes unclassified and public
(access mode 01) and a ``declassification`` event records the old level and the date. The end
date is ``aips.protect_until``, which every extension (``khoso extend``) moves, so an extended
record stays classified until its extended date. The scheduler calls
:func:`declassify_expired` daily.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import func, select, update

from policies.engine import decide_declassification
from repository import events
from repository.catalog.models import Aip, AipFile, Extension
from repository.context import Repository
from repository.users import record_of


def declassify_expired(repo: Repository, today: date | None = None) -> dict:
    today = today or datetime.now(UTC).date()
    done: list[dict] = []
    with repo.catalog.session() as session:
        due = list(session.scalars(select(Aip).where(
            Aip.classification != "unclassified", Aip.protect_until.is_not(None),
            Aip.protect_until <= today).order_by(Aip.id).with_for_update()))
        for aip in due:
            decision = decide_declassification(record_of(repo, aip), aip.protect_until, today)
            if not decision.allowed:
                continue
            extended = session.scalar(select(func.count()).select_from(Extension)
                                      .where(Extension.aip_id == aip.id)) or 0
            old = aip.classification
            aip.classification, aip.access_mode = "unclassified", "01"
            session.execute(update(AipFile).where(AipFile.aip_id == aip.id)
                            .values(classification="unclassified"))
            events.record(session, events.DECLASSIFICATION, events.SUCCESS, repo.agent,
                          aip=aip.id, detail={
                              "from": old, "to": "unclassified",
                              "protect_until": str(aip.protect_until), "extensions": extended,
                              "rule": decision.rule, "basis": decision.reason,
                              "source": decision.source})
            done.append({"aip": aip.id, "from": old, "protect_until": str(aip.protect_until),
                         "extensions": extended})
    return {"declassified": done, "date": today.isoformat()}
