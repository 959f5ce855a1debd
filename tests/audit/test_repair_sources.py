"""``khoso repair`` and the locations it reads from and writes to (both catalogs): an
unreachable source is passed over (and not asked again), a damaged location that refuses the
write or cannot be reached ends that file's repair with its own error while the run goes on,
a source whose bytes change on the way is passed over, and a copy is never set verified over
damage an audit records while repair refreshes the copies' status (PostgreSQL row locks)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, select, text

from repository import events
from repository import repair as repair_module
from repository.audit import audit
from repository.catalog.models import Event, Location, Problem, Replica
from repository.context import Repository, open_repository
from repository.repair import repair
from storage.backend import Backend
from storage.fs import TMP_DIR
from storage.replicate import StoredObject, check_object
from tests.helpers.holdings import synthetic_holding
from tests.helpers.storage import flip_byte, location_root
from tests.storage.conftest import closed_endpoint

FILE = "data/representations/rep1/data/tệp 1.bin"
OTHER = "data/representations/rep1/data/tệp 2.bin"


def _key(aip: str, path: str = FILE) -> str:
    return f"{aip.replace(':', '_')}/{path}"


def _add_unreachable_location(repo: Repository, name: str) -> int:
    """An S3 location whose server is down: nobody listens on its endpoint's port."""
    with repo.catalog.session() as session:
        loc = Location(name=name, url=f"s3://khoso/p?endpoint_url={closed_endpoint()}",
                       options={"aws_access_key_id": "k", "aws_secret_access_key": "s",
                                "max_attempts": 1})
        session.add(loc)
        session.flush()
        return loc.id


def _add_copies(repo: Repository, aips: list[str], location_id: int, *, status: str) -> None:
    """Catalog rows for copies in ``location_id``, verified later than any other copy (so a
    repair asks them first)."""
    when = datetime.now(UTC) + timedelta(seconds=1)
    with repo.catalog.session() as session:
        session.add_all(Replica(aip_id=aip, location_id=location_id, status=status,
                                stored_at=when, last_verified=when, last_checked=when)
                        for aip in aips)


def _count_opens(repo: Repository, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    opened: list[str] = []
    monkeypatch.setattr(repo, "backend", lambda loc, _open=repo.backend: (
        opened.append(loc.name), _open(loc))[1])
    return opened


def _statuses(repo: Repository) -> dict[str, str]:
    with repo.catalog.session() as session:
        return dict(session.execute(select(
            Replica.aip_id + "@" + Location.name, Replica.status).join(Location)).all())


def _open_problems(repo: Repository) -> list[tuple[str, str, str]]:
    with repo.catalog.session() as session:
        rows = session.execute(select(Problem.aip_id, Location.name, Problem.path)
                               .join(Location).where(Problem.resolved_at.is_(None)))
        return sorted((aip, location, path) for aip, location, path in rows)


def _repair_reasons(repo: Repository) -> list[str]:
    with repo.catalog.session() as session:
        details = session.scalars(select(Event.detail).where(Event.type == events.REPAIR)
                                  .order_by(Event.seq))
        return [json.loads(detail).get("reason", "") for detail in details]


def test_an_unreachable_source_is_passed_over_and_not_asked_again(  # type: ignore[no-untyped-def]
        khoso, repo, monkeypatch) -> None:
    aips = synthetic_holding(repo, aips=2)
    local, offsite = location_root(khoso.home, "local"), location_root(khoso.home, "offsite")
    for aip in aips:
        flip_byte(local / _key(aip))
    assert len(audit(repo)["problems"]) == 2
    _add_copies(repo, aips, _add_unreachable_location(repo, "cloud"), status="verified")
    opened = _count_opens(repo, monkeypatch)

    result = repair(repo)

    assert result["unrecoverable"] == []
    assert sorted((r["aip"], r["location"], r["source"]) for r in result["repaired"]) == \
        sorted((aip, "local", "offsite") for aip in aips)
    for aip in aips:
        assert (local / _key(aip)).read_bytes() == (offsite / _key(aip)).read_bytes()
    assert opened.count("cloud") == 1  # found down once: not asked again for the next file
    assert _open_problems(repo) == []
    assert {copy for copy, status in _statuses(repo).items() if status != "verified"} == set()


def test_a_location_refusing_the_write_ends_that_files_repair_with_its_error(  # type: ignore[no-untyped-def]
        khoso, repo, tmp_path, monkeypatch) -> None:
    khoso.ok("storage", "add", "third", (tmp_path / "third").as_uri())
    aips = synthetic_holding(repo, aips=2, locations=("local", "offsite", "third"))
    offsite = location_root(khoso.home, "offsite")
    flip_byte(offsite / _key(aips[0]))
    flip_byte(location_root(khoso.home, "local") / _key(aips[1]))
    assert len(audit(repo)["problems"]) == 2
    # offsite can still be read, but every write into it fails (its temporary folder, where
    # each object is written before it is renamed into place, cannot be made).
    (offsite / TMP_DIR).rmdir()
    (offsite / TMP_DIR).write_bytes(b"")
    checked: list[str] = []
    monkeypatch.setattr(repair_module, "check_object", lambda backend, obj: (
        checked.append(backend.location), check_object(backend, obj))[1])

    result = repair(repo)

    (refused,) = result["unrecoverable"]
    assert (refused["aip"], refused["location"]) == (aips[0], "offsite")
    assert refused["reason"].startswith("location offsite refused the write: storage location "
                                        "offsite: ")
    assert "no other copy" not in refused["reason"]
    (fixed,) = result["repaired"]
    assert (fixed["aip"], fixed["location"]) == (aips[1], "local")
    assert len(checked) == 2  # one source hashed for each file: none in vain for offsite's
    assert refused["reason"] in _repair_reasons(repo)  # the event says it too
    assert _open_problems(repo) == [(aips[0], "offsite", FILE)]
    assert _statuses(repo)[f"{aips[0]}@offsite"] == "damaged"
    assert _statuses(repo)[f"{aips[1]}@local"] == "verified"


def test_an_unreachable_damaged_location_is_reported_per_file_and_the_run_goes_on(  # type: ignore[no-untyped-def]
        khoso, repo, monkeypatch) -> None:
    aips = synthetic_holding(repo, aips=2)
    local = location_root(khoso.home, "local")
    flip_byte(local / _key(aips[0], OTHER))
    assert len(audit(repo)["problems"]) == 1
    cloud = _add_unreachable_location(repo, "cloud")
    _add_copies(repo, aips, cloud, status="damaged")
    with repo.catalog.session() as session:  # an earlier audit found these missing
        session.add_all(Problem(aip_id=aip, location_id=cloud, path=FILE, kind="missing",
                                found_at=datetime.now(UTC)) for aip in aips)
    opened = _count_opens(repo, monkeypatch)

    result = repair(repo)

    assert [(r["aip"], r["location"], r["path"]) for r in result["repaired"]] == [
        (aips[0], "local", OTHER)]
    assert sorted((r["aip"], r["location"]) for r in result["unrecoverable"]) == \
        sorted((aip, "cloud") for aip in aips)
    for outcome in result["unrecoverable"]:
        assert outcome["reason"].startswith(
            "location cloud cannot be reached: storage location cloud unavailable: ")
    assert opened.count("cloud") == 1
    assert sorted(_open_problems(repo)) == sorted((aip, "cloud", FILE) for aip in aips)


def test_a_source_whose_bytes_change_after_its_check_is_passed_over(  # type: ignore[no-untyped-def]
        khoso, repo, tmp_path, monkeypatch) -> None:
    khoso.ok("storage", "add", "third", (tmp_path / "third").as_uri())
    (aip,) = synthetic_holding(repo, aips=1, locations=("local", "offsite", "third"))
    local = location_root(khoso.home, "local")
    good = (local / _key(aip)).read_bytes()
    flip_byte(local / _key(aip))
    assert len(audit(repo)["problems"]) == 1
    changed: list[str] = []

    def check_then_rot(backend: Backend, obj: StoredObject) -> str:
        """The first source verifies, then its bytes change before they are copied: the
        damaged location refuses them (SourceMismatch), which is the source's failure."""
        result = check_object(backend, obj)
        if not changed:
            changed.append(backend.location)
            flip_byte(location_root(khoso.home, backend.location) / obj.key)
        return result

    monkeypatch.setattr(repair_module, "check_object", check_then_rot)

    result = repair(repo)

    assert result["unrecoverable"] == []
    (fixed,) = result["repaired"]
    assert fixed["source"] in {"offsite", "third"} and fixed["source"] != changed[0]
    assert (local / _key(aip)).read_bytes() == good


def test_repair_and_audit_lock_copy_rows_in_one_order_on_postgresql(repo, database_url) -> None:  # type: ignore[no-untyped-def]
    """Repair's status refresh locks the copies' rows before it looks for open problems, and
    an audit locks the rows it records, both in id order: no copy is set verified over
    damage found meanwhile, and the two never deadlock."""
    synthetic_holding(repo, aips=1)
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(repo.catalog.engine, "before_cursor_execute", seen)
    try:
        repair(repo)
        audit(repo)
    finally:
        event.remove(repo.catalog.engine, "before_cursor_execute", seen)
    (refresh,) = [s for s in statements if "FROM replicas" in s and "replicas.status !=" in s]
    (record,) = [s for s in statements
                 if s.startswith("SELECT replicas.id \nFROM") and "replicas.id IN" in s]
    # SQLite has no FOR UPDATE: its BEGIN IMMEDIATE serialises the transactions instead.
    for locking in (refresh, record):
        assert ("FOR UPDATE" in locking) == database_url.startswith("postgresql")
        assert "ORDER BY replicas.id" in locking


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_an_audit_recording_damage_meanwhile_is_not_overwritten_by_the_refresh(  # type: ignore[no-untyped-def]
        khoso, repo) -> None:
    (aip,) = synthetic_holding(repo, aips=1)
    offsite = location_root(khoso.home, "offsite")
    flip_byte(offsite / _key(aip))
    assert len(audit(repo)["problems"]) == 1
    racer = open_repository(str(khoso.home))  # a concurrent `khoso audit`, own connections
    errors: list[BaseException] = []
    auditing = threading.Thread(target=lambda: _capture(errors, lambda: audit(racer, aip)))

    def between(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        """Right after the refresh found no open problem for offsite's copy, new damage in
        that copy is found and recorded by an audit; wait until it is recorded or waits for
        this transaction's lock."""
        if auditing.ident is not None or not (statement.lstrip().startswith("SELECT problems.id")
                                              and "LIMIT" in statement):
            return
        flip_byte(offsite / _key(aip, OTHER))
        auditing.start()
        deadline = time.monotonic() + 60
        with racer.catalog.engine.connect() as conn:
            while auditing.is_alive() and time.monotonic() < deadline:
                if conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                     "current_database() AND wait_event_type = 'Lock'")
                                ).scalar():
                    return  # the audit waits for our row lock
                conn.rollback()
                time.sleep(0.02)

    event.listen(repo.catalog.engine, "after_cursor_execute", between)
    try:
        result = repair(repo)
    finally:
        event.remove(repo.catalog.engine, "after_cursor_execute", between)
        if auditing.ident is not None:
            auditing.join(60)
        racer.close()

    assert errors == []
    assert [(r["location"], r["path"]) for r in result["repaired"]] == [("offsite", FILE)]
    assert _open_problems(repo) == [(aip, "offsite", OTHER)]
    assert _statuses(repo)[f"{aip}@offsite"] == "damaged"


def _capture(errors: list[BaseException], run: Callable[[], object]) -> None:
    try:
        run()
    except BaseException as exc:  # reported by the test, not lost in the thread
        errors.append(exc)
