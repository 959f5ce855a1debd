"""Replication speed: ``khoso replicate`` of a 2,000-file AIP to a loopback S3 server, against
``rclone copy`` of the very same stored files to the same server, as a ratio (issue 4).

Same run, same server (``rclone serve s3`` on 127.0.0.1), same bytes: the objects of the
AIP's copy in the home's local location are what rclone copies, so both tools move the same
files. khoso does more per file: it streams and hashes each object, PUTs it with
Content-MD5, then GETs it back and hashes it again before the copy is recorded (rclone
checks the server's MD5/ETag only). Both are timed as whole commands (start-up included).
rclone runs three times: with its defaults (--transfers 4 --checkers 8), with as many
transfers as khoso has workers, and with its defaults followed by ``rclone check --download``
(which reads every object back and compares bytes: the same proof khoso gives before it
records a copy). Target: files/s of khoso >= files/s of rclone copy (ratio >= 1).

    .venv/bin/python scripts/bench/replicate_vs_rclone.py [--files 2000] [--workers 8]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from common import VENV_BIN, make_small_files  # noqa: E402
from loopback_s3 import AKID, SECRET, serve  # noqa: E402

KHOSO = str(VENV_BIN / "khoso")


def khoso(home: Path, *args: str) -> str:
    env = {**os.environ, "KHOSO_HOME": str(home)}
    done = subprocess.run([KHOSO, *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"khoso {' '.join(args)} failed ({done.returncode}): "
                         f"{done.stderr[-2000:]}{done.stdout[-2000:]}")
    return done.stdout


def timed_run(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr[-2000:]}")
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="khoso-bench-repl-") as tmp:
        work = Path(tmp)
        home, aip, objects = prepare(work, args.files)
        source = home / "storage" / "local" / aip.replace(":", "_")
        with serve(work / "s3") as server:
            env = server.rclone_env()
            server.bucket("khoso")
            khoso(home, "storage", "add", "s3",
                  f"s3://khoso/repo?endpoint_url={server.endpoint}",
                  "--option", f"aws_access_key_id={AKID}",
                  "--option", f"aws_secret_access_key={SECRET}")
            runs = {}
            runs["khoso replicate"] = timed_run(
                [KHOSO, "replicate", "--workers", str(args.workers), "--json"],
                {"KHOSO_HOME": str(home)})
            for label, extra in (("rclone copy (defaults)", []),
                                 (f"rclone copy --transfers {args.workers}",
                                  ["--transfers", str(args.workers)])):
                bucket = server.bucket(f"rclone{len(runs)}")
                runs[label] = timed_run([server.rclone, "copy", "--config", os.devnull,
                                         str(source), f"bench:{bucket}/repo", *extra], env)
            runs["rclone copy + check --download"] = runs["rclone copy (defaults)"] + timed_run(
                [server.rclone, "check", "--download", "--config", os.devnull, str(source),
                 "bench:rclone1/repo"], env)
        copied = sum(1 for p in (work / "s3" / "khoso").rglob("*") if p.is_file())
        assert copied == objects, f"khoso stored {copied} objects, the AIP has {objects}"
    rates = {label: objects / seconds for label, seconds in runs.items()}
    base = rates["khoso replicate"]
    print(json.dumps({
        "objects": objects, "workers": args.workers,
        "seconds": {k: round(v, 2) for k, v in runs.items()},
        "files_per_second": {k: round(v, 1) for k, v in rates.items()},
        "ratio_khoso_to": {k: round(base / v, 2) for k, v in rates.items()
                           if k != "khoso replicate"},
        "target": "ratio_khoso_to['rclone copy (defaults)'] >= 1.0",
    }, indent=2))


if __name__ == "__main__":
    main()
