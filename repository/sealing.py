"""From staged bag files to the objects to store: plaintext, or sealed for classified AIPs.

Every object of a classified AIP (payload, METS/EAD/PREMIS, and the BagIt tag files, whose
bag-info and manifests name and describe the records) is encrypted once into
``HOME/staging/<aip>/aip.sealed/`` with its own data key, and the staged plaintext file is removed
as soon as it is sealed; every location then receives the same envelope bytes, so the catalog
keeps one ciphertext digest per file (``stored_sha256``) that audits check without keys.
Its storage key is opaque (``~h/<sha256 of path>``): names may be secret too.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from repository.errors import Damaged
from repository.keyring import SealingKey, new_sealing_key
from storage.crypto import seal_file
from storage.fixity import HashingReader
from storage.keyring import KeyProvider
from storage.keys import object_key
from storage.replicate import StoredObject


class SourceFile(Protocol):
    @property
    def path(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def sha256(self) -> str: ...
    @property
    def local(self) -> Path: ...


@dataclass(frozen=True)
class Prepared:
    """One bag file ready to store: what the catalog records and what the locations get."""

    path: str
    size: int  # plaintext
    sha256: str  # plaintext
    stored: StoredObject  # the bytes every location receives (envelope when sealed)
    wrapped_key: str | None = None
    kek_id: str | None = None


def sealed_dir(staged_root: Path) -> Path:
    return staged_root.with_name(staged_root.name + ".sealed")


def prepare(files: Sequence[SourceFile], prefix: str, level: str | None,
            provider: KeyProvider | None, staged_root: Path,
            on_bytes: Callable[[int], None] | None = None) -> list[Prepared]:
    """Plain objects when ``level`` is None, else one sealed object per file."""
    if level is None:
        return [Prepared(f.path, f.size, f.sha256,
                         StoredObject(object_key(prefix, f.path), f.sha256, f.size, f.local))
                for f in files]
    assert provider is not None
    out_dir = sealed_dir(staged_root)
    out_dir.mkdir(mode=0o700, exist_ok=True)
    return [_seal(f, i, prefix, new_sealing_key(provider, level), out_dir, on_bytes)
            for i, f in enumerate(files)]


def _seal(f: SourceFile, index: int, prefix: str, key: SealingKey, out_dir: Path,
          on_bytes: Callable[[int], None] | None) -> Prepared:
    target = out_dir / f"{index:08d}"
    with open(f.local, "rb") as plain, open(target, "xb") as out:
        reader = HashingReader(plain)
        digest = seal_file(reader, out, key.key, on_bytes)  # type: ignore[arg-type]
    if reader.hexdigest() != f.sha256 or reader.size != f.size:
        # The same bytes are hashed while sealing: what is sealed is what was checked.
        raise Damaged(reason=f"{f.path}: the staged copy changed before it was encrypted; "
                             "ingest the transfer again")
    # The plaintext copy in staging is no longer needed: remove it now, not at the end.
    os.unlink(f.local)
    stored = StoredObject(object_key(prefix, f.path, opaque=True), digest.sha256, digest.size,
                          target)
    return Prepared(f.path, f.size, f.sha256, stored, key.wrapped, key.kek_id)
