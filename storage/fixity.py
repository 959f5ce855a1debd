"""One-pass digests: hash while copying, in fixed-size chunks, memory flat in file size."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from storage.backend import CHUNK


@dataclass(frozen=True)
class Digest:
    sha256: str
    size: int


class Hasher(Protocol):
    """What ``hashlib`` objects offer (zlib's running checksums can be wrapped to match)."""

    def update(self, data: bytes, /) -> None: ...
    def hexdigest(self) -> str: ...


class HashingReader:
    """Wraps a stream; every byte read through it is hashed (for streamed puts)."""

    def __init__(self, stream: BinaryIO, on_bytes: Callable[[int], None] | None = None) -> None:
        self._stream = stream
        self._hash = hashlib.sha256()
        self.size = 0
        self._on_bytes = on_bytes

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n)
        if data:
            self._hash.update(data)
            self.size += len(data)
            if self._on_bytes:
                self._on_bytes(len(data))
        return data

    def readinto(self, buf) -> int:  # type: ignore[no-untyped-def]
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True

    def hexdigest(self) -> str:
        return self._hash.hexdigest()

    def digest(self) -> Digest:
        return Digest(self._hash.hexdigest(), self.size)


def hash_stream(stream: BinaryIO, on_bytes: Callable[[int], None] | None = None) -> Digest:
    h = hashlib.sha256()
    size = 0
    while chunk := stream.read(CHUNK):
        h.update(chunk)
        size += len(chunk)
        if on_bytes:
            on_bytes(len(chunk))
    return Digest(h.hexdigest(), size)


def copy_and_hash(src: BinaryIO, dst: BinaryIO,
                  on_bytes: Callable[[int], None] | None = None,
                  tap: Callable[[bytes], None] | None = None,
                  extra: Iterable[Hasher] = ()) -> Digest:
    """Copy ``src`` to ``dst`` and hash the same chunks: each byte is read once.

    ``tap`` sees every chunk too (e.g. a virus scanner's stream), so it needs no second read.
    ``extra`` hashers (other algorithms the caller must verify, e.g. MD5) are fed the same
    chunks; the caller reads their digests.
    """
    h = hashlib.sha256()
    others = tuple(extra)
    size = 0
    while chunk := src.read(CHUNK):
        h.update(chunk)
        for other in others:
            other.update(chunk)
        dst.write(chunk)
        if tap:
            tap(chunk)
        size += len(chunk)
        if on_bytes:
            on_bytes(len(chunk))
    return Digest(h.hexdigest(), size)
