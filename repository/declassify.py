"""``khoso declassify``: apply protection periods that have ended (Law 29/2018 Điều 22 k1a).

Declassification on expiry is automatic: the record becomes unclassified and public
(access mode 01) and a ``declassification`` event records the old level and the date.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select, update

from repository import events
from repository.catalog.models import Aip, AipFile
from repository.context import Repository


def declassify_expired(repo: Repository, today: date | None = None) -> dict:
    today = today or datetime.now(UTC).date()
    done: list[dict] = []
    with repo.catalog.session() as session:
        due = list(session.scalars(select(Aip).where(
            Aip.classification != "unclassified", Aip.protect_until.is_not(None),
            Aip.protect_until <= today).order_by(Aip.id).with_for_update()))
        for aip in due:
            old = aip.classification
            aip.classification, aip.access_mode = "unclassified", "01"
            session.execute(update(AipFile).where(AipFile.aip_id == aip.id)
                            .values(classification="unclassified"))
            events.record(session, events.DECLASSIFICATION, events.SUCCESS, repo.agent,
                          aip=aip.id, detail={
                              "from": old, "to": "unclassified",
                              "protect_until": str(aip.protect_until),
                              "basis": "protection period ended (Law 29/2018 Điều 22 k1a)"})
            done.append({"aip": aip.id, "from": old, "protect_until": str(aip.protect_until)})
    return {"declassified": done, "date": today.isoformat()}
