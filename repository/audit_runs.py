"""``audit_runs`` rows: what each audit run covered and found, for reports and trends.

A run's row is written when it starts (so an interrupted run shows as unfinished) and
completed when it ends with its totals and the share of all copies verified within the
policy window at that moment. Every finished run then signs a checkpoint of the event chain
(docs/design.md, "Signed checkpoints"), so its fixity events are covered by a signature.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from repository.catalog.models import AuditRun, Replica
from repository.context import Repository
from repository.errors import BrokenLog

if TYPE_CHECKING:
    from repository.audit import CopyResult

log = logging.getLogger("khoso.audit")


@dataclass
class Run:
    id: int
    kind: str
    copies: list[CopyResult] = field(default_factory=list)
    checkpoint: dict | None = None
    checkpoint_error: str | None = None

    def add(self, results: list[CopyResult]) -> None:
        self.copies.extend(results)

    def summary(self) -> dict:
        extra = {"checkpoint_error": self.checkpoint_error} if self.checkpoint_error else {}
        return extra | {
            "checked": sum(c.files for c in self.copies),
            "bytes": sum(c.bytes for c in self.copies),
            "replicas": len(self.copies),
            "problems": [f.as_dict() for c in self.copies for f in c.findings],
            "unexpected": [u for c in self.copies for u in c.unexpected],
            "run": self.id,
            "checkpoint": (self.checkpoint or {}).get("statement"),
        }


def window_days(repo: Repository) -> int:
    return repo.policies.schedules.fixity.verify_every_days


def coverage(session: Session, days: int, now: datetime | None = None,
             location_id: int | None = None) -> tuple[int, int]:
    """(copies verified within the last ``days`` and not damaged, all copies)."""
    since = (now or datetime.now(UTC)) - timedelta(days=days)
    total = select(func.count(Replica.id))
    good = select(func.count(Replica.id)).where(Replica.status == "verified",
                                                Replica.last_verified >= since)
    if location_id is not None:
        total = total.where(Replica.location_id == location_id)
        good = good.where(Replica.location_id == location_id)
    return int(session.scalar(good) or 0), int(session.scalar(total) or 0)


def start(repo: Repository, kind: str, owner: str | None = None) -> Run:
    with repo.catalog.session() as session:
        row = AuditRun(kind=kind, owner=owner, started_at=datetime.now(UTC))
        session.add(row)
        session.flush()
        return Run(row.id, kind)


def finish(repo: Repository, run: Run) -> None:
    now = datetime.now(UTC)
    with repo.catalog.session() as session:
        row = session.get(AuditRun, run.id)
        if row is not None:
            good, total = coverage(session, window_days(repo), now)
            row.finished_at = now
            row.copies = len(run.copies)
            row.files = sum(c.files for c in run.copies)
            row.bytes = sum(c.bytes for c in run.copies)
            row.problems = sum(len(c.findings) for c in run.copies)
            row.failed_copies = sum(1 for c in run.copies if c.findings)
            row.unexpected = sum(len(c.unexpected) for c in run.copies)
            row.coverage = round(good / total, 6) if total else 1.0
    if not run.copies:
        return
    from repository.checkpoints import write_checkpoint

    try:
        run.checkpoint = write_checkpoint(repo)
    except BrokenLog as exc:  # the audit's findings stand; the log's state is reported
        run.checkpoint_error = str(exc)
        log.error("no checkpoint after audit run %s: %s", run.id, exc)
