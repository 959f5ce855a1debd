"""``khoso audit``: read every copy of every file and compare our SHA-256 with the catalog.

The checker never imports ingest code (restic's checker, borg's check). Findings per copy:
``missing``, ``corrupt`` (digest or size differs), ``unreadable``; objects under an AIP's
prefix that the catalog does not own are reported separately as ``unexpected``.

Both cores stay busy: the files of a batch of copies are checked by a thread pool (hashlib and
file reads release the GIL on 1 MiB chunks), largest first, each job reading all copies of one
file side by side and hashing them once while they agree (:mod:`repository.copy_check`).
State is kept per copy, not per run (borg): each copy's result is recorded as its
batch ends (``replicas.last_checked``/``last_verified``/``status``, ``problems`` rows, and one
``fixity check`` event per copy and run listing only the files that failed), so an interrupted
run keeps what it proved. A batch is recorded while the next one is already being checked,
so the catalog work does not leave the cores idle between batches. Scheduled work
(``--due-only``, workers) goes through :mod:`repository.audit_queue`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, selectinload

from repository import audit_runs, events
from repository.catalog.models import Aip, AipFile, Problem, QueuedCopy, Replica
from repository.context import Repository
from repository.copy_check import check_copies
from repository.errors import NotFound
from repository.objects import check_plaintext, stored_object
from repository.progress import Advance, NoProgress, Progress
from storage.backend import Backend
from storage.errors import StorageError
from storage.replicate import OK, check_object

AUDIT_WINDOW_DAYS = 90  # default when no schedules policy is loaded (policies/schedules.yaml)
BATCH_COPIES = 32  # copies loaded, hashed and recorded together


@dataclass(frozen=True)
class Finding:
    aip: str
    path: str
    location: str
    problem: str

    def as_dict(self) -> dict:
        return {"aip": self.aip, "path": self.path, "location": self.location,
                "problem": self.problem}


@dataclass
class CopyResult:
    replica_id: int
    aip: str
    location: str
    files: int
    bytes: int
    findings: list[Finding] = field(default_factory=list)
    unexpected: list[dict] = field(default_factory=list)


def check_file(backends: Sequence[Backend], file: AipFile,
               on_bytes: Advance | None = None) -> list[str]:
    """Judge one stored object in each of these copies: our SHA-256 and size against the
    catalog's; one finding per backend, in order.

    Every file of every normal audit goes through here (``--deep`` goes through
    :func:`repository.objects.check_plaintext`). The copies of one object are read side by
    side and hashed once while they agree (:mod:`repository.copy_check`).
    """
    obj = stored_object(file)
    if len(backends) == 1:
        return [check_object(backends[0], obj, on_bytes)]
    return check_copies(backends, obj, on_bytes)


def default_workers() -> int:
    return max(2, os.cpu_count() or 2)


def audit(repo: Repository, aip_id: str | None = None, due_only: bool = False,
          progress: Progress | None = None, workers: int | None = None,
          kind: str = "manual", deep: bool = False) -> dict:
    """Audit every copy (or one AIP's, or only today's due slice) and record the results."""
    if due_only:
        from repository.audit_queue import audit_due

        return audit_due(repo, progress=progress, workers=workers, aip_id=aip_id)
    ids = _selected(repo, aip_id)
    total = _bytes_of(repo, aip_id)
    with run_context(repo, kind) as run, pool_for(workers) as pool, \
            (progress or NoProgress()).task("auditing", total) as advance:
        for results in audit_batches(repo, _batches(ids), pool, run.id, advance, deep=deep):
            run.add(results)
    return run.summary()


def _selected(repo: Repository, aip_id: str | None) -> list[tuple[int, str]]:
    """Every copy to audit, the copies of one AIP next to each other (read side by side)."""
    with repo.catalog.session() as session:
        query = select(Replica.id, Replica.aip_id).order_by(Replica.aip_id, Replica.id)
        if aip_id:
            if session.get(Aip, aip_id) is None:
                raise NotFound(kind="AIP", name=aip_id)
            query = query.where(Replica.aip_id == aip_id)
        return [(rid, aip) for rid, aip in session.execute(query)]


def _batches(copies: list[tuple[int, str]]) -> Iterator[list[int]]:
    """About BATCH_COPIES copies at a time, never splitting one AIP's copies."""
    batch: list[int] = []
    for n, (rid, aip) in enumerate(copies):
        batch.append(rid)
        if n + 1 == len(copies) or (len(batch) >= BATCH_COPIES and copies[n + 1][1] != aip):
            yield batch
            batch = []


def _bytes_of(repo: Repository, aip_id: str | None) -> int:
    stored = func.coalesce(AipFile.stored_size, AipFile.size)
    query = select(func.sum(stored)).select_from(Replica).join(
        AipFile, AipFile.aip_id == Replica.aip_id)
    if aip_id:
        query = query.where(Replica.aip_id == aip_id)
    with repo.catalog.session() as session:
        return int(session.scalar(query) or 0)


@contextmanager
def pool_for(workers: int | None) -> Iterator[Executor]:
    with ThreadPoolExecutor(workers or default_workers(), thread_name_prefix="audit") as pool:
        yield pool


@contextmanager
def run_context(repo: Repository, kind: str, owner: str | None = None
                ) -> Iterator[audit_runs.Run]:
    """An ``audit_runs`` row for the run; finished (and the chain checkpointed) at the end."""
    run = audit_runs.start(repo, kind, owner)
    try:
        yield run
    finally:
        audit_runs.finish(repo, run)


@dataclass
class _Checking:
    """One batch of copies whose files are being checked in the pool."""

    ids: list[int]  # as asked for: a copy deleted meanwhile is in here, not in ``replicas``
    replicas: list[Replica]
    jobs: list[tuple[list[Replica], AipFile]]
    found: list[Future[list[str]]]  # per job, the finding of each copy in its group
    listed: list[Future[list[dict]]]  # per copy, its unexpected objects

    def cancel(self) -> None:
        for future in (*self.found, *self.listed):
            future.cancel()


def audit_copies(repo: Repository, replica_ids: list[int], pool: Executor, run_id: int | None,
                 advance: Advance, deep: bool = False) -> list[CopyResult]:
    """Check every file of these copies in parallel, then record each copy's result."""
    return _finish(repo, _start(repo, replica_ids, pool, advance, deep, {}), run_id)


def audit_batches(repo: Repository, batches: Iterable[list[int]], pool: Executor,
                  run_id: int | None, advance: Advance,
                  deep: bool = False) -> Iterator[list[CopyResult]]:
    """Each batch's results, recorded in order, as :func:`audit_copies` would.

    The next batch is taken (loaded, or claimed by the caller's iterator) and its files are
    already being checked while this batch's results are recorded, so the catalog work of a
    batch overlaps the hashing of the next instead of leaving the cores idle between them.
    Each location's backend is opened once for the whole run (an S3 client costs ~0.1 s).
    """
    backends: dict[int, Backend] = {}
    flight: list[_Checking] = []  # the batch being recorded and the one being checked
    try:
        for ids in batches:
            flight.append(_start(repo, ids, pool, advance, deep, backends))
            if len(flight) == 2:
                yield _finish(repo, flight[0], run_id)
                flight.pop(0)
        if flight:
            yield _finish(repo, flight.pop(), run_id)
    finally:
        for checking in flight:  # stopped by an error: files not started yet are not read
            checking.cancel()


def _start(repo: Repository, replica_ids: list[int], pool: Executor, advance: Advance,
           deep: bool, backends: dict[int, Backend]) -> _Checking:
    replicas = _load(repo, replica_ids)
    for rep in replicas:
        if rep.location_id not in backends:
            backends[rep.location_id] = repo.backend(rep.location)
    groups: dict[str, list[Replica]] = {}  # the copies of one AIP in this batch
    for rep in replicas:
        groups.setdefault(rep.aip_id, []).append(rep)
    # One job per file with all its copies here; largest first (LPT scheduling), so small
    # files fill the end and no core idles at the batch's tail.
    jobs = sorted(((group, f) for group in groups.values() for f in group[0].aip.files),
                  key=lambda job: -stored_object(job[1]).size)

    def check(group: list[Replica], f: AipFile) -> list[str]:
        if deep:  # --deep: also decrypt encrypted objects and check the plaintext SHA-256
            return [check_plaintext(repo, backends[rep.location_id], f, advance)
                    for rep in group]
        return check_file([backends[rep.location_id] for rep in group], f, advance)

    found = [pool.submit(check, group, f) for group, f in jobs]
    # Listings queue behind the files: they fill the batch's tail.
    listed = [pool.submit(_unexpected, rep, backends[rep.location_id]) for rep in replicas]
    return _Checking(replica_ids, replicas, jobs, found, listed)


def _finish(repo: Repository, checking: _Checking, run_id: int | None) -> list[CopyResult]:
    replicas = checking.replicas
    results = {rep.id: CopyResult(rep.id, rep.aip_id, rep.location.name, len(rep.aip.files),
                                  sum(stored_object(f).size for f in rep.aip.files),
                                  unexpected=listed.result())
               for rep, listed in zip(replicas, checking.listed, strict=True)}
    for (group, f), found in zip(checking.jobs, checking.found, strict=True):
        for rep, outcome in zip(group, found.result(), strict=True):
            if outcome != OK:
                results[rep.id].findings.append(Finding(rep.aip_id, f.path, rep.location.name,
                                                        outcome))
    for result in results.values():
        result.findings.sort(key=lambda x: x.path)
    _record(repo, checking.ids, replicas, results, run_id)
    return [results[rep.id] for rep in replicas]


def _load(repo: Repository, ids: list[int]) -> list[Replica]:
    with repo.catalog.session() as session:
        rows = session.scalars(select(Replica).where(Replica.id.in_(ids)).options(
            selectinload(Replica.aip).selectinload(Aip.files), selectinload(Replica.location)))
        by_id = {r.id: r for r in rows}
    return [by_id[i] for i in ids if i in by_id]  # a copy deleted meanwhile is skipped


def _unexpected(rep: Replica, backend: Backend) -> list[dict]:
    known = {f.storage_key for f in rep.aip.files}
    try:
        listed = list(backend.list(rep.aip.key_prefix + "/"))
    except StorageError:
        return []  # an unreadable copy is already reported per file
    return [{"aip": rep.aip_id, "location": rep.location.name, "key": o.key}
            for o in listed if o.key not in known]


def _record(repo: Repository, ids: list[int], replicas: list[Replica],
            results: dict[int, CopyResult], run_id: int | None) -> None:
    """One transaction per batch: copy rows, queue, problems, one event per copy.

    Set-based (a statement per kind of change, not per copy), so recording a batch costs
    a few queries plus the events."""
    now = datetime.now(UTC)
    with repo.catalog.session() as session:
        # Locked first, in id order, as repair's status refresh locks its rows: two
        # transactions taking row locks in one order cannot deadlock on PostgreSQL (SQLite
        # has no FOR UPDATE; its BEGIN IMMEDIATE serialises writers anyway).
        live = set(session.scalars(select(Replica.id).where(
            Replica.id.in_([rep.id for rep in replicas])).order_by(Replica.id)
            .with_for_update()))
        replicas = [rep for rep in replicas if rep.id in live]  # deleted meanwhile: skipped
        damaged = [rep.id for rep in replicas if results[rep.id].findings]
        verified = [rep.id for rep in replicas if not results[rep.id].findings]
        if verified:
            session.execute(update(Replica).where(Replica.id.in_(verified)).values(
                status="verified", last_checked=now, last_verified=now))
        if damaged:
            session.execute(update(Replica).where(Replica.id.in_(damaged)).values(
                status="damaged", last_checked=now))
        # Audited (or gone): off the queue with any lease on it, whoever queued or claimed it.
        session.execute(delete(QueuedCopy).where(QueuedCopy.replica_id.in_(ids)))
        _update_problems(session, replicas, results, now)
        # PREMIS fixity check, one per copy and run; per-file entries only for failures.
        events.record_many(session, [events.NewEvent(
            events.FIXITY_CHECK,
            events.FAILURE if results[rep.id].findings else events.SUCCESS, repo.agent,
            aip=rep.aip_id, at=now, detail={
                "location": rep.location.name, "files": results[rep.id].files,
                "bytes": results[rep.id].bytes, "algorithm": "SHA-256", "run": run_id,
                "failures": [{"path": x.path, "problem": x.problem}
                             for x in results[rep.id].findings]})
            for rep in replicas])


def _update_problems(session: Session, replicas: list[Replica],
                     results: dict[int, CopyResult], now: datetime) -> None:
    """Open a problem row per new finding; resolve open ones the audit no longer sees."""
    copies = {(rep.aip_id, rep.location_id): rep.id for rep in replicas}
    if not copies:
        return
    open_rows = [row for row in session.scalars(select(Problem).where(
        Problem.aip_id.in_({aip for aip, _ in copies}), Problem.resolved_at.is_(None)))
        if (row.aip_id, row.location_id) in copies]
    current = {(aip, loc, x.path, x.problem) for (aip, loc), rid in copies.items()
               for x in results[rid].findings}
    gone = [row.id for row in open_rows
            if (row.aip_id, row.location_id, row.path, row.kind) not in current]
    if gone:
        session.execute(update(Problem).where(Problem.id.in_(gone)).values(
            resolved_at=now, resolution="verified by audit"))
    known = {(row.aip_id, row.location_id, row.path, row.kind) for row in open_rows}
    session.add_all(Problem(aip_id=aip, location_id=loc, path=path, kind=kind, found_at=now)
                    for aip, loc, path, kind in sorted(current - known))
