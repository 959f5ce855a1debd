"""How large a file the clamd we talk to really scans, read from its configuration.

clamd answers ``OK`` for a file over its ``MaxFileSize`` or ``MaxScanSize`` without scanning
it, unless it runs with ``AlertExceedsMax yes`` (then it names a ``Heuristics.Limits.Exceeded``
signature, which ingest/virus.py reports as "too large to scan"). Debian's own clamd.conf
sets ``MaxFileSize 25M`` and no alert: every larger file would pass as clean. No clamd
command reports its configuration, so khoso reads the config file that declares the socket
it uses: the one next to the socket (khoso's own clamd, ingest/clamd_local.py) or the
system's. When none names that socket, ClamAV's documented defaults apply (MaxFileSize
100 MB, MaxScanSize 400 MB, no alert), so a larger file is refused rather than passed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SYSTEM_CONFIGS = ("/etc/clamav/clamd.conf", "/etc/clamd.conf", "/etc/clamd.d/scan.conf")
DEFAULT_MAX_FILE = 100 * 2**20
DEFAULT_MAX_SCAN = 400 * 2**20
_UNITS = {"k": 2**10, "m": 2**20, "g": 2**30}


@dataclass(frozen=True)
class ScanLimits:
    max_bytes: int | None  # None: no silent limit (AlertExceedsMax, or the limits are off)
    source: str            # which configuration said so, for the error message


def scan_limits(socket_path: str, system_configs: tuple[str, ...] = SYSTEM_CONFIGS
                ) -> ScanLimits:
    candidates = [Path(socket_path).parent / "clamd.conf", *map(Path, system_configs)]
    for conf in candidates:
        settings = _read(conf)
        if settings is not None and _same(settings.get("localsocket"), socket_path):
            return _limits(settings, str(conf))
    return ScanLimits(min(DEFAULT_MAX_FILE, DEFAULT_MAX_SCAN),
                      "ClamAV's defaults: no clamd.conf found that names this socket")


def _read(conf: Path) -> dict[str, str] | None:
    try:
        text = conf.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    settings: dict[str, str] = {}
    for line in text.splitlines():
        name, _, value = line.strip().partition(" ")
        if name and not name.startswith("#"):
            settings[name.lower()] = value.strip()
    return settings


def _same(declared: str | None, socket_path: str) -> bool:
    return bool(declared) and os.path.realpath(declared) == os.path.realpath(socket_path)


def _limits(settings: dict[str, str], source: str) -> ScanLimits:
    if settings.get("alertexceedsmax", "no").lower() in ("yes", "true", "1"):
        return ScanLimits(None, source)
    sizes = [_size(settings.get("maxfilesize"), DEFAULT_MAX_FILE),
             _size(settings.get("maxscansize"), DEFAULT_MAX_SCAN)]
    positive = [s for s in sizes if s > 0]  # 0 switches a limit off
    return ScanLimits(min(positive) if positive else None, source)


def _size(value: str | None, default: int) -> int:
    if not value:
        return default
    unit = _UNITS.get(value[-1].lower(), 1)
    digits = value[:-1] if unit != 1 else value
    try:
        return int(digits) * unit
    except ValueError:
        return default  # clamd would refuse to start with it; assume its default
