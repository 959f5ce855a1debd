"""``khoso replicate``: bring every AIP up to the replication policy (e.g. after a location is
added), or put copies on one named location (``--to``).

For each copy to make, every object is streamed from a verified copy (hashed on the way), put
into the new location and read back (storage/replicate.py ``copy_object``); only when every
object of the AIP is there and verified is the ``replicas`` row written, with its
``replication`` event, in one transaction (the write order of docs/design.md). A copy is
recorded as soon as it is complete, so a run that is killed keeps what it finished; objects
of an unfinished copy stay where they are and the next run reads them back instead of
copying them again (resumable). Objects are copied by a pool of workers (many small files
are latency-bound); objects over ``BIG`` bytes go at most two at a time so memory stays flat.
Encrypted objects are copied as ciphertext, byte for byte: no key is needed to replicate.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from repository import events
from repository.catalog.models import Aip, AipFile, Location, Replica
from repository.context import Repository
from repository.errors import KhosoError, NotFound, PolicyRefused
from repository.objects import STORED_COLUMNS, stored_object
from repository.placement import check_may_hold, choose_locations
from repository.progress import NoProgress, Progress
from repository.staging import run_lock
from storage.backend import Backend
from storage.replicate import COPIED, StoredObject, copy_object

BIG = 32 << 20
BIG_AT_ONCE = 2
# Small objects are latency-bound (a PUT and a read-back GET each): on the loopback benchmark
# 16 workers copied ~7 % faster than 8 and 32 no faster than 16 (docs/benchmarks.md).
DEFAULT_WORKERS = 16


@dataclass
class Copy:
    """One copy to make: every object of an AIP into one location."""

    aip: str
    prefix: str
    target: Location
    sources: list[Location]
    objects: list[tuple[str, StoredObject]]  # (logical path, object)
    copied: int = 0
    present: int = 0
    bytes: int = 0
    failures: list[dict] = field(default_factory=list)
    left: int = 0


def replicate(repo: Repository, aip_id: str | None = None, to: str | None = None,
              workers: int = DEFAULT_WORKERS, dry_run: bool = False,
              progress: Progress | None = None) -> dict:
    progress = progress or NoProgress()
    copies, refused, at_policy, considered = _plan(repo, aip_id, to)
    result: dict = {"aips": considered, "at_policy": at_policy, "copies_needed": len(copies),
                    "dry_run": dry_run, "added": [], "refused": refused, "failed": []}
    if dry_run:
        result["plan"] = [{"aip": c.aip, "location": c.target.name,
                           "sources": [s.name for s in c.sources], "objects": len(c.objects),
                           "bytes": sum(o.size for _, o in c.objects)} for c in copies]
        return result
    # Shared with other replicate runs; storage fsck --fix waits for none of them and
    # keeps what they may be writing (repository/staging.py run_lock).
    with run_lock(repo.settings.staging, "replicate", shared=True):
        _run(repo, copies, workers, progress, result)
    return result


# -- planning --------------------------------------------------------------------------------

def _plan(repo: Repository, aip_id: str | None,
          to: str | None) -> tuple[list[Copy], list[dict], int, int]:
    with repo.catalog.session() as session:
        locations = list(session.scalars(select(Location).order_by(Location.id)))
        # Files are loaded below, as plain rows, only for the AIPs that need a copy: a home
        # at policy plans without reading its (maybe millions of) file rows.
        query = (select(Aip).options(selectinload(Aip.replicas).selectinload(Replica.location))
                 .order_by(Aip.created_at, Aip.id))
        if aip_id is not None:
            if session.get(Aip, aip_id) is None:
                raise NotFound(kind="AIP", name=aip_id)
            query = query.where(Aip.id == aip_id)
        aips = list(session.scalars(query))
    target = None
    if to is not None:
        target = next((loc for loc in locations if loc.name == to), None)
        if target is None:
            raise NotFound(kind="storage location", name=to)
    needed: list[tuple[Aip, list[Location], list[Location]]] = []
    refused: list[dict] = []
    at_policy = 0
    for aip in aips:
        level = repo.policies.level(aip.classification)
        have = [r.location for r in aip.replicas]
        try:
            if target is not None:
                if any(loc.id == target.id for loc in have):
                    at_policy += 1
                    continue
                check_may_hold(repo.policies, target, level)
                adds = [target]
            else:
                adds = choose_locations(repo.policies, locations, level, have)
        except PolicyRefused as exc:
            refused.append({"aip": aip.id, "rule": exc.kwargs.get("rule"),
                            "reason": exc.kwargs.get("reason")})
            if target is not None:
                _record_refusal(repo, aip.id, target, exc)
            continue
        if not adds:
            at_policy += 1
            continue
        # Local disks first (cheapest to read), then the most recently verified copies.
        sources = [r.location for r in sorted(
            (r for r in aip.replicas if r.status == "verified"),
            key=lambda r: (not r.location.url.startswith("file:"),
                           -(r.last_verified or r.stored_at).timestamp()))]
        needed.append((aip, adds, sources))
    objects = _objects_of(repo, [aip.id for aip, _, _ in needed])
    copies = [Copy(aip.id, aip.key_prefix, loc, sources, objects.get(aip.id, []))
              for aip, adds, sources in needed for loc in adds]
    return copies, refused, at_policy, len(aips)


def _objects_of(repo: Repository, aip_ids: list[str],
                chunk: int = 500) -> dict[str, list[tuple[str, StoredObject]]]:
    """Each AIP's (path, stored object) in catalog order, from plain rows."""
    found: dict[str, list[tuple[str, StoredObject]]] = {}
    with repo.catalog.session() as session:
        for start in range(0, len(aip_ids), chunk):
            rows = session.execute(
                select(AipFile.aip_id, AipFile.path, *STORED_COLUMNS)
                .where(AipFile.aip_id.in_(aip_ids[start:start + chunk]))
                .order_by(AipFile.aip_id, AipFile.id))
            for row in rows:
                found.setdefault(row.aip_id, []).append((row.path, stored_object(row)))
    return found


def _record_refusal(repo: Repository, aip_id: str, target: Location, exc: PolicyRefused) -> None:
    with repo.catalog.session() as session:
        events.record(session, events.REPLICATION, events.FAILURE, repo.agent, aip=aip_id,
                      detail={"location": target.name, "refused": exc.kwargs.get("rule"),
                              "reason": exc.kwargs.get("reason")})


# -- copying ---------------------------------------------------------------------------------

def _run(repo: Repository, copies: list[Copy], workers: int, progress: Progress,
         result: dict) -> None:
    backends: dict[int, Backend] = {}
    for copy in copies:
        for loc in (copy.target, *copy.sources):
            if loc.id not in backends:
                backends[loc.id] = repo.backend(loc)
    runnable = []
    for copy in copies:
        if not copy.sources:
            copy.failures.append({"path": None, "problem": "no verified copy to copy from; "
                                  "run 'khoso audit' and 'khoso repair' first"})
            _finish(repo, copy, result)
        else:
            runnable.append(copy)
    total_objects = sum(len(c.objects) for c in runnable)
    total_bytes = sum(o.size for c in runnable for _, o in c.objects)
    big = threading.Semaphore(BIG_AT_ONCE)
    unreachable: set[str] = set()  # sources that did not answer: not asked again this run
    with progress.task("objects", total_objects) as one_more, \
            progress.task("bytes", total_bytes) as advance:

        def job(copy: Copy, path: str, obj: StoredObject, present: bool | None) -> str:
            sources = [backends[s.id] for s in copy.sources]
            target = backends[copy.target.id]
            if obj.size > BIG:
                with big:
                    return copy_object(sources, target, obj, present=present, on_bytes=advance,
                                       unreachable=unreachable)
            return copy_object(sources, target, obj, present=present, on_bytes=advance,
                               unreachable=unreachable)

        for (copy, path, obj), outcome in _bounded(workers, _jobs(runnable, backends), job):
            if isinstance(outcome, KhosoError):
                copy.failures.append({"path": path, "problem": str(outcome)})
            elif isinstance(outcome, BaseException):
                raise outcome
            elif outcome == COPIED:
                copy.copied += 1
                copy.bytes += obj.size
            else:
                copy.present += 1
            one_more(1)
            copy.left -= 1
            if copy.left == 0:
                _finish(repo, copy, result)


def _jobs(copies: list[Copy],
          backends: dict[int, Backend]) -> Iterator[tuple[Copy, str, StoredObject, bool | None]]:
    for copy in copies:
        copy.left = len(copy.objects)
        known = _listed(backends[copy.target.id], copy.prefix)
        for path, obj in copy.objects:
            # One LIST per copy instead of a HEAD per object; keys outside the AIP's prefix
            # (files shared with an earlier version) are asked one by one.
            inside = known is not None and obj.key.startswith(copy.prefix + "/")
            yield copy, path, obj, (obj.key in known) if inside and known is not None else None


def _listed(backend: Backend, prefix: str) -> set[str] | None:
    try:
        return {o.key for o in backend.list(prefix + "/")}
    except KhosoError:
        return None  # each object is asked for itself (and fails there if unreachable)


_WORKER_DONE = object()


def _bounded(workers: int, jobs: Iterable[tuple[Copy, str, StoredObject, bool | None]],
             run: Callable[[Copy, str, StoredObject, bool | None], str],
             ) -> Iterator[tuple[tuple[Copy, str, StoredObject], str | BaseException]]:
    """Run jobs on ``workers`` threads; yield each job with its result, or the exception it
    raised, as it completes.

    Each worker takes the next job itself, at most ``workers * 4`` taken and not yet handed
    to the caller (memory flat in the number of objects), and a finished job costs one queue
    put and get: no futures, no waiting on all pending ones (that bookkeeping cost as much
    CPU under the GIL as copying a small object). When the caller stops early, or the job
    list itself fails, no new job starts and the running ones are waited for.
    """
    it = iter(jobs)
    take = threading.Lock()
    slots = threading.Semaphore(workers * 4)
    finished: queue.SimpleQueue = queue.SimpleQueue()
    stop = threading.Event()

    def work() -> None:
        while slots.acquire() and not stop.is_set():
            with take:
                try:
                    nxt = next(it, None)
                except BaseException as exc:  # the job list failed: the caller raises it
                    finished.put((None, exc))
                    nxt = None
            if nxt is None:
                break
            copy, path, obj, present = nxt
            try:
                outcome: str | BaseException = run(copy, path, obj, present)
            except BaseException as exc:
                outcome = exc
            finished.put(((copy, path, obj), outcome))
        finished.put(_WORKER_DONE)

    threads = [threading.Thread(target=work, name=f"replicate-{n}", daemon=True)
               for n in range(workers)]
    for thread in threads:
        thread.start()
    try:
        running = len(threads)
        while running:
            item = finished.get()
            if item is _WORKER_DONE:
                running -= 1
                continue
            job, outcome = item
            if job is None:
                raise outcome
            yield job, outcome
            slots.release()
    finally:
        stop.set()
        for _ in threads:
            slots.release()  # wake the workers waiting for a slot: they see ``stop``
        for thread in threads:
            thread.join()


def _finish(repo: Repository, copy: Copy, result: dict) -> None:
    now = datetime.now(UTC)
    loc = copy.target
    if copy.failures:
        with repo.catalog.session() as session:
            events.record(session, events.REPLICATION, events.FAILURE, repo.agent,
                          aip=copy.aip, at=now, detail={
                              "location": loc.name, "failures": copy.failures[:20],
                              "failed_objects": len(copy.failures)})
        result["failed"].append({"aip": copy.aip, "location": loc.name,
                                 "objects": copy.failures})
        return
    try:
        with repo.catalog.session() as session:
            session.add(Replica(aip_id=copy.aip, location_id=loc.id, status="verified",
                                stored_at=now, last_verified=now, last_checked=now))
            events.record(session, events.REPLICATION, events.SUCCESS, repo.agent,
                          aip=copy.aip, at=now, detail={
                              "location": loc.name, "objects": len(copy.objects),
                              "copied": copy.copied, "already_present": copy.present,
                              "bytes": copy.bytes, "verified": "read back, SHA-256"})
    except IntegrityError:
        return  # another run recorded this copy first (or the AIP is gone)
    result["added"].append({"aip": copy.aip, "location": loc.name, "objects": len(copy.objects),
                            "copied": copy.copied, "present": copy.present,
                            "bytes": copy.bytes})

