"""Fixtures shared by every test: a clean environment, both catalog databases, a CLI runner."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import postgres
from tests.helpers.cli import Khoso
from tests.helpers.require import missing

_db_counter = itertools.count(1)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No KHOSO_* or AWS_* variable from the developer's shell leaks into a test."""
    for key in list(os.environ):
        if key.startswith(("KHOSO_TEST_", "KHOSO_SHARED")):
            continue  # settings of the test run itself
        if key.startswith(("KHOSO_", "AWS_")):
            monkeypatch.delenv(key)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    try:
        with postgres.cluster() as url:
            yield url
    except (FileNotFoundError, OSError) as exc:
        missing(f"PostgreSQL unavailable: {exc}")


@pytest.fixture(scope="session")
def clamd_socket(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private clamd with the EICAR test signatures, shared by the whole session."""
    from ingest.clamd_local import clamd_binary, start_clamd

    if clamd_binary() is None:
        missing("clamd is not installed (apt-get install clamav-daemon)")
    daemon = start_clamd(tmp_path_factory.mktemp("clamd-shared"))
    yield daemon.socket_path
    daemon.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty catalog database on each engine."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog-test.sqlite'}"
    server = request.getfixturevalue("pg_server")
    return postgres.create_database(server, f"khoso_test_{os.getpid()}_{next(_db_counter)}")


@pytest.fixture
def khoso(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch,
          capsys: pytest.CaptureFixture[str], clamd_socket: str) -> Khoso:
    """An initialised home on the parametrised catalog, driven through the real CLI."""
    home = tmp_path / "home"
    monkeypatch.setenv("KHOSO_HOME", str(home))
    monkeypatch.setenv("KHOSO_CLAMD_SOCKET", clamd_socket)
    if not database_url.startswith("sqlite"):
        monkeypatch.setenv("KHOSO_DATABASE_URL", database_url)
    runner = Khoso(home, capsys)
    runner.ok("init")
    return runner
