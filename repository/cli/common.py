"""Shared option types and the repository opener for commands."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING

import typer

from repository.errors import UsageError

if TYPE_CHECKING:
    from repository.context import Repository

JSON = typer.Option(False, "--json", help="Print one JSON document on stdout.")

# The cyclic collector's first-generation threshold while a command imports its libraries
# (almost nothing they make is garbage) and once it runs (cycles are still collected, after
# 10,000 new container objects instead of CPython's 700). app.py sets the first.
START_UP_GEN0 = 100_000
RUNNING_GEN0 = 10_000


@contextmanager
def opened(ctx: typer.Context, policies: bool = True) -> Iterator[Repository]:
    """The home's repository for one command, its policies validated before the command
    does any work, even before the catalog is opened (and perhaps migrated).

    ``policies=False`` (commands that only read the catalog or the log: listings, ``aip
    show``, ``log verify``) skips that (~0.1 s of pydantic and models), so they also still
    answer while a policy file is broken; one that consults the policies after all loads
    them then (``Repository.policies``)."""
    # Imported here, not at the top: the catalog, policies and storage stay unloaded for
    # ``--help`` and for commands that never open the repository (CLI start-up time).
    from repository.context import open_repository

    repo = open_repository(ctx.obj.get("home") if ctx.obj else None, policies=policies)
    # Everything a command imports (SQLAlchemy, the models, policies, storage) is loaded by
    # now: a few hundred thousand objects that live as long as the process. Freezing them
    # keeps every later full collection from scanning them again (perf: 10-13 % of khoso
    # replicate's CPU went to the cyclic collector, docs/benchmarks.md). Garbage made from
    # here on is collected as before; app.main unfreezes when the command ends.
    gc.freeze()
    gc.set_threshold(RUNNING_GEN0, *gc.get_threshold()[1:])
    try:
        yield repo
    finally:
        repo.close()


def parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise UsageError(reason=f"{option} {value!r} is not a date (YYYY-MM-DD)") from exc


def progress_for(as_json: bool):  # type: ignore[no-untyped-def]
    # With stderr surely no terminal rich would draw nothing: it is not even imported
    # (start-up time of every command that reports progress).
    from repository.progress import NoProgress, RichProgress, surely_no_terminal

    return NoProgress() if surely_no_terminal() else RichProgress()
