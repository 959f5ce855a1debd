"""Shared pieces of the benchmarks: data generation, timing, peak memory, a private clamd.

Benchmarks print ratios against a baseline measured in the same run on the same data; they
never assert times (the machine is shared and its speed varies).
"""

from __future__ import annotations

import os
import random
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
WORDS = ["Quyết định", "Tờ trình", "Báo cáo", "Công văn", "Kế hoạch", "Biên bản", "Hợp đồng",
         "Thông báo", "Danh sách", "Hồ sơ", "Ủy ban", "Sở Nội vụ", "Phòng Lưu trữ", "năm 2026"]


def vietnamese_name(rng: random.Random, i: int, ext: str) -> str:
    return f"{rng.choice(WORDS)} {rng.choice(WORDS).lower()} số {i:05d}{ext}"


def make_mixed_transfer(root: Path, total_bytes: int, files: int, seed: int = 7) -> Path:
    """About ``files`` files summing to ``total_bytes``: text, CSV, PDF-like and binary data,
    in a few Vietnamese-named folders; mostly incompressible content (random bytes)."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    folders = [root / f"{w} {y}" for w in WORDS[:5] for y in (2024, 2025, 2026)]
    for f in folders:
        f.mkdir(exist_ok=True)
    weights = [rng.paretovariate(1.2) for _ in range(files)]
    scale = total_bytes / sum(weights)
    for i, w in enumerate(weights):
        size = max(64, int(w * scale))
        ext = rng.choice([".pdf", ".txt", ".csv", ".docx", ".jpg", ".tif"])
        path = rng.choice(folders) / vietnamese_name(rng, i, ext)
        with open(path, "wb") as fh:
            if ext == ".pdf":
                fh.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
            while size > 0:  # randbytes cannot make more than 256 MiB at once
                step = min(size, 64 << 20)
                fh.write(rng.randbytes(step))
                size -= step
    return root


def make_small_files(root: Path, count: int, low: int = 4096, high: int = 16384,
                     seed: int = 11) -> Path:
    rng = random.Random(seed)
    for i in range(count):
        folder = root / f"Hộp {i // 500:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / vietnamese_name(rng, i, ".txt")).write_bytes(
            ("Văn bản lưu trữ " * 8).encode() + rng.randbytes(rng.randint(low, high)))
    return root


@contextmanager
def timed(label: str, results: dict[str, float]) -> Iterator[None]:
    start = time.perf_counter()
    yield
    results[label] = time.perf_counter() - start
    print(f"  {label}: {results[label]:.2f} s", file=sys.stderr)


def run(cmd: list[str], env: dict[str, str] | None = None) -> None:
    done = subprocess.run(cmd, env={**os.environ, **(env or {})}, capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")


def peak_rss_mb_of(cmd: list[str], env: dict[str, str] | None = None) -> float:
    """Run a command and return its peak resident memory (children included) in MiB."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    run(cmd, env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(before, after) / 1024


def sha256_limit_mb_s(path: Path, repeat: int = 3) -> float:
    """Read + SHA-256 of one file in this process, best of ``repeat`` (the fixity limit)."""
    import hashlib

    size = path.stat().st_size
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
        best = min(best, time.perf_counter() - start)
    return size / best / 1e6


def with_clamd(work: Path) -> tuple[dict[str, str], Callable[[], None]]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from ingest.clamd_local import start_clamd

    daemon = start_clamd(work / "clamd")
    return {"KHOSO_CLAMD_SOCKET": daemon.socket_path}, daemon.stop


class ServiceProcess:
    """A process started once and kept up, as ``khoso serve`` or ``khoso worker`` is: its
    start-up (imports, opening the repository) is outside every timing. Each request is one
    line on its standard input, each answer one JSON line on its standard output."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env={**os.environ, **(env or {})})

    def ask(self, request: str) -> dict:
        import json

        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(request + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"the service process ended (exit {self.proc.wait()})")
        return dict(json.loads(line))

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait()
