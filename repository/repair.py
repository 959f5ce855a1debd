"""``khoso repair``: restore every damaged copy from a copy that verifies while it is read.

A source copy is hashed in full before anything is written, streamed again into the damaged
location (hashed on the way), and the result read back. When no copy of a file verifies, the
file is unrecoverable: reported, recorded as an event, and no copy is overwritten.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from repository import events
from repository.catalog.models import AipFile, Problem, Replica
from repository.context import Repository
from repository.objects import stored_object
from repository.progress import NoProgress, Progress
from storage.backend import Backend
from storage.errors import StorageError
from storage.replicate import OK, StoredObject, check_object, put_verified


def repair(repo: Repository, progress: Progress | None = None) -> dict:
    progress = progress or NoProgress()
    with repo.catalog.session() as session:
        problems = list(session.scalars(
            select(Problem).where(Problem.resolved_at.is_(None))
            .options(selectinload(Problem.location)).order_by(Problem.id)))
    repaired: list[dict] = []
    unrecoverable: list[dict] = []
    with progress.task("repairing", len(problems)) as advance:
        for problem in problems:
            outcome = _repair_one(repo, problem)
            (repaired if outcome["status"] == "repaired" else unrecoverable).append(outcome)
            advance(1)
    _refresh_replicas(repo)
    return {"repaired": repaired, "unrecoverable": unrecoverable}


def _repair_one(repo: Repository, problem: Problem) -> dict:
    with repo.catalog.session() as session:
        file = session.scalar(select(AipFile).where(AipFile.aip_id == problem.aip_id,
                                                    AipFile.path == problem.path))
        sources = list(session.scalars(
            select(Replica).options(selectinload(Replica.location))
            .where(Replica.aip_id == problem.aip_id, Replica.location_id != problem.location_id)
            .order_by(Replica.last_verified.desc())))
    base = {"aip": problem.aip_id, "path": problem.path, "location": problem.location.name,
            "problem": problem.kind}
    if file is None:
        return _finish(repo, problem, {**base, "status": "unrecoverable",
                                       "reason": "file no longer in the catalog"})
    obj = stored_object(file)
    target = repo.backend(problem.location)
    for rep in sources:
        source = repo.backend(rep.location)
        if check_object(source, obj) != OK:
            continue
        try:
            _copy(source, target, obj)
        except StorageError:
            continue
        return _finish(repo, problem, {**base, "status": "repaired",
                                       "source": rep.location.name})
    return _finish(repo, problem, {**base, "status": "unrecoverable",
                                   "reason": "no other copy verifies"})


def _copy(source: Backend, target: Backend, obj: StoredObject) -> None:
    with source.open(obj.key) as stream:
        put_verified(target, obj, stream, replace=True)


def _finish(repo: Repository, problem: Problem, outcome: dict) -> dict:
    now = datetime.now(UTC)
    ok = outcome["status"] == "repaired"
    with repo.catalog.session() as session:
        if ok:
            row = session.get(Problem, problem.id)
            if row is not None:
                row.resolved_at, row.resolution = now, f"repaired from {outcome['source']}"
        events.record(session, events.REPAIR, events.SUCCESS if ok else events.FAILURE,
                      repo.agent, aip=problem.aip_id, at=now,
                      detail={k: v for k, v in outcome.items() if k != "aip"})
    return outcome


def _refresh_replicas(repo: Repository) -> None:
    """A replica counts as verified again once none of its problems is open.

    last_verified is left alone: only an audit of every file moves it.
    """
    with repo.catalog.session() as session:
        damaged = list(session.scalars(select(Replica).where(Replica.status != "verified")))
        for rep in damaged:
            still_open = session.scalar(select(Problem.id).where(
                Problem.aip_id == rep.aip_id, Problem.location_id == rep.location_id,
                Problem.resolved_at.is_(None)).limit(1))
            if still_open is None:
                rep.status = "verified"
