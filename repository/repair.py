"""``khoso repair``: restore every damaged copy from a copy that verifies while it is read.

A source copy is hashed in full before anything is written, streamed again into the damaged
location (hashed on the way), and the result read back. Sources are tried in turn: one that
does not verify, cannot be read, or whose bytes change on the way (``SourceMismatch``) is
passed over for the next, and a location that cannot be reached is not asked again during
the run. When the damaged location itself refuses the write or cannot be reached, no further
source is tried: the file is reported unrecoverable with that location's error, and the run
goes on with the next problem. When no copy of a file verifies, the file is unrecoverable:
reported, recorded as an event, and no copy is overwritten.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from repository import events
from repository.catalog.models import AipFile, Problem, Replica
from repository.context import Repository
from repository.errors import BackendUnavailable
from repository.objects import stored_object
from repository.progress import NoProgress, Progress
from storage.backend import Backend
from storage.errors import StorageError
from storage.replicate import (
    OK,
    SourceFailed,
    SourceReader,
    StoredObject,
    check_object,
    is_target_error,
    put_verified,
    unreachable_cause,
)


def repair(repo: Repository, progress: Progress | None = None) -> dict:
    progress = progress or NoProgress()
    with repo.catalog.session() as session:
        problems = list(session.scalars(
            select(Problem).where(Problem.resolved_at.is_(None))
            .options(selectinload(Problem.location)).order_by(Problem.id)))
    repaired: list[dict] = []
    unrecoverable: list[dict] = []
    unreachable: dict[str, str] = {}  # location name -> why it cannot be reached (this run)
    with progress.task("repairing", len(problems)) as advance:
        for problem in problems:
            outcome = _repair_one(repo, problem, unreachable)
            (repaired if outcome["status"] == "repaired" else unrecoverable).append(outcome)
            advance(1)
    _refresh_replicas(repo)
    return {"repaired": repaired, "unrecoverable": unrecoverable}


def _repair_one(repo: Repository, problem: Problem, unreachable: dict[str, str]) -> dict:
    with repo.catalog.session() as session:
        file = session.scalar(select(AipFile).where(AipFile.aip_id == problem.aip_id,
                                                    AipFile.path == problem.path))
        sources = list(session.scalars(
            select(Replica).options(selectinload(Replica.location))
            .where(Replica.aip_id == problem.aip_id, Replica.location_id != problem.location_id)
            .order_by(Replica.last_verified.desc())))
    name = problem.location.name
    base = {"aip": problem.aip_id, "path": problem.path, "location": name,
            "problem": problem.kind}
    if file is None:
        return _finish(repo, problem, {**base, "status": "unrecoverable",
                                       "reason": "file no longer in the catalog"})
    if name in unreachable:
        return _finish(repo, problem, {**base, "status": "unrecoverable",
                                       "reason": _unreachable(name, unreachable[name])})
    obj = stored_object(file)
    try:
        target = repo.backend(problem.location)
    except BackendUnavailable as exc:
        unreachable[name] = str(exc)
        return _finish(repo, problem, {**base, "status": "unrecoverable",
                                       "reason": _unreachable(name, str(exc))})
    for rep in sources:
        if rep.location.name in unreachable:
            continue  # found down earlier in this run: its name is given below if need be
        try:
            source = repo.backend(rep.location)
            if check_object(source, obj) != OK:
                continue
            _copy(source, target, obj)
        except (StorageError, BackendUnavailable, SourceFailed) as exc:
            if is_target_error(exc, target):
                if isinstance(exc, BackendUnavailable):
                    unreachable[name] = str(exc)
                    reason = _unreachable(name, str(exc))
                else:
                    reason = f"location {name} refused the write: {exc}"
                return _finish(repo, problem, {**base, "status": "unrecoverable",
                                               "reason": reason})
            down = unreachable_cause(exc)
            if down is not None:  # not asked again during this run
                unreachable[rep.location.name] = str(down)
            continue
        return _finish(repo, problem, {**base, "status": "repaired",
                                       "source": rep.location.name})
    down = sorted({rep.location.name for rep in sources} & unreachable.keys())
    reason = "no other copy verifies" + (
        f" (not reachable: {', '.join(down)})" if down else "")
    return _finish(repo, problem, {**base, "status": "unrecoverable", "reason": reason})


def _unreachable(name: str, error: str) -> str:
    return f"location {name} cannot be reached: {error}"


def _copy(source: Backend, target: Backend, obj: StoredObject) -> None:
    with source.open(obj.key) as stream:
        put_verified(target, obj, SourceReader(stream), replace=True)  # type: ignore[arg-type]


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
        # Locked before its problems are looked at: an audit records damage by first updating
        # the copy's replicas row (``UPDATE replicas SET status='damaged'``, repository/audit.py
        # ``_record``) and then adding its problem rows, in one transaction. On PostgreSQL
        # (READ COMMITTED) that UPDATE now waits for this transaction, or this lock waits for
        # the audit's commit, after which the problems query below (a new snapshot) sees its
        # problem rows; either way a copy is never set verified over damage found meanwhile.
        # Rows are locked in id order, as one statement. SQLite has no FOR UPDATE (SQLAlchemy
        # leaves it out): there the session's BEGIN IMMEDIATE already serialises the two.
        damaged = list(session.scalars(select(Replica).where(Replica.status != "verified")
                                       .order_by(Replica.id).with_for_update()))
        for rep in damaged:
            still_open = session.scalar(select(Problem.id).where(
                Problem.aip_id == rep.aip_id, Problem.location_id == rep.location_id,
                Problem.resolved_at.is_(None)).limit(1))
            if still_open is None:
                rep.status = "verified"
