"""The copy register (sổ quản lý sao, chụp bí mật nhà nước; NĐ 26/2020 Điều 3, TT 24/2020
Mẫu 12): every dissemination copy, numbered per record.

A number is taken in a short transaction of its own (row status ``making``), so a long copy
never holds the catalog's write lock; the UNIQUE (aip, number) constraint makes two makers
that read the same maximum retry rather than share a number. The row becomes ``made`` with
the dissemination event, or ``spoiled`` when writing failed: the partial copy is destroyed at
once and the register keeps the number (NĐ 26/2020 Điều 3: spoiled copies are destroyed
immediately; numbers are never reused).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from repository.catalog.models import Aip, Copy
from repository.context import Repository

MAKING, MADE, SPOILED = "making", "made", "spoiled"

# Columns of the exported register: TT 24/2020/TT-BCA Mẫu 12 headings, with an English key.
COLUMNS: list[tuple[str, str]] = [
    ("no", "STT"), ("made_at", "Ngày sao"), ("aip", "Mã hồ sơ lưu trữ (AIP)"),
    ("title", "Trích yếu"), ("classification", "Độ mật"), ("copy_number", "Bản sao số"),
    ("copy_form", "Hình thức sao"), ("recipient", "Người nhận"), ("unit", "Đơn vị"),
    ("approver", "Người cho phép sao"), ("purpose_code", "Mục đích (mã)"),
    ("purpose", "Nội dung mục đích"), ("request_id", "Mã yêu cầu"), ("status", "Tình trạng"),
    ("package_sha256", "SHA-256 gói DIP"), ("dip", "Nơi lưu bản sao"),
]


@dataclass(frozen=True)
class Allocation:
    copy_id: int
    number: int


def allocate(repo: Repository, *, aip_id: str, user_id: int, grant_id: int | None,
             approver_id: int | None, classification: str, purpose: str,
             purpose_code: str, request_id: str, copy_form: str,
             made_at: datetime) -> Allocation:
    """Register the next copy number of ``aip_id`` (status ``making``)."""
    for _attempt in range(20):
        try:
            with repo.catalog.session() as session:
                session.execute(select(Aip.id).where(Aip.id == aip_id).with_for_update())
                number = (session.scalar(select(func.max(Copy.copy_number))
                                         .where(Copy.aip_id == aip_id)) or 0) + 1
                row = Copy(aip_id=aip_id, user_id=user_id, grant_id=grant_id,
                           approver_id=approver_id, copy_number=number, made_at=made_at,
                           purpose=purpose, purpose_code=purpose_code, request_id=request_id,
                           dip_path="",
                           classification=classification, copy_form=copy_form, status=MAKING)
                session.add(row)
                session.flush()
                return Allocation(row.id, number)
        except IntegrityError:
            continue  # another maker took this number first: read the maximum again
    raise RuntimeError(f"could not allocate a copy number for {aip_id} after 20 attempts")


def finish(session: Session, copy_id: int, status: str, dip_path: str,
           package_sha256: str | None) -> None:
    """Close a ``making`` row as ``made`` or ``spoiled`` (in the caller's transaction, with
    the event that records it)."""
    row = session.get(Copy, copy_id)
    if row is None:  # the row is ours since allocate(); only a manual edit removes it
        raise RuntimeError(f"copy register row {copy_id} disappeared")
    row.status, row.dip_path, row.package_sha256 = status, dip_path, package_sha256


def rows(repo: Repository, aip_id: str | None = None) -> list[dict]:
    with repo.catalog.session() as session:
        query = (select(Copy, Aip.title).join(Aip, Aip.id == Copy.aip_id)
                 .options(selectinload(Copy.user), selectinload(Copy.approver))
                 .order_by(Copy.made_at, Copy.id))
        if aip_id:
            query = query.where(Copy.aip_id == aip_id)
        out = []
        for i, (c, title) in enumerate(session.execute(query), 1):
            out.append({
                "no": i, "id": c.id, "made_at": c.made_at.isoformat(), "aip": c.aip_id,
                "title": title, "classification": c.classification,
                "copy_number": c.copy_number, "copy_form": c.copy_form,
                "recipient": c.user.name, "unit": c.user.unit or "",
                "approver": c.approver.name if c.approver else "",
                "purpose_code": c.purpose_code or "", "purpose": c.purpose,
                "request_id": c.request_id or "", "status": c.status,
                "package_sha256": c.package_sha256 or "", "dip": c.dip_path,
            })
        return out


def to_csv(entries: list[dict]) -> str:
    """The register as CSV: a Vietnamese heading row (Mẫu 12), then one row per copy."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([vi for _key, vi in COLUMNS])
    for entry in entries:
        writer.writerow([entry[key] for key, _vi in COLUMNS])
    return buf.getvalue()


def export(repo: Repository, out: Path, aip_id: str | None = None) -> dict:
    """Write the register to ``out`` as UTF-8 with a byte-order mark, so spreadsheet programs
    open Vietnamese text correctly."""
    entries = rows(repo, aip_id)
    tmp = out.with_name(out.name + ".partial")
    tmp.write_text(to_csv(entries), encoding="utf-8-sig", newline="")
    tmp.replace(out)
    return {"out": str(out), "copies": len(entries)}
