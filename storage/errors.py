"""Storage errors, re-exported from the one hierarchy so callers need no boto/OS knowledge.

Backends translate OS and boto errors at their boundary with ``raise … from``.
"""

from repository.errors import BackendUnavailable, KhosoError


class StorageError(KhosoError):
    message = "storage location {location}: {reason}"
    code = "storage"


class ObjectMissing(StorageError):
    message = "storage location {location}: object {key} is missing"
    code = "object-missing"


class ObjectExists(StorageError):
    message = "storage location {location}: object {key} already exists with other content"
    code = "object-exists"


class SourceMismatch(StorageError):
    message = ("storage location {location}: {key} was not written: the bytes read for it do "
               "not match its SHA-256 (the copy it was read from is damaged or changed)")
    code = "source-mismatch"


class InvalidKey(StorageError):
    message = "invalid storage key {key!r}: {reason}"
    exit_code = 2
    code = "invalid-key"


__all__ = ["BackendUnavailable", "InvalidKey", "ObjectExists", "ObjectMissing", "SourceMismatch",
           "StorageError"]
