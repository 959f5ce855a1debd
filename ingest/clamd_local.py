"""A private clamd for the demo and the tests, with its own offline signature database.

Signature updates (freshclam) cannot reach their mirror on an isolated archive network, and
Debian's /etc/clamav/clamd.conf may point at a daemon that is not running: this starts clamd
from its own config (LocalSocket, DatabaseDirectory, Foreground, no User line), as INFRA.md
describes, with the given signature lines (by default the EICAR test signatures).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ingest.virus import VirusScanner
from repository.errors import ConfigError

# INFRA.md: each of these detects the 68-byte EICAR test file.
EICAR_SIGNATURES = {
    "test.ndb": "Test.EICAR.NDB:0:*:45494341522d5354414e444152442d414e544956495255532d544553"
                "542d46494c45\n",
    "test.hdb": "44d88612fea8a8f36de82e1278abb02f:68:Test.EICAR.HDB\n",
}
EICAR = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")


def clamd_binary() -> str | None:
    return shutil.which("clamd") or next(
        (p for p in ("/usr/sbin/clamd", "/usr/local/sbin/clamd") if os.access(p, os.X_OK)),
        None)


@dataclass
class PrivateClamd:
    process: subprocess.Popen[bytes]
    socket_path: str
    folder: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_clamd(folder: Path, signatures: dict[str, str] | None = None,
                stream_max: int = 1024 * 2**20, timeout: float = 60) -> PrivateClamd:
    binary = clamd_binary()
    if binary is None:
        raise ConfigError(reason="clamd is not installed (apt-get install clamav-daemon)")
    db = folder / "db"
    db.mkdir(parents=True, exist_ok=True)
    for name, lines in (signatures or EICAR_SIGNATURES).items():
        (db / name).write_text(lines, encoding="ascii")
    sock = folder / "clamd.sock"
    conf = folder / "clamd.conf"
    conf.write_text(f"LocalSocket {sock}\nDatabaseDirectory {db}\nForeground yes\n"
                    f"StreamMaxLength {stream_max}\nTemporaryDirectory {folder}\n"
                    # A file over a scan limit is reported, never passed unscanned as OK.
                    f"MaxFileSize {stream_max}\nMaxScanSize {stream_max}\n"
                    "AlertExceedsMax yes\n",
                    encoding="ascii")
    with open(folder / "clamd.log", "wb") as log:
        process = subprocess.Popen([binary, "--config-file", str(conf)],
                                   stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT)
    daemon = PrivateClamd(process, str(sock), folder)
    scanner = VirusScanner(str(sock), timeout=5)
    deadline = time.monotonic() + timeout
    while not scanner.ping():
        if process.poll() is not None or time.monotonic() > deadline:
            daemon.stop()
            tail = (folder / "clamd.log").read_text(errors="replace")[-1500:]
            raise ConfigError(reason=f"private clamd did not answer on {sock}: {tail}")
        time.sleep(0.05)
    return daemon
