"""``khoso quarantine list|export``: the evidence kept from transfers rejected for a virus.

Evidence of a classified transfer is sealed (ingest/quarantine.py); exporting it needs the
level's key-encryption key, and each file is checked against the SHA-256 recorded when it was
found before it is written out.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from ingest.quarantine import RECORD, read_record, sealed_name
from repository.context import Repository
from repository.errors import Damaged, NotFound, UsageError
from repository.keyring import keys
from storage.crypto import DecryptingReader
from storage.fixity import copy_and_hash
from storage.keyring import KeyProvider


def list_quarantine(repo: Repository) -> list[dict]:
    found = []
    root = repo.settings.quarantine
    for folder in sorted(p for p in root.iterdir() if (p / RECORD).is_file()) \
            if root.is_dir() else []:
        record = read_record(folder)
        found.append({"id": folder.name, "at": record.get("at"), "source": record.get("source"),
                      "files": len(record["files"]),
                      "sealed": any("sealed" in e for e in record["files"]),
                      "signatures": sorted({e["signature"] for e in record["files"]})})
    return found


def export(repo: Repository, quarantine_id: str, out: Path) -> dict:
    """Write the evidence of one rejected transfer into ``out`` (a new or empty folder) under
    the names it had in the transfer, opening sealed files with the home's keys."""
    folder = repo.settings.quarantine / quarantine_id.replace(":", "_")
    if not (folder / RECORD).is_file() or folder.parent != repo.settings.quarantine:
        raise NotFound(kind="quarantined transfer", name=quarantine_id)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(reason=f"--out {out}: choose a new or empty folder")
    record = read_record(folder)
    provider = keys(repo) if any("sealed" in e for e in record["files"]) else None
    exported = []
    for n, entry in enumerate(record["files"]):
        name = _name(entry, provider, n)
        target = out.joinpath(*PurePosixPath(name).parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        source = folder / entry["file"]
        try:
            with open(source, "rb") as kept, open(target, "xb") as written:
                stream = kept if "sealed" not in entry else DecryptingReader(
                    kept, _key(provider, entry["sealed"], f"quarantined file {n}"),
                    f"quarantined file {n}")
                digest = copy_and_hash(stream, written)  # type: ignore[arg-type]
            if digest.sha256 != entry["sha256"]:
                raise Damaged(reason=f"{source}: its SHA-256 is not the one recorded when it "
                                     "was quarantined")
        except BaseException:
            target.unlink(missing_ok=True)  # nothing half-written or unverified is left
            raise
        exported.append({"path": name, "signature": entry["signature"],
                         "sha256": entry["sha256"]})
    return {"quarantine": folder.name, "out": str(out), "files": exported}


def _name(entry: Mapping, provider: KeyProvider | None, n: int) -> str:
    sealed = sealed_name(entry)
    if sealed is None:
        name = str(entry["path"])
    else:
        envelope, wrapping = sealed
        assert provider is not None
        label = f"name of quarantined file {n}"
        name = DecryptingReader(io.BytesIO(envelope), _key(provider, wrapping, label),
                                label).read().decode("utf-8")
    parts = PurePosixPath(name).parts
    if not parts or name.startswith("/") or any(p in ("..", ".") for p in parts):
        raise Damaged(reason=f"quarantine record: file name {name!r} is not a relative path")
    return name


def _key(provider: KeyProvider | None, wrapping: Mapping[str, str], name: str) -> bytes:
    assert provider is not None  # made when the record has a sealed entry
    return provider.unwrap(wrapping["kek_id"], base64.b64decode(wrapping["wrapped_key"]), name)

