"""Fixtures for the ingest tests: a private clamd with a small StreamMaxLength.

The session-wide ``clamd_socket`` (tests/conftest.py) accepts streams up to 1 GiB; the
"too large to scan" behaviour needs a daemon whose limit a test file can exceed cheaply, so
the virus tests start their own, from the same private-config starter
(:mod:`ingest.clamd_local`: LocalSocket in a temporary folder, the EICAR signature lines of
INFRA.md, Foreground, no User line; Debian's /etc/clamav/clamd.conf is never used). Without
a clamd binary the tests skip, unless KHOSO_TEST_REQUIRE=1 turns the skip into a failure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ingest.clamd_local import PrivateClamd, clamd_binary, start_clamd
from tests.helpers.require import missing

STREAM_MAX = 1024 * 1024  # small on purpose: the "too large to scan" test stays fast


def _start(folder: Path) -> PrivateClamd:
    if clamd_binary() is None:
        missing("clamd is not installed (apt-get install clamav-daemon)")
    return start_clamd(folder, stream_max=STREAM_MAX)


@pytest.fixture(scope="session")
def small_clamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateClamd]:
    daemon = _start(tmp_path_factory.mktemp("clamd-small"))
    yield daemon
    daemon.stop()


@pytest.fixture
def start_private_clamd() -> Iterator[Callable[[Path], PrivateClamd]]:
    """Start an extra clamd the test may stop itself; any left running is stopped after."""
    started: list[PrivateClamd] = []

    def start(folder: Path) -> PrivateClamd:
        started.append(_start(folder))
        return started[-1]

    yield start
    for daemon in started:
        daemon.stop()
