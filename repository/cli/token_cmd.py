"""khoso token create/list/revoke: HTTP API tokens (only their SHA-256 is kept)."""

from __future__ import annotations

import typer

from repository.cli.common import JSON, opened, parse_date
from repository.cli.output import emit


def register(app: typer.Typer) -> None:
    token = typer.Typer(help="HTTP API tokens.", no_args_is_help=True)
    app.add_typer(token, name="token")

    @token.command("create")
    def create(ctx: typer.Context, user_name: str = typer.Option(..., "--user"),
               label: str = typer.Option(None, "--label"),
               expires: str = typer.Option(None, "--expires", help="Last valid day (YYYY-MM-DD)."),
               json_out: bool = JSON) -> None:
        """Create a token acting for a user. It is printed once and never again."""
        from repository.tokens import create as run

        with opened(ctx) as repo:
            data = run(repo, user_name, label, parse_date(expires, "--expires"))
        emit(data, json_out, f"{data['token']}\n(token {data['token_id']} for {data['user']}; "
                             "shown once, store it now)")

    @token.command("list")
    def list_(ctx: typer.Context, user_name: str = typer.Option(None, "--user"),
              json_out: bool = JSON) -> None:
        """List tokens (never their values)."""
        from repository.tokens import list_tokens

        with opened(ctx, policies=False) as repo:
            data = list_tokens(repo, user_name)
        emit(data, json_out, "\n".join(
            f"{t['token_id']:>5}  {t['state']:<8} {t['user']:<16} expires {t['expires'] or '-'}"
            f"  {t['label']}" for t in data["tokens"]) or "no tokens")

    @token.command("revoke")
    def revoke(ctx: typer.Context, token_id: int, json_out: bool = JSON) -> None:
        """Revoke a token at once."""
        from repository.tokens import revoke as run

        with opened(ctx) as repo:
            data = run(repo, token_id)
        ended = data["sessions_ended"]
        emit(data, json_out, f"token {token_id} revoked" + (
            f"; {ended} session(s) of the officers' pages ended" if ended else ""))
