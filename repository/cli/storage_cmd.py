"""khoso storage add/list."""

from __future__ import annotations

import typer

from repository.cli.common import JSON, opened
from repository.cli.output import emit
from repository.errors import UsageError
from repository.locations import add_location, list_locations


def _options(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(reason=f"--option {pair!r} must look like key=value")
        out[key.strip()] = value.strip()
    return out


def register(app: typer.Typer) -> None:
    storage = typer.Typer(help="Storage locations.", no_args_is_help=True)
    app.add_typer(storage, name="storage")

    @storage.command("add")
    def add(ctx: typer.Context, name: str, url: str,
            option: list[str] = typer.Option([], "--option", help="key=value (repeatable)."),
            json_out: bool = JSON) -> None:
        """Add a storage location (file:///abs/path or s3://bucket/prefix?endpoint_url=…)."""
        with opened(ctx) as repo:
            loc = add_location(repo, name, url, _options(option))
        emit(loc, json_out, f"added location {loc['name']} at {loc['url']}")

    @storage.command("list")
    def list_(ctx: typer.Context, json_out: bool = JSON) -> None:
        """List storage locations."""
        with opened(ctx) as repo:
            locs = list_locations(repo)
        emit({"locations": locs}, json_out, "\n".join(
            f"{loc['name']:<16} {loc['url']}  (up to {loc['max_classification']})"
            for loc in locs))
