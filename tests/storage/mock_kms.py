"""A stand-in for a KMS/HSM key provider (mocked: no KMS or HSM can run here).

It keeps KEKs in process memory, never in the home, and counts calls, to show that khoso
needs nothing of a provider but the KeyProvider interface (storage/keyring.py). A real
adapter would call the KMS's Encrypt/Decrypt (or an HSM's wrap/unwrap) in ``wrap``/``unwrap``.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from storage.keyring import KekInfo, WrappedKeyDamaged


class MockKms:
    keys: ClassVar[dict[str, bytes]] = {}  # kek id → key material "inside the KMS"
    calls: ClassVar[list[str]] = []

    def __init__(self, settings: Any) -> None:
        self.settings = settings

    def current(self, level: str) -> str:
        gens = sorted(int(k.rsplit("/", 1)[1]) for k in self.keys if k.startswith(f"kms/{level}/"))
        return f"kms/{level}/{gens[-1]}" if gens else self.rotate(level)

    def rotate(self, level: str) -> str:
        gens = [int(k.rsplit("/", 1)[1]) for k in self.keys if k.startswith(f"kms/{level}/")]
        kek_id = f"kms/{level}/{max(gens, default=0) + 1}"
        self.keys[kek_id] = os.urandom(32)
        self.calls.append(f"rotate {kek_id}")
        return kek_id

    def wrap(self, kek_id: str, data_key: bytes) -> bytes:
        self.calls.append(f"wrap {kek_id}")
        return aes_key_wrap(self.keys[kek_id], data_key)

    def unwrap(self, kek_id: str, wrapped: bytes, name: str = "object") -> bytes:
        self.calls.append(f"unwrap {kek_id}")
        try:
            return aes_key_unwrap(self.keys[kek_id], wrapped)
        except InvalidUnwrap as exc:
            raise WrappedKeyDamaged(name=name, kek_id=kek_id, reason="KMS refused") from exc

    def keks(self) -> list[KekInfo]:
        latest: dict[str, int] = {}
        for k in self.keys:
            _, level, gen = k.split("/")
            latest[level] = max(latest.get(level, 0), int(gen))
        return [KekInfo(k, k.split("/")[1], int(k.split("/")[2]),
                        latest[k.split("/")[1]] == int(k.split("/")[2])) for k in sorted(self.keys)]
