"""The ``khoso`` command: parse, call one service, render. The one place errors become
exit codes and ``--json`` error documents (CONTRACT.md)."""

from __future__ import annotations

import gc
import json
import sys
import traceback

import typer

from repository.cli import (
    access_cmd,
    admin_cmd,
    aip_cmd,
    audit_cmd,
    copies_cmd,
    ingest_cmd,
    keys_cmd,
    log_cmd,
    output,
    quarantine_cmd,
    replicate_cmd,
    scheduler_cmd,
    serve_cmd,
    storage_cmd,
    token_cmd,
)
from repository.cli.common import START_UP_GEN0
from repository.errors import InternalError, KhosoError, UsageError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="khoso (kho số): a preservation repository for archive centres.")


@app.callback()
def _global(ctx: typer.Context,
            home: str = typer.Option(None, "--home", envvar="KHOSO_HOME",
                                     help="The repository home (or KHOSO_HOME).")) -> None:
    ctx.obj = {"home": home}


for module in (admin_cmd, storage_cmd, ingest_cmd, aip_cmd, audit_cmd, access_cmd, log_cmd,
               serve_cmd, copies_cmd, token_cmd, scheduler_cmd, replicate_cmd, keys_cmd,
               quarantine_cmd):
    module.register(app)


def _fail(err: KhosoError, as_json: bool) -> int:
    if as_json:
        sys.stdout.write(json.dumps(err.as_document(), ensure_ascii=False, indent=2) + "\n")
    else:
        stderr = output.stderr
        stderr.print(f"khoso: error: {err}", markup=False, style="bold red")
        for problem in err.details[:200]:
            stderr.print(f"  - {problem.message}", markup=False)
        if len(err.details) > 200:
            stderr.print(f"  … and {len(err.details) - 200} more", markup=False)
    return err.exit_code


def main(argv: list[str] | None = None) -> int:
    """Run one command in this process and restore the collector for the caller (tests)."""
    thresholds = gc.get_threshold()
    _tune_collector()
    try:
        return _main(sys.argv[1:] if argv is None else argv)
    finally:
        gc.unfreeze()  # frozen by repository.cli.common.opened
        gc.set_threshold(*thresholds)


def _tune_collector() -> None:
    # Loading the catalog, policy and storage libraries makes a few hundred thousand
    # long-lived objects and little garbage; with CPython's default first-generation
    # threshold (700) the cyclic collector scans them over and over (20-30 ms of a command's
    # start-up, docs/benchmarks.md "Storage (issue 4)"). Until the repository is open the
    # threshold is START_UP_GEN0, then RUNNING_GEN0 (repository/cli/common.py opened).
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], START_UP_GEN0), *thresholds[1:])


def _main(args: list[str]) -> int:
    as_json = "--json" in args
    try:
        # Without standalone mode click returns typer.Exit's code instead of raising it.
        code = app(args=args, prog_name="khoso", standalone_mode=False)
        return code if isinstance(code, int) else 0
    except typer.Exit as done:
        return done.exit_code
    except _click_errors("Abort", typer.Abort):
        return _fail(UsageError(reason="aborted"), as_json)
    except _click_errors("ClickException", typer.exceptions.TyperException) as exc:
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        return _fail(UsageError(reason=message), as_json)
    except KhosoError as err:
        if isinstance(err, InternalError):
            traceback.print_exc()
        return _fail(err, as_json)
    except KeyboardInterrupt:
        return _fail(UsageError(reason="interrupted"), as_json)
    except Exception as exc:
        if _is_dbapi_error(exc):
            return _fail(_catalog_error(exc), as_json)
        # a bug: show the traceback, keep the contract's JSON shape
        traceback.print_exc()
        return _fail(InternalError(reason=f"{type(exc).__name__}: {exc}"), as_json)


def _click_errors(name: str, ours: type[Exception]) -> tuple[type[Exception], ...]:
    """Recent typer vendors its own click (typer._click); older ones use click itself, which
    can only have raised anything once imported (not importing it saves start-up time).
    A module still being imported is in ``sys.modules`` half made: hence ``getattr``."""
    theirs = getattr(sys.modules.get("click.exceptions"), name, None)
    return (ours, theirs) if theirs is not None else (ours,)


def _is_dbapi_error(exc: Exception) -> bool:
    """A database error that reached the CLI. SQLAlchemy is imported only by commands that
    open the catalog (start-up time), and only those can raise its errors."""
    dbapi_error = getattr(sys.modules.get("sqlalchemy.exc"), "DBAPIError", None)
    return dbapi_error is not None and isinstance(exc, dbapi_error)


def _catalog_error(exc: Exception) -> KhosoError:
    from repository.catalog.db import CatalogUnavailable

    orig = getattr(exc, "orig", None)
    if not getattr(exc, "connection_invalidated", False):
        traceback.print_exc()
        return InternalError(reason=f"{type(exc).__name__}: {orig}")
    return CatalogUnavailable(catalog="(see KHOSO_DATABASE_URL)", attempts=1,
                              reason=str(orig).strip())


def run() -> None:
    """The ``khoso`` console script: one command, then the process ends. What the command
    froze (repository.cli.common.opened) stays frozen: the collections at interpreter exit
    then skip it, ~0.15 s of CPU less for every command that opened the repository."""
    _tune_collector()
    sys.exit(_main(sys.argv[1:]))
