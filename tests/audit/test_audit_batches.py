"""Audits over many batches and the audit queue table (both catalogs): a batch is recorded
while the next one is being checked, and every copy still gets exactly its own result, event,
problem rows and queue state; queued copies and their leases survive the catalog upgrade."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import column, insert, select, table, text, update

from repository import audit as audit_module
from repository import events
from repository.audit import audit
from repository.audit_queue import claim, plan_slice
from repository.catalog.models import (
    Event,
    Location,
    Problem,
    QueuedCopy,
    Replica,
    UTCDateTime,
)
from repository.context import open_repository
from tests.helpers.holdings import synthetic_holding
from tests.helpers.storage import flip_byte, location_root


def _key(aip: str, path: str) -> str:
    return f"{aip.replace(':', '_')}/{path}"


def test_batches_recorded_while_the_next_is_checked_keep_each_copys_result(  # type: ignore[no-untyped-def]
        khoso, repo, monkeypatch) -> None:
    monkeypatch.setattr(audit_module, "BATCH_COPIES", 2)  # one AIP's two copies per batch
    aips = synthetic_holding(repo, aips=5, files=3, size=300_000, seed=7)
    path = "data/representations/rep1/data/tệp 1.bin"
    flip_byte(location_root(khoso.home, "offsite") / _key(aips[1], path))
    (location_root(khoso.home, "local") / _key(aips[3], path)).unlink()
    (location_root(khoso.home, "offsite") / _key(aips[4], "data/extra.bin")).write_bytes(b"x")
    with repo.catalog.session() as session:  # damage an earlier audit saw, repaired since
        local = session.scalar(select(Location.id).where(Location.name == "local"))
        session.add(Problem(aip_id=aips[0], location_id=local, path=path, kind="corrupt",
                            found_at=datetime.now(UTC) - timedelta(days=1)))
        before = session.scalar(select(Event.seq).order_by(Event.seq.desc()).limit(1))
    opened: list[str] = []  # an S3 location's backend makes a client: once per run, please
    monkeypatch.setattr(repo, "backend", lambda loc, _open=repo.backend: (
        opened.append(loc.name), _open(loc))[1])

    result = audit(repo, workers=2)

    assert result["replicas"] == 10 and result["checked"] == 30
    assert sorted(opened) == ["local", "offsite"]
    assert sorted((p["aip"], p["location"], p["problem"]) for p in result["problems"]) == \
        sorted([(aips[1], "offsite", "corrupt"), (aips[3], "local", "missing")])
    assert result["unexpected"] == [{"aip": aips[4], "location": "offsite",
                                     "key": _key(aips[4], "data/extra.bin")}]
    with repo.catalog.session() as session:
        fixity = session.execute(select(Event.aip_id, Event.outcome, Event.detail).where(
            Event.seq > before, Event.type == events.FIXITY_CHECK)).all()
        status = dict(session.execute(select(
            Replica.aip_id + "@" + Location.name, Replica.status).join(Location)).all())
        problems = session.execute(select(Problem.aip_id, Problem.kind, Problem.resolution)
                                   .order_by(Problem.id)).all()
    per_copy = {(aip, json.loads(detail)["location"]): (outcome, json.loads(detail))
                for aip, outcome, detail in fixity}
    assert len(fixity) == len(per_copy) == 10  # one event per copy, none twice
    assert {k for k, (outcome, _) in per_copy.items() if outcome == events.FAILURE} == {
        (aips[1], "offsite"), (aips[3], "local")}
    assert per_copy[(aips[1], "offsite")][1]["failures"] == [{"path": path,
                                                             "problem": "corrupt"}]
    assert per_copy[(aips[3], "local")][1]["failures"] == [{"path": path,
                                                           "problem": "missing"}]
    assert {d["run"] for _, d in per_copy.values()} == {result["run"]}
    assert {copy for copy, s in status.items() if s == "damaged"} == {
        f"{aips[1]}@offsite", f"{aips[3]}@local"}
    assert problems[0] == (aips[0], "corrupt", "verified by audit")
    assert sorted(problems[1:]) == sorted([(aips[1], "corrupt", None),
                                           (aips[3], "missing", None)])


def test_an_audit_takes_its_copies_off_the_queue_with_their_leases(khoso, repo) -> None:  # type: ignore[no-untyped-def]
    aips = synthetic_holding(repo, aips=3, files=1, size=256, checked_ago=timedelta(days=200))
    assert plan_slice(repo)["queued"] == 6  # all overdue
    first = min(aips)  # same urgency and last check: claimed in AIP order, copies together
    with repo.catalog.session() as session:
        copies = set(session.scalars(select(Replica.id).where(Replica.aip_id == first)))
    assert set(claim(repo, "worker-a", 2)) == copies

    khoso.json("audit", "--aip", first)  # a manual audit of the leased copies

    with repo.catalog.session() as session:
        left = session.execute(select(QueuedCopy.aip_id, QueuedCopy.lease_owner)).all()
    assert sorted(left) == sorted((aip, None) for aip in aips if aip != first for _ in "ab")
    with repo.catalog.session() as session:  # a copy deleted since it was queued
        session.add(QueuedCopy(replica_id=10_000, aip_id=aips[0], urgency=2,
                               queued_at=datetime.now(UTC)))
    assert khoso.json("audit", "--due-only")["replicas"] == 4
    with repo.catalog.session() as session:
        assert session.scalars(select(QueuedCopy.replica_id)).all() == []


def test_planners_racing_queue_each_copy_once(khoso, repo) -> None:  # type: ignore[no-untyped-def]
    synthetic_holding(repo, aips=6, files=1, size=128, checked_ago=timedelta(days=200))
    start = threading.Barrier(3)
    planned: list[int] = []
    errors: list[BaseException] = []

    def planner() -> None:
        own = open_repository(str(khoso.home))
        try:
            start.wait()
            planned.append(plan_slice(own)["queued"])
        except BaseException as exc:  # any failure fails the test below
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=planner) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(planned) == 12  # every copy queued by exactly one planner
    with repo.catalog.session() as session:
        assert len(session.scalars(select(QueuedCopy.replica_id)).all()) == 12


def test_queued_copies_and_leases_move_to_the_queue_table_on_upgrade(database_url) -> None:  # type: ignore[no-untyped-def]
    from alembic import command

    from repository.catalog.db import alembic_config, make_engine, open_catalog

    engine = make_engine(database_url)
    until = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    try:
        command.upgrade(alembic_config(engine), "0005_access")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO locations (id, name, url, options, "
                              "max_classification, attributes, created_at) VALUES (1, "
                              "'local', 'file:///x', '{}', 'unclassified', '{}', "
                              "CURRENT_TIMESTAMP)"))
            for n in (1, 2, 3):
                conn.execute(text(
                    "INSERT INTO aips (id, version, title, source, classification, "
                    "access_mode, file_count, byte_count, key_prefix, tagmanifest_sha256, "
                    "created_at) VALUES (:id, 1, 't', 's', 'unclassified', '01', 0, 0, 'p', "
                    "'', CURRENT_TIMESTAMP)"), {"id": f"urn:uuid:{n}"})
            # Core with the 0005 columns, so each engine stores times its own way.
            old_replicas = table("replicas", *(column(c) for c in (
                "id", "aip_id", "location_id", "status")), *(column(c, UTCDateTime) for c in (
                    "stored_at", "last_checked", "queued_at", "lease_until")),
                column("lease_owner"))
            t = datetime(2026, 1, 1, tzinfo=UTC)
            conn.execute(insert(old_replicas), [
                {"id": 1, "aip_id": "urn:uuid:1", "location_id": 1, "status": "damaged",
                 "stored_at": t, "last_checked": t, "queued_at": t, "lease_owner": "w@h:1",
                 "lease_until": until},
                {"id": 2, "aip_id": "urn:uuid:2", "location_id": 1, "status": "verified",
                 "stored_at": t, "last_checked": None, "queued_at": t, "lease_owner": None,
                 "lease_until": None},
                {"id": 3, "aip_id": "urn:uuid:3", "location_id": 1, "status": "verified",
                 "stored_at": t, "last_checked": t, "queued_at": None, "lease_owner": None,
                 "lease_until": None}])
    finally:
        engine.dispose()
    catalog = open_catalog(database_url)  # migrates the rest of the way
    try:
        with catalog.session() as session:
            rows = session.execute(select(
                QueuedCopy.replica_id, QueuedCopy.aip_id, QueuedCopy.urgency,
                QueuedCopy.lease_owner, QueuedCopy.lease_until).order_by(
                QueuedCopy.replica_id)).all()
            assert session.scalar(select(Replica.status).where(Replica.id == 3)) == "verified"
    finally:
        catalog.dispose()
    assert rows == [(1, "urn:uuid:1", 0, "w@h:1", until), (2, "urn:uuid:2", 1, None, None)]


def test_an_error_in_one_batch_stops_the_run_after_recording_the_batches_before(  # type: ignore[no-untyped-def]
        khoso, repo, monkeypatch) -> None:
    monkeypatch.setattr(audit_module, "BATCH_COPIES", 2)
    aips = sorted(synthetic_holding(repo, aips=5, files=2, size=2048, seed=3,
                                     checked_ago=timedelta(days=1)))
    real = audit_module.check_file

    def broken(backends, file, on_bytes=None):  # type: ignore[no-untyped-def]
        if file.aip_id == aips[2]:
            raise RuntimeError("a bug in the checker")
        return real(backends, file, on_bytes)

    monkeypatch.setattr(audit_module, "check_file", broken)
    with repo.catalog.session() as session:
        before = session.scalar(select(Event.seq).order_by(Event.seq.desc()).limit(1))

    with pytest.raises(RuntimeError, match="a bug in the checker"):
        audit(repo, workers=2)

    with repo.catalog.session() as session:
        recorded = session.scalars(select(Event.aip_id).where(
            Event.seq > before, Event.type == events.FIXITY_CHECK)).all()
        checked = set(session.scalars(select(Replica.aip_id).where(
            Replica.last_checked > datetime.now(UTC) - timedelta(minutes=5))))
    assert sorted(recorded) == sorted([aips[0], aips[0], aips[1], aips[1]])
    assert {aips[0], aips[1]} <= checked and not checked & {aips[2], aips[3], aips[4]}


def test_the_officers_aip_page_shows_a_copy_queued_and_claimed(khoso, repo) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from repository.api.app import create_app
    from repository.config import load_settings
    from tests.helpers.officers import bearer, token_for

    aip = synthetic_holding(repo, aips=1, files=1, size=64, checked_ago=timedelta(days=200))[0]
    assert plan_slice(repo)["queued"] == 2
    with repo.catalog.session() as session:
        offsite = session.scalar(select(Replica.id).join(Location).where(
            Replica.aip_id == aip, Location.name == "offsite"))
        session.execute(update(QueuedCopy).where(QueuedCopy.replica_id == offsite)
                        .values(lease_owner="worker@host:7"))
    officer = token_for(khoso, "bao-quan")
    app = create_app(load_settings(str(khoso.home)))
    with TestClient(app) as client:
        page = client.get(f"/aips/{aip}", headers=bearer(officer)).text
    copies = page[page.index('<table id="copies">'):page.index("</table>",
                                                                page.index('id="copies"'))]
    assert copies.count(f"{datetime.now(UTC).date()}") >= 2  # queued today, both copies
    assert copies.count("(claimed by worker@host:7)") == 1


def test_a_worker_keeps_renewing_the_leases_it_holds(khoso, repo) -> None:  # type: ignore[no-untyped-def]
    from repository.audit_queue import LeaseKeeper, renew_leases

    aips = synthetic_holding(repo, aips=2, files=1, size=256, checked_ago=timedelta(days=200))
    assert plan_slice(repo)["queued"] == 4
    start = datetime.now(UTC) - timedelta(hours=3)  # claimed long ago: about to expire
    mine = set(claim(repo, "worker-a", 2, now=start))
    theirs = set(claim(repo, "worker-b", 2, now=start))
    assert mine and theirs and not mine & theirs

    def leases() -> dict[int, tuple[str | None, datetime | None]]:
        with repo.catalog.session() as session:
            return {r: (o, u) for r, o, u in session.execute(select(
                QueuedCopy.replica_id, QueuedCopy.lease_owner, QueuedCopy.lease_until))}

    before = leases()
    with LeaseKeeper(repo, "worker-a", every=0.05) as keeper:
        deadline = datetime.now(UTC) + timedelta(seconds=10)
        while keeper.renewals < 2 and datetime.now(UTC) < deadline:
            threading.Event().wait(0.05)
    after = leases()
    assert keeper.renewals >= 2
    lease = timedelta(minutes=repo.policies.schedules.fixity.lease_minutes)
    for replica in mine:  # renewed to a full lease from now: not claimable by others
        assert after[replica][0] == "worker-a"
        assert after[replica][1] > datetime.now(UTC) + lease - timedelta(minutes=1)
    for replica in theirs:  # another worker's leases are left alone
        assert after[replica] == before[replica]
    # Two hours on, worker-b's leases (taken three hours ago) have expired, worker-a's not.
    later = datetime.now(UTC) + timedelta(hours=2)
    assert set(claim(repo, "worker-c", 10, now=later)) == theirs
    assert renew_leases(repo, "nobody") == 0
    assert len(aips) == 2
