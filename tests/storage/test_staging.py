"""Staging that never outlives its run (repository/staging.py): a live run's staging is kept,
a killed run's (plaintext of a classified transfer, perhaps) is swept."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from repository.staging import guarded, remove_tree, stale, sweep

AIP = "urn:uuid:0F0F0F0F-0000-4000-8000-000000000001"
NAME = AIP.replace(":", "_")


def test_guarded_removes_its_staging_whatever_happens(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), guarded(tmp_path, AIP):
        (tmp_path / NAME / "aip").mkdir(parents=True)
        (tmp_path / f"{NAME}.sealed").mkdir()
        raise RuntimeError("the run failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".locks"]
    assert list((tmp_path / ".locks").iterdir()) == []


def test_a_live_run_is_kept_and_a_killed_one_is_swept(tmp_path: Path) -> None:
    (tmp_path / NAME / "aip").mkdir(parents=True)
    (tmp_path / NAME / "aip" / "plaintext.txt").write_bytes(b"secret")
    (tmp_path / "not-ours").mkdir()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; sys.path.insert(0, '.'); from repository.staging import guarded\n"
        f"with guarded(__import__('pathlib').Path({str(tmp_path)!r}), {AIP!r}):\n"
        "    print('held', flush=True); time.sleep(60)")], stdout=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parents[2])
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert stale(tmp_path) == [] and sweep(tmp_path) == []
        assert (tmp_path / NAME / "aip" / "plaintext.txt").exists()
        holder.send_signal(signal.SIGKILL)  # no cleanup runs: the kernel drops the lock
        holder.wait()
        deadline = time.monotonic() + 5
        while stale(tmp_path) != [NAME] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sweep(tmp_path) == [NAME]
    finally:
        holder.kill()
        holder.wait()
    assert not (tmp_path / NAME).exists() and (tmp_path / "not-ours").exists()
    assert list((tmp_path / ".locks").iterdir()) == []


def test_remove_tree_removes_everything_and_follows_no_link(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_bytes(b"not ours")
    tree = tmp_path / "staging" / NAME
    for box in range(5):
        folder = tree / "data" / f"Hộp {box:03d}" / "Tài liệu"
        folder.mkdir(parents=True)
        for i in range(40):  # more than one batch of parallel unlinks
            (folder / f"Văn bản {i}.txt").write_bytes(b"x" * i)
    (tree / "data" / "link-to-outside").symlink_to(outside, target_is_directory=True)
    (tree / "data" / "file-link").symlink_to(outside / "keep.txt")
    (tree / "empty" / "nested").mkdir(parents=True)
    remove_tree(tree)
    assert not tree.exists()
    assert (outside / "keep.txt").read_bytes() == b"not ours"  # links removed, not followed
    remove_tree(tree)  # already gone: no error
