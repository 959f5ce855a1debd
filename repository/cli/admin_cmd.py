"""khoso init, demo, serve."""

from __future__ import annotations

import typer

from repository.cli.common import JSON
from repository.cli.output import emit


def register(app: typer.Typer) -> None:
    @app.command()
    def init(ctx: typer.Context, json_out: bool = JSON) -> None:
        """Create a home with default policies and one local storage location (idempotent)."""
        from repository.config import load_settings
        from repository.home import init_home

        result = init_home(load_settings(ctx.obj.get("home")))
        verb = "created" if result["created"] else "already initialised"
        emit(result, json_out, f"khoso home {result['home']} {verb} (catalog {result['catalog']})")

    @app.command()
    def demo(ctx: typer.Context,
             home: str = typer.Option(None, "--demo-home", help="Where to put the demo home."),
             json_out: bool = JSON) -> None:
        """Run the whole journey on a sample Vietnamese transfer and print where to look."""
        from repository.demo import run_demo

        result = run_demo(home)
        emit(result, json_out, "\n".join(result["summary"]))
