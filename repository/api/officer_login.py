"""Who is looking at the officers' pages: a signed-in user whose role may audit.

The pages are for preservation officers (policies/access.yaml: roles that ``may: audit``).
A browser signs in once with an API token (``khoso token create --user NAME``) on ``/login``
and gets a session cookie: the token's id and an expiry, signed with HMAC-SHA256 by a key of
the home (``HOME/keys/web-session.key``) — never the token itself, which would open the API.
The cookie is HttpOnly and SameSite=Strict, so no page needs a script and no other site can
make the browser send it; revoking or expiring the token ends its sessions. A client may
send ``Authorization: Bearer`` as the API does. Names of classified files are shown only to
an officer whose authority covers the record's level (policies/engine.py ``decide_names``):
a file name can itself be secret.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from pathlib import Path
from urllib.parse import parse_qs, quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from policies.engine import Actor, Record, decide_action, decide_names
from repository.context import Repository
from repository.errors import PolicyRefused
from repository.report_render import environment
from repository.tokens import Unauthenticated, authenticate, authenticate_token, user_of_token_id
from repository.users import actor
from storage.files import create_exclusive

COOKIE = "khoso_session"
SESSION_KEY = "web-session.key"
SESSION_SECONDS = 12 * 3600  # a working day; the token's own expiry still applies
FORM_MAX = 4096


class SignInFirst(Exception):
    """No valid token on a page request: the browser is sent to ``/login``."""

    def __init__(self, back_to: str, reason: str) -> None:
        super().__init__(reason)
        self.back_to, self.reason = back_to, reason


def officer(request: Request, repo: Repository) -> Actor:
    """The signed-in officer, or :class:`SignInFirst` / :class:`PolicyRefused` (403)."""
    header = request.headers.get("authorization", "")
    try:
        if header.lower().startswith("bearer "):
            viewer = actor(authenticate(repo, header[7:].strip()))
        else:
            viewer = actor(user_of_token_id(repo, _session_token_id(
                repo, request.cookies.get(COOKIE))))
    except Unauthenticated as exc:
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInFirst(back, str(exc)) from exc
    decision = decide_action(repo.policies, viewer, "audit")
    if not decision.allowed:
        raise PolicyRefused(rule=decision.rule, reason=decision.reason)
    return viewer


def names_visible(repo: Repository, viewer: Actor, aip_id: str, classification: str) -> bool:
    return decide_names(repo.policies, viewer,
                        Record(aip_id, repo.policies.level(classification))).allowed


def login_page(back_to: str = "/", reason: str = "", status: int = 200) -> HTMLResponse:
    html = environment().get_template("officers_login.html").render(
        back_to=_local(back_to), reason=reason)
    return HTMLResponse(html, status_code=status)


def redirect_to_login(exc: SignInFirst) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(_local(exc.back_to), safe='/')}",
                            status_code=303)


async def sign_in(request: Request, repo: Repository) -> Response:
    # One urlencoded form of two short fields: parse_qs reads it; FastAPI's Form() would
    # add python-multipart as a dependency for this alone.
    body = await request.body()
    fields = parse_qs(body[:FORM_MAX].decode("utf-8", "replace"))
    token = (fields.get("token") or [""])[0].strip()
    back_to = _local((fields.get("next") or ["/"])[0])
    try:
        token_id, user = authenticate_token(repo, token)
    except Unauthenticated as exc:
        return login_page(back_to, str(exc), status=401)
    viewer = actor(user)
    decision = decide_action(repo.policies, viewer, "audit")
    if not decision.allowed:
        return login_page(back_to, decision.reason, status=403)
    response = RedirectResponse(back_to, status_code=303)
    response.set_cookie(COOKIE, _session_value(repo, token_id), max_age=SESSION_SECONDS,
                        httponly=True,
                        samesite="strict", secure=request.url.scheme == "https", path="/")
    return response


def sign_out() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


def _session_value(repo: Repository, token_id: int) -> str:
    body = f"{token_id}.{int(time.time()) + SESSION_SECONDS}"
    return f"{body}.{_mac(repo, body)}"


def _session_token_id(repo: Repository, value: str | None) -> int:
    """The token id a session cookie names, once its signature and expiry check out."""
    if not value:
        raise Unauthenticated(reason="not signed in")
    body, _, mac = value.rpartition(".")
    token_id, _, expires = body.partition(".")
    if not (token_id.isdigit() and expires.isdigit()) \
            or not hmac.compare_digest(mac, _mac(repo, body)):
        raise Unauthenticated(reason="the session cookie is not one this server signed")
    if int(expires) <= time.time():
        raise Unauthenticated(reason="the session expired; sign in again")
    return int(token_id)


def _mac(repo: Repository, body: str) -> str:
    return hmac.new(_session_key(repo.settings.keys_dir), body.encode("ascii"),
                    hashlib.sha256).hexdigest()


def _session_key(keys_dir: Path) -> bytes:
    """The home's session-signing key: 32 random bytes, 0600, made on first use (whole or
    not at all: storage/files.py); a racing process's key wins and is read back."""
    path = keys_dir / SESSION_KEY
    if not path.exists():
        keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        create_exclusive(path, secrets.token_bytes(32))
    return path.read_bytes()


def _local(target: str) -> str:
    """Only a path on this site (no open redirect to another host)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
