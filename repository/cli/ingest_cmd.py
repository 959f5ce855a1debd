"""khoso ingest, validate."""

from __future__ import annotations

from pathlib import Path

import typer

from repository.cli.common import JSON, opened, parse_date, progress_for
from repository.cli.output import emit


def register(app: typer.Typer) -> None:
    @app.command()
    def ingest(ctx: typer.Context, path: Path,
               metadata: Path = typer.Option(None, "--metadata", help="CSV or JSON metadata."),
               classification: str = typer.Option(None, "--classification"),
               classified_on: str = typer.Option(None, "--classified-on", help="YYYY-MM-DD"),
               json_out: bool = JSON) -> None:
        """Ingest a transfer: check it, package it as an AIP and store verified copies."""
        from repository.ingest_service import IngestOptions
        from repository.ingest_service import ingest as run

        with opened(ctx) as repo:
            result = run(repo, IngestOptions(path, metadata, classification,
                                             parse_date(classified_on, "--classified-on")),
                         progress_for(json_out))
        emit(result, json_out, f"ingested {result['aip']}: {result['files']} files, "
             f"{result['bytes']} bytes, copies in "
             f"{', '.join(r['location'] for r in result['replicas'])}")

    @app.command()
    def validate(ctx: typer.Context, path: Path,
                 profile: str = typer.Option(None, "--profile",
                                             help="A BagIt Profile (JSON file)."),
                 json_out: bool = JSON) -> None:
        """Check a BagIt bag or E-ARK package without ingesting it (exit 1 when invalid)."""
        from repository.config import load_settings
        from repository.validate_service import validate as run

        home = ctx.obj.get("home") if ctx.obj else None
        policies = load_settings(home).policies_dir if home else None
        result = run(path, profile, policies if policies and policies.is_dir() else None)
        lines = [f"{path}: {'valid' if result['valid'] else 'INVALID'}"]
        lines += [f"  error: {e['message']}" for e in result["errors"]]
        lines += [f"  warning: {w['message']}" for w in result["warnings"]]
        emit(result, json_out, "\n".join(lines))
        if not result["valid"]:
            raise typer.Exit(1)
