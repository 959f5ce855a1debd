"""The S3 server stopped in the middle of an upload, then started again on the same data:
the write fails with a khoso error (or completes through retries), never leaves a partial
object under its key, and the same write succeeds once the server is back."""

from __future__ import annotations

import hashlib
import io
import os
import threading
import time
from pathlib import Path

import pytest

from repository.errors import KhosoError
from storage.registry import open_backend

from .conftest import AKID, SECRET, admin_client, free_port
from .conftest import serve_rclone as _serve


class SlowSource(io.RawIOBase):
    """Hands out data slowly so the server can be stopped while parts are in flight."""

    def __init__(self, data: bytes, started: threading.Event) -> None:
        self._data, self._pos, self._started = data, 0, started

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:  # type: ignore[no-untyped-def]
        self._started.set()
        time.sleep(0.02)
        n = min(len(buf), 1 << 20, len(self._data) - self._pos)
        buf[:n] = self._data[self._pos:self._pos + n]
        self._pos += n
        return n


@pytest.mark.s3
def test_upload_interrupted_by_server_stop_leaves_no_partial_object(tmp_path: Path) -> None:
    root, port = tmp_path / "s3root", free_port()
    root.mkdir()
    server = _serve(root, port, tmp_path / "rclone.log")
    endpoint = f"http://127.0.0.1:{port}"
    admin_client(endpoint).create_bucket(Bucket="outage")
    backend = open_backend("outage-s3", f"s3://outage/p?endpoint_url={endpoint}", {
        "aws_access_key_id": AKID, "aws_secret_access_key": SECRET, "max_attempts": 2,
        "multipart_threshold": 8 << 20, "multipart_chunksize": 5 << 20})
    data = os.urandom(30 << 20)
    started = threading.Event()
    outcome: dict[str, object] = {}

    def upload() -> None:
        try:
            outcome["info"] = backend.put("big.bin", SlowSource(data, started))
        except KhosoError as exc:  # StorageError or BackendUnavailable, named and translated
            outcome["error"] = exc
        except BaseException as exc:  # anything else would be a leak through the boundary
            outcome["leak"] = exc

    worker = threading.Thread(target=upload)
    worker.start()
    assert started.wait(10)
    time.sleep(0.3)
    server.kill()
    server.wait()
    worker.join(120)
    assert not worker.is_alive()
    assert "leak" not in outcome, outcome.get("leak")

    server = _serve(root, port, tmp_path / "rclone.log")
    try:
        stat = backend.stat("big.bin")
        if "error" in outcome:
            assert stat is None  # no partial object under the key
            assert "outage-s3" in str(outcome["error"])
        else:
            assert stat is not None and stat.size == len(data)
        info = backend.put("big.bin", io.BytesIO(data), replace=True)
        assert info.sha256 == hashlib.sha256(data).hexdigest()
        with backend.open("big.bin") as stream:
            assert hashlib.sha256(stream.read()).hexdigest() == info.sha256
    finally:
        server.terminate()
        server.wait()
