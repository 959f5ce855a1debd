"""The scheduler: one active per catalog (advisory lock / file lock), jobs persisted in the
catalog, missed runs made up, and what each job does (both catalogs)."""

from __future__ import annotations

import logging
import select as io_select
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from sqlalchemy import func, select, update

from repository import scheduler as sched
from repository.catalog.models import Aip, AuditRun, Checkpoint
from repository.context import open_repository
from repository.scheduler import Scheduler, jobs_in_store, status
from tests.helpers.holdings import synthetic_holding

JOBS = {"fixity-slice", "declassification", "replication-catch-up", "checkpoint"}


def test_a_second_scheduler_stays_passive_until_the_first_stops(khoso, repo) -> None:  # type: ignore[no-untyped-def]
    other = open_repository(str(khoso.home))  # another process's connections
    first, second = Scheduler(repo), Scheduler(other)
    try:
        assert first.start(watch=False) is True
        assert second.start(watch=False) is False
        second.poll()
        assert second.active is False
        assert status(other)["active_scheduler"] is True
        assert {j["id"] for j in jobs_in_store(other)} == JOBS
        assert all(j["next_run_time"] for j in jobs_in_store(other))
        first.stop()
        second.poll()  # the standby's next look at the lock
        assert second.active is True
    finally:
        first.stop()
        second.stop()
        other.close()
    assert status(repo)["active_scheduler"] is False


def test_a_run_missed_while_no_scheduler_was_up_is_made_up(khoso, repo) -> None:  # type: ignore[no-untyped-def]
    first = Scheduler(repo)
    first.start(watch=False)
    first.stop()
    synthetic_holding(repo, aips=1)  # new events since the last checkpoint (none yet)
    # While no scheduler runs, the checkpoint job's time passes: its stored state and index
    # column say it was due an hour ago (what the clock does to a stopped scheduler).
    store = SQLAlchemyJobStore(engine=repo.catalog.engine, tablename=sched.JOBS_TABLE)
    job = store.lookup_job("checkpoint")
    job.next_run_time = datetime.now(UTC) - timedelta(hours=1)
    store.update_job(job)
    again = Scheduler(repo)
    try:
        again.start(watch=False)
        deadline = time.monotonic() + 30
        while _checkpoints(repo) == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        again.stop()
    assert _checkpoints(repo) == 1


def _checkpoints(repo) -> int:  # type: ignore[no-untyped-def]
    with repo.catalog.session() as session:
        return session.scalar(select(func.count(Checkpoint.id))) or 0


def test_jobs_audit_declassify_and_checkpoint_on_the_active_scheduler(  # type: ignore[no-untyped-def]
        khoso, repo, caplog) -> None:
    aips = synthetic_holding(repo, aips=2, checked_ago=timedelta(days=120))
    [single] = synthetic_holding(repo, aips=1, locations=("local",), seed=9)  # one copy short
    with repo.catalog.session() as session:
        session.execute(update(Aip).where(Aip.id == aips[0]).values(
            classification="secret", protect_until=date(2020, 1, 1)))
    active = Scheduler(repo)
    active.start(watch=False)
    try:
        caplog.set_level(logging.INFO, logger="khoso.scheduler")
        sched.job_fixity_slice()
        sched.job_declassification()
        sched.job_replication_catch_up()
        sched.job_checkpoint()
    finally:
        active.stop()
    with repo.catalog.session() as session:
        run = session.scalars(select(AuditRun)).one()
        assert (run.kind, run.copies, run.problems) == ("scheduled", 4, 0)
        assert session.get(Aip, aips[0]).classification == "unclassified"
    shown = khoso.json("aip", "show", aips[0])
    assert any(e["type"] == "declassification" for e in shown["events"])
    assert khoso.json("log", "verify")["checkpoints"]["count"] >= 1
    assert "replication catch-up" in caplog.text
    copies = {r["location"]: r["status"] for r in khoso.json("aip", "show", single)["replicas"]}
    assert copies == {"local": "verified", "offsite": "verified"}


def _line(proc: subprocess.Popen[str], wanted: tuple[str, ...], seconds: float = 60) -> str:
    """The first stderr line of ``proc`` containing one of ``wanted``."""
    deadline = time.monotonic() + seconds
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        ready, _, _ = io_select.select([proc.stderr], [], [], 0.5)
        if ready:
            line = proc.stderr.readline()
            if any(w in line for w in wanted):
                return line
            if not line and proc.poll() is not None:
                break
    raise AssertionError(f"no line with {wanted} from {proc.args}")


def test_khoso_scheduler_processes_one_active_one_standing_by(khoso) -> None:  # type: ignore[no-untyped-def]
    exe = str(Path(sys.executable).with_name("khoso"))
    first = subprocess.Popen([exe, "scheduler"], stderr=subprocess.PIPE, text=True)
    second = None
    try:
        assert "scheduler active" in _line(first, ("scheduler active", "passive"))
        second = subprocess.Popen([exe, "scheduler"], stderr=subprocess.PIPE, text=True)
        assert "passive" in _line(second, ("scheduler active", "passive"))
        assert khoso.json("scheduler", "--status")["active_scheduler"] is True
    finally:
        for proc in (first, second):
            if proc is not None:
                proc.send_signal(signal.SIGTERM)
    assert first.wait(timeout=30) == 0 and second is not None and second.wait(timeout=30) == 0
    assert khoso.json("scheduler", "--status")["active_scheduler"] is False
