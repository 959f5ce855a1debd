"""Scheduled fixity work: a daily slice of copies is queued, and workers claim it copy by copy.

Rule (``policies/schedules.yaml``, ``fixity``): every copy is verified at least every
``verify_every_days`` days (default 90; TT 05/2025/TT-BNV: the whole holding within 3 years).
The work is spread over the days of that window (borg's and LOCKSS's habit of checking a
little every day rather than everything at once):

* the daily quota is ``ceil(copies / verify_every_days)``;
* damaged, never-checked and overdue copies are always queued, whatever the quota;
* the least recently checked copies fill the rest of the quota;
* copies checked today (by an audit, or by ingest's read-back) or already queued count
  towards the quota, so planning twice on one day queues nothing new.

A queued copy has a row in ``audit_queue`` until an audit of it is recorded (queueing
inserts small rows instead of rewriting copy rows and their indexes: a day's slice of a
catalog of a million files is queued in tens of milliseconds). A worker claims a few at a
time with ``SELECT … FOR UPDATE SKIP LOCKED`` (PostgreSQL: concurrent workers skip each
other's rows; SQLite: the claim transaction is serialised by ``BEGIN IMMEDIATE``) and marks
them with a lease (``lease_owner``, ``lease_until``), so two workers never audit the same copy
while the lease holds, and a crashed worker's copies are taken over when it expires. While a
worker drains, a :class:`LeaseKeeper` thread renews its leases every third of the lease time,
so a batch of very large AIPs is never taken over from a worker that is still reading it.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, case, exists, func, literal, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from repository import audit_runs
from repository.audit import CopyResult, audit_batches, pool_for
from repository.catalog.models import Aip, AipFile, QueuedCopy, Replica, UTCDateTime
from repository.context import Repository
from repository.errors import KhosoError, NotFound
from repository.progress import NoProgress, Progress

EMPTY = {"checked": 0, "bytes": 0, "replicas": 0, "problems": [], "unexpected": [],
         "run": None, "checkpoint": None}


def owner_name(role: str) -> str:
    return f"{role}@{socket.gethostname()}:{os.getpid()}"


def day_start(repo: Repository, now: datetime) -> datetime:
    """Midnight of ``now``'s day in the schedule's time zone, in UTC."""
    local = now.astimezone(ZoneInfo(repo.policies.schedules.timezone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def plan_slice(repo: Repository, now: datetime | None = None,
               aip_id: str | None = None) -> dict:
    """Queue today's slice (only the due copies of one AIP when ``aip_id`` is given).

    Two INSERT … SELECT statements do the work in the database, so choosing and queueing
    the slice stays fast on a catalog of millions of files (scripts/bench/catalog_scale.py).
    """
    days = repo.policies.schedules.fixity.verify_every_days
    now = now or datetime.now(UTC)
    day0, cutoff = day_start(repo, now), now - timedelta(days=days)
    not_today = or_(Replica.last_checked.is_(None), Replica.last_checked < day0)
    with repo.catalog.session() as session:
        if aip_id is not None and session.get(Aip, aip_id) is None:
            raise NotFound(kind="AIP", name=aip_id)
        stats = _counts(session, day0)
        # "status != verified" written as two ranges so that every arm of the OR can use an
        # index (PostgreSQL combines them with a bitmap OR instead of scanning every copy).
        must = _due(now).where(
            not_today, or_(Replica.status < "verified", Replica.status > "verified",
                           Replica.last_checked.is_(None), Replica.last_checked < cutoff))
        if aip_id is not None:
            must = must.where(Replica.aip_id == aip_id)
        stats["mandatory"] = _enqueue(session, must)
        stats["quota"] = math.ceil(stats["copies"] / days)
        queued = stats["mandatory"]
        room = stats["quota"] - stats["done_today"] - stats["already_queued"] - queued
        if aip_id is None and room > 0:
            oldest = (_due(now).where(Replica.status == "verified",
                                      Replica.last_checked >= cutoff,
                                      Replica.last_checked < day0)
                      .order_by(Replica.last_checked, Replica.id).limit(room))
            queued += _enqueue(session, oldest)
    return {"queued": queued, **stats}


_URGENCY = case((Replica.status != "verified", 0), (Replica.last_checked.is_(None), 1), else_=2)
_QUEUE_COLUMNS = ["replica_id", "aip_id", "urgency", "last_checked", "queued_at"]


def _due(now: datetime) -> Select:
    """Copies not queued yet, as ``audit_queue`` rows queued at ``now``."""
    return select(Replica.id, Replica.aip_id, _URGENCY, Replica.last_checked,
                  literal(now, UTCDateTime)).where(
        ~exists().where(QueuedCopy.replica_id == Replica.id))


def _enqueue(session: Session, rows: Select) -> int:
    """INSERT … SELECT; a copy another planner queued meanwhile is skipped, not an error."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = (insert(QueuedCopy).from_select(_QUEUE_COLUMNS, rows).on_conflict_do_nothing()
                 .execution_options(preserve_rowcount=True))  # an INSERT's count is opt-in
    return session.execute(statement).rowcount or 0


def _counts(session: Session, day0: datetime) -> dict:
    def count(column, *where) -> int:  # type: ignore[no-untyped-def]
        return int(session.scalar(select(func.count(column)).where(*where)) or 0)

    # Separate counts: the last two are an index range scan and a count of a small table.
    return {"copies": count(Replica.id), "done_today": count(Replica.id,
                                                             Replica.last_checked >= day0),
            "already_queued": count(QueuedCopy.replica_id)}


def claim(repo: Repository, owner: str, limit: int, now: datetime | None = None,
          aip_id: str | None = None) -> list[int]:
    """Lease up to ``limit`` queued copies to ``owner``; concurrent claimers get other rows.

    Damaged copies first, then never-checked ones, then the least recently checked; one AIP's
    copies together (``ix_audit_queue_order`` gives this order without a sort)."""
    now = now or datetime.now(UTC)
    lease = timedelta(minutes=repo.policies.schedules.fixity.lease_minutes)
    query = (select(QueuedCopy.replica_id)
             .where(or_(QueuedCopy.lease_until.is_(None), QueuedCopy.lease_until < now))
             .order_by(QueuedCopy.urgency, QueuedCopy.last_checked, QueuedCopy.aip_id,
                       QueuedCopy.replica_id).limit(limit)
             .with_for_update(skip_locked=True))
    if aip_id is not None:
        query = query.where(QueuedCopy.aip_id == aip_id)
    with repo.catalog.session() as session:
        ids = list(session.scalars(query))
        if ids:
            session.execute(update(QueuedCopy).where(QueuedCopy.replica_id.in_(ids))
                            .values(lease_owner=owner, lease_until=now + lease))
    return ids


def renew_leases(repo: Repository, owner: str, now: datetime | None = None) -> int:
    """Extend every lease ``owner`` still holds by a full lease time; returns how many."""
    now = now or datetime.now(UTC)
    lease = timedelta(minutes=repo.policies.schedules.fixity.lease_minutes)
    with repo.catalog.session() as session:
        result = session.execute(update(QueuedCopy).where(QueuedCopy.lease_owner == owner)
                                 .values(lease_until=now + lease))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


class LeaseKeeper:
    """Renews ``owner``'s leases every ``every`` seconds until stopped (a daemon thread).

    Only rows the owner still holds are touched: a copy whose audit was recorded has left the
    queue, and one another worker took over after an expiry has another owner."""

    def __init__(self, repo: Repository, owner: str, every: float | None = None) -> None:
        minutes = repo.policies.schedules.fixity.lease_minutes
        self.repo, self.owner = repo, owner
        self.every = every if every is not None else minutes * 60 / 3
        self.renewals = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-keeper-{owner}",
                                        daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            # A failed renewal is retried next time; the lease still has two thirds left.
            with contextlib.suppress(KhosoError, SQLAlchemyError, OSError):
                renew_leases(self.repo, self.owner)
                self.renewals += 1

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def queued_bytes(repo: Repository) -> int:
    stored = func.coalesce(AipFile.stored_size, AipFile.size)
    with repo.catalog.session() as session:
        return int(session.scalar(
            select(func.sum(stored)).select_from(QueuedCopy)
            .join(AipFile, AipFile.aip_id == QueuedCopy.aip_id)) or 0)


def drain(repo: Repository, owner: str, *, kind: str = "worker", batch: int | None = None,
          progress: Progress | None = None, workers: int | None = None,
          stop: Callable[[], bool] | None = None, aip_id: str | None = None,
          on_batch: Callable[[list[CopyResult]], None] | None = None,
          renew_every: float | None = None) -> dict:
    """Claim and audit queued copies until none is left (or ``stop()`` says so).

    The next batch is claimed and checked while the previous one is recorded
    (:func:`repository.audit.audit_batches`); after ``stop()`` only batches already claimed
    are finished."""
    batch = batch or repo.policies.schedules.fixity.claim_batch
    run: audit_runs.Run | None = None

    def claimed() -> Iterator[list[int]]:
        nonlocal run
        while not (stop and stop()):
            ids = claim(repo, owner, batch, aip_id=aip_id)
            if not ids:
                return
            run = run or audit_runs.start(repo, kind, owner)
            yield ids

    try:
        with LeaseKeeper(repo, owner, renew_every), pool_for(workers) as pool, \
                (progress or NoProgress()).task("auditing", queued_bytes(repo)) as advance:
            batches = claimed()
            first = next(batches, None)
            if first is not None:
                assert run is not None
                for results in audit_batches(repo, itertools.chain([first], batches), pool,
                                             run.id, advance):
                    run.add(results)
                    if on_batch is not None:
                        on_batch(results)
    finally:
        if run is not None:
            audit_runs.finish(repo, run)
    return run.summary() if run is not None else dict(EMPTY)


def audit_due(repo: Repository, progress: Progress | None = None, workers: int | None = None,
              aip_id: str | None = None) -> dict:
    """``khoso audit --due-only``: queue today's slice, then work through it in this process."""
    planned = plan_slice(repo, aip_id=aip_id)
    result = drain(repo, owner_name("audit"), kind="due", progress=progress, workers=workers,
                   aip_id=aip_id)
    return result | {"slice": planned}
