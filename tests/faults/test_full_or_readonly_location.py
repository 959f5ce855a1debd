"""A location that fills up (ENOSPC) or turns read-only mid-write: a clear error naming the
location and the cause, nothing recorded, nothing left behind anywhere, and a later run
succeeds once the location is fixed. Uses a real small tmpfs (root only, as CI runs)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from repository.demo import make_sample_transfer
from tests.helpers.require import missing
from tests.helpers.storage import location_root, staging_leftovers, stored_files


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small-disk"
    mount.mkdir()
    if os.geteuid() != 0:
        missing("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        missing(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _big_transfer(tmp_path: Path) -> tuple[Path, Path]:
    folder, md = make_sample_transfer(tmp_path / "in", "Hồ sơ lớn", "Hồ sơ lớn")
    (folder / "Bản đồ quy hoạch.tif").write_bytes(os.urandom(3 * 2**20))
    return folder, md


def _nothing_left(khoso, locations: list[Path]) -> None:  # type: ignore[no-untyped-def]
    assert khoso.json("aip", "list")["aips"] == []
    for root in locations:
        assert stored_files(root) == []
    assert staging_leftovers(khoso.home) == []
    assert khoso.json("log", "verify")["intact"]


def test_full_location_fails_cleanly(khoso, tmp_path: Path, small_disk: Path) -> None:
    khoso.ok("storage", "add", "small", small_disk.as_uri())
    folder, md = _big_transfer(tmp_path)
    result = khoso("ingest", folder, "--metadata", md, "--json")
    assert result.code != 0
    message = result.json["error"]["message"]
    assert "small" in message and "No space left on device" in message
    _nothing_left(khoso, [location_root(khoso.home, "local"), small_disk])


def test_read_only_location_fails_cleanly(khoso, tmp_path: Path, small_disk: Path) -> None:
    khoso.ok("storage", "add", "small", small_disk.as_uri())
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    folder, md = make_sample_transfer(tmp_path / "in", "Hồ sơ", "Hồ sơ")
    result = khoso("ingest", folder, "--metadata", md, "--json")
    assert result.code != 0
    message = result.json["error"]["message"]
    assert "small" in message and "Read-only file system" in message
    _nothing_left(khoso, [location_root(khoso.home, "local")])
    subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    assert khoso.json("ingest", folder, "--metadata", md)["replicas"][1]["location"] == "small"
