"""The scheduler: daily fixity slices, declassification, replication catch-up, checkpoints.

It runs inside ``khoso serve`` or alone as ``khoso scheduler``, on APScheduler 3.11 with its
jobs persisted in the catalog (``SQLAlchemyJobStore``, table ``apscheduler_jobs``), so a run
missed while no scheduler was up is made up when one starts (coalesced into one run).

Two schedulers on one job store would both run every job (INFRA.md), so exactly one is
*active*: the one holding the leader lock, a PostgreSQL advisory lock on the catalog (held by
one open connection, released if the process dies) or, on SQLite, an exclusive ``flock`` on
``HOME/scheduler.lock``. The others stay *passive* and retry every ``standby_poll_seconds``;
the active one checks the same interval that it still holds the lock, and goes passive if not.
The audit work itself is shared with ``khoso worker`` processes through the claim queue.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from repository.context import Repository
from repository.leader import LeaderLock, leader_lock

log = logging.getLogger("khoso.scheduler")
JOBS_TABLE = "apscheduler_jobs"

_active_repo: Repository | None = None  # the repository the active scheduler's jobs work on
_stopping = threading.Event()  # set on stop: a running fixity job ends after its batch


def _repo() -> Repository:
    if _active_repo is None:
        raise RuntimeError("no active khoso scheduler in this process")
    return _active_repo


# Jobs are module-level functions: the job store keeps them as "module:function" references.
def job_fixity_slice() -> None:
    from repository.audit_queue import drain, owner_name, plan_slice

    repo = _repo()
    planned = plan_slice(repo)
    log.info("fixity: today's slice queued %s copies (%s mandatory)", planned["queued"],
             planned["mandatory"])
    result = drain(repo, owner_name("scheduler"), kind="scheduled", stop=_stopping.is_set)
    log.info("fixity: run %s audited %s copies, %s problem(s)", result["run"],
             result["replicas"], len(result["problems"]))


def job_declassification() -> None:
    from repository.declassify import declassify_expired

    done = declassify_expired(_repo())
    log.info("declassification: %s record(s) declassified", len(done["declassified"]))


def job_replication_catch_up() -> None:
    """Bring every AIP up to the replication policy (copies missing from a location)."""
    try:
        from repository.replicate_service import replicate
    except ImportError:  # a khoso without the replication service: say so, do not fail
        log.warning("replication catch-up skipped: repository.replicate_service.replicate "
                    "is not available in this khoso")
        return
    result = replicate(_repo())
    log.info("replication catch-up: %s", {k: (len(v) if isinstance(v, list) else v)
                                          for k, v in result.items()})


def job_checkpoint() -> None:
    from repository.checkpoints import write_checkpoint

    done = write_checkpoint(_repo())
    if done:
        log.info("checkpoint at event %s signed", done["statement"]["seq"])


def planned_jobs(repo: Repository) -> dict[str, tuple[Callable[[], None], Any]]:
    """Job id → (function, trigger), from policies/schedules.yaml."""
    pol = repo.policies.schedules

    def daily(at: str) -> CronTrigger:
        hour, minute = at.split(":")
        return CronTrigger(hour=int(hour), minute=int(minute), timezone=pol.timezone)

    return {
        "fixity-slice": (job_fixity_slice, daily(pol.fixity.daily_at)),
        "declassification": (job_declassification, daily(pol.declassification.daily_at)),
        "replication-catch-up": (job_replication_catch_up,
                                 IntervalTrigger(minutes=pol.replication.every_minutes,
                                                 timezone=pol.timezone)),
        "checkpoint": (job_checkpoint, IntervalTrigger(hours=pol.checkpoint.every_hours,
                                                       timezone=pol.timezone)),
    }


def _same_trigger(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, IntervalTrigger):
        return a.interval == b.interval and str(a.timezone) == str(b.timezone)
    return str(a) == str(b) and str(a.timezone) == str(b.timezone)


class Scheduler:
    """One scheduler process's state: passive until it holds the leader lock."""

    def __init__(self, repo: Repository, lock: LeaderLock | None = None) -> None:
        self.repo = repo
        self.lock = lock or leader_lock(repo)
        self._aps: BackgroundScheduler | None = None
        self._stop = threading.Event()
        self._watch: threading.Thread | None = None
        self._said_passive = False

    @property
    def active(self) -> bool:
        return self._aps is not None

    def start(self, *, watch: bool = True) -> bool:
        """Become active if no other scheduler is; otherwise stand by. Returns ``active``."""
        self.poll()
        if watch and self._watch is None:
            self._watch = threading.Thread(target=self._standby, name="khoso-scheduler-lock",
                                           daemon=True)
            self._watch.start()
        return self.active

    def poll(self) -> None:
        """Take the lock if it is free; give up activity if the lock was lost."""
        if self.active:
            if not self.lock.still_held():
                log.error("scheduler lost its lock (%s): going passive", self.lock.describe())
                self._deactivate()
        elif self.lock.acquire():
            self._activate()
        elif not self._said_passive:  # once, not at every poll
            self._said_passive = True
            log.info("scheduler passive: another scheduler holds %s", self.lock.describe())

    def _standby(self) -> None:
        while not self._stop.wait(self.repo.policies.schedules.standby_poll_seconds):
            try:
                self.poll()
            except Exception:  # keep standing by whatever one poll hit (e.g. catalog restart)
                log.exception("scheduler lock poll failed")

    def _activate(self) -> None:
        global _active_repo
        pol = self.repo.policies.schedules
        aps = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=self.repo.catalog.engine,
                                                     tablename=JOBS_TABLE)},
            job_defaults={"coalesce": True, "max_instances": 1,
                          "misfire_grace_time": 24 * 3600},
            executors={"default": {"type": "threadpool", "max_workers": 2}},
            timezone=pol.timezone)
        aps.start(paused=True)
        for job_id, (func, trigger) in planned_jobs(self.repo).items():
            existing = aps.get_job(job_id)
            # Keep a stored job whose schedule did not change: its next run time survives
            # restarts, so a run missed while no scheduler was active is made up now.
            if existing is None or not _same_trigger(existing.trigger, trigger):
                aps.add_job(func, trigger, id=job_id, name=job_id, replace_existing=True)
        _active_repo = self.repo
        _stopping.clear()
        self._aps = aps
        self._said_passive = False
        aps.resume()
        log.info("scheduler active (%s): %s", self.lock.describe(),
                 ", ".join(f"{j.id} next {j.next_run_time}" for j in aps.get_jobs()))

    def _deactivate(self) -> None:
        global _active_repo
        if self._aps is not None:
            self._aps.shutdown(wait=False)
            self._aps = None
        if _active_repo is self.repo:
            _active_repo = None

    def jobs(self) -> list[dict]:
        return jobs_in_store(self.repo)

    def stop(self) -> None:
        self._stop.set()
        if self._aps is not None:
            _stopping.set()  # a running fixity job finishes its batch, then returns
            self._aps.shutdown(wait=True)
            self._aps = None
        self._deactivate()
        self.lock.release()


def jobs_in_store(repo: Repository) -> list[dict]:
    """The persisted jobs and their next run times (no scheduler needs to be running)."""
    store = SQLAlchemyJobStore(engine=repo.catalog.engine, tablename=JOBS_TABLE)
    out = []
    for job in store.get_all_jobs():
        out.append({"id": job.id, "next_run_time": job.next_run_time.isoformat()
                    if job.next_run_time else None, "trigger": str(job.trigger)})
    return out


def status(repo: Repository) -> dict:
    """Whether some scheduler is active on this catalog/home, and the stored jobs."""
    probe = leader_lock(repo)
    free = probe.acquire()
    if free:
        probe.release()
    return {"active_scheduler": not free, "lock": probe.describe(), "jobs": jobs_in_store(repo)}


# Hooks for ``khoso serve`` (repository/api/app.py STARTUP/SHUTDOWN).
def start_in_app(app: Any, repo: Repository) -> None:
    app.state.scheduler = Scheduler(repo)
    app.state.scheduler.start()


def stop_in_app(app: Any, repo: Repository) -> None:
    scheduler = getattr(app.state, "scheduler", None)
    if scheduler is not None:
        scheduler.stop()
