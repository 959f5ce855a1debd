"""Exit codes and JSON error documents of the contract; the event log through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from repository.catalog.models import AuditRun, Event
from repository.context import open_repository
from repository.demo import make_sample_transfer


def test_log_verify_names_the_edited_event(khoso, tmp_path: Path) -> None:
    transfer, md = make_sample_transfer(tmp_path / "in", "Hồ sơ", "x")
    aip = khoso.json("ingest", transfer, "--metadata", md)["aip"]
    intact = khoso.json("log", "verify")
    assert intact["intact"] is True and intact["events"] >= 5
    target = next(e for e in khoso.json("aip", "show", aip)["events"]
                  if e["type"] == "message digest calculation")
    repo = open_repository(str(khoso.home))
    try:
        with repo.catalog.session() as session:
            session.execute(update(Event).where(Event.seq == target["seq"])
                            .values(agent="someone else"))
    finally:
        repo.close()
    broken = khoso.json("log", "verify", code=1)
    assert broken["intact"] is False
    assert broken["first_bad"] == target["seq"]
    human = khoso("log", "verify")
    assert human.code == 1 and f"event {target['seq']}" in human.out


def test_usage_errors_exit_2_with_a_json_document(khoso) -> None:
    doc = khoso.json("aip", "show", "urn:uuid:missing", code=2)
    assert doc["error"]["code"] == 2 and "urn:uuid:missing" in doc["error"]["message"]
    doc = khoso.json("ingest", "--no-such-option", code=2)
    assert doc["error"]["code"] == 2
    doc = khoso.json("user", "add", "x", "--role", "emperor", code=2)
    assert "emperor" in doc["error"]["message"]
    doc = khoso.json("ingest", ".", "--classification", "ultra", code=2)
    assert "ultra" in doc["error"]["message"]
    doc = khoso.json("storage", "add", "x", "ftp://host/x", code=2)
    assert "ftp" in doc["error"]["message"]


def test_missing_home_is_a_configuration_error(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from repository.cli.app import main

    code = main(["--home", str(tmp_path / "nothing"), "aip", "list", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 2 and "khoso init" in doc["error"]["message"]


def test_bad_policy_file_names_file_key_and_problem(khoso) -> None:
    policy = khoso.home / "policies" / "classification.yaml"
    policy.write_text(policy.read_text(encoding="utf-8").replace(
        "protection_years: 20", "protection_years: -5"), encoding="utf-8")
    # Every command that consults the policies refuses before doing any work: an audit
    # starts no run and records nothing.
    events_before = khoso.json("log", "verify")["events"]
    for command in (("audit",), ("replicate",), ("storage", "fsck")):
        doc = khoso.json(*command, code=2)
        message = doc["error"]["message"]
        assert "classification.yaml" in message
        assert "levels.2.protection_years" in message
        assert "greater than or equal to 1" in message
    # Commands that only read the catalog or the log still answer.
    assert khoso.json("log", "verify")["events"] == events_before
    assert khoso.json("aip", "list")["aips"] == []
    with closing(open_repository(str(khoso.home))) as repo, repo.catalog.session() as session:
        assert session.scalar(select(func.count(AuditRun.id))) == 0
    # `khoso serve` refuses to start rather than fail its requests one by one.
    from repository.api.app import create_app
    from repository.config import load_settings
    from repository.errors import ConfigError

    with pytest.raises(ConfigError, match=r"classification\.yaml"):
        create_app(load_settings(str(khoso.home)), background=False)


def test_a_broken_policy_stops_a_command_before_the_catalog_is_migrated(khoso) -> None:
    from alembic import command

    from repository.catalog.db import HEAD, alembic_config, current_revision, make_engine
    from repository.config import load_settings

    engine = make_engine(load_settings(str(khoso.home)).database_url)
    try:
        command.downgrade(alembic_config(engine), "-1")  # as an older khoso left it
        older = current_revision(engine)
        assert older != HEAD
        policy = khoso.home / "policies" / "replication.yaml"
        good = policy.read_text(encoding="utf-8")
        policy.write_text("min_copies: [2\n", encoding="utf-8")
        for args in (("replicate",), ("audit",), ("ingest", str(khoso.home / "nothing"))):
            doc = khoso.json(*args, code=2)
            assert "replication.yaml" in doc["error"]["message"]
            assert current_revision(engine) == older  # nothing migrated
        policy.write_text(good, encoding="utf-8")
        khoso.json("replicate")
        assert current_revision(engine) == HEAD
    finally:
        engine.dispose()


def test_broken_yaml_names_the_line(khoso) -> None:
    policy = khoso.home / "policies" / "replication.yaml"
    policy.write_text("min_copies: [2\n", encoding="utf-8")
    doc = khoso.json("replicate", code=2)
    assert "replication.yaml" in doc["error"]["message"]
    assert "line" in doc["error"]["message"]


def test_init_is_idempotent(khoso) -> None:
    before = khoso.json("storage", "list")
    again = khoso.json("init")
    assert again["created"] is False
    assert khoso.json("storage", "list") == before
    assert khoso.json("log", "verify")["intact"]


def test_console_script_runs_as_a_process(tmp_path: Path) -> None:
    home = tmp_path / "home"
    exe = Path(sys.executable).with_name("khoso")
    init = subprocess.run([str(exe), "--home", str(home), "init", "--json"],
                          capture_output=True, text=True)
    assert init.returncode == 0, init.stderr
    assert json.loads(init.stdout)["created"] is True
    refused = subprocess.run([str(exe), "--home", str(home), "aip", "show", "nope", "--json"],
                             capture_output=True, text=True)
    assert refused.returncode == 2
    assert json.loads(refused.stdout)["error"]["code"] == 2
