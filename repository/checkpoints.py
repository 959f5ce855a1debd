"""Signed checkpoints of the event chain (Ed25519), kept inside and outside the catalog.

A checkpoint is the statement ``{"type": "khoso-checkpoint/1", "seq", "hash", "at", "key_id"}``
(compact JSON, sorted keys, UTF-8) signed with the home's Ed25519 key
``HOME/keys/checkpoint-ed25519.pem`` (0600, created on first use). Each one is stored in the
``checkpoints`` table *and* appended to ``HOME/checkpoints/checkpoints.jsonl``, so someone who
can rewrite the catalog's tables (events, chain head and checkpoints alike) is still caught:
they cannot sign a new checkpoint without the key, and the journal in the home keeps the old
ones. ``verify_log`` checks the chain, every signature, and that the chain still holds each
checkpointed (seq, hash); ``khoso log export`` hands the same material to an auditor.

``khoso log rotate-key`` replaces the key (a custodian leaves, a key may have been seen): an
event naming the successor goes into the chain and the retiring key signs a checkpoint that
covers it, so whoever trusts the old key can trust the new one; the old key's public half is
kept in ``HOME/keys/checkpoint-retired/`` to verify what it signed, its private half is gone,
and a checkpoint it signs after that event is reported as a forgery.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from repository import events
from repository.catalog.models import Checkpoint, Event
from repository.config import Settings
from repository.context import Repository
from repository.errors import BrokenLog, ConfigError, UsageError
from storage.files import create_exclusive, fsync_dir

KEY_FILE = "checkpoint-ed25519.pem"
RETIRED_DIR = "checkpoint-retired"  # public halves of retired keys, <key id>.pem
ROTATION = "checkpoint key rotated"  # the policy-assignment event's detail "action"
JOURNAL = Path("checkpoints") / "checkpoints.jsonl"
STATEMENT_TYPE = "khoso-checkpoint/1"


@dataclass(frozen=True)
class Signed:
    seq: int
    hash: str
    at: str  # ISO 8601 UTC with microseconds, as signed
    key_id: str
    signature: str  # base64

    def statement(self) -> bytes:
        return statement_bytes(self.seq, self.hash, self.at, self.key_id)

    def as_dict(self) -> dict:
        return {"statement": json.loads(self.statement()), "signature": self.signature}


def statement_bytes(seq: int, hash_: str, at: str, key_id: str) -> bytes:
    doc = {"type": STATEMENT_TYPE, "seq": seq, "hash": hash_, "at": at, "key_id": key_id}
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.PEM,
                               serialization.PublicFormat.SubjectPublicKeyInfo)


def load_public(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigError(reason=f"{path}: not an Ed25519 public key in PEM ({exc})") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(reason=f"{path}: not an Ed25519 public key")
    return key


def signing_key(settings: Settings, *, create: bool = True) -> Ed25519PrivateKey | None:
    """The home's checkpoint key, made on first use with mode 0600 (never world-readable)."""
    path = settings.keys_dir / KEY_FILE
    if not path.exists():
        if not create:
            return None
        return _create_key(path)
    if path.stat().st_mode & 0o077:
        raise ConfigError(reason=f"{path} is readable by other users; run 'chmod 600 {path}' "
                                 "(the checkpoint signing key must stay private)")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise ConfigError(reason=f"{path}: cannot read the checkpoint key ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(reason=f"{path}: not an Ed25519 private key")
    return key


def _create_key(path: Path) -> Ed25519PrivateKey:
    """A new key, or the one a racing process linked into place first (never half-written:
    storage/files.py)."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if create_exclusive(path, pem):
        return key
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(loaded, Ed25519PrivateKey)
    return loaded


def known_keys(settings: Settings) -> dict[str, Ed25519PublicKey]:
    """The current key and every retired one, by key id (the public halves)."""
    keys: dict[str, Ed25519PublicKey] = {}
    current = signing_key(settings, create=False)
    if current is not None:
        keys[key_id(current.public_key())] = current.public_key()
    folder = settings.keys_dir / RETIRED_DIR
    for path in sorted(folder.glob("*.pem")) if folder.is_dir() else []:
        public = load_public(path)
        keys.setdefault(key_id(public), public)
    return keys


def rotations(session: Session, keys: set[str]) -> dict[str, int]:
    """Each retired key id and the event at which it was retired. Only rotations whose
    successor is one of ``keys`` count: a rotation killed before the new key was saved
    retired nothing (its key went on signing), and running it again retires it then."""
    rows = session.execute(select(Event.seq, Event.detail).where(
        Event.type == events.POLICY_ASSIGNMENT, Event.detail.contains(ROTATION)))
    retired: dict[str, int] = {}
    for seq, detail in rows:
        doc = json.loads(detail)
        if doc.get("action") == ROTATION and doc.get("retired") and doc.get("current") in keys:
            retired.setdefault(doc["retired"], seq)
    return retired


def rotate_key(repo: Repository) -> dict:
    """Replace the checkpoint key; the retiring key vouches for its successor (see above)."""
    settings = repo.settings
    old = signing_key(settings, create=False)
    if old is None:
        raise UsageError(reason="there is no checkpoint key yet (the first checkpoint makes "
                                "one): nothing to rotate")
    new = Ed25519PrivateKey.generate()
    old_id, new_id = key_id(old.public_key()), key_id(new.public_key())
    with repo.catalog.session() as session:
        events.record(session, events.POLICY_ASSIGNMENT, events.SUCCESS, repo.agent, detail={
            "action": ROTATION, "retired": old_id, "current": new_id,
            "public_key": public_pem(new.public_key()).decode("ascii")})
    vouched = write_checkpoint(repo)  # still the old key: it signs the event naming the new
    folder = settings.keys_dir / RETIRED_DIR
    folder.mkdir(mode=0o700, exist_ok=True)
    create_exclusive(folder / f"{old_id.replace(':', '_')}.pem",
                     public_pem(old.public_key()), mode=0o644)
    _replace_key(settings.keys_dir / KEY_FILE, new)
    first = write_checkpoint(repo, force=True)
    return {"retired": old_id, "current": new_id, "vouched_by_retired": vouched,
            "first_signed": first}


def _replace_key(path: Path, key: Ed25519PrivateKey) -> None:
    """The new private key under the key's name, whole (a private temporary name, fsynced,
    renamed over the old one, the folder fsynced): the old private key is gone."""
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    staged = path.with_name(f"{path.name}.next")
    staged.unlink(missing_ok=True)  # a rotation killed before its rename
    if not create_exclusive(staged, pem):
        raise ConfigError(reason=f"{staged} appeared while the key was being replaced")
    os.replace(staged, path)
    fsync_dir(path.parent)


def write_checkpoint(repo: Repository, *, force: bool = False) -> dict | None:
    """Sign the chain head now; None for an empty log. Never signs a chain that is broken."""
    key = signing_key(repo.settings)
    assert key is not None
    kid = key_id(key.public_key())
    with repo.catalog.session() as session:
        seq, hash_ = events.head(session)
        if seq == 0:
            return None
        latest = session.scalar(select(Checkpoint).order_by(Checkpoint.seq.desc(),
                                                            Checkpoint.id.desc()).limit(1))
        if latest is not None and latest.seq == seq and not force:
            return _row(latest).as_dict()
        # Only the events since the last checkpoint are new: check them before signing.
        since = (latest.seq, latest.hash) if latest is not None and latest.seq <= seq else None
        check = events.verify(session, since=since)
        if not check.ok:
            raise BrokenLog(seq=check.bad_seq, reason=check.reason + " (no checkpoint written)")
        at = datetime.now(UTC)
        signed = Signed(seq, hash_, events._iso(at), kid, "")
        signature = base64.b64encode(key.sign(signed.statement())).decode()
        signed = Signed(seq, hash_, signed.at, kid, signature)
        session.add(Checkpoint(seq=seq, hash=hash_, at=at, key_id=kid, signature=signature))
    _append_journal(repo.settings, signed)
    return signed.as_dict()


def _append_journal(settings: Settings, signed: Signed) -> None:
    path = settings.home / JOURNAL
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(signed.as_dict(), sort_keys=True, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _row(row: Checkpoint) -> Signed:
    return Signed(row.seq, row.hash, events._iso(row.at), row.key_id, row.signature)


def parse_line(line: str) -> Signed:
    doc = json.loads(line)
    st = doc["statement"]
    return Signed(int(st["seq"]), st["hash"], st["at"], st["key_id"], doc["signature"])


def journal(settings: Settings) -> list[Signed]:
    path = settings.home / JOURNAL
    if not path.is_file():
        return []
    return [parse_line(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def stored(repo: Repository) -> list[Signed]:
    with repo.catalog.session() as session:
        return [_row(r) for r in session.scalars(select(Checkpoint).order_by(Checkpoint.seq,
                                                                             Checkpoint.id))]


def signature_ok(public: Ed25519PublicKey, signed: Signed) -> bool:
    try:
        public.verify(base64.b64decode(signed.signature), signed.statement())
    except (InvalidSignature, ValueError):
        return False
    return True
