"""Infected files kept as evidence of a rejected transfer: ``HOME/quarantine/<aip>/``.

TT 05/2025 makes a virus check part of every ingest; what it finds is kept, read-only, with a
``quarantine.json`` record (signature, SHA-256 of the file as submitted). A classified
transfer's evidence is as secret as its records (Law 29/2018 on state secrets): each file is
kept sealed with a data key of its own, wrapped by the key-encryption key of the transfer's
level (the envelope of ``storage/crypto.py``, as stored AIPs use), and so is its name; the
record keeps only the wrapped keys. ``khoso quarantine export`` opens it again for whoever
holds the keys.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from storage.crypto import seal_file

RECORD = "quarantine.json"


@dataclass(frozen=True)
class EvidenceKey:
    """A fresh data key and what the record keeps to unwrap it (level, KEK id, wrapped key)."""

    key: bytes
    record: dict[str, str]


# Called once per sealed item (data keys are never reused: the envelope's nonces are
# counters); None when the transfer is not classified and evidence stays as submitted.
EvidenceKeys = Callable[[], EvidenceKey | None]


@dataclass(frozen=True)
class Evidence:
    path: str  # as in the transfer
    signature: str
    sha256: str  # of the file as submitted
    local: Path  # the staged copy


def keep_evidence(folder: Path, source: Path, found: list[Evidence],
                  evidence_keys: EvidenceKeys | None = None) -> Path:
    """Copy each infected file into ``folder/files`` (sealed for a classified transfer) and
    write the record; returns the record's path."""
    files = folder / "files"
    files.mkdir(parents=True, exist_ok=True)
    entries = []
    for n, item in enumerate(found):
        sealing = evidence_keys() if evidence_keys else None
        if sealing is None:
            target = files / item.path
            target.parent.mkdir(parents=True, exist_ok=True)
            _copy(item.local, target, None)
            entries.append({"path": item.path, "file": f"files/{item.path}",
                            "signature": item.signature, "sha256": item.sha256})
            continue
        name_key = evidence_keys() if evidence_keys else None
        assert name_key is not None
        _copy(item.local, files / f"{n:04d}.sealed", sealing.key)
        entries.append({"file": f"files/{n:04d}.sealed", "signature": item.signature,
                        "sha256": item.sha256, "sealed": sealing.record,
                        "path_sealed": {"envelope": _seal_bytes(item.path.encode("utf-8"),
                                                                name_key.key),
                                        **name_key.record}})
    # The transfer's folder name may be a dossier's title: sealed too when classified.
    source_key = evidence_keys() if evidence_keys else None
    where: dict = {"source": str(source)} if source_key is None else {"source_sealed": {
        "envelope": _seal_bytes(str(source).encode("utf-8"), source_key.key),
        **source_key.record}}
    record = folder / RECORD
    record.write_text(json.dumps({**where, "at": _now(), "files": entries},
                                 ensure_ascii=False, indent=2), encoding="utf-8")
    return record


def read_record(folder: Path) -> dict:
    return json.loads((folder / RECORD).read_text(encoding="utf-8"))


def sealed_name(entry: Mapping) -> tuple[bytes, Mapping[str, str]] | None:
    """The envelope of a sealed entry's name and how its key is wrapped (None: not sealed)."""
    sealed = entry.get("path_sealed")
    if not sealed:
        return None
    return base64.b64decode(sealed["envelope"]), sealed


def _copy(source: Path, target: Path, key: bytes | None) -> None:
    if key is None:
        shutil.copyfile(source, target)
    else:
        with open(source, "rb") as plain, open(target, "xb") as out:
            seal_file(plain, out, key)
    target.chmod(0o400)


def _seal_bytes(data: bytes, key: bytes) -> str:
    out = io.BytesIO()
    seal_file(io.BytesIO(data), out, key)
    return base64.b64encode(out.getvalue()).decode("ascii")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
