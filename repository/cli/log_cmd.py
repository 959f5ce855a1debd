"""khoso log verify."""

from __future__ import annotations

import typer

from repository import events
from repository.cli.common import JSON, opened
from repository.cli.output import emit


def register(app: typer.Typer) -> None:
    log = typer.Typer(help="The tamper-evident event log.", no_args_is_help=True)
    app.add_typer(log, name="log")

    @log.command("verify")
    def verify(ctx: typer.Context, json_out: bool = JSON) -> None:
        """Verify every event's hash and link (exit 1 naming the first bad event)."""
        with opened(ctx) as repo, repo.catalog.session() as session:
            check = events.verify(session)
        data = {"intact": check.ok, "events": check.events, "first_bad": check.bad_seq,
                "reason": check.reason or None}
        text = (f"event log intact: {check.events} events" if check.ok
                else f"event log BROKEN at event {check.bad_seq}: {check.reason}")
        emit(data, json_out, text)
        if not check.ok:
            raise typer.Exit(1)
