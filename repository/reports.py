"""``khoso report``: the state of the collection for preservation officers (JSON, CSV, HTML)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from repository import events
from repository.audit import AUDIT_WINDOW_DAYS
from repository.catalog.models import Aip, AipFile, Event, Location, Problem, Replica
from repository.context import Repository
from repository.placement import copies_required


def build_report(repo: Repository) -> dict:
    now = datetime.now(UTC)
    window = now - timedelta(days=AUDIT_WINDOW_DAYS)
    with repo.catalog.session() as session:
        locations = list(session.scalars(select(Location).order_by(Location.id)))
        required = copies_required(repo.policies, len(locations))
        per_loc = []
        for loc in locations:
            total = session.scalar(select(func.count(Replica.id))
                                   .where(Replica.location_id == loc.id)) or 0
            recent = session.scalar(select(func.count(Replica.id)).where(
                Replica.location_id == loc.id, Replica.last_verified >= window,
                Replica.status == "verified")) or 0
            per_loc.append({"location": loc.name, "replicas": total, "verified_in_window": recent,
                            "coverage": round(recent / total, 4) if total else 1.0})
        counts = session.execute(select(Aip.id, func.count(Replica.id)).outerjoin(Replica)
                                 .group_by(Aip.id)).all()
        under = [aip for aip, n in counts if n < required]
        open_problems = list(session.scalars(
            select(Problem).options(selectinload(Problem.location))
            .where(Problem.resolved_at.is_(None)).order_by(Problem.found_at)))
        repairs = session.scalar(select(func.count(Event.seq)).where(
            Event.type == events.REPAIR, Event.outcome == events.SUCCESS)) or 0
        unrecoverable = session.scalar(select(func.count(Event.seq)).where(
            Event.type == events.REPAIR, Event.outcome == events.FAILURE)) or 0
        audits = session.execute(
            select(func.date(Event.at), Event.outcome, func.count(Event.seq))
            .where(Event.type == events.FIXITY_CHECK)
            .group_by(func.date(Event.at), Event.outcome).order_by(func.date(Event.at))).all()
        log = events.verify(session)
        totals = session.execute(select(func.count(AipFile.id), func.sum(AipFile.size))
                                 .where(AipFile.role == "payload")).one()
    trend: dict[str, dict[str, int]] = {}
    for day, outcome, n in audits:
        trend.setdefault(str(day), {"success": 0, "failure": 0})[outcome] = n
    return {
        "generated_at": now.isoformat(), "audit_window_days": AUDIT_WINDOW_DAYS,
        "aips": len(counts), "files": totals[0] or 0, "bytes": int(totals[1] or 0),
        "copies_required": required, "under_replicated": under,
        "locations": per_loc,
        "open_problems": [{"aip": p.aip_id, "path": p.path, "location": p.location.name,
                           "problem": p.kind, "found_at": p.found_at.isoformat()}
                          for p in open_problems],
        "repairs": repairs, "unrecoverable_events": unrecoverable,
        "audit_trend": [{"date": d, **v} for d, v in sorted(trend.items())],
        "event_log": {"intact": log.ok, "events": log.events, "first_bad": log.bad_seq,
                      "reason": log.reason},
    }


def render(report: dict, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report, ensure_ascii=False, indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(["section", "location", "aip", "path", "value", "detail"])
        for loc in report["locations"]:
            writer.writerow(["coverage", loc["location"], "", "", loc["coverage"],
                             f"{loc['verified_in_window']}/{loc['replicas']}"])
        for p in report["open_problems"]:
            writer.writerow(["problem", p["location"], p["aip"], p["path"], p["problem"],
                             p["found_at"]])
        for aip in report["under_replicated"]:
            writer.writerow(["under-replicated", "", aip, "", "", ""])
        return buf.getvalue()
    env = Environment(loader=PackageLoader("repository", "templates"),
                      autoescape=select_autoescape(["html"]))
    return env.get_template("report.html").render(r=report)
