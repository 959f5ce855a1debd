"""Put objects into a location and prove them there by reading them back.

Write order (docs/design.md): objects first, each read back and hashed by us, and only then
may the caller record the copy in the catalog. A copy that fails read-back is removed again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from storage.backend import Backend
from storage.errors import ObjectMissing, StorageError
from storage.fixity import hash_stream

OK, MISSING, CORRUPT, UNREADABLE = "ok", "missing", "corrupt", "unreadable"


@dataclass(frozen=True)
class StoredObject:
    key: str
    sha256: str
    size: int
    local: Path | None = None  # where the bytes are read from when storing


class CopyNotVerified(StorageError):
    message = "storage location {location}: {key} did not verify after writing ({problem})"
    code = "copy-not-verified"


def check_object(backend: Backend, obj: StoredObject,
                 on_bytes: Callable[[int], None] | None = None) -> str:
    """Read one object back and compare our SHA-256 and size with the expected ones."""
    try:
        with backend.open(obj.key) as stream:
            digest = hash_stream(stream, on_bytes)
    except ObjectMissing:
        return MISSING
    except (StorageError, OSError):
        return UNREADABLE
    if digest.sha256 != obj.sha256 or digest.size != obj.size:
        return CORRUPT
    return OK


def put_verified(backend: Backend, obj: StoredObject, source: BinaryIO | None = None, *,
                 replace: bool = False, on_bytes: Callable[[int], None] | None = None) -> None:
    """Store one object and prove it by reading it back."""
    if source is None:
        assert obj.local is not None
        with open(obj.local, "rb") as fh:
            info = backend.put(obj.key, fh, replace=replace)
    else:
        info = backend.put(obj.key, source, replace=replace)
    if info.sha256 != obj.sha256 or info.size != obj.size:
        raise CopyNotVerified(location=backend.location, key=obj.key,
                              problem="the source changed while it was copied")
    result = check_object(backend, obj)
    if result != OK:
        raise CopyNotVerified(location=backend.location, key=obj.key, problem=result)
    if on_bytes:
        on_bytes(obj.size)


def store_all(backend: Backend, objects: Iterable[StoredObject], *, workers: int = 4,
              on_bytes: Callable[[int], None] | None = None) -> None:
    """Store and verify every object; on any failure remove what this call wrote, re-raise."""
    objects = list(objects)
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(put_verified, backend, o, on_bytes=on_bytes): o
                       for o in objects}
            errors = [exc for fut in futures if (exc := fut.exception()) is not None]
            if errors:
                raise errors[0]
    except BaseException:
        remove_all(backend, [o.key for o in objects])
        raise


def remove_all(backend: Backend, keys: Iterable[str]) -> None:
    """Best-effort removal (cleanup after a failed store): errors are not fatal here."""
    for key in keys:
        with contextlib.suppress(StorageError):
            backend.delete(key)
