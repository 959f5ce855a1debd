"""``khoso access``: decide, then make a marked dissemination copy (an E-ARK DIP) and register it.

Order: the decision (a refusal is an event, then exit 3); a copy number from the copy register
(its own short transaction); every file fetched from a replica whose bytes verify while read,
marked (PDFs) or given a marking sidecar (other files), into a hidden partial folder; the
DIP's EAD/METS/manifest; the folder renamed into place or zipped; then the register row and the
``dissemination`` event in one transaction. If anything fails the partial copy is destroyed
and the register row marked ``spoiled`` with an event (NĐ 26/2020 Điều 3).
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from policies.engine import Decision, GrantFacts, decide_access
from repository import copy_register, dip, events, pdfa
from repository.catalog.models import Aip, AipFile, Grant, Replica, User
from repository.context import Repository
from repository.decisions import refuse
from repository.errors import Damaged, UsageError
from repository.marking import Stamp, mark_pdf, stamps_for
from repository.objects import open_plaintext
from repository.users import actor, get_aip, get_user, record_of
from storage.backend import CHUNK
from storage.crypto import EnvelopeDamaged
from storage.errors import StorageError

CONTENT_PREFIX = "data/representations/rep1/data/"


@dataclass(frozen=True)
class CopyRequest:
    purpose: str = ""
    purpose_code: str | None = None
    request_id: str | None = None
    description: str = ""
    as_zip: bool = False


def _grant_rows(session: Session, aip_id: str) -> list[Grant]:
    return list(session.scalars(select(Grant).where(Grant.aip_id == aip_id).options(
        selectinload(Grant.user), selectinload(Grant.approver)).order_by(Grant.id)))


def _facts(g: Grant) -> GrantFacts:
    return GrantFacts(g.user.name, actor(g.approver), g.until, g.revoked_at is not None)


def _grants(session: Session, aip_id: str) -> list[GrantFacts]:
    return [_facts(g) for g in _grant_rows(session, aip_id)]


@dataclass(frozen=True)
class _Decided:
    decision: Decision
    aip: Aip
    user: User
    grant: Grant | None


def decide(repo: Repository, aip_id: str, user_name: str, now: datetime) -> _Decided:
    """The access decision and the facts it rests on (the grant that allows, if any)."""
    with repo.catalog.session() as session:
        aip = get_aip(session, aip_id)
        user = get_user(session, user_name)
        who, record = actor(user), record_of(repo, aip)
        rows = _grant_rows(session, aip_id)
        decision = decide_access(repo.policies, who, record, [_facts(g) for g in rows], now)
        used = next((g for g in rows if decision.allowed and decide_access(
            repo.policies, who, record, [_facts(g)], now).allowed), None)
    return _Decided(decision, aip, user, used)


def make_copy(repo: Repository, aip_id: str, user_name: str, out_dir: Path,
              purpose: str | None = None, request: CopyRequest | None = None) -> dict:
    request = request or CopyRequest(purpose=purpose or "")
    now = datetime.now(UTC)
    decided = decide(repo, aip_id, user_name, now)
    if not decided.decision.allowed:
        refuse(repo, decided.decision, aip=aip_id,
               detail={"user": user_name, "purpose": request.purpose})
    policy = repo.policies.access.dissemination
    code = request.purpose_code or policy.default_purpose_code
    if code not in policy.purpose_codes:
        raise UsageError(reason=f"purpose code {code!r} is not one of "
                                f"{', '.join(sorted(policy.purpose_codes))} (TT 05/2025 Annex V)")
    _check_lengths(request)
    rid = request.request_id or dip.new_request_id()
    out_dir.mkdir(parents=True, exist_ok=True)
    level = repo.policies.level(decided.aip.classification)
    approver = decided.grant.approver if decided.grant else None
    slot = copy_register.allocate(
        repo, aip_id=aip_id, user_id=decided.user.id,
        grant_id=decided.grant.id if decided.grant else None,
        approver_id=approver.id if approver else None, classification=level.key,
        purpose=request.purpose, purpose_code=code,
        request_id=rid, copy_form=policy.copy_form, made_at=now)
    req = dip.Request(
        request_id=rid, at=now,
        purpose_code=code, purpose=request.purpose, description=request.description,
        aip=aip_id, copy_number=slot.number, classification=level.key, label=level.label,
        recipient=user_name, unit=decided.user.unit or "",
        approver=approver.name if approver else "", copy_form=policy.copy_form)
    name = dip.dip_name(aip_id, slot.number)
    final = out_dir / (name + ".zip" if request.as_zip else name)
    partial = out_dir / f".{name}.partial"
    try:
        if final.exists() or partial.exists():
            raise UsageError(reason=f"{final} already exists; choose another --out")
        files = _write_dip(repo, aip_id, partial, req, level)
        package_sha = None
        if request.as_zip:
            package_sha = dip.zip_dip(partial, final)
            shutil.rmtree(partial)
        else:
            partial.rename(final)
    except BaseException as exc:
        shutil.rmtree(partial, ignore_errors=True)
        if final.exists() and request.as_zip:
            final.unlink()
        _spoil(repo, slot, aip_id, user_name, exc)
        raise
    with repo.catalog.session() as session:
        copy_register.finish(session, slot.copy_id, copy_register.MADE, str(final), package_sha)
        events.record(session, events.DISSEMINATION, events.SUCCESS, repo.agent, aip=aip_id,
                      detail={"user": user_name, "copy_number": slot.number, "dip": str(final),
                              "request_id": req.request_id, "purpose_code": code,
                              "purpose": request.purpose, "rule": decided.decision.rule,
                              "approver": req.approver, "files": len(files),
                              "package_sha256": package_sha})
    return {"dip": str(final), "copy_number": slot.number, "copy_id": slot.copy_id,
            "classification": level.key, "request_id": req.request_id, "purpose_code": code,
            "zip": request.as_zip, "package_sha256": package_sha, "files": files}


def _check_lengths(request: CopyRequest) -> None:
    """TT 05/2025 Annex V field sizes: requestID 100, purposeContent 500, description 2000."""
    for name, value, limit in (("request id", request.request_id or "", 100),
                               ("purpose", request.purpose, 500),
                               ("description", request.description, 2000)):
        if len(value) > limit:
            raise UsageError(reason=f"the {name} is {len(value)} characters; TT 05/2025 "
                                    f"Annex V allows at most {limit}")


def _spoil(repo: Repository, slot: copy_register.Allocation, aip_id: str, user: str,
           exc: BaseException) -> None:
    with repo.catalog.session() as session:
        copy_register.finish(session, slot.copy_id, copy_register.SPOILED, "", None)
        events.record(session, events.DISSEMINATION, events.FAILURE, repo.agent, aip=aip_id,
                      detail={"user": user, "copy_number": slot.number,
                              "outcome": "spoiled copy destroyed (NĐ 26/2020 Điều 3)",
                              "error": f"{type(exc).__name__}: {exc}"[:500]})


def _stamps(repo: Repository, level, req: dip.Request) -> list[Stamp]:  # type: ignore[no-untyped-def]
    marking = repo.policies.access.dissemination.marking
    specs = marking.classified if level.rank else marking.unclassified
    return stamps_for(specs, {
        "label": level.label, "number": req.copy_number, "form": req.copy_form,
        "date": dip.vn_date(req.at),
        "recipient": f"{req.recipient} ({req.unit})" if req.unit else req.recipient,
        "approver": req.approver or "-", "request": req.request_id})


def _is_pdf(f: AipFile) -> bool:
    return (f.mime or "").startswith("application/pdf") or f.path.lower().endswith(".pdf")


def _write_dip(repo: Repository, aip_id: str, root: Path, req: dip.Request,
               level) -> list[dict]:  # type: ignore[no-untyped-def]
    with repo.catalog.session() as session:
        content = list(session.scalars(select(AipFile).where(
            AipFile.aip_id == aip_id, AipFile.path.startswith(CONTENT_PREFIX, autoescape=True))
            .order_by(AipFile.path)))
        replicas = list(session.scalars(select(Replica).options(selectinload(Replica.location))
                                        .where(Replica.aip_id == aip_id)
                                        .order_by(Replica.status != "verified", Replica.id)))
    policy = repo.policies.access.dissemination
    stamps = _stamps(repo, level, req)
    data_dir = root / dip.REP_DATA
    raw_dir = root / ".raw"
    raw_dir.mkdir(parents=True)
    out: list[dict] = []
    mimes: dict[str, str] = {}
    for f in content:
        rel = f.path.removeprefix(CONTENT_PREFIX)
        raw = raw_dir / hashlib.sha256(rel.encode("utf-8", "surrogateescape")).hexdigest()
        _fetch_verified(repo, replicas, f, raw)
        target = data_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if _is_pdf(f):
            out.append(_pdf_copy(raw, target, stamps, policy.strip_metadata, policy.pdfa, rel))
            raw.unlink()
        else:
            shutil.move(raw, target)
            side = dip.sidecar(target, req, [s.text for s in stamps])
            mimes[f"{dip.REP_DATA}/{rel}.marking.json"] = "application/json"
            out.append({"path": rel, "marked": False,
                        "sidecar": side.relative_to(data_dir).as_posix()})
        mimes[f"{dip.REP_DATA}/{rel}"] = "application/pdf" if _is_pdf(f) else (
            f.mime or "application/octet-stream")
    raw_dir.rmdir()
    dip.finish(root, req, repo.agent, mimes)
    return out


def _pdf_copy(raw: Path, target: Path, stamps: list[Stamp], strip: bool, want_pdfa: bool,
              rel: str) -> dict:
    pages = mark_pdf(raw, target, stamps, strip_metadata=strip)
    entry: dict = {"path": rel, "marked": True, "pages": pages,
                   "metadata_stripped": strip}
    if want_pdfa:
        normalised = target.with_name(target.name + ".pdfa")
        why = pdfa.to_pdfa(target, normalised)
        if why is None:
            normalised.replace(target)
            entry["pdfa"] = True
        else:  # keep the marked copy; say why it is not PDF/A
            normalised.unlink(missing_ok=True)
            entry["pdfa"], entry["pdfa_problem"] = False, why
    return entry


def _fetch_verified(repo: Repository, replicas: list[Replica], f: AipFile, dest: Path) -> None:
    for rep in replicas:
        backend = repo.backend(rep.location)
        h = hashlib.sha256()
        try:
            # Encrypted objects are decrypted here; the plaintext SHA-256 is checked below.
            with open_plaintext(repo, backend, f) as src, open(dest, "wb") as out:
                while chunk := src.read(CHUNK):
                    h.update(chunk)
                    out.write(chunk)
        except (StorageError, OSError, EnvelopeDamaged):  # this copy fails: try the next
            continue
        if h.hexdigest() == f.sha256:
            return
    dest.unlink(missing_ok=True)
    raise Damaged(reason=f"{f.path}: no copy verifies; run 'khoso audit' and 'khoso repair'")
