"""``kill -9`` at seeded random moments of ingest, replicate and repair (real subprocesses, both
catalogs), then the same command again. After every kill the catalog lists no copy that is not
there and verified; the rerun completes; ``storage fsck --fix`` then leaves only owned objects.

The kill moments are drawn (fixed seed) between a quarter of and 90 % of the duration of
an uninterrupted run of the same command measured just before; files of a few MiB make
copying, encrypting, storing and reading back long enough that kills land there as well as
in start-up, staging or the catalog transaction. Each test kills twice in a row (the second
run resumes what the first left), checks after each kill, then lets the command finish.
Nothing is asserted about timing itself.

The suite uses one fixed seed. A soak run draws other moments with the same checks:
``KHOSO_TEST_KILL_SEED=7 .venv/bin/python -m pytest tests/integration/test_crash_kill.py``.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.cli import Khoso
from tests.helpers.storage import flip_byte
from tests.storage.journey import (
    MARKER,
    allow_ingest_without_scanner,
    location_roots,
    many_files,
    plaintext_hits,
    secret_transfer,
    violations,
)

SEED = int(os.environ.get("KHOSO_TEST_KILL_SEED", "20261124"))
KILLS = 2
KHOSO = str(Path(sys.executable).with_name("khoso"))


class Cli:
    """The khoso command in a child process, which we may kill -9; set-up and checks run the
    same command line in-process (``inline``), which is quicker."""

    def __init__(self, home: Path, inline: Khoso) -> None:
        self.home = home
        self.inline = inline
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}

    def run(self, *args: object) -> float:
        """Run to completion (it must succeed); returns how long it took."""
        started = time.monotonic()
        done = subprocess.run([KHOSO, *map(str, args)], env=self.env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, f"khoso {args}: {done.stderr}\n{done.stdout}"
        assert MARKER not in done.stdout + done.stderr
        return time.monotonic() - started

    def kill_after(self, delay: float, *args: object) -> bool:
        """Start a run and SIGKILL it after ``delay`` seconds; False if it finished first."""
        proc = subprocess.Popen([KHOSO, *map(str, args)], env=self.env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=delay)
            return False
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True


@pytest.fixture
def cli(khoso: Khoso) -> Cli:
    """``khoso`` has set KHOSO_HOME (and KHOSO_DATABASE_URL) for this test: children inherit."""
    allow_ingest_without_scanner(khoso.home)
    return Cli(khoso.home, khoso)


def _moments(rng: random.Random, duration: float) -> list[float]:
    return [rng.uniform(duration / 4, 0.9 * duration) for _ in range(KILLS)]


def _clean_up_and_check(cli: Cli) -> None:
    cli.inline.json("storage", "fsck", "--fix", "--grace", "0")
    assert cli.inline.json("audit")["problems"] == []
    assert violations(cli.home) == []
    assert [p for p in (cli.home / "staging").iterdir() if p.name != ".locks"] == []
    after = cli.inline.json("storage", "fsck")
    assert after["orphans"] == 0 and all(loc["partial"] == [] for loc in after["locations"])
    assert all(loc["objects"] == loc["owned"] > 0 for loc in after["locations"])


def test_killed_classified_ingest_leaves_no_false_copy_and_no_plaintext(
        cli: Cli, tmp_path: Path) -> None:
    cli.inline.ok("storage", "add", "offsite", (tmp_path / "offsite").as_uri())
    transfer = secret_transfer(tmp_path / "in" / "Hồ sơ", count=6, size=3 << 20)
    rng = random.Random(SEED)
    duration = cli.run("ingest", transfer, "--classification", "secret")
    for delay in _moments(rng, duration):
        cli.kill_after(delay, "ingest", transfer, "--classification", "secret")
        assert violations(cli.home) == []
    cli.run("ingest", transfer, "--classification", "secret")  # the same command again
    assert violations(cli.home) == []
    roots = [*location_roots(cli.home).values(), cli.home / "staging"]
    assert plaintext_hits(roots, [MARKER.encode()]) == []
    _clean_up_and_check(cli)


def test_killed_replicate_resumes_and_completes(cli: Cli, tmp_path: Path) -> None:
    for i in range(2):
        cli.inline.ok("ingest", many_files(tmp_path / "in" / f"t{i}", 6, size=3 << 20))
    cli.inline.ok("storage", "add", "first", (tmp_path / "first").as_uri())
    rng = random.Random(SEED + 1)
    duration = cli.run("replicate", "--workers", "2")
    cli.inline.ok("storage", "add", "second", (tmp_path / "second").as_uri())
    for delay in _moments(rng, duration):
        cli.kill_after(delay, "replicate", "--to", "second", "--workers", "2")
        assert violations(cli.home) == []
    cli.run("replicate", "--to", "second", "--workers", "2")
    assert violations(cli.home) == []
    shown = cli.inline.json("aip", "list")["aips"]
    assert all(len(cli.inline.json("aip", "show", a["aip"])["replicas"]) == 3 for a in shown)
    _clean_up_and_check(cli)


def test_killed_repair_never_lists_an_unverified_copy(cli: Cli, tmp_path: Path) -> None:
    cli.inline.ok("storage", "add", "offsite", (tmp_path / "offsite").as_uri())
    cli.inline.ok("ingest", many_files(tmp_path / "in", 10, size=2 << 20))
    offsite = location_roots(cli.home)["offsite"]

    def damage() -> None:
        for path in sorted(p for p in offsite.rglob("*.txt") if p.is_file())[::2]:
            flip_byte(path)
        assert cli.inline("audit").code == 1
        assert violations(cli.home, known_damage_ok=True) == []

    damage()
    duration = cli.run("repair")  # measured on an uninterrupted run
    damage()
    for delay in _moments(random.Random(SEED + 2), duration):
        cli.kill_after(delay, "repair")
        assert violations(cli.home, known_damage_ok=True) == []
    cli.run("repair")
    assert violations(cli.home) == []
    _clean_up_and_check(cli)
