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
run keeps what it proved. Scheduled work (``--due-only``, workers) goes through
:mod:`repository.audit_queue`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import selectinload

from repository import audit_runs, events
from repository.catalog.models import Aip, AipFile, Problem, Replica
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


def priority():  # type: ignore[no-untyped-def]
    """Damaged copies first, then never-checked ones, then the least recently checked."""
    return (case((Replica.status != "verified", 0), (Replica.last_checked.is_(None), 1),
                 else_=2), Replica.last_checked, Replica.aip_id, Replica.id)


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
        for batch in _batches(ids):
            run.add(audit_copies(repo, batch, pool, run.id, advance, deep=deep))
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


def audit_copies(repo: Repository, replica_ids: list[int], pool: Executor, run_id: int | None,
                 advance: Advance, owner: str | None = None,
                 deep: bool = False) -> list[CopyResult]:
    """Check every file of these copies in parallel, then record each copy's result."""
    replicas = _load(repo, replica_ids)
    backends = {rep.location_id: repo.backend(rep.location) for rep in replicas}
    groups: dict[str, list[Replica]] = {}  # the copies of one AIP in this batch
    for rep in replicas:
        groups.setdefault(rep.aip_id, []).append(rep)
    # One job per file with all its copies here; largest first (LPT scheduling), so small
    # files fill the end and no core idles at the batch's tail.
    jobs = sorted(((group, f) for group in groups.values() for f in group[0].aip.files),
                  key=lambda job: -stored_object(job[1]).size)

    def check(job: tuple[list[Replica], AipFile]) -> list[str]:
        group, f = job
        if deep:  # --deep: also decrypt encrypted objects and check the plaintext SHA-256
            return [check_plaintext(repo, backends[rep.location_id], f, advance)
                    for rep in group]
        return check_file([backends[rep.location_id] for rep in group], f, advance)

    outcomes = [(rep, f, outcome) for (group, f), found in zip(jobs, pool.map(check, jobs),
                                                               strict=True)
                for rep, outcome in zip(group, found, strict=True)]
    listed = list(pool.map(lambda rep: _unexpected(rep, backends[rep.location_id]), replicas))
    results = {rep.id: CopyResult(rep.id, rep.aip_id, rep.location.name, len(rep.aip.files),
                                  sum(stored_object(f).size for f in rep.aip.files),
                                  unexpected=extra)
               for rep, extra in zip(replicas, listed, strict=True)}
    for rep, f, outcome in outcomes:
        if outcome != OK:
            results[rep.id].findings.append(Finding(rep.aip_id, f.path, rep.location.name,
                                                    outcome))
    for result in results.values():
        result.findings.sort(key=lambda x: x.path)
    _record(repo, replicas, results, run_id, owner)
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


def _record(repo: Repository, replicas: list[Replica], results: dict[int, CopyResult],
            run_id: int | None, owner: str | None) -> None:
    now = datetime.now(UTC)
    with repo.catalog.session() as session:
        for rep in replicas:
            row = session.get(Replica, rep.id)
            if row is None:
                continue
            result = results[rep.id]
            found = result.findings
            row.last_checked, row.queued_at = now, None
            if owner is None or row.lease_owner in (None, owner):
                row.lease_owner, row.lease_until = None, None
            row.status = "damaged" if found else "verified"
            if not found:
                row.last_verified = now
            _update_problems(session, rep, found, now)
            # PREMIS fixity check, one per copy and run; per-file entries only for failures.
            events.record(session, events.FIXITY_CHECK,
                          events.FAILURE if found else events.SUCCESS, repo.agent,
                          aip=rep.aip_id, at=now, detail={
                              "location": rep.location.name, "files": result.files,
                              "bytes": result.bytes, "algorithm": "SHA-256", "run": run_id,
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

