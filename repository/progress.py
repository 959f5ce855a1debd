"""Progress reporting that services can call without knowing about terminals.

The CLI passes a rich-backed reporter writing to stderr; tests and the API pass nothing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

Advance = Callable[[int], None]


class Progress(Protocol):
    def task(self, label: str, total: int | None) -> AbstractContextManager[Advance]: ...


def surely_no_terminal() -> bool:
    """What rich's ``Console.is_terminal`` answers False to whatever else it checks: no
    TTY_COMPATIBLE=1, no FORCE_COLOR, and a stderr that is not a TTY."""
    if os.environ.get("TTY_COMPATIBLE") == "1" or os.environ.get("FORCE_COLOR"):
        return False
    isatty = getattr(sys.stderr, "isatty", None)
    try:
        return isatty is None or not isatty()
    except ValueError:  # a closed stream
        return True


class NoProgress:
    @contextmanager
    def task(self, label: str, total: int | None) -> Iterator[Advance]:
        yield lambda n: None


class RichProgress:
    """Byte-counting progress bars on stderr (never stdout: stdout carries data)."""

    def __init__(self) -> None:
        from rich.console import Console

        self._console = Console(stderr=True)

    @contextmanager
    def task(self, label: str, total: int | None) -> Iterator[Advance]:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                      TransferSpeedColumn(), TimeRemainingColumn(), console=self._console,
                      transient=True, disable=not self._console.is_terminal) as bar:
            task_id = bar.add_task(label, total=total)
            yield lambda n: bar.advance(task_id, n)
