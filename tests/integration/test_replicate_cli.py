"""``khoso replicate`` and placement through the CLI on both catalogs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from tests.helpers.storage import flip_byte
from tests.storage.conftest import (  # noqa: F401  (fixtures)
    AKID,
    SECRET,
    _no_ambient_aws,
    rclone_s3,
    s3_admin,
    s3_bucket,
)
from tests.storage.journey import (
    allow_ingest_without_scanner,
    files_under,
    location_roots,
    many_files,
    secret_transfer,
    violations,
)

FORBID = "replication.forbid.classified-not-on-internet"


@pytest.fixture
def home(khoso):  # type: ignore[no-untyped-def]
    allow_ingest_without_scanner(khoso.home)
    return khoso


def _ingest(khoso, transfer: Path, *args: str) -> str:  # type: ignore[no-untyped-def]
    return khoso.json("ingest", transfer, *args)["aip"]


def _objects(root: Path, aip: str) -> dict[str, bytes]:
    return files_under(root / aip.replace(":", "_"))


def test_new_location_is_filled_and_a_second_run_does_nothing(home, tmp_path: Path) -> None:
    public = _ingest(home, many_files(tmp_path / "in" / "a", 8))
    secret = _ingest(home, secret_transfer(tmp_path / "in" / "b"), "--classification", "mat")
    home.ok("storage", "add", "offsite", (tmp_path / "offsite").as_uri())

    result = home("replicate", "--json")

    assert result.code == 0, result.err
    doc = result.json  # progress went to stderr: stdout is exactly one JSON document
    assert doc["copies_needed"] == 2 and doc["failed"] == [] and doc["refused"] == []
    assert {(a["aip"], a["location"]) for a in doc["added"]} == {(public, "offsite"),
                                                                 (secret, "offsite")}
    roots = location_roots(home.home)
    for aip in (public, secret):
        assert _objects(roots["offsite"], aip) == _objects(roots["local"], aip)
        shown = home.json("aip", "show", aip)
        assert {r["location"]: r["status"] for r in shown["replicas"]} == {
            "local": "verified", "offsite": "verified"}
        assert any(e["type"] == "replication" and e["detail"]["location"] == "offsite"
                   for e in shown["events"])
    assert violations(home.home) == []
    # At policy: planned without reading one file row (a home of millions of files plans
    # from its AIPs and copies alone).
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        again = home.json("replicate")
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    assert (again["copies_needed"], again["at_policy"], again["added"]) == (0, 2, [])
    assert any("replicas" in q for q in statements)
    assert not any("aip_files" in q for q in statements)


def test_a_killed_run_is_resumed_from_what_is_already_there(home, tmp_path: Path) -> None:
    aip = _ingest(home, many_files(tmp_path / "in" / "a", 12))
    home.ok("storage", "add", "offsite", (tmp_path / "offsite").as_uri())
    roots = location_roots(home.home)
    # What a run killed halfway leaves: some objects copied, no catalog row yet.
    done = sorted(p for p in (roots["local"] / aip.replace(":", "_")).rglob("*") if p.is_file())
    for src in done[:9]:
        dest = roots["offsite"] / src.relative_to(roots["local"])
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
    result = home.json("replicate")
    (added,) = result["added"]
    assert (added["present"], added["copied"]) == (9, added["objects"] - 9)
    assert violations(home.home) == []


def test_a_damaged_source_is_skipped_for_a_good_one(home, tmp_path: Path) -> None:
    home.ok("storage", "add", "second", (tmp_path / "second").as_uri())
    aip = _ingest(home, many_files(tmp_path / "in" / "a", 5))
    home.ok("storage", "add", "third", (tmp_path / "third").as_uri(), "--option", "site=far")
    roots = location_roots(home.home)
    victim = next(p for p in sorted(roots["local"].rglob("*.txt")))
    flip_byte(victim)
    # local is still "verified" in the catalog (no audit ran): replicate must not trust it.
    result = home.json("replicate", "--to", "third")
    assert [a["location"] for a in result["added"]] == ["third"]
    assert violations(home.home) == [f"local: {aip} {_logical(home, aip, victim)}: corrupt"]


def _logical(khoso, aip: str, path: Path) -> str:  # type: ignore[no-untyped-def]
    name = path.name
    return next(f["path"] for f in khoso.json("aip", "show", aip)["files"]
                if f["path"].endswith(name))


def test_no_good_source_means_no_copy_and_exit_1(home, tmp_path: Path) -> None:
    aip = _ingest(home, many_files(tmp_path / "in" / "a", 5))
    home.ok("storage", "add", "offsite", (tmp_path / "offsite").as_uri())
    roots = location_roots(home.home)
    flip_byte(next(p for p in sorted(roots["local"].rglob("*.txt"))))
    result = home.json("replicate", code=1)
    (failed,) = result["failed"]
    assert failed["location"] == "offsite" and "no source copy verifies" in \
        failed["objects"][0]["problem"]
    replicas = home.json("aip", "show", aip)["replicas"]
    assert [r["location"] for r in replicas] == ["local"]
    # The bad bytes copied from the damaged source were removed again.
    damaged_name = next(p for p in sorted(roots["local"].rglob("*.txt"))).name
    assert not list((roots["offsite"]).rglob(damaged_name))


def test_classified_content_is_refused_on_a_cloud_location(home, tmp_path: Path) -> None:
    home.ok("storage", "add", "cloud", (tmp_path / "cloud").as_uri(), "--option",
            "network=cloud")
    listed = {loc["name"]: loc["attributes"] for loc in home.json("storage", "list")["locations"]}
    assert listed["cloud"]["network"] == "cloud" and listed["local"]["network"] == "lan"
    error = home.json("ingest", secret_transfer(tmp_path / "in" / "s"), "--classification",
                      "secret", code=3)["error"]
    assert "replication.min_copies" in error["message"] and FORBID in error["message"]
    home.ok("storage", "add", "vault", (tmp_path / "vault").as_uri(), "--option",
            "network=isolated")
    aip = _ingest(home, secret_transfer(tmp_path / "in" / "s2"), "--classification", "secret")
    refused = home.json("replicate", "--aip", aip, "--to", "cloud", code=3)["refused"]
    assert [r["rule"] for r in refused] == [FORBID]
    assert not (tmp_path / "cloud" / aip.replace(":", "_")).exists()
    events = home.json("aip", "show", aip)["events"]
    assert any(e["type"] == "replication" and e["outcome"] == "failure"
               and e["detail"]["refused"] == FORBID for e in events)
    public = home.json("ingest", many_files(tmp_path / "in" / "p", 2))
    assert [r["location"] for r in public["replicas"]] == ["local", "cloud"]


def test_policy_asking_for_a_write_once_copy(home, tmp_path: Path) -> None:
    policy = home.home / "policies" / "replication.yaml"
    policy.write_text(policy.read_text(encoding="utf-8").replace("levels: {}", (
        "levels:\n  secret:\n    min_copies: 3\n"
        "    at_least_one_on: [{write_once: true}, {offline: true}]\n"
        "    source: \"QCVN 12:2026\"\n")), encoding="utf-8")
    for name in ("b", "c"):
        home.ok("storage", "add", name, (tmp_path / name).as_uri())
    error = home.json("ingest", secret_transfer(tmp_path / "in" / "s"), "--classification",
                      "toi-mat", code=3)["error"]
    assert "replication.levels.secret" in error["message"] and "QCVN 12:2026" in error["message"]
    home.ok("storage", "add", "worm", (tmp_path / "worm").as_uri(), "--option",
            "write_once=true", "--option", "media=optical")
    aip = home.json("ingest", secret_transfer(tmp_path / "in" / "s2"), "--classification",
                    "toi-mat")
    assert sorted(r["location"] for r in aip["replicas"]) == ["b", "local", "worm"]


def test_dry_run_shows_the_plan_and_writes_nothing(home, tmp_path: Path) -> None:
    aip = _ingest(home, many_files(tmp_path / "in" / "a", 3))
    home.ok("storage", "add", "offsite", (tmp_path / "offsite").as_uri())
    plan = home.json("replicate", "--dry-run")["plan"]
    assert [(p["aip"], p["location"], p["sources"]) for p in plan] == [
        (aip, "offsite", ["local"])]
    assert not (tmp_path / "offsite" / aip.replace(":", "_")).exists()


@pytest.mark.s3
def test_replicate_many_small_files_to_s3(home, tmp_path: Path, rclone_s3,  # noqa: F811
                                          s3_bucket: str) -> None:  # noqa: F811
    aip = _ingest(home, many_files(tmp_path / "in" / "a", 40, size=300))
    home.ok("storage", "add", "s3", f"s3://{s3_bucket}/khoso?endpoint_url={rclone_s3.endpoint}",
            "--option", f"aws_access_key_id={AKID}", "--option",
            f"aws_secret_access_key={SECRET}")
    listed = {loc["name"]: loc for loc in home.json("storage", "list")["locations"]}
    assert listed["s3"]["attributes"]["network"] == "lan"  # loopback endpoint
    assert SECRET not in str(listed)
    result = home.json("replicate", "--workers", "16")
    (added,) = result["added"]
    assert added["location"] == "s3" and added["copied"] == added["objects"] > 40
    stored = files_under(rclone_s3.root / s3_bucket / "khoso" / aip.replace(":", "_"))
    assert stored == _objects(location_roots(home.home)["local"], aip)
    assert violations(home.home) == []


@pytest.mark.s3
def test_replicate_to_s3_as_a_command_loads_neither_boto3_nor_alembic(
        home, tmp_path: Path, rclone_s3, s3_bucket: str) -> None:  # noqa: F811
    """The whole command in a fresh interpreter, as operators run it: the copy is made and
    verified through the fast path, and the start-up never paid for boto3 (client and
    import), Alembic (the catalog is at its head) or rich (stderr is no terminal)."""
    aip = _ingest(home, many_files(tmp_path / "in" / "a", 6, size=300))
    home.ok("storage", "add", "s3", f"s3://{s3_bucket}/khoso?endpoint_url={rclone_s3.endpoint}",
            "--option", f"aws_access_key_id={AKID}", "--option",
            f"aws_secret_access_key={SECRET}")
    done = subprocess.run([sys.executable, "-X", "importtime", "-c",
                           "from repository.cli.app import run; run()", "replicate", "--json"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    (added,) = json.loads(done.stdout)["added"]
    assert added["location"] == "s3" and added["copied"] == added["objects"]
    stored = files_under(rclone_s3.root / s3_bucket / "khoso" / aip.replace(":", "_"))
    assert stored == _objects(location_roots(home.home)["local"], aip)
    loaded = {line.rpartition("|")[2].strip().split(".")[0]
              for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert {"sqlalchemy", "storage"} <= loaded
    assert {"boto3", "s3transfer", "urllib3", "alembic", "rich"} & loaded == set()
