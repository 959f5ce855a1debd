"""How a catalog file row maps to the object stored for it in every location.

For plaintext objects the stored bytes are the file's bytes. For encrypted objects (classified
content) the stored bytes are the ciphertext envelope, whose SHA-256 and size the catalog keeps
in ``stored_sha256``/``stored_size``: audits verify those without any key.
"""

from __future__ import annotations

from repository.catalog.models import AipFile
from storage.replicate import StoredObject


def stored_object(f: AipFile) -> StoredObject:
    if f.stored_sha256 is not None and f.stored_size is not None:
        return StoredObject(f.storage_key, f.stored_sha256, f.stored_size)
    return StoredObject(f.storage_key, f.sha256, f.size)
