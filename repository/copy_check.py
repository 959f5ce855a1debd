"""Read every copy of one stored object side by side and judge each copy.

While the copies agree byte for byte, their bytes are hashed once: a copy equal to another
has exactly (not probably) the same SHA-256, so hashing it again would prove nothing more and
would halve what two cores can audit. From the first chunk where a copy differs, it gets a
hash of its own, forked from the shared state at that offset, so every copy's digest is still
computed from that copy's own bytes and compared with the catalog's (never a server checksum).
A copy that cannot be opened or read is ``missing`` or ``unreadable`` without stopping others.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import threading
from collections.abc import Callable, Sequence
from typing import Any, BinaryIO

from storage.backend import CHUNK, Backend
from storage.errors import ObjectMissing, StorageError
from storage.replicate import CORRUPT, MISSING, OK, UNREADABLE, StoredObject


def _read_full(stream: BinaryIO, size: int) -> bytes:
    """Exactly ``size`` bytes unless the stream ends, so all copies stay aligned by offset."""
    data = stream.read(size)
    if len(data) == size or not data:
        return data
    parts, got = [data], len(data)
    while got < size and (more := stream.read(size - got)):
        parts.append(more)
        got += len(more)
    return b"".join(parts)


_local = threading.local()


def _buffers(count: int, chunk: int) -> list[bytearray]:
    """``count`` read buffers of ``chunk`` bytes that this thread reuses from file to file.

    ``read(1 MiB)`` allocates a fresh megabyte per call, even for a 5 KB file: on many small
    files the page faults cost more system time than the reads themselves."""
    pools: dict[int, list[bytearray]] = _local.__dict__.setdefault("pools", {})
    pool = pools.setdefault(chunk, [])
    while len(pool) < count:
        pool.append(bytearray(chunk))
    return pool[:count]


class _Reader:
    """One copy's stream, read a chunk at a time; a local file straight into a buffer."""

    def __init__(self, stream: BinaryIO, buffer: bytearray) -> None:
        self.stream = stream
        # Only the standard file readers: their readinto fills our buffer with no copy.
        self.buffer = buffer if isinstance(stream, io.BufferedReader | io.FileIO) else None

    def next(self, chunk: int) -> bytes | bytearray:
        """The next ``chunk`` bytes (fewer only at the end). A full buffer is returned as is
        and is valid until the next call; bytearrays compare with memcmp, memoryviews don't."""
        if self.buffer is None:
            return _read_full(self.stream, chunk)
        view, got = memoryview(self.buffer), 0
        with view:
            while got < chunk and (n := self.stream.readinto(view[got:chunk])):
                got += n
        return self.buffer if got == len(self.buffer) else self.buffer[:got]


def _open(backend: Backend, key: str) -> tuple[BinaryIO | None, str | None]:
    try:
        return backend.open(key), None
    except ObjectMissing:
        return None, MISSING
    except (StorageError, OSError):
        return None, UNREADABLE


def check_copies(backends: Sequence[Backend], obj: StoredObject,
                 on_bytes: Callable[[int], None] | None = None,
                 chunk: int = CHUNK) -> list[str]:
    """The finding for ``obj`` in each backend, in order: ok, missing, corrupt or unreadable."""
    opened = [_open(b, obj.key) for b in backends]
    results: list[str | None] = [err for _, err in opened]
    buffers = _buffers(len(backends), chunk)
    streams = {i: _Reader(s, buffers[i]) for i, (s, _) in enumerate(opened) if s is not None}
    sizes = dict.fromkeys(streams, 0)
    shared = hashlib.sha256()  # the bytes every copy in ``following`` has had so far
    following = list(streams)
    own: dict[int, Any] = {}  # copies that differed: their own hash from there on
    try:
        while chunks := _read_round(streams, results, sizes, on_bytes, chunk):
            following = [i for i in following if i in chunks]
            own = {i: h for i, h in own.items() if i in chunks}
            if following:
                lead = chunks[following[0]]
                forked = [i for i in following[1:] if chunks[i] != lead]
                for i in forked:
                    own[i] = shared.copy()  # the state at this offset, before the difference
                following = [i for i in following if i not in forked]
                shared.update(lead)
            for i, h in own.items():
                h.update(chunks[i])
    finally:
        for reader in streams.values():
            with contextlib.suppress(OSError):
                reader.stream.close()
    for i in streams:
        digest = own.get(i, shared).hexdigest()
        results[i] = OK if digest == obj.sha256 and sizes[i] == obj.size else CORRUPT
    return [r or UNREADABLE for r in results]


def _read_round(streams: dict[int, _Reader], results: list[str | None], sizes: dict[int, int],
                on_bytes: Callable[[int], None] | None,
                chunk: int) -> dict[int, bytes | bytearray]:
    """The next chunk of every readable copy; empty once every copy has ended. A copy that
    fails to read is marked unreadable and dropped."""
    chunks: dict[int, bytes | bytearray] = {}
    for i in list(streams):
        try:
            chunks[i] = streams[i].next(chunk)
        except (StorageError, OSError):
            results[i] = UNREADABLE
            with contextlib.suppress(OSError):
                streams.pop(i).stream.close()
            continue
        sizes[i] += len(chunks[i])
        if on_bytes and chunks[i]:
            on_bytes(len(chunks[i]))
    return chunks if any(chunks.values()) else {}
