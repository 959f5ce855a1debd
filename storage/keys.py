"""Storage keys: made and checked in one place (borgstore checks keys at the boundary).

A key is ``<aip prefix>/<logical path>`` when that is valid everywhere we store: every
component non-empty, not ``.``/``..``, at most 240 UTF-8 bytes (ext4 and most filesystems
allow 255), no control characters or backslashes, and the whole key at most 1,000 bytes
(S3 allows 1,024). Any other logical path is stored under ``<prefix>/~h/<sha256 of path>``;
the catalog (``aip_files.storage_key``) and the bag's manifests keep the logical path itself,
so nothing about the name is lost.

Objects of classified AIPs are always stored under the hashed form (``opaque=True``): a file
name can itself carry classified information, and no plaintext of a classified record may
appear in any location (docs/design.md, "Keys").
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from storage.errors import InvalidKey

MAX_KEY_BYTES = 1000
MAX_COMPONENT_BYTES = 240
HASHED_DIR = "~h"
# Unicode general categories Cc (control: U+0000–U+001F, U+007F–U+009F, fixed by the
# standard's stability policy) and Cs (surrogates, U+D800–U+DFFF): one regex search instead
# of a unicodedata lookup per character (check_key runs three times per object copied).
# tests/storage/test_keys.py checks it against unicodedata on arbitrary text.
_CONTROL_OR_SURROGATE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def aip_prefix(aip_id: str, version: int = 1) -> str:
    """TT 05/2025: the package folder is the OBJID with ':' replaced by '_'."""
    base = aip_id.replace(":", "_")
    check_key(base)
    return base if version == 1 else f"{base}/v{version}"


def _component_ok(part: str) -> bool:
    if part in ("", ".", "..") or part == HASHED_DIR:
        return False
    if len(part.encode("utf-8", "surrogatepass")) > MAX_COMPONENT_BYTES:
        return False
    return not any(unicodedata.category(ch) in ("Cc", "Cs") or ch == "\\" for ch in part)


def object_key(prefix: str, logical_path: str, *, opaque: bool = False) -> str:
    """The storage key of one bag file (``data/…`` or a tag file name)."""
    parts = logical_path.split("/")
    key = f"{prefix}/{logical_path}"
    if not opaque and all(_component_ok(p) for p in parts) \
            and len(key.encode("utf-8")) <= MAX_KEY_BYTES:
        return key
    digest = hashlib.sha256(logical_path.encode("utf-8", "surrogateescape")).hexdigest()
    return f"{prefix}/{HASHED_DIR}/{digest}"


def check_key(key: str) -> str:
    """Refuse anything that could escape a location or that a backend cannot store."""
    if key and key[0] != "/" and key[-1] != "/" \
            and _CONTROL_OR_SURROGATE.search(key) is None \
            and (len(key) <= 256 or len(key.encode("utf-8")) <= 1024) \
            and not {"", ".", ".."} & set(key.split("/")):
        return key  # the common case, decided at once (a character is at most 4 bytes)
    if not key or key.startswith("/") or key.endswith("/"):
        raise InvalidKey(key=key, reason="empty, or a leading or trailing '/'")
    encoded = key.encode("utf-8", "surrogatepass")
    if len(encoded) > 1024:
        raise InvalidKey(key=key[:80] + "…", reason=f"{len(encoded)} bytes (at most 1,024)")
    for part in key.split("/"):
        if part in ("", ".", ".."):
            raise InvalidKey(key=key, reason="contains an empty, '.' or '..' component")
        if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in part):
            raise InvalidKey(key=key, reason="contains a control character")
    return key
