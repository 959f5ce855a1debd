"""HTTP API tokens: shown once at creation, stored only as their SHA-256.

A token is ``khoso_`` + 32 random bytes (URL-safe base64); the catalog keeps its SHA-256, so
a copy of the catalog lets nobody call the API. A token acts for one user, with that user's
role; it stops working when it expires or is revoked. Creating and revoking tokens are
``policy assignment`` events (NĐ 30/2020 Annex VI 3.c: changes to access rights are logged).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, date, datetime, time

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from repository import events
from repository.catalog.models import ApiToken, User, WebSession
from repository.context import Repository
from repository.errors import KhosoError, NotFound, UsageError
from repository.users import get_user

PREFIX = "khoso_"


class Unauthenticated(KhosoError):
    """No token, or one that is unknown, expired or revoked (HTTP 401)."""

    message = "not authenticated: {reason}"
    exit_code = 2
    code = "unauthenticated"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create(repo: Repository, user_name: str, label: str | None,
           expires: date | None) -> dict:
    expires_at = datetime.combine(expires, time.max, tzinfo=UTC) if expires else None
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise UsageError(reason=f"--expires {expires} is in the past")
    token = PREFIX + secrets.token_urlsafe(32)
    with repo.catalog.session() as session:
        user = get_user(session, user_name)
        row = ApiToken(user_id=user.id, token_sha256=digest(token), label=label or "",
                       expires_at=expires_at)
        session.add(row)
        session.flush()
        events.record(session, events.POLICY_ASSIGNMENT, events.SUCCESS, repo.agent,
                      detail={"action": "api token created", "token_id": row.id,
                              "user": user_name, "label": label or "",
                              "expires": expires_at.isoformat() if expires_at else None})
    return {"token_id": row.id, "user": user_name, "label": label or "",
            "expires": expires_at.isoformat() if expires_at else None, "token": token}


def revoke(repo: Repository, token_id: int) -> dict:
    with repo.catalog.session() as session:
        row = session.get(ApiToken, token_id, with_for_update=True)
        if row is None:
            raise NotFound(kind="API token", name=str(token_id))
        if row.revoked_at is not None:
            raise UsageError(reason=f"API token {token_id} is already revoked")
        row.revoked_at = datetime.now(UTC)
        # The officers' pages' sessions opened with this token end with it, in the same
        # transaction (they would be refused through the token anyway; ending the rows lets
        # the sign-in page say why and leaves no session listed as live). Imported here:
        # web_sessions builds on this module.
        from repository.web_sessions import end_live

        ended = end_live(session, WebSession.token_id == token_id, at=row.revoked_at,
                         why="revoked")
        events.record(session, events.POLICY_ASSIGNMENT, events.SUCCESS, repo.agent,
                      detail={"action": "api token revoked", "token_id": token_id,
                              "sessions_ended": ended})
        return {"token_id": token_id, "revoked_at": row.revoked_at.isoformat(),
                "sessions_ended": ended}


def list_tokens(repo: Repository, user_name: str | None = None) -> dict:
    now = datetime.now(UTC)
    with repo.catalog.session() as session:
        query = select(ApiToken).options(selectinload(ApiToken.user)).order_by(ApiToken.id)
        if user_name:
            query = query.where(ApiToken.user_id == get_user(session, user_name).id)
        return {"tokens": [{
            "token_id": t.id, "user": t.user.name, "label": t.label,
            "created": t.created_at.isoformat(),
            "expires": t.expires_at.isoformat() if t.expires_at else None,
            "state": "revoked" if t.revoked_at else
                     "expired" if t.expires_at and t.expires_at <= now else "active",
        } for t in session.scalars(query)]}


def authenticate(repo: Repository, token: str | None) -> User:
    """The user a bearer token acts for, or :class:`Unauthenticated` saying why not."""
    return authenticate_token(repo, token)[1]


def authenticate_token(repo: Repository, token: str | None) -> tuple[int, User]:
    """The token's id and the user it acts for, or :class:`Unauthenticated`."""
    if not token:
        raise Unauthenticated(reason="send 'Authorization: Bearer <token>' (khoso token create)")
    wanted = digest(token)
    with repo.catalog.session() as session:
        row = session.scalar(select(ApiToken).options(selectinload(ApiToken.user))
                             .where(ApiToken.token_sha256 == wanted))
        # The lookup is by digest; compare again in constant time for good measure.
        if row is None or not hmac.compare_digest(row.token_sha256, wanted):
            raise Unauthenticated(reason="unknown token")
        return row.id, _usable(row)


def user_of_token_id(repo: Repository, token_id: int) -> User:
    """The user of a token known by its id (a signed session names it), or
    :class:`Unauthenticated` when it is gone, revoked or expired."""
    with repo.catalog.session() as session:
        row = session.get(ApiToken, token_id, options=[selectinload(ApiToken.user)])
        if row is None:
            raise Unauthenticated(reason="the token of this session no longer exists")
        return _usable(row)


def _usable(row: ApiToken) -> User:
    if row.revoked_at is not None:
        raise Unauthenticated(reason="the token was revoked")
    if row.expires_at is not None and row.expires_at <= datetime.now(UTC):
        raise Unauthenticated(reason="the token expired")
    return row.user
