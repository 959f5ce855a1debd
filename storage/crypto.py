"""Encryption at rest: a streamed, chunked AES-256-GCM envelope, one random data key per object.

Classified content is stored only as this envelope (docs/design.md, "Keys"). The data key is
32 random bytes used for exactly one object; it is never stored beside the object but wrapped
by a key-encryption key (KEK) of the content's classification level and kept in the catalog
(``aip_files.wrapped_key`` + ``kek_id``), so a key rotation re-wraps keys without touching a
stored byte. Because a data key encrypts one object only, nonces can be a counter (no random
nonce can ever repeat under one key) and the envelope is deterministic for a given key: every
location receives byte-identical ciphertext with one digest in the catalog.

Byte layout (version 1), all integers big-endian::

    offset  size   field
    0       8      magic b"KHOSOAE1" (khoso AEAD envelope, version 1)
    8       4      C: plaintext bytes per chunk (uint32, 4 KiB .. 16 MiB)
    12      ...    chunks, in order: AES-256-GCM ciphertext of up to C plaintext bytes,
                   followed by its 16-byte tag

    chunk i (counting from 0) is sealed with
      nonce = i as 11 bytes || 0x01 for the last chunk, 0x00 for every other chunk
      associated data = the 12 header bytes

Every chunk but the last holds exactly C plaintext bytes; the last holds 0..C (0 only when the
whole plaintext is empty, so an empty file is the header plus one 16-byte tag). Stored size =
12 + P + 16 * max(1, ceil(P / C)). The last-chunk flag in the nonce (the STREAM construction of
Hoang, Reyhanitabar, Rogaway and Vizár, as age and Tink use it) makes truncation, reordering,
dropping or appending chunks fail authentication; binding the header as associated data makes
a changed chunk size fail too. Decryption releases plaintext one authenticated chunk at a time,
so memory stays flat in the object's size.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from repository.errors import Damaged
from storage.backend import CHUNK
from storage.fixity import Digest, copy_and_hash, hash_stream

MAGIC = b"KHOSOAE1"
HEADER = struct.Struct(">8sI")
HEADER_SIZE = HEADER.size  # 12
TAG_SIZE = 16
KEY_SIZE = 32
DEFAULT_CHUNK = CHUNK  # 1 MiB: 16 bytes of tag per MiB, and flat memory
MIN_CHUNK, MAX_CHUNK = 4096, 16 << 20
_MAX_CHUNKS = 1 << 88  # the 11-byte counter


class EnvelopeDamaged(Damaged):
    message = "encrypted object {name}: {reason}"
    code = "envelope-damaged"


def new_data_key() -> bytes:
    return os.urandom(KEY_SIZE)


def sealed_size(plain_size: int, chunk: int = DEFAULT_CHUNK) -> int:
    chunks = max(1, -(-plain_size // chunk))
    return HEADER_SIZE + plain_size + TAG_SIZE * chunks


def _nonce(index: int, last: bool) -> bytes:
    if index >= _MAX_CHUNKS:
        raise OverflowError("too many chunks for one envelope")
    return index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def _read_full(stream: BinaryIO, size: int) -> bytes:
    """Exactly ``size`` bytes unless the stream ends (sources may return short reads)."""
    data = stream.read(size)
    if len(data) in (0, size):
        return data
    buf = bytearray(data)
    while len(buf) < size and (more := stream.read(size - len(buf))):
        buf += more
    return bytes(buf)


class _ChunkedReader:
    """A file-like reader over chunks made one at a time by ``_step`` (sealed or opened)."""

    _out: bytearray
    _done: bool
    _source: BinaryIO

    def _step(self) -> None:
        raise NotImplementedError

    def read(self, n: int = -1) -> bytes:
        while not self._done and (n < 0 or len(self._out) < n):
            self._step()
        size = len(self._out) if n < 0 else min(n, len(self._out))
        data = bytes(self._out[:size])
        del self._out[:size]
        return data

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:  # type: ignore[no-untyped-def]
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._out.clear()
        self._source.close()

    def __enter__(self) -> _ChunkedReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EncryptingReader(_ChunkedReader):
    """A readable stream of the envelope of ``source``: hand it to ``Backend.put`` as is.

    One chunk is read ahead so the last chunk can be flagged; memory is two chunks.
    """

    def __init__(self, source: BinaryIO, key: bytes, chunk: int = DEFAULT_CHUNK) -> None:
        if len(key) != KEY_SIZE:
            raise ValueError("a data key is 32 bytes (AES-256)")
        if not MIN_CHUNK <= chunk <= MAX_CHUNK:
            raise ValueError(f"chunk size must be between {MIN_CHUNK} and {MAX_CHUNK}")
        self._source = source
        self._aead = AESGCM(key)
        self._chunk = chunk
        self._header = HEADER.pack(MAGIC, chunk)
        self._out = bytearray(self._header)
        self._index = 0
        self._next = _read_full(source, chunk)
        self._done = False

    def _seal_next(self) -> None:
        current = self._next
        self._next = _read_full(self._source, self._chunk) if len(current) == self._chunk else b""
        last = not self._next
        self._out += self._aead.encrypt(_nonce(self._index, last), current, self._header)
        self._index += 1
        self._done = last

    def _step(self) -> None:
        self._seal_next()


class DecryptingReader(_ChunkedReader):
    """A readable stream of the plaintext inside an envelope, authenticated chunk by chunk.

    No byte of a chunk is released before its tag verified; a damaged, truncated or extended
    envelope raises :class:`EnvelopeDamaged` (naming ``name``, never any content).
    """

    def __init__(self, source: BinaryIO, key: bytes, name: str = "object") -> None:
        self._source = source
        self._name = name
        header = _read_full(source, HEADER_SIZE)
        if len(header) != HEADER_SIZE:
            raise EnvelopeDamaged(name=name, reason="shorter than the envelope header")
        magic, chunk = HEADER.unpack(header)
        if magic != MAGIC:
            raise EnvelopeDamaged(name=name, reason="not a khoso envelope (wrong magic)")
        if not MIN_CHUNK <= chunk <= MAX_CHUNK:
            raise EnvelopeDamaged(name=name, reason=f"impossible chunk size {chunk}")
        self._header = header
        self._aead = AESGCM(key)
        self._sealed = chunk + TAG_SIZE
        self._index = 0
        self._next = _read_full(source, self._sealed)
        self._out = bytearray()
        self._done = False
        if len(self._next) < TAG_SIZE:
            raise EnvelopeDamaged(name=name, reason="no chunk after the header (truncated)")

    def _open_next(self) -> None:
        current = self._next
        self._next = _read_full(self._source, self._sealed) if len(current) == self._sealed \
            else b""
        last = not self._next
        try:
            plain = self._aead.decrypt(_nonce(self._index, last), current, self._header)
        except InvalidTag as exc:
            raise EnvelopeDamaged(name=self._name, reason=f"chunk {self._index} does not "
                                  "authenticate (damaged, truncated or the wrong key)") from exc
        self._out += plain
        self._index += 1
        self._done = last

    def _step(self) -> None:
        self._open_next()


def seal_file(plain: BinaryIO, out: BinaryIO, key: bytes,
              on_bytes: Callable[[int], None] | None = None) -> Digest:
    """Encrypt ``plain`` into ``out``; returns the SHA-256 and size of the envelope."""
    return copy_and_hash(EncryptingReader(plain, key), out, on_bytes)  # type: ignore[arg-type]


def plaintext_digest(sealed: BinaryIO, key: bytes, name: str = "object",
                     on_bytes: Callable[[int], None] | None = None) -> Digest:
    """Decrypt while hashing the plaintext (deep audits, access): nothing is written."""
    return hash_stream(DecryptingReader(sealed, key, name), on_bytes)  # type: ignore[arg-type]
