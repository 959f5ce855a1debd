"""khoso copies list/export: the copy register (sổ quản lý sao, chụp)."""

from __future__ import annotations

from pathlib import Path

import typer

from repository.cli.common import JSON, opened
from repository.cli.output import emit


def register(app: typer.Typer) -> None:
    copies = typer.Typer(help="The copy register (sổ quản lý sao, chụp).", no_args_is_help=True)
    app.add_typer(copies, name="copies")

    @copies.command("list")
    def list_(ctx: typer.Context, aip_id: str = typer.Option(None, "--aip"),
              json_out: bool = JSON) -> None:
        """List every dissemination copy made, numbered per record."""
        from repository.copy_register import rows

        with opened(ctx, policies=False) as repo:
            entries = rows(repo, aip_id)
        emit({"copies": entries}, json_out, "\n".join(
            f"{e['made_at'][:19]}  {e['aip']}  số {e['copy_number']:<4} {e['status']:<8} "
            f"{e['classification']:<13} {e['recipient']}" for e in entries) or "no copies")

    @copies.command("export")
    def export(ctx: typer.Context, out: Path = typer.Option(..., "--out"),
               aip_id: str = typer.Option(None, "--aip"), json_out: bool = JSON) -> None:
        """Write the register as CSV (UTF-8 with BOM; TT 24/2020 Mẫu 12 headings)."""
        from repository.copy_register import export as run

        with opened(ctx) as repo:
            data = run(repo, out, aip_id)
        emit(data, json_out, f"{data['copies']} copies written to {data['out']}")
