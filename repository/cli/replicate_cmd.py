"""khoso replicate."""

from __future__ import annotations

import typer

from repository.cli.common import JSON, opened
from repository.cli.output import emit
from repository.errors import UsageError


def register(app: typer.Typer) -> None:
    @app.command()
    def replicate(ctx: typer.Context,
                  aip: str = typer.Option(None, "--aip", help="Only this AIP."),
                  to: str = typer.Option(None, "--to", help="Put a copy on this location."),
                  workers: int = typer.Option(16, "--workers", help="Objects copied at once."),
                  dry_run: bool = typer.Option(False, "--dry-run", help="Only show the plan."),
                  json_out: bool = JSON) -> None:
        """Bring every AIP up to the replication policy (exit 1 on a failed copy, 3 when
        policy refuses a placement)."""
        from repository.cli.live_progress import LiveProgress
        from repository.replicate_service import replicate as run

        if not 1 <= workers <= 64:
            raise UsageError(reason="--workers must be between 1 and 64")
        with opened(ctx) as repo:
            result = run(repo, aip, to, workers, dry_run, LiveProgress())
        emit(result, json_out, "\n".join(_lines(result)))
        if result["failed"]:
            raise typer.Exit(1)
        if result["refused"]:
            raise typer.Exit(3)


def _lines(result: dict) -> list[str]:
    lines = [f"{result['aips']} AIPs: {result['at_policy']} already at policy, "
             f"{result['copies_needed']} copies needed"]
    for p in result.get("plan", []):
        lines.append(f"  would copy {p['aip']} to {p['location']}: {p['objects']} objects, "
                     f"{p['bytes']} bytes (from {', '.join(p['sources']) or 'nowhere'})")
    for a in result["added"]:
        lines.append(f"  copied {a['aip']} to {a['location']}: {a['copied']} objects copied, "
                     f"{a['present']} already there, all verified")
    for r in result["refused"]:
        lines.append(f"  REFUSED {r['aip']}: rule {r['rule']}: {r['reason']}")
    for f in result["failed"]:
        first = f["objects"][0]
        lines.append(f"  FAILED {f['aip']} to {f['location']}: {len(f['objects'])} object(s), "
                     f"e.g. {first['path'] or ''} {first['problem']}")
    return lines
