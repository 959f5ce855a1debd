"""The ``khoso`` command: parse, call one service, render. The one place errors become
exit codes and ``--json`` error documents (CONTRACT.md)."""

from __future__ import annotations

import json
import sys
import traceback

import click
import typer
from sqlalchemy.exc import DBAPIError

from repository.catalog.db import CatalogUnavailable
from repository.cli import (
    access_cmd,
    admin_cmd,
    aip_cmd,
    audit_cmd,
    copies_cmd,
    ingest_cmd,
    keys_cmd,
    log_cmd,
    replicate_cmd,
    scheduler_cmd,
    serve_cmd,
    storage_cmd,
    token_cmd,
)
from repository.cli.output import stderr
from repository.errors import InternalError, KhosoError, UsageError

# Recent typer vendors its own click (typer._click); older ones use click itself.
_PARSE_ERRORS: tuple[type[Exception], ...] = (click.ClickException, typer.exceptions.TyperException)

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="khoso (kho số): a preservation repository for archive centres.")


@app.callback()
def _global(ctx: typer.Context,
            home: str = typer.Option(None, "--home", envvar="KHOSO_HOME",
                                     help="The repository home (or KHOSO_HOME).")) -> None:
    ctx.obj = {"home": home}


for module in (admin_cmd, storage_cmd, ingest_cmd, aip_cmd, audit_cmd, access_cmd, log_cmd,
               serve_cmd, copies_cmd, token_cmd, scheduler_cmd, replicate_cmd, keys_cmd):
    module.register(app)


def _fail(err: KhosoError, as_json: bool) -> int:
    if as_json:
        sys.stdout.write(json.dumps(err.as_document(), ensure_ascii=False, indent=2) + "\n")
    else:
        stderr.print(f"khoso: error: {err}", markup=False, style="bold red")
        for problem in err.details[:200]:
            stderr.print(f"  - {problem.message}", markup=False)
        if len(err.details) > 200:
            stderr.print(f"  … and {len(err.details) - 200} more", markup=False)
    return err.exit_code


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    as_json = "--json" in args
    try:
        # Without standalone mode click returns typer.Exit's code instead of raising it.
        code = app(args=args, prog_name="khoso", standalone_mode=False)
        return code if isinstance(code, int) else 0
    except typer.Exit as done:
        return done.exit_code
    except (click.exceptions.Abort, typer.Abort):
        return _fail(UsageError(reason="aborted"), as_json)
    except _PARSE_ERRORS as exc:
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        return _fail(UsageError(reason=message), as_json)
    except KhosoError as err:
        if isinstance(err, InternalError):
            traceback.print_exc()
        return _fail(err, as_json)
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            traceback.print_exc()
            return _fail(InternalError(reason=f"{type(exc).__name__}: {exc.orig}"), as_json)
        return _fail(CatalogUnavailable(catalog="(see KHOSO_DATABASE_URL)", attempts=1,
                                        reason=str(exc.orig).strip()), as_json)
    except KeyboardInterrupt:
        return _fail(UsageError(reason="interrupted"), as_json)
    except Exception as exc:  # a bug: show the traceback, keep the contract's JSON shape
        traceback.print_exc()
        return _fail(InternalError(reason=f"{type(exc).__name__}: {exc}"), as_json)


def run() -> None:
    sys.exit(main())
