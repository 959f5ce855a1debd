"""khoso audit, repair, report."""

from __future__ import annotations

from pathlib import Path

import typer

from repository.cli.common import JSON, opened, progress_for
from repository.cli.output import emit
from repository.errors import UsageError


def register(app: typer.Typer) -> None:
    @app.command()
    def audit(ctx: typer.Context, aip: str = typer.Option(None, "--aip"),
              due_only: bool = typer.Option(
                  False, "--due-only", help="Only today's slice of the schedule "
                                            "(policies/schedules.yaml)."),
              workers: int = typer.Option(None, "--workers", min=1,
                                          help="Files hashed in parallel (default: cores)."),
              deep: bool = typer.Option(False, "--deep", help="Also decrypt encrypted "
                                        "copies and check the plaintext SHA-256 (needs keys)."),
              json_out: bool = JSON) -> None:
        """Fixity audit of every copy (exit 1 when damage is found)."""
        from repository.audit import audit as run

        if deep and due_only:
            raise UsageError(reason="--deep audits every copy it is given; drop --due-only")
        with opened(ctx) as repo:
            result = run(repo, aip, due_only, progress_for(json_out), workers, deep=deep)
        lines = []
        if "slice" in result:
            s = result["slice"]
            lines.append(f"today's slice: {s['queued']} copies queued "
                         f"({s['mandatory']} damaged, never checked or overdue)")
        lines += [f"checked {result['checked']} files ({result['bytes']} bytes) in "
                  f"{result['replicas']} copies: {len(result['problems'])} problem(s)"]
        lines += [f"  {p['problem']:<10} {p['location']:<12} {p['aip']} {p['path']}"
                  for p in result["problems"]]
        lines += [f"  unexpected object {u['location']}: {u['key']}" for u in result["unexpected"]]
        emit(result, json_out, "\n".join(lines))
        if result["problems"]:
            raise typer.Exit(1)

    @app.command()
    def repair(ctx: typer.Context, json_out: bool = JSON) -> None:
        """Restore damaged copies from verified ones (exit 1 when any is unrecoverable)."""
        from repository.repair import repair as run

        with opened(ctx) as repo:
            result = run(repo, progress_for(json_out))
        lines = [f"repaired {len(result['repaired'])}, unrecoverable "
                 f"{len(result['unrecoverable'])}"]
        lines += [f"  repaired {r['location']}: {r['path']} (from {r['source']})"
                  for r in result["repaired"]]
        lines += [f"  UNRECOVERABLE {r['location']}: {r['aip']} {r['path']}: {r['reason']}"
                  for r in result["unrecoverable"]]
        emit(result, json_out, "\n".join(lines))
        if result["unrecoverable"]:
            raise typer.Exit(1)

    @app.command()
    def report(ctx: typer.Context, fmt: str = typer.Option("json", "--format"),
               out: Path = typer.Option(None, "--out")) -> None:
        """Audit report for preservation officers (html, json or csv)."""
        from repository.reports import build_report, render

        if fmt not in ("html", "json", "csv"):
            raise UsageError(reason=f"--format {fmt!r}: choose html, json or csv")
        with opened(ctx) as repo:
            text = render(build_report(repo), fmt)
        if out:
            out.write_text(text, encoding="utf-8")
        else:
            typer.echo(text)
