"""How a catalog file row maps to the object stored for it in every location.

For plaintext objects the stored bytes are the file's bytes. For encrypted objects (classified
content) the stored bytes are the ciphertext envelope (storage/crypto.py), whose SHA-256 and
size the catalog keeps in ``stored_sha256``/``stored_size``: audits verify those without any
key, and only a deep audit or an access copy opens the envelope (:func:`open_plaintext`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, BinaryIO, Protocol, cast

from repository.catalog.models import AipFile
from storage.backend import Backend
from storage.errors import ObjectMissing, StorageError
from storage.fixity import HashingReader, hash_stream
from storage.replicate import CORRUPT, MISSING, OK, UNREADABLE, StoredObject, check_object

if TYPE_CHECKING:
    from repository.context import Repository


class StoredFacts(Protocol):
    """What :func:`stored_object` reads: an ``AipFile`` or a plain row of
    :data:`STORED_COLUMNS` (loading thousands of rows costs a quarter of ORM objects)."""

    storage_key: str
    sha256: str
    size: int
    stored_sha256: str | None
    stored_size: int | None


STORED_COLUMNS = (AipFile.storage_key, AipFile.sha256, AipFile.size, AipFile.stored_sha256,
                  AipFile.stored_size)


def stored_object(f: StoredFacts) -> StoredObject:
    if f.stored_sha256 is not None and f.stored_size is not None:
        return StoredObject(f.storage_key, f.stored_sha256, f.stored_size)
    return StoredObject(f.storage_key, f.sha256, f.size)


def is_encrypted(f: AipFile) -> bool:
    return f.wrapped_key is not None


def open_plaintext(repo: Repository, backend: Backend, f: AipFile) -> BinaryIO:
    """The file's plaintext from one location, decrypted chunk by chunk when it is sealed.

    A damaged envelope raises ``storage.crypto.EnvelopeDamaged`` (a ``Damaged``) while it is
    read; the caller still compares the plaintext SHA-256 with ``f.sha256``.
    """
    stream = backend.open(f.storage_key)
    if not is_encrypted(f):
        return stream
    from repository.keyring import data_key, keys
    from storage.crypto import DecryptingReader

    try:
        key = data_key(keys(repo), f)
        return cast(BinaryIO, DecryptingReader(stream, key, f.path))
    except BaseException:
        stream.close()
        raise


def check_plaintext(repo: Repository, backend: Backend, f: AipFile,
                    on_bytes: Callable[[int], None] | None = None) -> str:
    """A deep check of one copy: the stored bytes' digest *and*, for an encrypted object, the
    SHA-256 of the plaintext it decrypts to (``khoso audit --deep``); a plain object is
    checked as the normal audit does. A missing key is not damage: it raises (exit 2)."""
    if not is_encrypted(f):
        return check_object(backend, stored_object(f), on_bytes)
    from repository.keyring import data_key, keys
    from storage.crypto import DecryptingReader, EnvelopeDamaged
    from storage.keyring import WrappedKeyDamaged

    expected = stored_object(f)
    try:
        key = data_key(keys(repo), f)
    except WrappedKeyDamaged:
        return CORRUPT
    try:
        with backend.open(f.storage_key) as raw:
            stored = HashingReader(raw, on_bytes)
            plain = hash_stream(DecryptingReader(stored, key, f.path))  # type: ignore[arg-type]
    except ObjectMissing:
        return MISSING
    except EnvelopeDamaged:
        return CORRUPT
    except (StorageError, OSError):
        return UNREADABLE
    if (stored.hexdigest(), stored.size) != (expected.sha256, expected.size) \
            or (plain.sha256, plain.size) != (f.sha256, f.size):
        return CORRUPT
    return OK
