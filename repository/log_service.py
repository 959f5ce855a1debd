"""``khoso log verify`` and ``khoso log export``: the chain, its signed checkpoints, and the
material an auditor needs to check both on another machine (:mod:`repository.log_verifier`)."""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select

from repository import checkpoints, events
from repository.catalog.models import Event
from repository.context import Repository
from repository.errors import BrokenLog, UsageError

VERIFIER = Path(__file__).with_name("log_verifier.py")

README = """khoso event log export ({events} events, {count} signed checkpoints)
Xuất nhật ký sự kiện khoso ({events} sự kiện, {count} điểm kiểm tra có chữ ký)

Signing key: {key_id}
Record this key id somewhere khoso's operators cannot change it.

Verify here or on any other machine with Python 3.8+ (no package needed):

    python3 verify.py .                       # chain, signatures, checkpoints held
    python3 verify.py . --key-id {key_id}
    python3 verify.py NEW_EXPORT --previous THIS_EXPORT   # later: nothing signed was rewritten

Files: events.jsonl (every event and its hash), checkpoints.jsonl (signed statements of the
chain head: seq, hash, time, key id), public-key.pem (Ed25519, RFC 8410), retired-keys/
(keys replaced by 'khoso log rotate-key'; each vouched for its successor by signing the
event that names it, which verify.py follows from the key id you pin), verify.py.
Event details name AIPs and file paths: handle this export like the catalog itself.
"""


def _union(repo: Repository) -> tuple[list[checkpoints.Signed], set[checkpoints.Signed],
                                      set[checkpoints.Signed]]:
    table = set(checkpoints.stored(repo))
    journal = set(checkpoints.journal(repo.settings))
    return sorted(table | journal, key=lambda c: (c.seq, c.at)), table, journal


def _keys(repo: Repository, public_key: Path | None) -> tuple[dict[str, Ed25519PublicKey],
                                                              str | None]:
    """The keys checkpoints may be signed by, and the one signing now: the key given, else
    the home's current and retired keys (repository/checkpoints.py)."""
    if public_key is not None:
        given = checkpoints.load_public(public_key)
        kid = checkpoints.key_id(given)
        return {kid: given}, kid
    current = checkpoints.signing_key(repo.settings, create=False)
    kid = checkpoints.key_id(current.public_key()) if current is not None else None
    return checkpoints.known_keys(repo.settings), kid


def verify_log(repo: Repository, public_key: Path | None = None) -> dict:
    """The whole chain, every checkpoint's signature, and each checkpoint held by the chain."""
    signed, table, journal = _union(repo)
    keys, kid = _keys(repo, public_key)
    home_keys = keys if public_key is None else checkpoints.known_keys(repo.settings)
    with repo.catalog.session() as session:
        retired_at = checkpoints.rotations(session, set(keys) | set(home_keys))
    problems: list[tuple[int, str]] = []
    warnings: list[str] = []
    good: dict[int, str] = {}
    for cp in signed:
        public = keys.get(cp.key_id)
        if not keys:
            problems.append((cp.seq, f"checkpoint at event {cp.seq} cannot be checked: the "
                                     f"signing key {checkpoints.KEY_FILE} is missing from the "
                                     "home's keys (restore it, or pass --public-key)"))
        elif public is None:
            problems.append((cp.seq, f"checkpoint at event {cp.seq} is signed by {cp.key_id}, "
                                     f"not by this home's key {kid} nor a key it retired"))
        elif not checkpoints.signature_ok(public, cp):
            problems.append((cp.seq, f"checkpoint at event {cp.seq}: its signature does not "
                                     "verify (the checkpoint was forged or edited)"))
        elif cp.key_id in retired_at and cp.seq > retired_at[cp.key_id]:
            problems.append((cp.seq, f"checkpoint at event {cp.seq} is signed by {cp.key_id}, "
                                     f"which was retired at event {retired_at[cp.key_id]}: "
                                     "a retired key signs nothing later (forged?)"))
        elif good.setdefault(cp.seq, cp.hash) != cp.hash:
            problems.append((cp.seq, f"two signed checkpoints at event {cp.seq} disagree"))
    for cp in sorted(journal - table, key=lambda c: c.seq):
        problems.append((cp.seq, f"checkpoint at event {cp.seq} is in {checkpoints.JOURNAL} "
                                 "but not in the catalog: the checkpoints table was edited"))
    if table - journal:
        warnings.append(f"{len(table - journal)} checkpoint(s) are in the catalog but not in "
                        f"{checkpoints.JOURNAL} (a journal restored from an older backup?)")
    with repo.catalog.session() as session:
        check = events.verify(session, expected=good)
    if not check.ok:
        problems.insert(0, (check.bad_seq or 0, check.reason))
    latest = signed[-1] if signed else None
    return {
        "intact": not problems, "events": check.events,
        "first_bad": problems[0][0] if problems else None,
        "reason": problems[0][1] if problems else None,
        "problems": [p for _, p in problems], "warnings": warnings,
        "checkpoints": {"count": len(signed), "verified": len(good), "key_id": kid,
                        "keys": sorted(keys), "retired": sorted(retired_at),
                        "latest": ({"seq": latest.seq, "hash": latest.hash, "at": latest.at}
                                   if latest else None)},
    }


def export_log(repo: Repository, out: Path) -> dict:
    """Write what an auditor needs to verify the log elsewhere; checkpoints the head first."""
    # A broken chain is exported as it is, never signed; verify_log reports it.
    with contextlib.suppress(BrokenLog):
        checkpoints.write_checkpoint(repo)
    try:
        out.mkdir(parents=True, exist_ok=True)
        return _export_into(repo, out)
    except OSError as exc:
        raise UsageError(reason=f"cannot write the export to {out}: {exc.strerror or exc}; "
                                "choose a folder you may write to") from exc


def _export_into(repo: Repository, out: Path) -> dict:
    report = verify_log(repo)
    signed, _, _ = _union(repo)
    current = checkpoints.signing_key(repo.settings, create=False)
    (out / "checkpoints.jsonl").write_text(
        "".join(json.dumps(c.as_dict(), sort_keys=True, ensure_ascii=False) + "\n"
                for c in signed), encoding="utf-8")
    if current is not None:
        (out / "public-key.pem").write_bytes(checkpoints.public_pem(current.public_key()))
    current_id = checkpoints.key_id(current.public_key()) if current is not None else None
    for kid_, public in checkpoints.known_keys(repo.settings).items():
        if kid_ != current_id:
            retired = out / "retired-keys"
            retired.mkdir(exist_ok=True)
            (retired / f"{kid_.replace(':', '_')}.pem").write_bytes(
                checkpoints.public_pem(public))
    count = _write_events(repo, out / "events.jsonl")
    shutil.copyfile(VERIFIER, out / "verify.py")
    kid = report["checkpoints"]["key_id"]
    (out / "README.txt").write_text(README.format(events=count, count=len(signed), key_id=kid),
                                    encoding="utf-8")
    return {"out": str(out), "events": count, "checkpoints": len(signed), "key_id": kid,
            "intact": report["intact"], "reason": report["reason"],
            "files": sorted(p.name for p in out.iterdir())}


def _write_events(repo: Repository, path: Path) -> int:
    count = 0
    with repo.catalog.session() as session, open(path, "w", encoding="utf-8") as fh:
        rows = session.scalars(select(Event).order_by(Event.seq)
                               .execution_options(yield_per=2000))
        for ev in rows:
            doc = {"seq": ev.seq, "aip": ev.aip_id, "type": ev.type, "outcome": ev.outcome,
                   "at": events._iso(ev.at), "agent": ev.agent,
                   "detail": json.loads(ev.detail), "prev": ev.prev_hash, "hash": ev.hash}
            fh.write(json.dumps(doc, sort_keys=True, ensure_ascii=False) + "\n")
            count += 1
    return count


def quick_log_state(repo: Repository) -> dict:
    """The log's state for reports: the chain from the newest signed checkpoint to the head.

    The newest checkpoint whose signature verifies (and whose event still has the signed
    hash) anchors the check, so a report stays fast on a long log; ``khoso log verify``
    checks everything from the first event.
    """
    signed, _, _ = _union(repo)
    keys = checkpoints.known_keys(repo.settings)
    anchor = next((c for c in reversed(signed) if c.key_id in keys
                   and checkpoints.signature_ok(keys[c.key_id], c)), None)
    with repo.catalog.session() as session:
        total = events.head(session)[0]
        held = anchor is None or (session.get(Event, anchor.seq) or Event()).hash == anchor.hash
        check = (events.verify(session, since=(anchor.seq, anchor.hash)) if anchor is not None
                 else events.verify(session))
    bad, reason = check.bad_seq, check.reason
    if not held and anchor is not None:
        bad, reason = anchor.seq, (f"event {anchor.seq} differs from the signed checkpoint of "
                                   "it: the log was rewritten")
    return {"intact": held and check.ok, "events": total, "first_bad": bad,
            "reason": reason or None,
            "mode": f"from signed checkpoint at event {anchor.seq}" if anchor else "full",
            "checkpoints": len(signed),
            "latest_checkpoint": ({"seq": anchor.seq, "at": anchor.at} if anchor else None)}
