"""The worker pool of ``khoso replicate`` (repository/replicate_service.py ``_bounded``): every
job runs once, at most ``workers`` at a time, failures come back as outcomes, and when the job
list or the caller stops, no new job starts and no worker is left running."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from repository.replicate_service import _bounded


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.started: list[str] = []

    def __call__(self, copy: object, path: str, obj: object, present: object) -> str:
        with self.lock:
            self.started.append(path)
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.001)
        with self.lock:
            self.running -= 1
        if path.endswith("!"):
            raise ValueError(f"{path} failed")
        return f"done {path}"


def jobs(n: int, fail_at: int | None = None) -> Iterator[tuple]:
    for i in range(n):
        if i == fail_at:
            raise RuntimeError("the job list broke")
        yield None, f"f{i}" + ("!" if i % 7 == 3 else ""), None, None


def test_every_job_runs_once_at_most_workers_at_a_time() -> None:
    run = Recorder()
    outcomes = {path: outcome for (_, path, _), outcome in _bounded(4, jobs(300), run)}
    assert sorted(run.started) == sorted(outcomes) and len(outcomes) == 300
    assert 1 < run.most <= 4
    for path, outcome in outcomes.items():
        if path.endswith("!"):  # a failing job is an outcome, the others go on
            assert isinstance(outcome, ValueError) and path in str(outcome)
        else:
            assert outcome == f"done {path}"


def test_a_broken_job_list_is_raised_once_running_jobs_are_done() -> None:
    run = Recorder()
    before = threading.active_count()
    seen = []
    with pytest.raises(RuntimeError, match="the job list broke"):
        for (_, path, _), _outcome in _bounded(3, jobs(50, fail_at=20), run):
            seen.append(path)
    # Every job taken before the list broke ran to its end; results not yet handed over
    # when it broke are not handed over at all.
    assert sorted(run.started) == sorted(f"f{i}" + ("!" if i % 7 == 3 else "")
                                         for i in range(20))
    assert set(seen) <= set(run.started)
    assert run.running == 0 and threading.active_count() == before


def test_a_caller_that_stops_early_starts_no_new_job_and_leaves_no_worker() -> None:
    run = Recorder()
    before = threading.active_count()
    results = _bounded(4, jobs(1000), run)
    for n, _item in enumerate(results):
        if n == 10:
            break
    results.close()  # what leaving the loop by an exception does too
    assert run.running == 0 and threading.active_count() == before
    # At most workers * 4 jobs are taken ahead of the caller; none is started after it stops.
    assert 11 <= len(run.started) <= 11 + 4 * 4
