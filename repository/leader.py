"""The leader lock that makes exactly one scheduler active per catalog.

PostgreSQL: a session-level advisory lock taken on one dedicated connection that stays open
while the scheduler is active; the server releases it when that connection ends, so a crashed
scheduler frees it for a standby on any host. SQLite (one host by nature): an exclusive
``flock`` on ``HOME/scheduler.lock``, released by the kernel when the process ends. ``flock``
locks belong to the open file, so two schedulers in one process also exclude each other.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import socket
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from repository.context import Repository

# A stable 63-bit key for pg_try_advisory_lock, the same for every khoso process.
ADVISORY_KEY = int.from_bytes(hashlib.sha256(b"khoso scheduler leader").digest()[:8],
                              "big") >> 1
LOCK_FILE = "scheduler.lock"


class LeaderLock(Protocol):
    def acquire(self) -> bool: ...
    def still_held(self) -> bool: ...
    def release(self) -> None: ...
    def describe(self) -> str: ...


class AdvisoryLock:
    def __init__(self, repo: Repository) -> None:
        self._engine = repo.catalog.engine
        self._conn: Connection | None = None

    def acquire(self) -> bool:
        if self._conn is not None:
            return True
        conn = self._engine.connect()
        try:
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                    {"k": ADVISORY_KEY}).scalar())
            conn.commit()  # the lock is session-level: it outlives this transaction
        except SQLAlchemyError:
            conn.close()
            raise
        if got:
            self._conn = conn
        else:
            conn.close()
        return got

    def still_held(self) -> bool:
        if self._conn is None:
            return False
        try:
            held = self._conn.execute(text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND pid = pg_backend_pid() AND ((classid::bigint << 32) | objid::bigint) = :k"),
                {"k": ADVISORY_KEY}).scalar()
            self._conn.commit()
            return bool(held)
        except SQLAlchemyError:
            self._drop()
            return False

    def release(self) -> None:
        if self._conn is None:
            return
        with contextlib.suppress(SQLAlchemyError):
            self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
            self._conn.commit()
        self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(SQLAlchemyError):
                self._conn.close()
            self._conn = None

    def describe(self) -> str:
        return f"PostgreSQL advisory lock {ADVISORY_KEY} on {self._engine.url.database}"


class FileLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        # Who holds it, for people reading the file; the lock itself is the flock.
        os.ftruncate(fd, 0)
        os.write(fd, f"{socket.gethostname()} pid {os.getpid()}\n".encode())
        self._fd = fd
        return True

    def still_held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def describe(self) -> str:
        return f"file lock {self.path}"


def leader_lock(repo: Repository) -> LeaderLock:
    if repo.catalog.engine.dialect.name == "postgresql":
        return AdvisoryLock(repo)
    return FileLock(repo.settings.home / LOCK_FILE)
