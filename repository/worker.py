"""``khoso worker``: claim queued fixity work copy by copy and audit it, on any host.

Any number of workers (and the active scheduler) share the queue that the scheduler's daily
slice fills (:mod:`repository.audit_queue`): each claim takes a few copies with ``SELECT …
FOR UPDATE SKIP LOCKED`` and a lease, so no copy is audited twice while its lease holds.
"""

from __future__ import annotations

import logging
import threading

from repository.audit import CopyResult
from repository.audit_queue import drain, owner_name
from repository.context import Repository
from repository.progress import Progress

log = logging.getLogger("khoso.worker")


def run_worker(repo: Repository, *, once: bool = False, batch: int | None = None,
               workers: int | None = None, idle_seconds: float = 60,
               stop: threading.Event | None = None, progress: Progress | None = None) -> dict:
    """Work until stopped (or, with ``once``, until the queue is empty)."""
    stop = stop or threading.Event()
    owner = owner_name("worker")
    audited: list[CopyResult] = []
    runs: list[int] = []
    log.info("worker %s started", owner)
    while not stop.is_set():
        result = drain(repo, owner, kind="worker", batch=batch, workers=workers,
                       progress=progress, stop=stop.is_set, on_batch=audited.extend)
        if result["run"] is not None:
            runs.append(result["run"])
            log.info("worker %s: run %s audited %s copies, %s problem(s)", owner,
                     result["run"], result["replicas"], len(result["problems"]))
        if once:
            break
        stop.wait(idle_seconds)
    return {"owner": owner, "runs": runs,
            "replicas": len(audited), "checked": sum(c.files for c in audited),
            "bytes": sum(c.bytes for c in audited),
            "copies": [{"aip": c.aip, "location": c.location,
                        "status": "damaged" if c.findings else "verified"} for c in audited],
            "problems": [f.as_dict() for c in audited for f in c.findings]}
