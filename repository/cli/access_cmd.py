"""khoso user add, grant, revoke, grants, access, declassify, extend."""

from __future__ import annotations

from pathlib import Path

import typer

from repository.cli.common import JSON, opened, parse_date
from repository.cli.output import emit
from repository.errors import UsageError


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
    def grant(ctx: typer.Context, aip_id: str = typer.Argument(None),
              user_name: str = typer.Option(None, "--user"),
              by: str = typer.Option(..., "--by"), until: str = typer.Option(None, "--until"),
              purpose: str = typer.Option(None, "--purpose"),
              revoke_id: int = typer.Option(None, "--revoke", metavar="GRANT_ID",
                                            help="Revoke this grant instead (= khoso revoke)."),
              reason: str = typer.Option(None, "--reason", help="Why (with --revoke)."),
              json_out: bool = JSON) -> None:
        """Grant a user access to one record, or revoke a grant (--revoke GRANT_ID).

        The approver's authority must cover the record's level (Law 29/2018 Điều 11)."""
        if revoke_id is not None:
            _revoke(ctx, revoke_id, by, reason, json_out)
            return
        if not aip_id or not user_name:
            raise UsageError(reason="grant needs AIP_ID and --user (or --revoke GRANT_ID)")
        from repository.users import grant as run

        with opened(ctx) as repo:
            data = run(repo, aip_id, user_name, by, parse_date(until, "--until"), purpose)
        emit(data, json_out, f"grant {data['grant']}: {data['user']} may have copies of "
                             f"{data['aip']} (approved by {data['by']})")

    @app.command()
    def revoke(ctx: typer.Context, grant_id: int, by: str = typer.Option(..., "--by"),
               reason: str = typer.Option(None, "--reason"), json_out: bool = JSON) -> None:
        """Revoke a grant: later copies under it are refused."""
        _revoke(ctx, grant_id, by, reason, json_out)

    @app.command()
    def grants(ctx: typer.Context, aip_id: str = typer.Option(None, "--aip"),
               user_name: str = typer.Option(None, "--user"), json_out: bool = JSON) -> None:
        """List grants (active, expired, revoked)."""
        from repository.users import list_grants

        with opened(ctx) as repo:
            data = list_grants(repo, aip_id, user_name)
        emit(data, json_out, "\n".join(
            f"{g['grant']:>5}  {g['state']:<8} {g['user']:<16} by {g['by']:<16} "
            f"until {g['until'] or '-':<32} {g['aip']}" for g in data["grants"]) or "no grants")

    @app.command()
    def access(ctx: typer.Context, aip_id: str, user_name: str = typer.Option(..., "--user"),
               out: Path = typer.Option(..., "--out"),
               purpose: str = typer.Option(None, "--purpose",
                                           help="What the copy is for (purposeContent)."),
               purpose_code: str = typer.Option(
                   None, "--purpose-code", help="TT 05/2025 Annex V: 01 personal, 02 official, "
                                                "03 special official (policy default 01)."),
               request_id: str = typer.Option(None, "--request-id",
                                              help="The request's id (default uuid-…)."),
               description: str = typer.Option(None, "--description"),
               as_zip: bool = typer.Option(False, "--zip", help="Write the DIP as one .zip."),
               json_out: bool = JSON) -> None:
        """Make a marked dissemination copy as an E-ARK DIP (exit 3 when refused)."""
        from repository.access import CopyRequest, make_copy

        request = CopyRequest(purpose=purpose or "", purpose_code=purpose_code,
                              request_id=request_id, description=description or "",
                              as_zip=as_zip)
        with opened(ctx) as repo:
            data = make_copy(repo, aip_id, user_name, out, request=request)
        emit(data, json_out, f"copy {data['copy_number']} of {aip_id} written to {data['dip']}")

    @app.command()
    def declassify(ctx: typer.Context, json_out: bool = JSON) -> None:
        """Apply expired protection periods (and extensions) now."""
        from repository.declassify import declassify_expired

        with opened(ctx) as repo:
            data = declassify_expired(repo)
        emit(data, json_out, "\n".join(
            [f"declassified {len(data['declassified'])} record(s)"] +
            [f"  {d['aip']} (was {d['from']}, protected until {d['protect_until']})"
             for d in data["declassified"]]))

    @app.command()
    def extend(ctx: typer.Context, aip_id: str, years: int = typer.Option(..., "--years"),
               by: str = typer.Option(..., "--by"), reason: str = typer.Option(None, "--reason"),
               json_out: bool = JSON) -> None:
        """Extend a record's protection period (exit 3 naming the rule when refused).

        Law 29/2018 Điều 20: at most the level's base period, decided at least 60 days before
        the period ends, by an approver whose authority covers the level."""
        from repository.extend import extend as run

        with opened(ctx) as repo:
            data = run(repo, aip_id, years, by, reason)
        emit(data, json_out, f"{aip_id}: protected until {data['protect_until']} "
                             f"(was {data['previous_until']})")


def _revoke(ctx: typer.Context, grant_id: int, by: str, reason: str | None,
            json_out: bool) -> None:
    from repository.users import revoke

    with opened(ctx) as repo:
        data = revoke(repo, grant_id, by, reason)
    emit(data, json_out, f"grant {grant_id} revoked by {by}")
