"""The backend interface every storage kind implements (restic's Backend, fsspec's FS).

A backend stores immutable objects under keys made by :mod:`storage.keys`. It never judges
fixity: ``put`` returns the SHA-256 *we* computed from the bytes we sent, and callers verify a
copy by reading it back through ``open`` and hashing it themselves. Server checksums and ETags
are never evidence.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

CHUNK = 1 << 20  # 1 MiB: large enough that hashlib releases the GIL, small enough to stay flat


@dataclass(frozen=True)
class Capabilities:
    object_lock: bool = False
    versioning: bool = False
    delete: bool = True


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    sha256: str | None = None  # set by put (our own digest of the bytes written)
    modified: datetime | None = None  # set by list where the backend knows it (fsck's age)


@dataclass(frozen=True)
class PartialWrite:
    """An unfinished write a killed run left: a temporary file, an incomplete multipart upload.

    Never visible under an object key; ``storage fsck`` lists and discards them.
    """

    ref: str  # backend-specific handle, shown to people
    started: datetime | None
    size: int | None = None


@runtime_checkable
class Backend(Protocol):
    location: str
    url: str
    capabilities: Capabilities

    def put(self, key: str, stream: BinaryIO, *, replace: bool = False,
            absent: bool = False, expect_sha256: str | None = None) -> ObjectInfo:
        """Store ``stream`` under ``key``; returns size and our SHA-256 of what was sent.

        Without ``replace`` an existing object is never overwritten (ObjectExists), unless
        it already holds exactly these bytes (a resumed run). ``absent`` says the caller has
        just listed the location and the key was not there, so a backend may skip asking
        again (one request less per object on S3, where the check is a HEAD anyway racy).
        With ``expect_sha256``, a stream whose bytes hash otherwise is refused with
        SourceMismatch before anything becomes visible under ``key``: damaged source bytes
        never replace what is there, and the caller has nothing to remove afterwards.
        """

    def adopt(self, key: str, local: Path) -> ObjectInfo | None:
        """Make the finished file ``local`` the new object ``key`` without copying its bytes,
        where the backend can (a hard link on the same filesystem); None when it cannot or
        the key exists, and the caller puts the object instead. The caller never changes
        ``local`` afterwards and removes its own name for it. The returned info has no
        SHA-256 (nothing was read): the caller reads the object back to prove it."""

    def open(self, key: str) -> BinaryIO:
        """A readable binary stream of the object (ObjectMissing if absent)."""

    def stat(self, key: str) -> ObjectInfo | None:
        """Size of the object, or None when it does not exist."""

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``."""

    def delete(self, key: str) -> None:
        """Remove an object (only where policy allows; missing objects are not an error)."""

    def check(self) -> None:
        """Raise BackendUnavailable when the location cannot be reached or written."""

    def list_partial(self) -> Iterator[PartialWrite]:
        """Unfinished writes (temporary files, multipart uploads) a killed run left."""

    def discard_partial(self, partial: PartialWrite) -> None:
        """Remove one unfinished write (missing ones are not an error)."""
