"""Several progress rows on one live rich display on stderr (stdout carries data).

``RichProgress`` opens one display per task, and rich allows one live display at a time;
commands that report objects and bytes together (replicate) use this instead.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)

from repository.progress import Advance


class LiveProgress:
    def __init__(self) -> None:
        console = Console(stderr=True)
        self._bar = Progress(TextColumn("{task.description:<8}"), BarColumn(),
                             MofNCompleteColumn(), TaskProgressColumn(), TimeRemainingColumn(),
                             console=console, transient=True,
                             disable=not console.is_terminal)
        self._open = 0
        self._lock = threading.Lock()

    @contextmanager
    def task(self, label: str, total: int | None) -> Iterator[Advance]:
        with self._lock:
            if self._open == 0:
                self._bar.start()
            self._open += 1
        task_id = self._bar.add_task(label, total=total)
        try:
            yield lambda n: self._bar.advance(task_id, n)
        finally:
            self._bar.remove_task(task_id)
            with self._lock:
                self._open -= 1
                if self._open == 0:
                    self._bar.stop()
