"""The chained event log on both catalogs: any edit, insertion or deletion is found."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import delete, select, update

from repository import events
from repository.catalog.db import Catalog, open_catalog
from repository.catalog.models import ChainHead, Event


@pytest.fixture
def catalog(database_url: str) -> Iterator[Catalog]:
    cat = open_catalog(database_url)
    yield cat
    cat.dispose()


def _append(catalog: Catalog, n: int, aip: str | None = "urn:uuid:A") -> None:
    for i in range(n):
        with catalog.session() as session:
            events.record(session, events.FIXITY_CHECK, events.SUCCESS, "test-agent", aip=aip,
                          detail={"i": i, "name": "Tài liệu"})


def _verify(catalog: Catalog) -> events.LogCheck:
    with catalog.session() as session:
        return events.verify(session)


def test_intact_chain_verifies(catalog: Catalog) -> None:
    _append(catalog, 5)
    check = _verify(catalog)
    assert check.ok and check.events == 5


def test_edited_event_is_named(catalog: Catalog) -> None:
    _append(catalog, 5)
    with catalog.session() as session:
        session.execute(update(Event).where(Event.seq == 3)
                        .values(detail=json.dumps({"i": 99, "name": "Tài liệu"})))
    check = _verify(catalog)
    assert not check.ok and check.bad_seq == 3 and "edited" in check.reason


def test_edited_outcome_is_found(catalog: Catalog) -> None:
    _append(catalog, 3)
    with catalog.session() as session:
        session.execute(update(Event).where(Event.seq == 2).values(outcome="failure"))
    assert _verify(catalog).bad_seq == 2


def test_deleted_event_is_found(catalog: Catalog) -> None:
    _append(catalog, 5)
    with catalog.session() as session:
        session.execute(delete(Event).where(Event.seq == 2))
    check = _verify(catalog)
    assert not check.ok and check.bad_seq == 2


def test_deleted_tail_is_found(catalog: Catalog) -> None:
    _append(catalog, 5)
    with catalog.session() as session:
        session.execute(delete(Event).where(Event.seq == 5))
    check = _verify(catalog)
    assert not check.ok and check.bad_seq == 5


def test_inserted_event_is_found(catalog: Catalog) -> None:
    _append(catalog, 3)
    with catalog.session() as session:
        forged = session.get(Event, 2)
        assert forged is not None
        # Renumber the tail and insert a well-formed event at 3 that links to event 2.
        last = session.scalar(select(Event).where(Event.seq == 3))
        assert last is not None
        last_at = last.at
        session.expunge(last)
        session.execute(update(Event).where(Event.seq == 3).values(seq=4))
        ev = Event(seq=3, aip_id=None, type="fixity check", outcome="success", at=last_at,
                   agent="forger", detail="{}", prev_hash=forged.hash)
        ev.hash = events.event_hash(ev)
        session.add(ev)
        head = session.get(ChainHead, 1)
        assert head is not None
        head.seq = 4
    check = _verify(catalog)
    assert not check.ok and check.bad_seq == 4


def test_concurrent_writers_keep_one_linear_chain(database_url: str) -> None:
    catalogs = [open_catalog(database_url) for _ in range(4)]
    errors: list[BaseException] = []

    def write(cat: Catalog) -> None:
        try:
            _append(cat, 10)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(c,)) for c in catalogs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    check = _verify(catalogs[0])
    assert check.ok and check.events == 40
    for c in catalogs:
        c.dispose()


def test_a_batch_appends_the_same_chain_as_one_event_at_a_time(catalog: Catalog) -> None:
    _append(catalog, 2)
    batch = [events.NewEvent(events.FIXITY_CHECK, events.FAILURE if i == 1 else events.SUCCESS,
                             "test-agent", aip=f"urn:uuid:{i}", detail={"i": i})
             for i in range(4)]
    with catalog.session() as session:
        added = events.record_many(session, batch)
    assert [ev.seq for ev in added] == [3, 4, 5, 6]
    with catalog.session() as session:
        rows = list(session.scalars(select(Event).order_by(Event.seq)))
        assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]
        assert all(events.event_hash(r) == r.hash for r in rows)
        assert events.head(session) == (6, rows[-1].hash)
        assert [r.outcome for r in rows[2:]] == ["success", "failure", "success", "success"]
        assert events.record_many(session, []) == []
    assert _verify(catalog).ok and _verify(catalog).events == 6
