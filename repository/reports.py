"""``khoso report``: the state of the collection for preservation officers.

Coverage is the share of copies verified within the policy window (``policies/schedules.yaml``
``fixity.verify_every_days``) and not damaged, per location; problems, repairs, unrecoverable
files and the trend over time (from ``audit_runs``) follow. Every query aggregates in the
database, and long lists are capped (``LIST_LIMIT``, with the full count beside them), so a
catalog of a million files reports in seconds (``scripts/bench/catalog_scale.py``).
Rendering (JSON, CSV, HTML with inline SVG charts) is in :mod:`repository.report_render`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from policies.replication import copies_required
from repository import events
from repository.audit_runs import window_days
from repository.catalog.models import Aip, AipFile, AuditRun, Event, Location, Problem, Replica
from repository.context import Repository
from repository.log_service import quick_log_state
from repository.placement import place_of
from repository.report_render import render  # noqa: F401  (the CLI imports it from here)

LIST_LIMIT = 500
TREND_DAYS = 365


def build_report(repo: Repository, now: datetime | None = None) -> dict:
    now = now or datetime.now(UTC)
    days = window_days(repo)
    since = now - timedelta(days=days)
    with repo.catalog.session() as session:
        locations = list(session.scalars(select(Location).order_by(Location.id)))
        totals = session.execute(select(func.count(AipFile.id), func.sum(AipFile.size))
                                 .where(AipFile.role == "payload")).one()
        under, aips = _under_replicated(repo, session, locations)
        report = {
            "generated_at": now.isoformat(), "audit_window_days": days,
            "aips": aips, "files": totals[0] or 0, "bytes": int(totals[1] or 0),
            "copies_required": _required(repo, locations, None),
            "under_replicated": under[:LIST_LIMIT], "under_replicated_count": len(under),
            "locations": _coverage(session, locations, since),
            **_problems(session, since),
            **_repairs(session),
            **_trend(session, now),
        }
    report["coverage"] = _overall(report["locations"])
    report["event_log"] = quick_log_state(repo)
    return report


def _coverage(session: Session, locations: list[Location], since: datetime) -> list[dict]:
    ok = (Replica.status == "verified") & (Replica.last_verified >= since)
    rows = {r[0]: r for r in session.execute(
        select(Replica.location_id, func.count(Replica.id), func.count(Replica.id).filter(ok),
               func.count(Replica.id).filter(Replica.status != "verified"),
               func.count(Replica.id).filter(Replica.last_checked.is_(None)),
               func.max(Replica.last_checked))
        .group_by(Replica.location_id))}
    out = []
    for loc in locations:
        _, total, good, damaged, never, last = rows.get(loc.id, (loc.id, 0, 0, 0, 0, None))
        out.append({"location": loc.name, "replicas": total, "verified_in_window": good,
                    "coverage": round(good / total, 4) if total else 1.0,
                    "damaged": damaged, "never_checked": never,
                    "last_checked": last.isoformat() if last else None})
    return out


def _overall(locations: list[dict]) -> dict:
    total = sum(loc["replicas"] for loc in locations)
    good = sum(loc["verified_in_window"] for loc in locations)
    return {"replicas": total, "verified_in_window": good,
            "coverage": round(good / total, 4) if total else 1.0}


def _required(repo: Repository, locations: list[Location], level: str | None) -> int:
    sites = len({place_of(loc).site_key for loc in locations})
    return copies_required(repo.policies, repo.policies.level(level), sites)


def _under_replicated(repo: Repository, session: Session,
                      locations: list[Location]) -> tuple[list[str], int]:
    counts = session.execute(select(Aip.classification, Aip.id, func.count(Replica.id))
                             .outerjoin(Replica).group_by(Aip.classification, Aip.id)).all()
    need = {cls: _required(repo, locations, cls) for cls in {c for c, _, _ in counts}}
    return sorted(aip for cls, aip, n in counts if n < need[cls]), len(counts)


def _problems(session: Session, since: datetime) -> dict:
    open_q = select(Problem).where(Problem.resolved_at.is_(None))
    rows = session.scalars(open_q.options(selectinload(Problem.location))
                           .order_by(Problem.found_at, Problem.id).limit(LIST_LIMIT))
    count = session.scalar(select(func.count(Problem.id)).where(Problem.resolved_at.is_(None)))
    found = session.execute(select(Problem.kind, func.count(Problem.id))
                            .where(Problem.found_at >= since).group_by(Problem.kind)).all()
    return {
        "open_problems": [{"aip": p.aip_id, "path": p.path, "location": p.location.name,
                           "problem": p.kind, "found_at": p.found_at.isoformat()}
                          for p in rows],
        "open_problem_count": count or 0,
        "problems_found_in_window": dict(sorted(found)),
    }


def _recovery(session: Session, outcome: str, limit: int) -> list[Event]:
    return list(session.scalars(select(Event).where(
        Event.type == events.REPAIR, Event.outcome == outcome)
        .order_by(Event.seq.desc()).limit(limit)))


def _repairs(session: Session) -> dict:
    def count(outcome: str) -> int:
        return session.scalar(select(func.count(Event.seq)).where(
            Event.type == events.REPAIR, Event.outcome == outcome)) or 0

    recent = [{"aip": e.aip_id, "at": e.at.isoformat(), **json.loads(e.detail)}
              for e in _recovery(session, events.SUCCESS, 20)]
    failures = _recovery(session, events.FAILURE, 2000)
    open_keys = {(p.aip_id, p.path, p.location.name) for p in session.scalars(
        select(Problem).where(Problem.resolved_at.is_(None),
                              Problem.aip_id.in_({e.aip_id for e in failures}))
        .options(selectinload(Problem.location)))}
    unrecoverable: dict[tuple, dict] = {}
    for ev in failures:
        d = json.loads(ev.detail)
        key = (ev.aip_id, d.get("path"), d.get("location"))
        if key in open_keys and key not in unrecoverable:  # newest failure per open problem
            unrecoverable[key] = {"aip": ev.aip_id, "path": d.get("path"),
                                  "location": d.get("location"), "problem": d.get("problem"),
                                  "reason": d.get("reason"), "at": ev.at.isoformat()}
    return {"repairs": count(events.SUCCESS), "unrecoverable_events": count(events.FAILURE),
            "recent_repairs": recent, "unrecoverable": list(unrecoverable.values())[:LIST_LIMIT]}


def _trend(session: Session, now: datetime) -> dict:
    runs = list(session.scalars(select(AuditRun).where(
        AuditRun.started_at >= now - timedelta(days=TREND_DAYS)).order_by(AuditRun.started_at)))
    days: dict[str, dict] = {}
    for run in runs:
        day = days.setdefault(run.started_at.date().isoformat(), {
            "success": 0, "failure": 0, "files": 0, "bytes": 0, "problems": 0, "runs": 0,
            "coverage": None})
        day["success"] += run.copies - run.failed_copies
        day["failure"] += run.failed_copies
        day["files"] += run.files
        day["bytes"] += run.bytes
        day["problems"] += run.problems
        day["runs"] += 1
        if run.coverage is not None:
            day["coverage"] = run.coverage  # the day's last finished run
    last = [{"run": r.id, "kind": r.kind, "owner": r.owner,
             "started_at": r.started_at.isoformat(),
             "finished_at": r.finished_at.isoformat() if r.finished_at else None,
             "copies": r.copies, "files": r.files, "bytes": r.bytes, "problems": r.problems,
             "coverage": r.coverage} for r in reversed(runs[-10:])]
    return {"audit_trend": [{"date": d, **v} for d, v in sorted(days.items())],
            "last_audits": last}
