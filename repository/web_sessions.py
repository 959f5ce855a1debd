"""Sessions of the officers' pages, kept in the catalog (``web_sessions``).

Signing in with an API token opens a session: the browser gets a random secret (32 bytes,
URL-safe base64) and the catalog keeps only its SHA-256, the token it was opened with and
three times. A session stops working when:

* the officer signs out (the row is ended: a copy of the cookie taken earlier is dead too);
* it has been idle for :data:`IDLE_SECONDS` (a screen left open in a reading room; activity
  is written at most once a minute, so the idle end may come up to a minute early);
* :data:`LIFETIME_SECONDS` have passed since sign-in, however active it was;
* its token is revoked (``khoso token revoke`` ends the token's sessions in the same
  transaction) or expires (checked on every request, repository/tokens.py).

A signed cookie alone (the first design) could not be ended before its expiry: sign-out only
asked the browser to forget it. Rows past their expiry for a day are deleted at each sign-in,
so the table holds roughly a day of sign-ins.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.orm import Session

from repository.catalog.models import User, WebSession
from repository.context import Repository
from repository.tokens import Unauthenticated, digest, user_of_token_id

LIFETIME_SECONDS = 12 * 3600  # a working day; the token's own expiry still applies
IDLE_SECONDS = 30 * 60
SEEN_EVERY_SECONDS = 60  # last_seen_at is written at most once a minute per session
KEEP_ENDED = timedelta(days=1)


def open_session(repo: Repository, token_id: int, now: datetime | None = None) -> str:
    """A new session for this token; returns the secret for the cookie (shown once)."""
    now = now or datetime.now(UTC)
    secret = secrets.token_urlsafe(32)
    with repo.catalog.session() as session:
        session.execute(delete(WebSession).where(WebSession.expires_at < now - KEEP_ENDED))
        session.add(WebSession(secret_sha256=digest(secret), token_id=token_id,
                               created_at=now, last_seen_at=now,
                               expires_at=now + timedelta(seconds=LIFETIME_SECONDS)))
    return secret


def user_of_session(repo: Repository, secret: str | None,
                    now: datetime | None = None) -> User:
    """The user a live session acts for, or :class:`Unauthenticated` saying why not."""
    if not secret:
        raise Unauthenticated(reason="not signed in")
    now = now or datetime.now(UTC)
    wanted = digest(secret)
    refused: tuple[str, str] | None = None
    with repo.catalog.session() as session:  # commits the row's changes, also on refusal
        # Looked up by the secret's digest: equal digests mean equal secrets, and the
        # digest of a guess tells nothing about how close it came.
        row = session.scalar(select(WebSession).where(WebSession.secret_sha256 == wanted))
        if row is None:
            raise Unauthenticated(reason="this session is not one this server opened")
        if row.ended_at is not None:
            why = row.ended_why if row.ended_why in ENDINGS else "signed-out"
            refused = why, f"this session ended ({why}); sign in again"
        elif row.expires_at <= now:
            refused = "expired", "the session expired; sign in again"
        elif row.last_seen_at + timedelta(seconds=IDLE_SECONDS) <= now:
            # For good: no later request revives it. Only a live row: a sign-out racing this
            # request keeps its own reason.
            end_live(session, WebSession.id == row.id, at=now, why="idle")
            refused = "idle", (f"the session was idle for over {IDLE_SECONDS // 60} minutes; "
                               "sign in again")
        elif (now - row.last_seen_at).total_seconds() >= SEEN_EVERY_SECONDS:
            row.last_seen_at = now
        token_id = row.token_id
    if refused:
        raise SessionEnded(why=refused[0], reason=refused[1])
    return user_of_token_id(repo, token_id)


class SessionEnded(Unauthenticated):
    """A session that was live once and is not any more; ``why`` (one of :data:`ENDINGS`)
    lets the sign-in page say so without echoing any text from the request."""

    def __init__(self, *, reason: str, why: str) -> None:
        super().__init__(reason=reason)
        self.why = why


ENDINGS = {
    "signed-out": "Phiên đã đăng xuất / You signed out.",
    "idle": (f"Phiên đã hết hạn sau {IDLE_SECONDS // 60} phút không hoạt động / The session "
             f"ended after {IDLE_SECONDS // 60} idle minutes."),
    "expired": (f"Phiên đã quá {LIFETIME_SECONDS // 3600} giờ / The session ended "
                f"{LIFETIME_SECONDS // 3600} hours after sign-in."),
    "revoked": ("Mã truy cập của phiên đã bị thu hồi / The token this session was opened "
                "with has been revoked."),
    "replaced": ("Phiên này đã được thay bằng một lần đăng nhập mới / You signed in again "
                 "from this browser: this earlier session ended."),
}


def end_session(repo: Repository, secret: str | None, now: datetime | None = None,
                why: str = "signed-out") -> bool:
    """Sign out (or ``why="replaced"``: a new sign-in from the same browser): the session of
    this secret stops working everywhere. False when there was no live session to end."""
    if not secret:
        return False
    now = now or datetime.now(UTC)
    with repo.catalog.session() as session:
        return bool(end_live(session, WebSession.secret_sha256 == digest(secret), at=now,
                             why=why))


def end_live(session: Session, *where: ColumnElement[bool], at: datetime, why: str) -> int:
    """End the live sessions ``where`` selects, in the caller's transaction; returns how many.
    An ended row is never touched again: it keeps the first reason it ended for."""
    ended = session.execute(update(WebSession).where(*where, WebSession.ended_at.is_(None))
                            .values(ended_at=at, ended_why=why))
    return int(ended.rowcount or 0)  # type: ignore[attr-defined]
