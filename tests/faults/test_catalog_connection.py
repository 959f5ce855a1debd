"""The PostgreSQL connection dropped while an ingest records its AIP: the transaction is run
again on a fresh connection (with backoff); if the catalog stays unreachable the command
fails with a clear error and nothing is half-recorded or left in storage."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from repository.catalog.models import Aip
from repository.demo import make_sample_transfer
from tests.helpers.storage import location_root, staging_leftovers, stored_files


@pytest.fixture
def drop_connection(database_url: str) -> Iterator[dict[str, int]]:
    """Terminate the catalog connection just before an AIP's transaction commits."""
    admin = database_url.replace("postgresql+psycopg://", "postgresql://")
    state = {"kills": 0, "budget": 0}

    def before_commit(session: Session) -> None:
        if state["kills"] >= state["budget"]:
            return
        session.flush()
        if not any(isinstance(o, Aip) for o in session.identity_map.values()):
            return
        pid = session.connection().connection.dbapi_connection.info.backend_pid
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        state["kills"] += 1

    event.listen(Session, "before_commit", before_commit)
    yield state
    event.remove(Session, "before_commit", before_commit)


# A dropped server connection exists on PostgreSQL only.
ON_POSTGRES = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@ON_POSTGRES
def test_dropped_connection_is_retried_and_records_once(khoso, tmp_path: Path,
                                                        drop_connection) -> None:  # type: ignore[no-untyped-def]
    drop_connection["budget"] = 1
    folder, md = make_sample_transfer(tmp_path / "in", "Hồ sơ", "Hồ sơ")
    aip = khoso.json("ingest", folder, "--metadata", md)["aip"]
    assert drop_connection["kills"] == 1
    assert [a["aip"] for a in khoso.json("aip", "list")["aips"]] == [aip]
    types = [e["type"] for e in khoso.json("aip", "show", aip)["events"]]
    assert types.count("ingestion end") == 1
    assert khoso.json("log", "verify")["intact"]
    assert khoso.json("audit")["problems"] == []


@ON_POSTGRES
def test_catalog_gone_for_good_fails_cleanly(khoso, tmp_path: Path,
                                             drop_connection) -> None:  # type: ignore[no-untyped-def]
    drop_connection["budget"] = 99
    folder, md = make_sample_transfer(tmp_path / "in", "Hồ sơ", "Hồ sơ")
    error = khoso.json("ingest", folder, "--metadata", md, code=2)["error"]
    assert error["kind"] == "catalog-unavailable"
    assert "nothing was recorded" in error["message"]
    drop_connection["budget"] = 0
    assert khoso.json("aip", "list")["aips"] == []
    assert stored_files(location_root(khoso.home, "local")) == []
    assert staging_leftovers(khoso.home) == []
    assert khoso.json("log", "verify")["intact"]
    assert khoso.json("ingest", folder, "--metadata", md)["files"] == 3
