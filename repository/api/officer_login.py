"""Who is looking at the officers' pages: a signed-in user whose role may audit.

The pages are for preservation officers (policies/access.yaml: roles that ``may: audit``).
A browser signs in once with an API token (``khoso token create --user NAME``) on ``/login``;
the token then rides in an HttpOnly, SameSite=Strict cookie, so no page needs a script and
no other site can make the browser send it. A client may send ``Authorization: Bearer`` as
the API does. Names of classified files are shown only to an officer whose authority covers
the record's level (policies/engine.py ``decide_names``): a file name can itself be secret.
"""

from __future__ import annotations

from urllib.parse import parse_qs, quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from policies.engine import Actor, Record, decide_action, decide_names
from repository.context import Repository
from repository.errors import PolicyRefused
from repository.report_render import environment
from repository.tokens import Unauthenticated, authenticate
from repository.users import actor

COOKIE = "khoso_token"
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
    token = header[7:].strip() if header.lower().startswith("bearer ") else \
        request.cookies.get(COOKIE)
    try:
        viewer = actor(authenticate(repo, token))
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
        viewer = actor(authenticate(repo, token))
    except Unauthenticated as exc:
        return login_page(back_to, str(exc), status=401)
    decision = decide_action(repo.policies, viewer, "audit")
    if not decision.allowed:
        return login_page(back_to, decision.reason, status=403)
    response = RedirectResponse(back_to, status_code=303)
    response.set_cookie(COOKIE, token, max_age=SESSION_SECONDS, httponly=True,
                        samesite="strict", secure=request.url.scheme == "https", path="/")
    return response


def sign_out() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


def _local(target: str) -> str:
    """Only a path on this site (no open redirect to another host)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
