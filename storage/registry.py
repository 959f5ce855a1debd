"""URL scheme → backend class, imported lazily (fsspec's registry); duplicates are refused."""

from __future__ import annotations

import importlib
from urllib.parse import urlsplit, urlunsplit

from repository.errors import UsageError
from storage.backend import Backend

_REGISTRY: dict[str, str] = {
    "file": "storage.fs:FileBackend",
    "s3": "storage.s3:S3Backend",
}


def register(scheme: str, target: str) -> None:
    if scheme in _REGISTRY:
        raise ValueError(f"a backend for {scheme!r} is already registered")
    _REGISTRY[scheme] = target


def backend_class(url: str) -> type:
    scheme = urlsplit(url).scheme
    target = _REGISTRY.get(scheme)
    if target is None:
        raise UsageError(reason=f"unsupported storage URL scheme {scheme!r} in {safe_url(url)} "
                                f"(supported: {', '.join(sorted(_REGISTRY))})")
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def open_backend(location: str, url: str, options: dict | None = None) -> Backend:
    return backend_class(url)(location, url, options or {})


def safe_url(url: str) -> str:
    """The URL without credentials, for logs and messages."""
    parts = urlsplit(url)
    if parts.password or parts.username:
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        parts = parts._replace(netloc=host)
    return urlunsplit(parts)
