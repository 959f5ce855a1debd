"""Holdings for the audit, schedule, checkpoint and report tests (both catalogs via `khoso`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from repository.context import Repository, open_repository
from repository.demo import make_sample_transfer
from tests.helpers.holdings import synthetic_holding


def ingest_samples(khoso, tmp_path: Path, n: int) -> list[str]:  # type: ignore[no-untyped-def]
    """AIPs made by the real `khoso ingest` (slower: used where ingest's output matters)."""
    out = []
    for i in range(n):
        transfer, metadata = make_sample_transfer(tmp_path / f"in{i}", f"Hồ sơ {i:02d}",
                                                  f"Kế hoạch số {i}")
        out.append(khoso.json("ingest", transfer, "--metadata", metadata)["aip"])
    return out


@pytest.fixture
def repo(khoso, tmp_path: Path) -> Iterator[Repository]:  # type: ignore[no-untyped-def]
    """The test's home opened in-process, with a second location "offsite"."""
    khoso.ok("storage", "add", "offsite", (tmp_path / "offsite").as_uri())
    opened = open_repository(str(khoso.home))
    yield opened
    opened.close()


@pytest.fixture
def holding(repo: Repository) -> list[str]:
    """Two AIPs of three files, each stored and verified in "local" and "offsite"."""
    return synthetic_holding(repo, aips=2)
