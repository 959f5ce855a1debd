"""khoso log verify, log checkpoint, log rotate-key, log export."""

from __future__ import annotations

from pathlib import Path

import typer

from repository.cli.common import JSON, opened
from repository.cli.output import emit


def register(app: typer.Typer) -> None:
    log = typer.Typer(help="The tamper-evident event log.", no_args_is_help=True)
    app.add_typer(log, name="log")

    @log.command("verify")
    def verify(ctx: typer.Context,
               public_key: Path = typer.Option(None, "--public-key",
                                               help="Check signatures with this PEM key "
                                                    "instead of the home's."),
               json_out: bool = JSON) -> None:
        """Verify every event's hash and link and every signed checkpoint (exit 1 when not)."""
        from repository.log_service import verify_log

        with opened(ctx, policies=False) as repo:
            data = verify_log(repo, public_key)
        cps = data["checkpoints"]
        if data["intact"]:
            text = (f"event log intact: {data['events']} events, {cps['verified']} signed "
                    f"checkpoint(s) held by the chain")
        else:
            text = "\n".join([f"event log BROKEN at event {data['first_bad']}: {data['reason']}",
                              *(f"  - {p}" for p in data["problems"][1:])])
        text += "".join(f"\nwarning: {w}" for w in data["warnings"])
        emit(data, json_out, text)
        if not data["intact"]:
            raise typer.Exit(1)

    @log.command("checkpoint")
    def checkpoint(ctx: typer.Context, json_out: bool = JSON) -> None:
        """Sign the chain head now (the scheduler and every audit run do this too)."""
        from repository.checkpoints import write_checkpoint

        with opened(ctx) as repo:
            data = write_checkpoint(repo)
        if data is None:
            emit({"checkpoint": None}, json_out, "the event log is empty: nothing to sign")
            return
        st = data["statement"]
        emit({"checkpoint": data}, json_out,
             f"checkpoint at event {st['seq']} ({st['hash'][:16]}…) signed by {st['key_id']}")

    @log.command("rotate-key")
    def rotate_key(ctx: typer.Context, json_out: bool = JSON) -> None:
        """Replace the checkpoint signing key; the old key signs the event naming the new one
        and keeps only its public half (HOME/keys/checkpoint-retired/)."""
        from repository.checkpoints import rotate_key as run

        with opened(ctx) as repo:
            data = run(repo)
        emit(data, json_out, f"checkpoint key {data['retired']} retired; {data['current']} "
                             "signs from now on (record the new id where operators cannot "
                             "change it)")

    @log.command("export")
    def export(ctx: typer.Context, out: Path = typer.Option(..., "--out"),
               json_out: bool = JSON) -> None:
        """Write events, signed checkpoints, the public key and a standalone verifier."""
        from repository.log_service import export_log

        with opened(ctx, policies=False) as repo:
            data = export_log(repo, out)
        text = (f"exported {data['events']} events and {data['checkpoints']} checkpoints "
                f"(key {data['key_id']}) to {data['out']}; verify with: python3 "
                f"{Path(data['out']) / 'verify.py'} {data['out']}")
        if not data["intact"]:
            text += f"\nthe log does NOT verify: {data['reason']}"
        emit(data, json_out, text)
        if not data["intact"]:
            raise typer.Exit(1)
