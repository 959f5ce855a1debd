"""Key-encryption keys (KEKs), one current KEK per classification level, behind a small interface.

A :class:`KeyProvider` wraps and unwraps 32-byte data keys; the KEK itself never has to leave
it, so a KMS or an HSM implements the same four methods (``current``, ``rotate``, ``wrap``,
``unwrap``) with its own calls. :class:`FileKeyProvider` keeps KEKs as files in the home::

    HOME/keys/              0700
    HOME/keys/kek/          0700
    HOME/keys/kek/<level>-<generation>.kek    0600, 32 random bytes

The KEK id is ``<level>-<generation>`` (``secret-1``, ``secret-2`` after a rotation). The
current KEK of a level is its highest generation. Wrapping is AES key wrap (RFC 3394, NIST SP
800-38F), which authenticates: a wrong KEK or an altered wrapped key fails to unwrap. A KEK
file or folder that other users could read, or that another user owns, is refused (a state
secret's keys are as secret as the secret, Law 29/2018 Điều 5).
"""

from __future__ import annotations

import errno
import os
import re
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from repository.errors import ConfigError, Damaged
from storage.files import create_exclusive

KEK_BYTES = 32
_KEK_NAME = re.compile(r"^(?P<level>[a-z][a-z0-9-]*)-(?P<gen>[1-9][0-9]*)\.kek$")


@dataclass(frozen=True)
class KekInfo:
    kek_id: str
    level: str
    generation: int
    current: bool


class KeyUnavailable(ConfigError):
    message = "key {kek_id}: {reason}"
    code = "key-unavailable"


class WrappedKeyDamaged(Damaged):
    message = "the wrapped data key of {name} does not open with KEK {kek_id}: {reason}"
    code = "wrapped-key-damaged"


@runtime_checkable
class KeyProvider(Protocol):
    """What khoso needs from a key store (file, KMS, HSM)."""

    def current(self, level: str) -> str:
        """The id of the KEK that wraps new data keys of ``level`` (made on first use)."""

    def rotate(self, level: str) -> str:
        """Make a new KEK current for ``level``; older KEKs still unwrap. Returns its id."""

    def wrap(self, kek_id: str, data_key: bytes) -> bytes:
        """The data key wrapped by the KEK ``kek_id``."""

    def unwrap(self, kek_id: str, wrapped: bytes, name: str = "object") -> bytes:
        """The data key inside ``wrapped`` (WrappedKeyDamaged when it does not open)."""

    def keks(self) -> list[KekInfo]:
        """Every KEK this provider holds, for ``khoso keys list``."""


class FileKeyProvider:
    """KEKs as 0600 files in ``HOME/keys/kek`` (see the module docstring)."""

    def __init__(self, keys_dir: Path) -> None:
        self.root = keys_dir / "kek"
        self._keys_dir = keys_dir
        self._cache: dict[str, bytes] = {}
        self._lock = threading.Lock()

    # -- the KeyProvider interface -----------------------------------------------------------

    def current(self, level: str) -> str:
        with self._lock:
            generations = self._generations(level)
            if generations:
                return f"{level}-{generations[-1]}"
            return self._create(level, 1)

    def rotate(self, level: str) -> str:
        with self._lock:
            generations = self._generations(level)
            return self._create(level, (generations[-1] if generations else 0) + 1)

    def wrap(self, kek_id: str, data_key: bytes) -> bytes:
        return aes_key_wrap(self._kek(kek_id), data_key)

    def unwrap(self, kek_id: str, wrapped: bytes, name: str = "object") -> bytes:
        try:
            return aes_key_unwrap(self._kek(kek_id), wrapped)
        except (InvalidUnwrap, ValueError) as exc:
            raise WrappedKeyDamaged(name=name, kek_id=kek_id,
                                    reason="altered, or the KEK file was replaced") from exc

    def keks(self) -> list[KekInfo]:
        if not self.root.is_dir():
            return []
        found = [(m["level"], int(m["gen"])) for p in self.root.iterdir()
                 if (m := _KEK_NAME.match(p.name))]
        latest: dict[str, int] = {}
        for level, gen in found:
            latest[level] = max(gen, latest.get(level, 0))
        return [KekInfo(f"{level}-{gen}", level, gen, latest[level] == gen)
                for level, gen in sorted(found)]

    # -- files -------------------------------------------------------------------------------

    def _generations(self, level: str) -> list[int]:
        return sorted(k.generation for k in self.keks() if k.level == level)

    def _path(self, kek_id: str) -> Path:
        if not _KEK_NAME.match(f"{kek_id}.kek"):
            raise KeyUnavailable(kek_id=kek_id, reason="not a file-provider KEK id "
                                 "(<level>-<generation>)")
        return self.root / f"{kek_id}.kek"

    def _kek(self, kek_id: str) -> bytes:
        if kek_id in self._cache:
            return self._cache[kek_id]
        path = self._path(kek_id)
        self._check_private(self._keys_dir)
        self._check_private(self.root)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError as exc:
            raise KeyUnavailable(kek_id=kek_id, reason=f"{path} does not exist: restore it "
                                 "from the key backup (encrypted copies cannot be read "
                                 "without it)") from exc
        except OSError as exc:
            raise KeyUnavailable(kek_id=kek_id, reason=f"{path}: {exc.strerror}") from exc
        with os.fdopen(fd, "rb") as fh:
            self._check_private(path, os.fstat(fh.fileno()))
            key = fh.read(KEK_BYTES + 1)
        if len(key) != KEK_BYTES:
            raise KeyUnavailable(kek_id=kek_id, reason=f"{path} must hold exactly "
                                 f"{KEK_BYTES} bytes, it holds {len(key)}")
        self._cache[kek_id] = key
        return key

    def _create(self, level: str, generation: int) -> str:
        kek_id = f"{level}-{generation}"
        for folder in (self._keys_dir, self.root):
            folder.mkdir(mode=0o700, exist_ok=True)
            self._check_private(folder)
        # A KEK is never overwritten (data keys wrapped by it would be lost) and never seen
        # half-written by a process reading it meanwhile.
        path = self._path(kek_id)
        if not create_exclusive(path, os.urandom(KEK_BYTES)):
            raise FileExistsError(errno.EEXIST, "a KEK of this generation exists", str(path))
        return kek_id

    @staticmethod
    def _check_private(path: Path, st: os.stat_result | None = None) -> None:
        try:
            st = st or os.stat(path, follow_symlinks=False)
        except FileNotFoundError:
            return  # made on first use
        what = "folder" if stat.S_ISDIR(st.st_mode) else "file"
        if stat.S_ISLNK(st.st_mode):
            raise KeyUnavailable(kek_id=path.name, reason=f"{path} is a symbolic link; key "
                                 "material must be a plain file or folder in the home")
        if st.st_uid != os.geteuid():
            raise KeyUnavailable(kek_id=path.name, reason=f"key {what} {path} belongs to "
                                 f"user id {st.st_uid}, not to the user running khoso")
        if st.st_mode & 0o077:
            wanted = "700" if what == "folder" else "600"
            raise KeyUnavailable(kek_id=path.name, reason=f"key {what} {path} is open to other "
                                 f"users (mode {stat.S_IMODE(st.st_mode):o}); run 'chmod "
                                 f"{wanted} {path}' and check who may have read it")
