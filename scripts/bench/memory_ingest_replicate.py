"""Memory stays flat: peak RSS of ``khoso ingest`` and of ``khoso replicate`` (to a loopback
S3 server, multipart) for one large generated file (issue 4: 1.5 GB, each under 300 MB).

Each command runs in its own child of a small wrapper process, whose RUSAGE_CHILDREN
``ru_maxrss`` is then the peak resident set of the largest process that command started
(khoso itself or a worker it forked). The file is generated incompressible (random blocks).
``--classified`` ingests it as Mật (confidential) so the encrypting path is measured too.

    .venv/bin/python scripts/bench/memory_ingest_replicate.py [--mb 1536] [--classified]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from common import VENV_BIN  # noqa: E402
from loopback_s3 import AKID, SECRET, serve  # noqa: E402

KHOSO = str(VENV_BIN / "khoso")
LIMIT_MB = 300
WRAPPER = ("import resource, subprocess, sys; "
           "code = subprocess.run(sys.argv[1:]).returncode; "
           "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)")


def peak_mb(home: Path, *args: str) -> float:
    done = subprocess.run([sys.executable, "-c", WRAPPER, KHOSO, *args],
                          env={**os.environ, "KHOSO_HOME": str(home)}, capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise SystemExit(f"khoso {' '.join(args)} failed: {done.stderr[-2000:]}")
    return int(done.stdout.strip().splitlines()[-1]) / 1024


def generate(path: Path, mb: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        for _ in range(mb):
            out.write(os.urandom(1 << 20))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=1536)
    parser.add_argument("--classified", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="khoso-bench-mem-") as tmp:
        work = Path(tmp)
        home = work / "home"
        subprocess.run([KHOSO, "init"], env={**os.environ, "KHOSO_HOME": str(home)},
                       check=True, capture_output=True)
        intake = home / "policies" / "intake.yaml"
        intake.write_text(re.sub(r"allow_without_scanner:\s*false",
                                 "allow_without_scanner: true",
                                 intake.read_text(encoding="utf-8")), encoding="utf-8")
        generate(work / "transfer" / "Bản ghi hình hội nghị.bin", args.mb)
        level = ["--classification", "mat"] if args.classified else []
        peaks = {"ingest": peak_mb(home, "ingest", str(work / "transfer"), *level, "--json")}
        (work / "transfer" / "Bản ghi hình hội nghị.bin").unlink()
        with serve(work / "s3") as server:
            server.bucket("khoso")
            subprocess.run([KHOSO, "storage", "add", "s3",
                            f"s3://khoso/repo?endpoint_url={server.endpoint}",
                            "--option", f"aws_access_key_id={AKID}",
                            "--option", f"aws_secret_access_key={SECRET}"],
                           env={**os.environ, "KHOSO_HOME": str(home)}, check=True,
                           capture_output=True)
            peaks["replicate to S3"] = peak_mb(home, "replicate", "--json")
    print(json.dumps({"file_mb": args.mb, "classified": args.classified,
                      "peak_rss_mb": {k: round(v, 1) for k, v in peaks.items()},
                      "limit_mb": LIMIT_MB,
                      "within_limit": all(v < LIMIT_MB for v in peaks.values())}, indent=2))


if __name__ == "__main__":
    main()
