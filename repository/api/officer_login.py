"""Who is looking at the officers' pages: a signed-in user whose role may audit.

The pages are for preservation officers (policies/access.yaml: roles that ``may: audit``).
A browser signs in once with an API token (``khoso token create --user NAME``) on ``/login``
and gets a session cookie holding a random secret of a session kept in the catalog
(repository/web_sessions.py) — never the token itself, which would open the API. Signing
out ends that session on the server; so do 30 idle minutes, 12 hours, and revoking or
expiring the token. The cookie is HttpOnly and SameSite=Strict, so no page needs a script
and no other site can make the browser send it. A client may send ``Authorization: Bearer``
as the API does. Names of classified files are shown only to
an officer whose authority covers the record's level (policies/engine.py ``decide_names``):
a file name can itself be secret.
"""

from __future__ import annotations

from urllib.parse import parse_qs, quote

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from policies.engine import Actor, Record, decide_action, decide_names
from repository.context import Repository
from repository.errors import PolicyRefused
from repository.report_render import environment
from repository.tokens import Unauthenticated, authenticate, authenticate_token
from repository.users import actor
from repository.web_sessions import (
    ENDINGS,
    LIFETIME_SECONDS,
    end_session,
    open_session,
    user_of_session,
)

COOKIE = "khoso_session"
FORM_MAX = 4096


class SignInFirst(Exception):
    """No valid token on a page request: the browser is sent to ``/login``."""

    def __init__(self, back_to: str, reason: str, why: str = "") -> None:
        super().__init__(reason)
        self.back_to, self.reason, self.why = back_to, reason, why


def officer(request: Request, repo: Repository) -> Actor:
    """The signed-in officer, or :class:`SignInFirst` / :class:`PolicyRefused` (403)."""
    header = request.headers.get("authorization", "")
    try:
        if header.lower().startswith("bearer "):
            viewer = actor(authenticate(repo, header[7:].strip()))
        else:
            viewer = actor(user_of_session(repo, request.cookies.get(COOKIE)))
    except Unauthenticated as exc:
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInFirst(back, str(exc), getattr(exc, "why", "")) from exc
    decision = decide_action(repo.policies, viewer, "audit")
    if not decision.allowed:
        raise PolicyRefused(rule=decision.rule, reason=decision.reason)
    return viewer


def names_visible(repo: Repository, viewer: Actor, aip_id: str, classification: str) -> bool:
    return decide_names(repo.policies, viewer,
                        Record(aip_id, repo.policies.level(classification))).allowed


def login_page(back_to: str = "/", reason: str = "", status: int = 200,
               ended: str = "") -> HTMLResponse:
    """The sign-in form; ``ended`` names why the last session ended (a fixed text chosen by
    key: nothing from the request is shown)."""
    html = environment().get_template("officers_login.html").render(
        back_to=_local(back_to), reason=reason, ended=ENDINGS.get(ended, ""))
    return HTMLResponse(html, status_code=status)


def redirect_to_login(exc: SignInFirst) -> RedirectResponse:
    ended = f"&ended={exc.why}" if exc.why in ENDINGS else ""
    return RedirectResponse(f"/login?next={quote(_local(exc.back_to), safe='/')}{ended}",
                            status_code=303)


async def sign_in(request: Request, repo: Repository) -> Response:
    # One urlencoded form of two short fields: parse_qs reads it; FastAPI's Form() would
    # add python-multipart as a dependency for this alone.
    body = await request.body()
    fields = parse_qs(body[:FORM_MAX].decode("utf-8", "replace"))
    token = (fields.get("token") or [""])[0].strip()
    back_to = _local((fields.get("next") or ["/"])[0])
    # The catalog work blocks (SQLite waits for its write lock): off the event loop, so one
    # sign-in never holds up the other requests.
    return await run_in_threadpool(_sign_in, request, repo, token, back_to)


def _sign_in(request: Request, repo: Repository, token: str, back_to: str) -> Response:
    try:
        token_id, user = authenticate_token(repo, token)
    except Unauthenticated as exc:
        return login_page(back_to, str(exc), status=401)
    viewer = actor(user)
    decision = decide_action(repo.policies, viewer, "audit")
    if not decision.allowed:
        return login_page(back_to, decision.reason, status=403)
    end_session(repo, request.cookies.get(COOKIE), why="replaced")  # this browser's last one
    response = RedirectResponse(back_to, status_code=303)
    response.set_cookie(COOKIE, open_session(repo, token_id), max_age=LIFETIME_SECONDS,
                        httponly=True,
                        samesite="strict", secure=request.url.scheme == "https", path="/")
    return response


def sign_out(request: Request, repo: Repository) -> Response:
    """End the session on the server (a copied cookie dies with it), then in the browser."""
    end_session(repo, request.cookies.get(COOKIE))
    response = RedirectResponse("/login?ended=signed-out", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


def _local(target: str) -> str:
    """Only a path on this site (no open redirect to another host)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
