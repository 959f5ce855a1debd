"""khoso keys list/rotate."""

from __future__ import annotations

import typer

from repository.cli.common import JSON, opened
from repository.cli.output import emit


def register(app: typer.Typer) -> None:
    keys = typer.Typer(help="Key-encryption keys of classified content.", no_args_is_help=True)
    app.add_typer(keys, name="keys")

    @keys.command("list")
    def list_(ctx: typer.Context, json_out: bool = JSON) -> None:
        """List KEKs: level, generation, whether current, how many files they wrap."""
        from repository.keys_service import list_keys

        with opened(ctx) as repo:
            data = list_keys(repo)
        emit(data, json_out, "\n".join(
            f"{k['kek']:<24} {'current' if k['current'] else 'retired':<8} {k['files']:>8} "
            "files" for k in data["keks"]) or "no keys yet (made at the first classified ingest)")

    @keys.command("rotate")
    def rotate(ctx: typer.Context,
               level: str = typer.Option(None, "--level", help="Only this level's KEK."),
               json_out: bool = JSON) -> None:
        """Make new KEKs current and re-wrap every data key; no stored object is rewritten."""
        from repository.keys_service import rotate as run

        with opened(ctx) as repo:
            data = run(repo, level)
        emit(data, json_out, "\n".join(
            f"{r['level']}: now {r['kek']}, {r['rewrapped']} data keys re-wrapped "
            f"(was {', '.join(r['previous']) or 'none'})" for r in data["rotated"])
            or "no keys to rotate")
