"""khoso storage add/list."""

from __future__ import annotations

import typer

from repository.cli.common import JSON, opened
from repository.cli.output import emit
from repository.errors import UsageError


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
    _register_fsck(storage)

    @storage.command("add")
    def add(ctx: typer.Context, name: str, url: str,
            option: list[str] = typer.Option([], "--option", help="key=value (repeatable)."),
            json_out: bool = JSON) -> None:
        """Add a storage location (file:///abs/path or s3://bucket/prefix?endpoint_url=…)."""
        from repository.locations import add_location

        with opened(ctx) as repo:
            loc = add_location(repo, name, url, _options(option))
        emit(loc, json_out, f"added location {loc['name']} at {loc['url']}")

    @storage.command("list")
    def list_(ctx: typer.Context, json_out: bool = JSON) -> None:
        """List storage locations."""
        from repository.locations import list_locations

        with opened(ctx, policies=False) as repo:
            locs = list_locations(repo)
        emit({"locations": locs}, json_out, "\n".join(
            f"{loc['name']:<16} {loc['url']}  (up to {loc['max_classification']}; "
            f"{_attributes(loc['attributes'])})" for loc in locs))


def _attributes(attrs: dict) -> str:
    bits = [f"network {attrs.get('network')}", f"media {attrs.get('media')}"]
    bits += [name.replace("_", "-") for name in ("write_once", "offline") if attrs.get(name)]
    if attrs.get("site"):
        bits.append(f"site {attrs['site']}")
    return ", ".join(bits)


def _fsck_lines(result: dict) -> list[str]:
    lines = []
    for loc in result["locations"]:
        if "error" in loc:
            lines.append(f"{loc['location']}: cannot list: {loc['error']}")
            continue
        lines.append(f"{loc['location']}: {loc['objects']} objects, {loc['owned']} owned by the "
                     f"catalog, {len(loc['orphans'])} orphaned, {len(loc['partial'])} partial "
                     f"writes, {loc['removed']} removed")
        for o in loc["orphans"] + loc["partial"]:
            what = o.get("key") or o.get("ref")
            state = "removed" if o["removed"] else o.get("kept") or (
                "kept (younger than the grace period)" if result["fix"] else "orphan")
            lines.append(f"  {what}  age {o['age_hours']} h  {state}")
        lines += [f"  foreign (never removed): {k}" for k in loc["foreign"]]
    lines += [f"staging: {s['name']} {'removed' if s['removed'] else 'left by a dead run'}"
              for s in result["staging"]]
    return lines


def _register_fsck(storage: typer.Typer) -> None:
    @storage.command("fsck")
    def fsck(ctx: typer.Context,
             fix: bool = typer.Option(False, "--fix", help="Remove what is found."),
             grace: float = typer.Option(24.0, "--grace", help="Only objects older than this "
                                         "many HOURS are removed (runs in progress are "
                                         "younger)."),
             location: str = typer.Option(None, "--location", help="Only this location."),
             json_out: bool = JSON) -> None:
        """Objects no catalog entry owns, partial writes and dead staging (--fix removes)."""
        from repository.fsck import FsckOptions
        from repository.fsck import fsck as run

        with opened(ctx) as repo:
            result = run(repo, FsckOptions(fix, grace, location))
        emit(result, json_out, "\n".join(_fsck_lines(result)))
