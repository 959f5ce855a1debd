"""Catalog tables. What each row promises is written in docs/design.md ("The catalog").

All times are stored in UTC and read back timezone-aware (SQLite keeps no zone).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    Unicode,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the catalog; use UTC-aware times")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Location(Base):
    __tablename__ = "locations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    url: Mapped[str] = mapped_column(Text)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    max_classification: Mapped[str] = mapped_column(String(40), default="top-secret")
    # network (isolated/lan/cloud), media, write_once, offline, site: placement facts
    # (policies/replication.py); never handed to the backend.
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True,
                                                             default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Aip(Base):
    __tablename__ = "aips"
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    title: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(Text, default="")
    classification: Mapped[str] = mapped_column(String(40), default="unclassified")
    classified_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    protect_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    access_mode: Mapped[str] = mapped_column(String(2), default="01")
    file_count: Mapped[int] = mapped_column(Integer, default=0)
    byte_count: Mapped[int] = mapped_column(BigInteger, default=0)
    key_prefix: Mapped[str] = mapped_column(Text)
    tagmanifest_sha256: Mapped[str] = mapped_column(String(64), default="")
    previous_version: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    files: Mapped[list[AipFile]] = relationship(
        back_populates="aip", cascade="all, delete-orphan", order_by="AipFile.id")
    replicas: Mapped[list[Replica]] = relationship(
        back_populates="aip", cascade="all, delete-orphan", order_by="Replica.id")


class AipFile(Base):
    """One file of the stored bag: payload (data/…) or tag file (bagit.txt, manifests)."""

    __tablename__ = "aip_files"
    __table_args__ = (UniqueConstraint("aip_id", "path"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    aip_id: Mapped[str] = mapped_column(ForeignKey("aips.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(Text)
    storage_key: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(10), default="payload")
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    puid: Mapped[str | None] = mapped_column(String(40), nullable=True)
    mime: Mapped[str | None] = mapped_column(String(200), nullable=True)
    classification: Mapped[str] = mapped_column(String(40), default="unclassified")
    # Encrypted objects (classified content): the stored bytes differ from the plaintext.
    stored_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    stored_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    wrapped_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    kek_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    aip: Mapped[Aip] = relationship(back_populates="files")


class Replica(Base):
    """A copy of a whole AIP in one location. Exists only after every object was read back."""

    __tablename__ = "replicas"
    __table_args__ = (UniqueConstraint("aip_id", "location_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    aip_id: Mapped[str] = mapped_column(ForeignKey("aips.id", ondelete="CASCADE"), index=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="verified", index=True)
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_verified: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_checked: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True,
                                                         index=True)
    aip: Mapped[Aip] = relationship(back_populates="replicas")
    location: Mapped[Location] = relationship()
    # Its audit_queue row while a scheduled slice has it queued (loaded with the copy).
    queue: Mapped[QueuedCopy | None] = relationship(
        primaryjoin="foreign(QueuedCopy.replica_id) == Replica.id", viewonly=True,
        uselist=False, lazy="selectin")

    @property
    def queued_at(self) -> datetime | None:
        return self.queue.queued_at if self.queue is not None else None

    @property
    def lease_owner(self) -> str | None:
        """The worker whose claim on this copy's audit holds (or held) a lease."""
        return self.queue.lease_owner if self.queue is not None else None


class QueuedCopy(Base):
    """A copy a scheduled slice queued for audit, until an audit of it is recorded.

    A row of its own rather than a column of ``replicas``: queueing a day's slice inserts a
    few thousand small rows instead of rewriting as many copy rows and every index on them
    (scripts/bench/catalog_scale.py). No foreign key either: its check locks, and so writes,
    the row of every copy queued, which cost as much again; copies are never deleted, and an
    audit removes the queue row of every copy it was given, even one gone meanwhile.
    ``urgency``, ``last_checked`` and ``aip_id`` are the copy's claim order when it was queued
    (damaged, never checked, then least recently checked; one AIP's copies next to each
    other, so a worker reads them side by side).
    """

    __tablename__ = "audit_queue"
    __table_args__ = (Index("ix_audit_queue_order", "urgency", "last_checked", "aip_id",
                            "replica_id"),)
    replica_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    aip_id: Mapped[str] = mapped_column(String(100))
    urgency: Mapped[int] = mapped_column(SmallInteger)  # 0 damaged, 1 never checked, 2 due
    last_checked: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # A worker's claim on this copy's audit (lease; FOR UPDATE SKIP LOCKED picks free rows).
    lease_owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Problem(Base):
    """Damage found by an audit, open until a repair (or a later clean audit) resolves it."""

    __tablename__ = "problems"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    aip_id: Mapped[str] = mapped_column(ForeignKey("aips.id", ondelete="CASCADE"), index=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    path: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20))
    found_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolution: Mapped[str | None] = mapped_column(String(40), nullable=True)
    location: Mapped[Location] = relationship()


class Event(Base):
    """One PREMIS event, chained: hash = sha256(canonical form incl. prev_hash)."""

    __tablename__ = "events"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    aip_id: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    type: Mapped[str] = mapped_column(String(60), index=True)
    outcome: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    agent: Mapped[str] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class ChainHead(Base):
    """One row: the last event's seq and hash. Locked while appending, so the chain is linear."""

    __tablename__ = "chain_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64))


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(40))
    unit: Mapped[str | None] = mapped_column(Text, nullable=True)
    authority: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Grant(Base):
    __tablename__ = "grants"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    aip_id: Mapped[str] = mapped_column(ForeignKey("aips.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    approver_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    purpose: Mapped[str] = mapped_column(Text, default="")
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    revoke_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    approver: Mapped[User] = relationship(foreign_keys=[approver_id])
    revoked_by: Mapped[User | None] = relationship(foreign_keys=[revoked_by_id])


class Copy(Base):
    """The copy register (sổ quản lý sao, chụp): one row per dissemination copy made."""

    __tablename__ = "copies"
    __table_args__ = (UniqueConstraint("aip_id", "copy_number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    aip_id: Mapped[str] = mapped_column(ForeignKey("aips.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    grant_id: Mapped[int | None] = mapped_column(ForeignKey("grants.id"), nullable=True)
    copy_number: Mapped[int] = mapped_column(Integer)
    made_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    purpose: Mapped[str] = mapped_column(Text, default="")
    dip_path: Mapped[str] = mapped_column(Text)
    classification: Mapped[str] = mapped_column(String(40), default="unclassified")
    copy_form: Mapped[str] = mapped_column(String(40), default="sao y")
    # making → made, or spoiled (destroyed at once, NĐ 26/2020 Điều 3) when writing failed.
    status: Mapped[str] = mapped_column(String(20), default="made", server_default="made")
    request_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    purpose_code: Mapped[str | None] = mapped_column(String(2), nullable=True)
    package_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    approver_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    approver: Mapped[User | None] = relationship(foreign_keys=[approver_id])


class Extension(Base):
    """An extension of a protection period (Law 29/2018 Điều 20)."""

    __tablename__ = "extensions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    aip_id: Mapped[str] = mapped_column(ForeignKey("aips.id", ondelete="CASCADE"), index=True)
    years: Mapped[int] = mapped_column(Integer)
    approver_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    previous_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    new_until: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text, default="")


class ApiToken(Base):
    """An HTTP API token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    user: Mapped[User] = relationship()


class WebSession(Base):
    """A signed-in browser on the officers' pages (repository/web_sessions.py). The cookie
    holds a random secret; only its SHA-256 is kept here, so a copy of the catalog opens no
    session. Signing out ends the row itself: a copied cookie is dead from then on."""

    __tablename__ = "web_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # signed-out, idle, replaced (signed in again from the same browser) or revoked (its
    # token); repository/web_sessions.py ENDINGS
    ended_why: Mapped[str | None] = mapped_column(String(20), nullable=True)


class Checkpoint(Base):
    """A signed statement of the event chain's head (Ed25519), verifiable outside khoso."""

    __tablename__ = "checkpoints"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    key_id: Mapped[str] = mapped_column(String(100))
    signature: Mapped[str] = mapped_column(Text)


class AuditRun(Base):
    """One audit run: what it covered and found (reports and trends)."""

    __tablename__ = "audit_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    kind: Mapped[str] = mapped_column(String(20), default="manual")
    copies: Mapped[int] = mapped_column(Integer, default=0)
    files: Mapped[int] = mapped_column(Integer, default=0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    problems: Mapped[int] = mapped_column(Integer, default=0)
    owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    failed_copies: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    unexpected: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Share of all copies verified within the policy window when the run ended (trend).
    coverage: Mapped[float | None] = mapped_column(Float, nullable=True)


# APScheduler 3.11's SQLAlchemyJobStore table (created by migration 0003 so Alembic owns the
# whole schema; the scheduler reads and writes it through its own Table object).
scheduler_jobs = Table(
    "apscheduler_jobs", Base.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)
