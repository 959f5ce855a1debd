"""khoso aip update-metadata (registered into the ``aip`` group by aip_cmd)."""

from __future__ import annotations

from pathlib import Path

import typer

from repository.cli.common import JSON, opened
from repository.cli.output import emit


def register_into(aip: typer.Typer) -> None:
    @aip.command("update-metadata")
    def update_metadata(ctx: typer.Context, aip_id: str,
                        metadata: Path = typer.Option(..., "--metadata",
                                                      help="The new metadata (CSV, JSON, EAD)."),
                        json_out: bool = JSON) -> None:
        """Make a new AIP version with new metadata; unchanged files are shared, nothing
        stored is overwritten."""
        from repository.versions import update_metadata as run

        with opened(ctx) as repo:
            result = run(repo, aip_id, metadata)
        emit(result, json_out, f"{result['aip']} is version {result['version']} of "
             f"{result['previous_version']}: {result['new_objects']} new objects, "
             f"{result['shared_objects']} shared, copies in "
             f"{', '.join(r['location'] for r in result['replicas'])}")
