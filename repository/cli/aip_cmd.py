"""khoso aip list/show."""

from __future__ import annotations

import typer

from repository.cli import versions_cmd
from repository.cli.common import JSON, opened
from repository.cli.output import emit


def register(app: typer.Typer) -> None:
    aip = typer.Typer(help="Archival information packages.", no_args_is_help=True)
    app.add_typer(aip, name="aip")
    versions_cmd.register_into(aip)

    @aip.command("list")
    def list_(ctx: typer.Context, json_out: bool = JSON) -> None:
        """List AIPs."""
        from repository.aips import list_aips

        with opened(ctx, policies=False) as repo:
            data = list_aips(repo)
        emit(data, json_out, "\n".join(
            f"{a['aip']}  {a['classification']:<13} {a['files']:>6} files {a['bytes']:>12} B  "
            f"{a['title']}" for a in data["aips"]) or "no AIPs")

    @aip.command("show")
    def show(ctx: typer.Context, aip_id: str, json_out: bool = JSON) -> None:
        """Show one AIP: files, copies and events."""
        from repository.aips import show_aip

        with opened(ctx, policies=False) as repo:
            data = show_aip(repo, aip_id)
        lines = [f"{data['aip']}  {data['title']}",
                 f"classification: {data['classification']}  protect until: "
                 f"{data['protect_until'] or '-'}", "copies:"]
        lines += [f"  {r['location']:<16} {r['status']:<10} last verified {r['last_verified']}"
                  for r in data["replicas"]]
        lines.append("files:")
        lines += [f"  {f['sha256'][:16]}…  {f['size']:>10}  {f['puid'] or f['mime'] or '?':<20} "
                  f"{f['path']}" for f in data["files"] if f["role"] == "payload"]
        lines.append("events:")
        lines += [f"  {e['at']}  {e['type']:<30} {e['outcome']}" for e in data["events"]]
        emit(data, json_out, "\n".join(lines))
