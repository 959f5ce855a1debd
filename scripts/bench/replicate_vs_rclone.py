"""Replication speed: ``khoso replicate`` of a 2,000-file AIP to a loopback S3 server, against
``rclone copy`` of the very same stored files to the same server, as a ratio (issue 4).

Same run, same server (``rclone serve s3`` on 127.0.0.1), same bytes: the objects of the
AIP's copy in the home's local location are what rclone copies, so both tools move the same
files. khoso does more per file: it streams and hashes each object, PUTs it with
Content-MD5, then GETs it back and hashes it again before the copy is recorded (rclone
checks the server's MD5/ETag only). Both are timed as whole commands (start-up included).
khoso is also timed as it replicates inside a running service (``khoso serve``'s replication
catch-up job calls the same ``replicate`` function): one process started before the first
round, imports done and the repository open, replicates to a new location each round, timed
from the call to its return (the plan, every PUT and read-back GET, the catalog records).
khoso runs as locations are opened by default (small PUTs and GETs on the fast path,
storage/s3_fast.py): ``khoso replicate --to`` a new location each round; and once, to a
location with ``fast_path=false``, through boto3 only. rclone runs with its defaults
(--transfers 4 --checkers 8), with as many transfers as khoso has workers, and with its
defaults followed by ``rclone check --download`` (which reads every object back and compares
bytes: the same proof khoso gives before it records a copy). Every round writes to fresh
buckets of the same server (same flags for both tools), and rounds alternate which tool goes
first, so neither always meets a fresher server. Each run also reports the CPU seconds of the
command and of the S3 server (the machine has two cores: they share them). Target: files/s
of khoso >= files/s of rclone copy (ratio >= 1, per round, measured in the same round).

    .venv/bin/python scripts/bench/replicate_vs_rclone.py [--files 2000] [--workers 16]
        [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from common import VENV_BIN, ServiceProcess, make_small_files  # noqa: E402
from loopback_s3 import AKID, SECRET, Server, serve  # noqa: E402

KHOSO = str(VENV_BIN / "khoso")


def khoso(home: Path, *args: str) -> str:
    env = {**os.environ, "KHOSO_HOME": str(home)}
    done = subprocess.run([KHOSO, *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"khoso {' '.join(args)} failed ({done.returncode}): "
                         f"{done.stderr[-2000:]}{done.stdout[-2000:]}")
    return done.stdout


CPU: dict[str, list[dict[str, float]]] = {}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def server_cpu(port: str) -> float | None:
    """CPU seconds the ``rclone serve s3`` listening on ``port`` has used (Linux /proc)."""
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            if b"serve" in cmdline and f"127.0.0.1:{port}".encode() in cmdline:
                fields = (proc / "stat").read_text().rpartition(")")[2].split()
                return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            continue
    return None


def timed_run(cmd: list[str], env: dict[str, str], label: str = "", port: str = "") -> float:
    cpu, served = children_cpu(), server_cpu(port) if port else None
    start = time.perf_counter()
    done = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr[-2000:]}")
    if label:
        after = server_cpu(port) if port else None
        used = {"command": round(children_cpu() - cpu, 2)}
        if served is not None and after is not None:
            used["s3 server"] = round(after - served, 2)
        CPU.setdefault(label, []).append(used)
    return elapsed


def prepare(work: Path, files: int) -> tuple[Path, str, int]:
    home = work / "home"
    khoso(home, "init")
    intake = home / "policies" / "intake.yaml"
    # Intake speed is not measured here: no virus scanner needed for this generated data.
    intake.write_text(re.sub(r"allow_without_scanner:\s*false", "allow_without_scanner: true",
                             intake.read_text(encoding="utf-8")), encoding="utf-8")
    transfer = make_small_files(work / "transfer", files, low=2048, high=8192)
    print(f"ingesting {files} files (format identification is slow: a minute or two)…",
          file=sys.stderr)
    aip = json.loads(khoso(home, "ingest", str(transfer), "--json"))
    return home, aip["aip"], len(json.loads(khoso(home, "aip", "show", aip["aip"], "--json"))
                                    ["files"])


def serve_replicate(home: Path, workers: int) -> None:
    """The long-running side (``--service HOME``): one replication per location named on
    stdin, answered with a JSON line (seconds and copies added)."""
    from repository.context import open_repository
    from repository.replicate_service import replicate

    repo = open_repository(str(home))
    try:
        for line in sys.stdin:
            start = time.perf_counter()
            done = replicate(repo, to=line.strip(), workers=workers)
            seconds = time.perf_counter() - start
            print(json.dumps({"seconds": seconds, "added": len(done["added"]),
                              "failed": len(done["failed"]),
                              "problems": [o for f in done["failed"] for o in f["objects"]][:5]}),
                  flush=True)
    finally:
        repo.close()


def replicate_in(service: ServiceProcess, location: str) -> float:
    answer = service.ask(location)
    if answer["failed"] or not answer["added"]:
        raise SystemExit(f"replication in the service failed: {answer}")
    return float(answer["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--service", metavar="HOME", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.service:
        serve_replicate(Path(args.service), args.workers)
        return
    runs: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="khoso-bench-repl-") as tmp:
        work = Path(tmp)
        home, aip, objects = prepare(work, args.files)
        source = home / "storage" / "local" / aip.replace(":", "_")
        with serve(work / "s3") as server:
            env = server.rclone_env()
            port = server.endpoint.rpartition(":")[2]
            # Every bucket before the first request: rclone caches the listing of its root.
            for name in [f"{kind}-{n}" for n in range(args.rounds)
                         for kind in ("s3", "svc", "rclone1", "rclone2")] + ["s3-boto3"]:
                server.bucket(name)
            locations = [f"{kind}-{n}" for n in range(args.rounds) for kind in ("s3", "svc")]
            for name, fast in [(name, "true") for name in locations] + [("s3-boto3", "false")]:
                khoso(home, "storage", "add", name,
                      f"s3://{name}/repo?endpoint_url={server.endpoint}",
                      "--option", f"aws_access_key_id={AKID}",
                      "--option", f"aws_secret_access_key={SECRET}",
                      "--option", f"fast_path={fast}")
            khoso_env = {"KHOSO_HOME": str(home)}
            ratios, in_service = [], []
            service = ServiceProcess([sys.executable, __file__, "--service", str(home),
                                      "--workers", str(args.workers)], khoso_env)
            for n in range(args.rounds):
                order = [_khoso_run, _rclone_runs] if n % 2 == 0 else [_rclone_runs, _khoso_run]
                for step in order:
                    step(runs, n, args.workers, khoso_env, env, server, source, port)
                    if step is _khoso_run:  # the service right after the command
                        runs.setdefault("khoso in a running service", []).append(
                            replicate_in(service, f"svc-{n}"))
                ratios.append(round(runs["rclone copy (defaults)"][n]
                                    / runs["khoso replicate"][n], 2))
                in_service.append(round(runs["rclone copy (defaults)"][n]
                                        / runs["khoso in a running service"][n], 2))
                print(f"round {n + 1}: khoso ÷ rclone copy = {ratios[-1]}, in a service "
                      f"{in_service[-1]} (load average {os.getloadavg()[0]:.1f})",
                      file=sys.stderr)
            service.close()
            label = "khoso replicate (fast_path=false)"
            runs[label] = [timed_run([KHOSO, "replicate", "--to", "s3-boto3", "--workers",
                                      str(args.workers), "--json"], khoso_env, label, port)]
        for bucket in [*locations, "s3-boto3"]:
            copied = sum(1 for p in (work / "s3" / bucket).rglob("*") if p.is_file())
            assert copied == objects, f"khoso stored {copied} objects, the AIP has {objects}"
    median = {label: statistics.median(seconds) for label, seconds in runs.items()}
    print(json.dumps({
        "objects": objects, "workers": args.workers, "rounds": args.rounds,
        "seconds": {k: [round(s, 2) for s in v] for k, v in runs.items()},
        "files_per_second_median": {k: round(objects / v, 1) for k, v in median.items()},
        "cpu_seconds": CPU,
        "ratio_khoso_to_rclone_copy_per_round": ratios,
        "ratio_in_service_to_rclone_copy_per_round": in_service,
        "ratio_khoso_to_median": {k: round(median[k] / median["khoso replicate"], 2)
                                  for k in median if k != "khoso replicate"},
        "target": "ratio_khoso_to_rclone_copy_per_round >= 1.0",
    }, indent=2))


def _khoso_run(runs: dict[str, list[float]], n: int, workers: int, khoso_env: dict[str, str],
               env: dict[str, str], server: Server, source: Path, port: str) -> None:
    label = "khoso replicate"
    runs.setdefault(label, []).append(timed_run(
        [KHOSO, "replicate", "--to", f"s3-{n}", "--workers", str(workers), "--json"],
        khoso_env, label, port))


def _rclone_runs(runs: dict[str, list[float]], n: int, workers: int, khoso_env: dict[str, str],
                 env: dict[str, str], server: Server, source: Path, port: str) -> None:
    rclone = server.rclone
    for label, bucket, extra in (("rclone copy (defaults)", f"rclone1-{n}", []),
                                 (f"rclone copy --transfers {workers}", f"rclone2-{n}",
                                  ["--transfers", str(workers)])):
        runs.setdefault(label, []).append(timed_run(
            [rclone, "copy", "--config", os.devnull, str(source), f"bench:{bucket}/repo",
             *extra], env, label, port))
    label = "rclone check --download"
    runs.setdefault("rclone copy + check --download", []).append(
        runs["rclone copy (defaults)"][-1] + timed_run(
            [rclone, "check", "--download", "--config", os.devnull, str(source),
             f"bench:rclone1-{n}/repo"], env, label, port))


if __name__ == "__main__":
    main()
