"""The home's key provider, and the data keys of catalog rows.

``khoso.yaml`` may name a provider with ``key_provider: module:Class`` (a KMS or HSM adapter
implementing :class:`storage.keyring.KeyProvider`, constructed with the home's Settings);
without it the KEKs are files in ``HOME/keys/kek`` (:class:`storage.keyring.FileKeyProvider`).
A row is encrypted exactly when ``aip_files.wrapped_key`` is set; the level that chose its KEK
is in ``kek_id``, so declassifying an AIP later does not change how its objects are read.
"""

from __future__ import annotations

import base64
import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from repository.config import Settings
from repository.errors import ConfigError
from storage.crypto import new_data_key
from storage.keyring import FileKeyProvider, KeyProvider

if TYPE_CHECKING:
    from repository.catalog.models import AipFile
    from repository.context import Repository

# PREMIS 3 event type (id.loc.gov/vocabulary/preservation/eventType/enc).
ENCRYPTION = "encryption"

@dataclass(frozen=True)
class SealingKey:
    """A fresh data key and how the catalog records it."""

    key: bytes
    wrapped: str  # base64 of the wrapped key, for aip_files.wrapped_key
    kek_id: str


def provider_for(settings: Settings) -> KeyProvider:
    target = str(settings.read_home_settings().get("key_provider") or "file")
    return _make(settings, target)


def keys(repo: Repository) -> KeyProvider:
    """The provider of this command's repository, made once per command (a file provider
    reads each KEK once and checks its permissions then)."""
    provider = getattr(repo, "_key_provider", None)
    if provider is None:
        provider = provider_for(repo.settings)
        repo._key_provider = provider  # type: ignore[attr-defined]
    return provider


def _make(settings: Settings, target: str) -> KeyProvider:
    if target == "file":
        return FileKeyProvider(settings.keys_dir)
    module, _, name = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(reason=f"{settings.marker}: key_provider {target!r} cannot be "
                                 f"imported ({exc}); use 'file' or 'module:Class'") from exc
    provider = cls(settings)
    if not isinstance(provider, KeyProvider):
        raise ConfigError(reason=f"{settings.marker}: key_provider {target!r} does not "
                                 "implement current/rotate/wrap/unwrap/keks")
    return provider


def new_sealing_key(provider: KeyProvider, level: str) -> SealingKey:
    key = new_data_key()
    kek_id = provider.current(level)
    wrapped = base64.b64encode(provider.wrap(kek_id, key)).decode("ascii")
    return SealingKey(key, wrapped, kek_id)


def data_key(provider: KeyProvider, row: AipFile) -> bytes:
    """The data key of an encrypted file row (callers check ``row.wrapped_key`` first)."""
    assert row.wrapped_key is not None and row.kek_id is not None
    return provider.unwrap(row.kek_id, base64.b64decode(row.wrapped_key), row.path)


def rewrap(provider: KeyProvider, kek_id: str, wrapped: str, new_kek_id: str,
           name: str) -> str:
    key = provider.unwrap(kek_id, base64.b64decode(wrapped), name)
    return base64.b64encode(provider.wrap(new_kek_id, key)).decode("ascii")
