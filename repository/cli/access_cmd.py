"""khoso user add, grant, access, declassify."""

from __future__ import annotations

from pathlib import Path

import typer

from repository.cli.common import JSON, opened, parse_date
from repository.cli.output import emit


def register(app: typer.Typer) -> None:
    user = typer.Typer(help="People who use the repository.", no_args_is_help=True)
    app.add_typer(user, name="user")

    @user.command("add")
    def add(ctx: typer.Context, name: str, role: str = typer.Option(..., "--role"),
            unit: str = typer.Option(None, "--unit"),
            authority: str = typer.Option(None, "--authority",
                                          help="Highest level this approver may grant."),
            json_out: bool = JSON) -> None:
        """Add a user with a role (reader, archivist, preservation-officer, approver, …)."""
        from repository.users import add_user

        with opened(ctx) as repo:
            data = add_user(repo, name, role, unit, authority)
        emit(data, json_out, f"added {data['name']} ({data['role']})")

    @app.command()
    def grant(ctx: typer.Context, aip_id: str, user_name: str = typer.Option(..., "--user"),
              by: str = typer.Option(..., "--by"), until: str = typer.Option(None, "--until"),
              purpose: str = typer.Option(None, "--purpose"), json_out: bool = JSON) -> None:
        """Grant a user access to one record (the approver's authority must cover its level)."""
        from repository.users import grant as run

        with opened(ctx) as repo:
            data = run(repo, aip_id, user_name, by, parse_date(until, "--until"), purpose)
        emit(data, json_out, f"granted {data['user']} access to {data['aip']} by {data['by']}")

    @app.command()
    def access(ctx: typer.Context, aip_id: str, user_name: str = typer.Option(..., "--user"),
               out: Path = typer.Option(..., "--out"),
               purpose: str = typer.Option(None, "--purpose"), json_out: bool = JSON) -> None:
        """Make a marked dissemination copy (exit 3 with the reason when refused)."""
        from repository.access import make_copy

        with opened(ctx) as repo:
            data = make_copy(repo, aip_id, user_name, out, purpose)
        emit(data, json_out, f"copy {data['copy_number']} of {aip_id} written to {data['dip']}")

    @app.command()
    def declassify(ctx: typer.Context, json_out: bool = JSON) -> None:
        """Apply expired protection periods now."""
        from repository.declassify import declassify_expired

        with opened(ctx) as repo:
            data = declassify_expired(repo)
        emit(data, json_out, "\n".join(
            [f"declassified {len(data['declassified'])} record(s)"] +
            [f"  {d['aip']} (was {d['from']}, protected until {d['protect_until']})"
             for d in data["declassified"]]))
