"""khoso scheduler, khoso worker."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from repository.cli import output
from repository.cli.common import JSON, opened, progress_for
from repository.cli.output import emit


@contextmanager
def _until_signalled() -> Iterator[threading.Event]:
    """An event set by SIGINT/SIGTERM (restoring the previous handlers afterwards)."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _log_to_stderr() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")


def register(app: typer.Typer) -> None:
    @app.command()
    def scheduler(ctx: typer.Context,
                  show_status: bool = typer.Option(False, "--status",
                                                   help="Show the schedule and exit."),
                  json_out: bool = JSON) -> None:
        """Run the schedules alone (fixity slices, declassification, replication, checkpoints).

        Only one scheduler is active per catalog; others stand by and take over.
        """
        from repository.scheduler import Scheduler, status

        with opened(ctx) as repo:
            if show_status:
                data = status(repo)
                emit(data, json_out, "\n".join(
                    [f"active scheduler: {'yes' if data['active_scheduler'] else 'none'} "
                     f"({data['lock']})"] +
                    [f"  {j['id']:<22} next {j['next_run_time']}  {j['trigger']}"
                     for j in data["jobs"]]))
                return
            _log_to_stderr()
            sched = Scheduler(repo)
            with _until_signalled() as stop:
                active = sched.start()
                output.stderr.print(f"scheduler {'active' if active else 'passive (standing by)'}; "
                             "stop with Ctrl-C or SIGTERM", markup=False)
                stop.wait()
            sched.stop()

    @app.command()
    def worker(ctx: typer.Context,
               once: bool = typer.Option(False, "--once",
                                         help="Exit when the queue is empty."),
               batch: int = typer.Option(None, "--batch", min=1,
                                         help="Copies claimed at a time (policy default)."),
               workers: int = typer.Option(None, "--workers", min=1,
                                           help="Files hashed in parallel (default: cores)."),
               idle: float = typer.Option(60.0, "--idle", min=0.1,
                                          help="Seconds to wait when the queue is empty."),
               json_out: bool = JSON) -> None:
        """Audit queued copies claimed from the shared queue (exit 1 when damage is found)."""
        from repository.worker import run_worker

        with opened(ctx) as repo, _until_signalled() as stop:
            if not json_out:
                _log_to_stderr()
            data = run_worker(repo, once=once, batch=batch, workers=workers,
                              idle_seconds=idle, stop=stop, progress=progress_for(json_out))
        emit(data, json_out, "\n".join(
            [f"worker {data['owner']}: audited {data['replicas']} copies "
             f"({data['checked']} files), {len(data['problems'])} problem(s)"] +
            [f"  {p['problem']:<10} {p['location']:<12} {p['aip']} {p['path']}"
             for p in data["problems"]]))
        if data["problems"]:
            raise typer.Exit(1)
