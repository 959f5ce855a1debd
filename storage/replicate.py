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

from repository.errors import BackendUnavailable, KhosoError
from storage.backend import Backend
from storage.errors import ObjectExists, ObjectMissing, SourceMismatch, StorageError
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
                 replace: bool = False, on_bytes: Callable[[int], None] | None = None,
                 adopt: bool = False) -> None:
    """Store one object and prove it by reading it back. With ``adopt`` the backend may take
    the finished local file itself (``Backend.adopt``) instead of a copy of its bytes."""
    info = None
    if adopt and source is None and obj.local is not None and not replace:
        info = backend.adopt(obj.key, obj.local)
    if info is None:  # bytes that changed on the way are refused: SourceMismatch
        if source is None:
            assert obj.local is not None
            with open(obj.local, "rb") as fh:
                backend.put(obj.key, fh, replace=replace, expect_sha256=obj.sha256)
        else:
            backend.put(obj.key, source, replace=replace, expect_sha256=obj.sha256)
    result = check_object(backend, obj)  # adopted or copied: our SHA-256 of what is there
    if result != OK:
        raise CopyNotVerified(location=backend.location, key=obj.key, problem=result)
    if on_bytes:
        on_bytes(obj.size)


def store_all(backend: Backend, objects: Iterable[StoredObject], *, workers: int = 4,
              on_bytes: Callable[[int], None] | None = None, adopt: bool = False) -> None:
    """Store and verify every object; on any failure remove what this call wrote, re-raise.
    ``adopt``: see :func:`put_verified` (for one location only: two locations sharing one
    file would not be two copies)."""
    objects = list(objects)
    theirs: set[str] = set()  # keys already there with other content: never ours to remove
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(put_verified, backend, o, on_bytes=on_bytes, adopt=adopt): o
                       for o in objects}
            errors = [exc for fut in futures if (exc := fut.exception()) is not None]
            theirs = {futures[fut].key for fut in futures
                      if isinstance(fut.exception(), ObjectExists)}
            if errors:
                raise errors[0]
    except BaseException:
        remove_all(backend, [o.key for o in objects if o.key not in theirs])
        raise


def remove_all(backend: Backend, keys: Iterable[str]) -> None:
    """Best-effort removal (cleanup after a failed store): errors are not fatal here."""
    for key in keys:
        with contextlib.suppress(StorageError):
            backend.delete(key)


COPIED, PRESENT = "copied", "present"


class SourceFailed(Exception):
    """Reading the source failed (as opposed to writing the target): try the next source."""


class SourceReader:
    """The source stream, with its failures told apart from the target's (a backend's
    ``put`` would report an OSError raised while it reads as its own). Not hashed here:
    the target's ``put`` returns our SHA-256 of exactly the bytes it read from it (the
    Backend contract), so each byte is hashed once on the way in and once read back."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def read(self, n: int = -1) -> bytes:
        try:
            return self._stream.read(n)
        except (KhosoError, OSError) as exc:
            raise SourceFailed(str(exc)) from exc

    def readable(self) -> bool:
        return True


def copy_object(sources: list[Backend], target: Backend, obj: StoredObject, *,
                present: bool | None = None,
                on_bytes: Callable[[int], None] | None = None,
                unreachable: set[str] | None = None) -> str:
    """Bring one object into ``target`` from the first source whose bytes verify.

    Returns PRESENT when ``target`` already holds exactly these bytes (a resumed run; it was
    read back to know), COPIED after a copy that was hashed on the way and read back. An
    object that is already there with other content is never overwritten (write-once).
    Bytes from a source that turns out damaged while it streams are refused by the target
    before they become visible (``expect_sha256``), so nothing is removed — not even when
    another run stored this key meanwhile — and the next source is tried; a source that
    cannot be reached is added to ``unreachable`` (shared by the caller's workers) and not
    asked again. Errors of the target are raised.
    """
    unreachable = unreachable if unreachable is not None else set()
    listed_absent = present is False  # the caller listed the location just now
    if present is None:
        present = target.stat(obj.key) is not None
    if present:
        result = check_object(target, obj)
        if result == OK:
            if on_bytes:
                on_bytes(obj.size)
            return PRESENT
        raise CopyNotVerified(location=target.location, key=obj.key, problem=(
            f"an object with other content is already there ({result}); it is never "
            "overwritten: find who wrote it, or let 'khoso storage fsck --fix' remove it"))
    failures: list[str] = []
    for source in sources:
        if source.location in unreachable:
            continue
        try:
            with source.open(obj.key) as stream:
                target.put(obj.key, SourceReader(stream),  # type: ignore[arg-type]
                           absent=listed_absent, expect_sha256=obj.sha256)
        except SourceMismatch:  # the target refused the bytes and wrote nothing
            failures.append(f"{source.location}: the source copy does not verify")
            continue
        except (SourceFailed, StorageError, BackendUnavailable, OSError) as exc:
            if is_target_error(exc, target):
                raise
            if unreachable_cause(exc) is not None:
                unreachable.add(source.location)
            failures.append(f"{source.location}: {exc}")
            continue
        result = check_object(target, obj)
        if result != OK:
            with contextlib.suppress(KhosoError):
                target.delete(obj.key)
            raise CopyNotVerified(location=target.location, key=obj.key, problem=result)
        if on_bytes:
            on_bytes(obj.size)
        return COPIED
    raise CopyNotVerified(location=target.location, key=obj.key,
                          problem="no source copy verifies: " + ("; ".join(failures)
                                                                 or "no source reachable"))


def unreachable_cause(exc: BaseException) -> BackendUnavailable | None:
    """The BackendUnavailable behind a failure (itself, or what a source read raised)."""
    for candidate in (exc, exc.__cause__):
        if isinstance(candidate, BackendUnavailable):
            return candidate
    return None


def is_target_error(exc: BaseException, target: Backend) -> bool:
    """Did the target fail (stop), rather than the source (try the next one)?

    A khoso error names its location. ``SourceMismatch`` is raised by the target but is a
    source's failure: the bytes read did not match the SHA-256 (the target wrote nothing).
    Read errors of the source inside the target's ``put`` arrive as ``SourceFailed``,
    naming no location."""
    return (isinstance(exc, KhosoError) and not isinstance(exc, SourceMismatch)
            and exc.kwargs.get("location") == target.location)

