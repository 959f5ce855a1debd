"""``khoso audit``: read every copy of every file and compare our SHA-256 with the catalog.

The checker never imports ingest code (restic's checker, borg's check). Findings per copy:
``missing``, ``corrupt`` (digest or size differs), ``unreadable``; objects under an AIP's
prefix that the catalog does not own are reported separately as ``unexpected``.
"""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from repository import events
from repository.catalog.models import Aip, AipFile, Problem, Replica
from repository.context import Repository
from repository.errors import NotFound
from repository.objects import stored_object
from repository.progress import NoProgress, Progress
from storage.errors import StorageError
from storage.replicate import OK, check_object

AUDIT_WINDOW_DAYS = 90  # default; TT 05/2025 asks for the whole holding within 3 years


@dataclass(frozen=True)
class Finding:
    aip: str
    path: str
    location: str
    problem: str

    def as_dict(self) -> dict:
        return {"aip": self.aip, "path": self.path, "location": self.location,
                "problem": self.problem}


def _replicas(repo: Repository, aip_id: str | None, due_only: bool) -> list[Replica]:
    with repo.catalog.session() as session:
        query = (select(Replica).options(selectinload(Replica.aip).selectinload(Aip.files),
                                         selectinload(Replica.location))
                 .order_by(Replica.last_checked.is_not(None), Replica.last_checked, Replica.id))
        if aip_id:
            if session.get(Aip, aip_id) is None:
                raise NotFound(kind="AIP", name=aip_id)
            query = query.where(Replica.aip_id == aip_id)
        if due_only:
            cutoff = datetime.now(UTC) - timedelta(days=AUDIT_WINDOW_DAYS)
            query = query.where(or_(Replica.last_checked.is_(None),
                                    Replica.last_checked < cutoff, Replica.status != "verified"))
        return list(session.scalars(query))


def audit(repo: Repository, aip_id: str | None = None, due_only: bool = False,
          progress: Progress | None = None, workers: int = 2) -> dict:
    progress = progress or NoProgress()
    replicas = _replicas(repo, aip_id, due_only)
    jobs = [(rep, f) for rep in replicas for f in rep.aip.files]
    total = sum(stored_object(f).size for _, f in jobs)
    with progress.task("auditing", total) as advance, ThreadPoolExecutor(workers) as pool:
        backends = {rep.location.id: repo.backend(rep.location) for rep in replicas}

        def check(job: tuple[Replica, AipFile]) -> str:
            rep, f = job
            return check_object(backends[rep.location.id], stored_object(f), advance)

        results = list(pool.map(check, jobs))
    findings: dict[int, list[Finding]] = defaultdict(list)
    for (rep, f), result in zip(jobs, results, strict=True):
        if result != OK:
            findings[rep.id].append(Finding(rep.aip_id, f.path, rep.location.name, result))
    unexpected = _unexpected(repo, replicas, backends)
    _record(repo, replicas, findings)
    problems = [x.as_dict() for rep in replicas for x in findings[rep.id]]
    return {"checked": len(jobs), "bytes": total, "replicas": len(replicas),
            "problems": problems, "unexpected": unexpected}


def _unexpected(repo: Repository, replicas: list[Replica], backends: dict) -> list[dict]:
    out: list[dict] = []
    for rep in replicas:
        known = {f.storage_key for f in rep.aip.files}
        try:
            listed = list(backends[rep.location.id].list(rep.aip.key_prefix + "/"))
        except StorageError:
            continue  # unreadable copies are already reported per file
        out.extend({"aip": rep.aip_id, "location": rep.location.name, "key": o.key}
                   for o in listed if o.key not in known)
    return out


def _record(repo: Repository, replicas: list[Replica], findings: dict[int, list[Finding]]) -> None:
    now = datetime.now(UTC)
    with repo.catalog.session() as session:
        for rep in replicas:
            row = session.get(Replica, rep.id)
            if row is None:
                continue
            found = findings.get(rep.id, [])
            row.last_checked = now
            row.status = "damaged" if found else "verified"
            if not found:
                row.last_verified = now
            _update_problems(session, rep, found, now)
            events.record(session, events.FIXITY_CHECK,
                          events.FAILURE if found else events.SUCCESS, repo.agent,
                          aip=rep.aip_id, at=now, detail={
                              "location": rep.location.name, "files": len(rep.aip.files),
                              "algorithm": "SHA-256",
                              "failures": [{"path": x.path, "problem": x.problem}
                                           for x in found]})


def _update_problems(session, rep: Replica, found: list[Finding],  # type: ignore[no-untyped-def]
                     now: datetime) -> None:
    open_rows = list(session.scalars(select(Problem).where(
        Problem.aip_id == rep.aip_id, Problem.location_id == rep.location_id,
        Problem.resolved_at.is_(None))))
    current = {(x.path, x.problem) for x in found}
    for row in open_rows:
        if (row.path, row.kind) not in current:
            row.resolved_at, row.resolution = now, "verified by audit"
    known = {(row.path, row.kind) for row in open_rows}
    for path, kind in sorted(current - known):
        session.add(Problem(aip_id=rep.aip_id, location_id=rep.location_id, path=path,
                            kind=kind, found_at=now))
