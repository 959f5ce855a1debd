"""The event log: sole writer and verifier of the chained PREMIS events.

Each event stores ``prev_hash`` (the previous event's hash) and ``hash`` =
SHA-256 of its canonical form (sorted-key compact JSON of seq, aip, type, outcome, at, agent,
detail and prev_hash, UTF-8). Appends lock the single ``chain_head`` row, so the chain stays
linear with concurrent writers on PostgreSQL and SQLite alike. ``verify`` recomputes every
hash and link: an edited event fails its hash, an inserted or deleted one breaks the sequence
or the link, and a deleted tail no longer meets the head row. Signed checkpoints
(:mod:`repository.checkpoints`) pass their (seq, hash) pairs as ``expected``, which catches a
table rewritten consistently from the start and a tail truncated together with the head row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from repository.catalog.models import ChainHead, Event

GENESIS = "0" * 64

# PREMIS 3 event types (id.loc.gov/vocabulary/preservation/eventType); the last three are
# khoso's own for decisions PREMIS has no term for.
INGESTION_START = "ingestion start"
INGESTION_END = "ingestion end"
VALIDATION = "validation"
VIRUS_CHECK = "virus check"
FORMAT_IDENTIFICATION = "format identification"
MESSAGE_DIGEST_CALCULATION = "message digest calculation"
INFORMATION_PACKAGE_CREATION = "information package creation"
REPLICATION = "replication"
FIXITY_CHECK = "fixity check"
REPAIR = "recovery"
DISSEMINATION = "dissemination"
POLICY_ASSIGNMENT = "policy assignment"
ACCESS_REFUSED = "access refused"
ACCESS_GRANTED = "access granted"
DECLASSIFICATION = "declassification"

SUCCESS, FAILURE, WARNING = "success", "failure", "warning"


@dataclass(frozen=True)
class LogCheck:
    events: int
    ok: bool
    bad_seq: int | None = None
    reason: str = ""


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(seq: int, aip: str | None, type_: str, outcome: str, at: datetime, agent: str,
              detail: str, prev_hash: str) -> bytes:
    doc = {"seq": seq, "aip": aip, "type": type_, "outcome": outcome, "at": _iso(at),
           "agent": agent, "detail": json.loads(detail), "prev": prev_hash}
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def event_hash(ev: Event) -> str:
    return hashlib.sha256(canonical(ev.seq, ev.aip_id, ev.type, ev.outcome, ev.at, ev.agent,
                                    ev.detail, ev.prev_hash)).hexdigest()


@dataclass(frozen=True)
class NewEvent:
    """One event to append (:func:`record_many`)."""

    type: str
    outcome: str
    agent: str
    aip: str | None = None
    detail: dict[str, Any] | None = None
    at: datetime | None = None


def record(session: Session, type_: str, outcome: str, agent: str, *, aip: str | None = None,
           detail: dict[str, Any] | None = None, at: datetime | None = None) -> Event:
    """Append one event in the caller's transaction (it commits or rolls back with it)."""
    return record_many(session, [NewEvent(type_, outcome, agent, aip, detail, at)])[0]


def record_many(session: Session, new: list[NewEvent]) -> list[Event]:
    """Append events in order in the caller's transaction: the head is locked and moved once
    and the rows go in one INSERT (an audit batch records one event per copy)."""
    if not new:
        return []
    head = session.execute(
        select(ChainHead).where(ChainHead.id == 1).with_for_update()).scalar_one()
    seq, prev = head.seq, head.hash
    added = []
    for item in new:
        # Microsecond precision: SQLite and PostgreSQL both store it exactly (hashes reproduce).
        when = (item.at or datetime.now(UTC)).astimezone(UTC)
        detail_text = json.dumps(item.detail or {}, sort_keys=True, ensure_ascii=False,
                                 default=str)
        seq += 1
        ev = Event(seq=seq, aip_id=item.aip, type=item.type, outcome=item.outcome, at=when,
                   agent=item.agent, detail=detail_text, prev_hash=prev)
        ev.hash = prev = event_hash(ev)
        added.append(ev)
    session.add_all(added)
    head.seq, head.hash = seq, prev
    session.flush()
    return added


def events_for(session: Session, aip: str) -> list[Event]:
    return list(session.scalars(select(Event).where(Event.aip_id == aip).order_by(Event.seq)))


def head(session: Session) -> tuple[int, str]:
    """The chain head: seq and hash of the last event (0 and GENESIS for an empty log)."""
    row = session.get(ChainHead, 1)
    return (row.seq, row.hash) if row is not None else (0, GENESIS)


def _all(session: Session, after: int = 0) -> Iterator[Event]:
    yield from session.scalars(select(Event).where(Event.seq > after).order_by(Event.seq)
                               .execution_options(yield_per=2000))


def verify(session: Session, *, since: tuple[int, str] | None = None,
           expected: Mapping[int, str] | None = None) -> LogCheck:
    """Check every hash and link; ``since`` = (seq, hash) starts after a trusted event,
    ``expected`` maps checkpointed seqs to the hash each event must still have."""
    expected_seq, prev = (since[0] + 1, since[1]) if since else (1, GENESIS)
    expected = expected or {}
    count = 0
    for ev in _all(session, expected_seq - 1):
        count += 1
        if ev.seq != expected_seq:
            what = "deleted" if ev.seq > expected_seq else "inserted or renumbered"
            return LogCheck(count, False, expected_seq if ev.seq > expected_seq else ev.seq,
                            f"event {expected_seq} is missing: an event was {what}")
        if ev.prev_hash != prev:
            return LogCheck(count, False, ev.seq,
                            f"event {ev.seq} does not link to event {ev.seq - 1}: "
                            "an event before it was inserted, deleted or replaced")
        if event_hash(ev) != ev.hash:
            return LogCheck(count, False, ev.seq,
                            f"event {ev.seq} ({ev.type}) was edited: its content no longer "
                            "matches its hash")
        if ev.seq in expected and expected[ev.seq] != ev.hash:
            return LogCheck(count, False, ev.seq,
                            f"event {ev.seq} differs from the signed checkpoint of it: the log "
                            "was rewritten up to or beyond this event")
        prev, expected_seq = ev.hash, ev.seq + 1
    beyond = [seq for seq in expected if seq >= expected_seq]
    if beyond:
        return LogCheck(count, False, expected_seq,
                        f"a signed checkpoint records event {max(beyond)} but the log ends at "
                        f"event {expected_seq - 1}: events at the end were deleted")
    head = session.get(ChainHead, 1)
    if head is None:
        return LogCheck(count, False, None, "the chain head record is missing")
    if head.seq != expected_seq - 1 or head.hash != prev:
        return LogCheck(count, False, expected_seq,
                        f"the log ends at event {expected_seq - 1} but the chain head records "
                        f"event {head.seq}: events at the end were deleted or the head edited")
    return LogCheck(count, True)
