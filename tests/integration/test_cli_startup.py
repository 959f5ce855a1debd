"""What ``khoso`` loads before it does anything: commands that never open the repository load
neither the catalog (SQLAlchemy, Alembic) nor policies (pydantic, YAML) nor storage (boto3);
commands that only read the catalog or the log load no policies either.
That is most of the CLI's start-up time (docs/benchmarks.md, "Storage (issue 4)"), so it is
checked here by what a real process imported, never by a clock."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = {"sqlalchemy", "alembic", "pydantic", "yaml", "boto3", "botocore", "urllib3",
         "fastapi", "apscheduler", "policies", "storage", "ingest"}


def run_khoso(*args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """The real command in a fresh interpreter, and the top-level packages it imported."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c",
                           "from repository.cli.app import run; run()", *args],
                          capture_output=True, text=True, timeout=120)
    loaded = {line.rpartition("|")[2].strip().split(".")[0]
              for line in done.stderr.splitlines() if line.startswith("import time:")}
    return done, loaded


def test_help_loads_no_catalog_policy_or_storage_library() -> None:
    done, loaded = run_khoso("--help")
    assert done.returncode == 0
    assert "Usage: khoso" in done.stdout and "replicate" in done.stdout
    assert HEAVY & loaded == set()


def test_a_usage_error_is_reported_in_json_without_loading_the_catalog() -> None:
    done, loaded = run_khoso("replicate", "--bogus", "--json")
    assert done.returncode == 2
    assert json.loads(done.stdout)["error"]["message"] == "No such option: --bogus"
    assert HEAVY & loaded == set()


def test_read_only_commands_load_no_policy_library(tmp_path) -> None:  # type: ignore[no-untyped-def]
    home = str(tmp_path / "home")
    done, _ = run_khoso("--home", home, "init", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    for command in (["aip", "list"], ["log", "verify"], ["token", "list"]):
        done, loaded = run_khoso("--home", home, *command, "--json")
        assert done.returncode == 0, done.stderr[-2000:]
        assert json.loads(done.stdout)  # answered
        assert "sqlalchemy" in loaded  # they do read the catalog
        assert {"pydantic", "boto3", "fastapi"} & loaded == set(), command
    # A command that acts under the policies loads and checks them before it starts.
    done, loaded = run_khoso("--home", home, "replicate", "--json")
    assert done.returncode == 0 and "pydantic" in loaded
