"""khoso quarantine list/export."""

from __future__ import annotations

from pathlib import Path

import typer

from repository.cli.common import JSON, opened
from repository.cli.output import emit


def register(app: typer.Typer) -> None:
    quarantine = typer.Typer(help="Infected files kept from rejected transfers.",
                             no_args_is_help=True)
    app.add_typer(quarantine, name="quarantine")

    @quarantine.command("list")
    def list_(ctx: typer.Context, json_out: bool = JSON) -> None:
        """Each rejected transfer's evidence: when, from where, signatures, sealed or not."""
        from repository.quarantine import list_quarantine

        with opened(ctx, policies=False) as repo:
            found = list_quarantine(repo)
        emit({"quarantine": found}, json_out, "\n".join(
            f"{q['id']}  {q['at']}  {q['files']} file(s){' (sealed)' if q['sealed'] else ''}"
            f"  {', '.join(q['signatures'])}" for q in found) or "quarantine is empty")

    @quarantine.command("export")
    def export(ctx: typer.Context, quarantine_id: str = typer.Argument(..., metavar="ID"),
               out: Path = typer.Option(..., "--out", help="A new or empty folder."),
               json_out: bool = JSON) -> None:
        """Write one rejected transfer's infected files out under their names, opening
        sealed (classified) evidence with the home's keys; each is checked against the
        SHA-256 recorded when it was found."""
        from repository.quarantine import export as run

        with opened(ctx) as repo:
            result = run(repo, quarantine_id, out)
        emit(result, json_out, "\n".join(
            f"{f['path']}  {f['signature']}" for f in result["files"]))
