"""``khoso access``: decide, then make a marked dissemination copy (DIP) and register it.

Refusals are recorded as events before the command exits 3. A copy is made from a replica
whose bytes verify while they are read; its number comes from the copy register (sổ quản lý
sao, chụp), allocated in the same transaction that records the copy.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from policies.engine import GrantFacts, decide_access
from repository import events
from repository.catalog.models import Aip, AipFile, Copy, Grant, Replica
from repository.context import Repository
from repository.errors import Damaged, PolicyRefused, UsageError
from repository.marking import Marks, mark_pdf
from repository.users import actor, get_aip, get_user, record_of
from storage.backend import CHUNK
from storage.errors import StorageError

CONTENT_PREFIX = "data/representations/rep1/data/"


def _grants(session, aip_id: str) -> list[GrantFacts]:  # type: ignore[no-untyped-def]
    rows = session.scalars(select(Grant).where(Grant.aip_id == aip_id).options(
        selectinload(Grant.user), selectinload(Grant.approver)))
    return [GrantFacts(g.user.name, actor(g.approver), g.until, g.revoked_at is not None)
            for g in rows]


def make_copy(repo: Repository, aip_id: str, user_name: str, out_dir: Path,
              purpose: str | None) -> dict:
    now = datetime.now(UTC)
    with repo.catalog.session() as session:
        aip = get_aip(session, aip_id)
        user = get_user(session, user_name)
        decision = decide_access(repo.policies, actor(user), record_of(repo, aip),
                                 _grants(session, aip_id), now)
    if not decision.allowed:
        with repo.catalog.session() as session:
            events.record(session, events.ACCESS_REFUSED, events.FAILURE, repo.agent, aip=aip_id,
                          detail={"user": user_name, "rule": decision.rule,
                                  "reason": decision.reason, "purpose": purpose or ""})
        raise PolicyRefused(rule=decision.rule, reason=decision.reason)
    level = repo.policies.level(aip.classification)
    with repo.catalog.session() as session:
        # Lock the AIP row so copy numbers are allocated one at a time.
        session.execute(select(Aip).where(Aip.id == aip_id).with_for_update())
        number = (session.scalar(select(func.max(Copy.copy_number))
                                 .where(Copy.aip_id == aip_id)) or 0) + 1
        dip = out_dir / f"DIP-{aip_id.replace(':', '_')}-copy{number}"
        if dip.exists():
            raise UsageError(reason=f"{dip} already exists; choose another --out")
        files = _write_dip(repo, session, aip_id, dip, number, level, user_name, purpose, now)
        grant_id = session.scalar(select(Grant.id).where(
            Grant.aip_id == aip_id, Grant.user_id == user.id).order_by(Grant.id.desc()))
        session.add(Copy(aip_id=aip_id, user_id=user.id, grant_id=grant_id, copy_number=number,
                         made_at=now, purpose=purpose or "", dip_path=str(dip),
                         classification=level.key))
        events.record(session, events.DISSEMINATION, events.SUCCESS, repo.agent, aip=aip_id,
                      detail={"user": user_name, "copy_number": number, "dip": str(dip),
                              "purpose": purpose or "", "rule": decision.rule,
                              "files": len(files)})
    return {"dip": str(dip), "copy_number": number, "classification": level.key,
            "files": files}


def _write_dip(repo: Repository, session, aip_id: str, dip: Path,  # type: ignore[no-untyped-def]
               number: int, level, user: str, purpose: str | None,  # type: ignore[no-untyped-def]
               now: datetime) -> list[dict]:
    content = list(session.scalars(select(AipFile).where(
        AipFile.aip_id == aip_id, AipFile.path.startswith(CONTENT_PREFIX, autoescape=True))
        .order_by(AipFile.path)))
    replicas = list(session.scalars(select(Replica).options(selectinload(Replica.location))
                                    .where(Replica.aip_id == aip_id)
                                    .order_by(Replica.status != "verified", Replica.id)))
    data_dir = dip / "representations" / "rep1" / "data"
    partial = dip / ".partial"
    partial.mkdir(parents=True)
    out: list[dict] = []
    try:
        for f in content:
            rel = f.path.removeprefix(CONTENT_PREFIX)
            raw = partial / hashlib.sha256(rel.encode("utf-8", "surrogateescape")).hexdigest()
            _fetch_verified(repo, replicas, f, raw)
            target = data_dir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            marks = _marks(level, number)
            if (f.mime or "") == "application/pdf":
                pages = mark_pdf(raw, target, marks)
                out.append({"path": rel, "marked": True, "pages": pages})
            else:
                shutil.move(raw, target)
                _sidecar(target, marks, level, number)
                out.append({"path": rel, "marked": False, "sidecar": rel + ".marking.json"})
        shutil.rmtree(partial)
        (dip / "metadata" / "descriptive").mkdir(parents=True, exist_ok=True)
        (dip / "metadata" / "descriptive" / "request.json").write_text(json.dumps({
            "aip": aip_id, "copy_number": number, "requested_by": user,
            "purpose": purpose or "", "date": now.isoformat(), "classification": level.key,
        }, ensure_ascii=False, indent=2), encoding="utf-8")
    except BaseException:
        shutil.rmtree(dip, ignore_errors=True)
        raise
    return out


def _marks(level, number: int) -> Marks:  # type: ignore[no-untyped-def]
    if level.rank == 0:
        return Marks(every_page_copy="BẢN SAO")
    # TT 104/2021 (and TT 24/2020 Mẫu 11): copy number first page, copy stamp last page.
    return Marks(every_page_label=level.label, every_page_copy="BẢN SAO",
                 first_page=f"Bản sao số {number}", last_page="Bản sao bí mật nhà nước")


def _sidecar(target: Path, marks: Marks, level, number: int) -> None:  # type: ignore[no-untyped-def]
    target.with_name(target.name + ".marking.json").write_text(json.dumps({
        "classification": level.key, "label": level.label, "copy_number": number,
        "marks": [m for m in (marks.every_page_label, marks.every_page_copy, marks.first_page,
                              marks.last_page) if m],
    }, ensure_ascii=False, indent=2), encoding="utf-8")


def _fetch_verified(repo: Repository, replicas: list[Replica], f: AipFile, dest: Path) -> None:
    for rep in replicas:
        backend = repo.backend(rep.location)
        h = hashlib.sha256()
        try:
            with backend.open(f.storage_key) as src, open(dest, "wb") as out:
                while chunk := src.read(CHUNK):
                    h.update(chunk)
                    out.write(chunk)
        except (StorageError, OSError):  # this copy cannot be read: try the next
            continue
        if h.hexdigest() == f.sha256:
            return
    dest.unlink(missing_ok=True)
    raise Damaged(reason=f"{f.path}: no copy verifies; run 'khoso audit' and 'khoso repair'")
