"""The preservation officers' pages served by ``khoso serve`` at ``/``.

``/`` shows what ``khoso report`` shows (locations and coverage, last audits, open problems,
unrecoverable files, trend) with every AIP linked to its drill-down at ``/aips/{id}``:
its copies, files, open problems and fixity history. ``/report.{json,csv,html}`` download
the report. Pages are self-contained HTML (inline CSS and SVG, no script), like the report.
Titles of classified records are not shown here: a title can itself be secret. Every page
needs a signed-in user whose role may audit (repository/api/officer_login.py), and names of a
classified record's files only show for one whose authority covers its level.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from policies.engine import Actor
from repository import events
from repository.api.app import get_repo
from repository.api.officer_login import (
    SignInFirst,
    login_page,
    names_visible,
    officer,
    redirect_to_login,
    sign_in,
    sign_out,
)
from repository.catalog.models import Aip, Problem, Replica
from repository.context import Repository
from repository.errors import NotFound
from repository.report_render import charts, environment, render
from repository.reports import build_report

router = APIRouter(tags=["officers' pages"], include_in_schema=False)
PAGE = 100
HIDDEN = "[tên mật / classified name]"


def signed_in(request: Request, repo: Repository = Depends(get_repo)) -> Actor:
    """FastAPI dependency: the officer looking, or a redirect to ``/login``."""
    try:
        return officer(request, repo)
    except SignInFirst as exc:
        location = redirect_to_login(exc).headers["location"]
        raise HTTPException(status_code=303, detail=exc.reason,
                            headers={"Location": location}) from exc


@router.get("/login", response_class=HTMLResponse)
def login_form(back_to: str = Query("/", alias="next"),
               ended: str = Query("")) -> HTMLResponse:  # unknown keys show nothing
    return login_page(back_to, ended=ended)


@router.post("/login")
async def login(request: Request, repo: Repository = Depends(get_repo)) -> Response:
    return await sign_in(request, repo)


@router.post("/logout")
def logout(request: Request, repo: Repository = Depends(get_repo)) -> Response:
    return sign_out(request, repo)


def aip_link(aip_id: str) -> str:
    return "/aips/" + quote(aip_id, safe=":")


def _title(repo: Repository, aip: Aip) -> str:
    if aip.classification == "unclassified":
        return aip.title
    level = repo.policies.level(aip.classification)
    return f"[{level.vi} / {level.en}]"


@router.get("/", response_class=HTMLResponse)
def dashboard(repo: Repository = Depends(get_repo),
              viewer: Actor = Depends(signed_in)) -> HTMLResponse:
    report = _names_for(repo, viewer, build_report(repo))
    html = environment().get_template("officers_index.html").render(
        r=report, charts=charts(report), aip_link=aip_link)
    return HTMLResponse(html)


@router.get("/report.{fmt}")
def report_download(fmt: str, repo: Repository = Depends(get_repo),
                    viewer: Actor = Depends(signed_in)) -> Response:
    if fmt not in ("json", "csv", "html"):
        raise NotFound(kind="report format", name=fmt)
    text = render(_names_for(repo, viewer, build_report(repo)), fmt)
    media = {"json": "application/json", "csv": "text/csv", "html": "text/html"}[fmt]
    return PlainTextResponse(text, media_type=f"{media}; charset=utf-8")


@router.get("/aips", response_class=HTMLResponse)
def aip_list(repo: Repository = Depends(get_repo), q: str = Query(""),
             damaged: bool = Query(False), page: int = Query(1, ge=1),
             viewer: Actor = Depends(signed_in)) -> HTMLResponse:
    query = select(Aip).order_by(Aip.created_at.desc(), Aip.id)
    if q:
        like = f"%{q}%"
        query = query.where(or_(Aip.id.ilike(like),
                                (Aip.classification == "unclassified") & Aip.title.ilike(like)))
    if damaged:
        query = query.where(Aip.id.in_(select(Replica.aip_id).where(
            Replica.status != "verified")))
    with repo.catalog.session() as session:
        rows = list(session.scalars(query.offset((page - 1) * PAGE).limit(PAGE + 1)))
        status = dict(session.execute(
            select(Replica.aip_id, func.count(Replica.id).filter(Replica.status != "verified"))
            .where(Replica.aip_id.in_([a.id for a in rows])).group_by(Replica.aip_id)).all())
    items = [{"aip": a.id, "title": _title(repo, a), "classification": a.classification,
              "files": a.file_count, "bytes": a.byte_count, "damaged": status.get(a.id, 0)}
             for a in rows[:PAGE]]
    html = environment().get_template("officers_aips.html").render(
        items=items, q=q, damaged=damaged, page=page, more=len(rows) > PAGE,
        aip_link=aip_link)
    return HTMLResponse(html)


@router.get("/aips/{aip_id:path}", response_class=HTMLResponse)
def aip_page(aip_id: str, repo: Repository = Depends(get_repo),
             viewer: Actor = Depends(signed_in)) -> HTMLResponse:
    with repo.catalog.session() as session:
        aip = session.get(Aip, aip_id, options=[selectinload(Aip.files)])
        if aip is None:
            raise NotFound(kind="AIP", name=aip_id)
        replicas = list(session.scalars(select(Replica).options(selectinload(Replica.location))
                                        .where(Replica.aip_id == aip_id).order_by(Replica.id)))
        problems = list(session.scalars(select(Problem).options(selectinload(Problem.location))
                                        .where(Problem.aip_id == aip_id)
                                        .order_by(Problem.resolved_at.is_not(None),
                                                  Problem.found_at.desc())))
        history = [e for e in events.events_for(session, aip_id)
                   if e.type in (events.FIXITY_CHECK, events.REPAIR, events.REPLICATION)]
    html = environment().get_template("officers_aip.html").render(
        aip=aip, title=_title(repo, aip), replicas=replicas, problems=problems,
        history=[{"seq": e.seq, "at": e.at, "type": e.type, "outcome": e.outcome,
                  "detail": json.loads(e.detail)} for e in reversed(history)],
        now=datetime.now(UTC), aip_link=aip_link,
        names=names_visible(repo, viewer, aip.id, aip.classification), hidden=HIDDEN)
    return HTMLResponse(html)


def _names_for(repo: Repository, viewer: Actor, report: dict) -> dict:
    """The report with the paths of classified records this officer may not read hidden."""
    rows = [row for key in ("open_problems", "unrecoverable", "recent_repairs")
            for row in report.get(key, [])]
    ids = {row["aip"] for row in rows if row.get("path")}
    if not ids:
        return report
    with repo.catalog.session() as session:
        levels = dict(session.execute(select(Aip.id, Aip.classification)
                                      .where(Aip.id.in_(ids))).all())
    secret = {aip for aip in ids
              if not names_visible(repo, viewer, aip, levels.get(aip, "unclassified"))}
    for row in rows:
        if row["aip"] in secret and row.get("path"):
            row["path"] = HIDDEN
    return report
