"""The README's first command ends in `khoso demo`: run it as a process on both catalogs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def test_demo_runs_the_whole_journey(tmp_path: Path, database_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KHOSO_")}
    if not database_url.startswith("sqlite"):
        env["KHOSO_DATABASE_URL"] = database_url
    exe = Path(sys.executable).with_name("khoso")
    done = subprocess.run([str(exe), "demo", "--demo-home", str(tmp_path / "demo"), "--json"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    summary = "\n".join(result["summary"])
    assert "audit found ['corrupt']" in summary
    assert "repair: 1 repaired, 0 unrecoverable" in summary
    assert "audit after repair: 0 problems" in summary
    assert "refused (exit 3)" in summary and "access.grant-required" in summary
    assert "event log: intact" in summary
    assert Path(result["report"]).read_text(encoding="utf-8").startswith("<!doctype html>")
    pdfs = sorted((tmp_path / "demo" / "copies").rglob("*.pdf"))
    assert len(pdfs) == 2
    texts = [subprocess.run(["pdftotext", str(p), "-"], capture_output=True, text=True,
                            check=True).stdout for p in pdfs]
    assert sum("TỐI MẬT" in t for t in texts) == 1
    # The public copy says "BẢN SAO" (TT 05/2025 Điều 40); the classified one is numbered.
    assert all(("Bản sao số 1" in t) if "TỐI MẬT" in t else ("BẢN SAO" in t) for t in texts)
    verify = subprocess.run([str(exe), "--home", result["home"], "log", "verify", "--json"],
                            capture_output=True, text=True, env=env)
    assert verify.returncode == 0 and json.loads(verify.stdout)["intact"] is True
