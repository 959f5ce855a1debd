"""Handing out a DIP that was made earlier (HTTP download): checked again at the door.

A copy leaves only if it was made for this person (``download.recipient``), within the
download window (``download.window``, TT 05/2025 Điều 40), while the access decision still
allows it (a revoked or expired grant refuses, ``access.grant-lapsed``), and if the zip's
bytes still match the SHA-256 the copy register recorded. Each download is a
``dissemination`` event; each refusal an ``access refused`` event.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from policies.engine import decide_download
from repository import events
from repository.access import decide
from repository.catalog.models import Copy
from repository.context import Repository
from repository.decisions import refuse
from repository.errors import Damaged, NotFound
from repository.users import actor, get_user
from storage.backend import CHUNK


@dataclass(frozen=True)
class Download:
    path: Path
    filename: str
    size: int
    sha256: str


def open_download(repo: Repository, copy_id: int, user_name: str) -> Download:
    now = datetime.now(UTC)
    with repo.catalog.session() as session:
        row = session.get(Copy, copy_id)
        who = actor(get_user(session, user_name))
        if row is None or row.status != "made" or not row.package_sha256:
            raise NotFound(kind="downloadable copy", name=str(copy_id))
        recipient = row.user.name
        aip_id, made_at, path = row.aip_id, row.made_at, Path(row.dip_path)
        expected, number = row.package_sha256, row.copy_number
    detail = {"action": "download", "copy_id": copy_id, "user": user_name}
    decision = decide_download(repo.policies, made_at, now, recipient, who)
    if not decision.allowed:
        refuse(repo, decision, aip=aip_id, detail=detail)
    still = decide(repo, aip_id, user_name, now).decision
    if not still.allowed:
        refuse(repo, still, aip=aip_id, detail=detail)
    if _sha256(path) != expected:
        raise Damaged(reason=f"copy {copy_id} ({path.name}) no longer matches its register "
                             "entry; make a new copy")
    with repo.catalog.session() as session:
        events.record(session, events.DISSEMINATION, events.SUCCESS, repo.agent, aip=aip_id,
                      detail={**detail, "copy_number": number, "package_sha256": expected})
    return Download(path, path.name, path.stat().st_size, expected)


def _sha256(path: Path) -> str | None:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(CHUNK):
                h.update(chunk)
    except OSError:
        return None
    return h.hexdigest()
