"""The AEAD envelope of storage/crypto.py: round trips, the documented layout, and every way a
stored envelope can be damaged (each must fail authentication, never yield wrong plaintext)."""

from __future__ import annotations

import hashlib
import io
import struct

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.crypto import (
    HEADER_SIZE,
    MAGIC,
    MIN_CHUNK,
    TAG_SIZE,
    DecryptingReader,
    EncryptingReader,
    EnvelopeDamaged,
    new_data_key,
    plaintext_digest,
    seal_file,
    sealed_size,
)

C = MIN_CHUNK  # small chunks so a few KiB exercise many of them
KEY = bytes(range(32))


def seal(data: bytes, key: bytes = KEY, chunk: int = C) -> bytes:
    return EncryptingReader(io.BytesIO(data), key, chunk).read()


def unseal(blob: bytes, key: bytes = KEY, step: int = -1) -> bytes:
    reader = DecryptingReader(io.BytesIO(blob), key, "test")
    if step < 0:
        return reader.read()
    out = bytearray()
    while chunk := reader.read(step):
        out += chunk
    return bytes(out)


@pytest.mark.parametrize("size", [0, 1, C - 1, C, C + 1, 3 * C, 3 * C + 5])
def test_round_trip_and_documented_size(size: int) -> None:
    data = bytes(i % 251 for i in range(size))
    blob = seal(data)
    assert len(blob) == sealed_size(size, C)
    assert blob[:HEADER_SIZE] == struct.pack(">8sI", MAGIC, C)
    assert unseal(blob) == data
    assert unseal(blob, step=1000) == data


def test_layout_is_what_the_docstring_says() -> None:
    """Decrypt chunk by chunk with AESGCM directly, from the documented layout alone."""
    data = b"x" * (2 * C + 10)
    blob = seal(data)
    header, body = blob[:HEADER_SIZE], blob[HEADER_SIZE:]
    sealed = C + TAG_SIZE
    chunks = [body[i:i + sealed] for i in range(0, len(body), sealed)]
    plain = b""
    for i, chunk in enumerate(chunks):
        last = i == len(chunks) - 1
        nonce = i.to_bytes(11, "big") + (b"\x01" if last else b"\x00")
        plain += AESGCM(KEY).decrypt(nonce, chunk, header)
    assert plain == data


def test_same_key_same_envelope_different_key_different_envelope() -> None:
    data = b"Quyet dinh mat" * 1000
    assert seal(data) == seal(data)  # every location gets identical bytes
    assert seal(data, new_data_key()) != seal(data)


def test_plaintext_is_not_visible_in_the_envelope() -> None:
    data = b"KHOSO-MARKER " * 2000
    assert b"KHOSO-MARKER" not in seal(data)


def _damaged(blob: bytes) -> dict[str, bytes]:
    sealed = C + TAG_SIZE
    body = blob[HEADER_SIZE:]
    chunks = [body[i:i + sealed] for i in range(0, len(body), sealed)]
    flipped = bytearray(blob)
    flipped[HEADER_SIZE + C + 7] ^= 0x40
    return {
        "bit flip": bytes(flipped),
        "truncated at a chunk boundary": blob[:HEADER_SIZE + 2 * sealed],
        "truncated mid-chunk": blob[:-9],
        "chunks swapped": blob[:HEADER_SIZE] + chunks[1] + chunks[0] + b"".join(chunks[2:]),
        "chunk dropped": blob[:HEADER_SIZE] + chunks[0] + b"".join(chunks[2:]),
        "data appended": blob + b"\x00" * 40,
        "chunk size changed": struct.pack(">8sI", MAGIC, 2 * C) + body,
        "header only": blob[:HEADER_SIZE],
        "wrong magic": b"KHOSOAE2" + blob[8:],
        "empty": b"",
    }


DAMAGES = ["bit flip", "truncated at a chunk boundary", "truncated mid-chunk", "chunks swapped",
           "chunk dropped", "data appended", "chunk size changed", "header only", "wrong magic",
           "empty"]


@pytest.mark.parametrize("damage", DAMAGES)
def test_every_damage_fails_authentication(damage: str) -> None:
    blob = seal(bytes(range(256)) * (3 * C // 256 + 3))
    with pytest.raises(EnvelopeDamaged) as caught:
        unseal(_damaged(blob)[damage], step=777)
    assert caught.value.exit_code == 1


def test_wrong_key_fails_and_names_only_the_object() -> None:
    blob = seal(b"secret content " * 100)
    with pytest.raises(EnvelopeDamaged, match="chunk 0 does not authenticate") as caught:
        unseal(blob, key=new_data_key())
    assert "secret content" not in str(caught.value)


def test_no_plaintext_is_released_before_its_chunk_authenticates() -> None:
    data = b"A" * C + b"B" * C + b"C" * 10
    blob = bytearray(seal(data))
    blob[-3] ^= 1  # damage the last chunk
    reader = DecryptingReader(io.BytesIO(bytes(blob)), KEY)
    assert reader.read(C) == b"A" * C
    assert reader.read(C) == b"B" * C
    with pytest.raises(EnvelopeDamaged):
        reader.read(C)


def test_seal_file_and_plaintext_digest_stream() -> None:
    data = b"z" * (5 << 20)
    out = io.BytesIO()
    digest = seal_file(io.BytesIO(data), out, KEY)
    assert digest.sha256 == hashlib.sha256(out.getvalue()).hexdigest()
    assert digest.size == sealed_size(len(data))
    plain = plaintext_digest(io.BytesIO(out.getvalue()), KEY)
    assert (plain.sha256, plain.size) == (hashlib.sha256(data).hexdigest(), len(data))


def test_keys_and_chunk_sizes_are_checked() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        EncryptingReader(io.BytesIO(b""), b"short")
    with pytest.raises(ValueError, match="chunk size"):
        EncryptingReader(io.BytesIO(b""), KEY, chunk=100)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(data=st.binary(max_size=3 * C + 17), step=st.integers(min_value=1, max_value=2 * C),
       source_step=st.integers(min_value=1, max_value=C + 3))
def test_round_trip_with_short_reads(data: bytes, step: int, source_step: int) -> None:
    """Sources that return short reads (pipes, sockets) still give the same envelope."""

    class Trickle(io.RawIOBase):
        def __init__(self, raw: bytes) -> None:
            self._raw, self._pos = raw, 0

        def readable(self) -> bool:
            return True

        def readinto(self, buf) -> int:  # type: ignore[no-untyped-def]
            n = min(len(buf), source_step, len(self._raw) - self._pos)
            buf[:n] = self._raw[self._pos:self._pos + n]
            self._pos += n
            return n

    blob = EncryptingReader(Trickle(data), KEY, C).read()  # type: ignore[arg-type]
    assert blob == seal(data)
    reader = DecryptingReader(Trickle(blob), KEY)  # type: ignore[arg-type]
    out = bytearray()
    while chunk := reader.read(step):
        out += chunk
    assert bytes(out) == data
