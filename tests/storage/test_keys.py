"""storage.keys under hostile logical paths (property tests; restic's fuzz round-trips).

Logical paths reach ``object_key`` from ``os.fsdecode`` (undecodable bytes become lone
surrogates U+DC80..U+DCFF) or from UTF-8 manifests, so the strategies draw from both.
Deterministic: derandomized, bounded, no example database.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.errors import InvalidKey
from storage.keys import (
    HASHED_DIR,
    MAX_COMPONENT_BYTES,
    MAX_KEY_BYTES,
    aip_prefix,
    check_key,
    object_key,
)

CI = settings(derandomize=True, max_examples=300, database=None, deadline=None,
              suppress_health_check=[HealthCheck.too_slow])

VIETNAMESE = ("aăâbcdđeêghiklmnoôơpqrstuưvxy"
              "àảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ")
PREFIXES = [aip_prefix("urn:uuid:6f1c0a52-4e8a-4d2b-9a57-2f0e8c1d3b44"),
            aip_prefix("urn:uuid:6f1c0a52-4e8a-4d2b-9a57-2f0e8c1d3b44", 2),
            "TTLT_Hue_2025-001"]

nice_text = st.text(alphabet=st.sampled_from(VIETNAMESE + VIETNAMESE.upper() + " -_.0123456789"),
                    min_size=1, max_size=40)
component = st.one_of(
    st.sampled_from(["", ".", "..", HASHED_DIR, "data", "a\\b", "tab\there", "nul\x00",
                     "Tài liệu", unicodedata.normalize("NFD", "Tài liệu")]),
    nice_text,
    nice_text.map(lambda s: unicodedata.normalize("NFD", s)),
    st.text(max_size=30),  # any code point hypothesis likes, except surrogates
    st.binary(max_size=30).map(lambda b: os.fsdecode(b.replace(b"/", b"_"))),
    st.integers(200, 260).map(lambda n: ("ệ" * n).encode()[:n].decode("utf-8", "ignore")),
)
logical_paths = st.lists(component, min_size=1, max_size=8).map("/".join)
prefixes = st.sampled_from(PREFIXES)


@CI
@given(prefixes, logical_paths)
def test_every_object_key_is_a_valid_key_within_the_limit(prefix: str, path: str) -> None:
    key = object_key(prefix, path)
    assert check_key(key) == key
    assert len(key.encode("utf-8")) <= MAX_KEY_BYTES
    assert key.startswith(prefix + "/")


@CI
@given(prefixes, logical_paths)
def test_object_key_is_deterministic(prefix: str, path: str) -> None:
    assert object_key(prefix, path) == object_key(prefix, str(path))


@CI
@given(prefixes, logical_paths, logical_paths)
def test_distinct_logical_paths_get_distinct_keys(prefix: str, a: str, b: str) -> None:
    if a != b:
        assert object_key(prefix, a) != object_key(prefix, b)


@CI
@given(prefixes, logical_paths)
def test_near_miss_paths_never_share_a_key(prefix: str, path: str) -> None:
    """The neighbours most likely to collide: other normal forms, doubled or trailing
    slashes, and a path that spells out the hashed key of another."""
    digest = hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()
    variants = {path, path + "/", "/" + path, path.replace("/", "//", 1),
                unicodedata.normalize("NFC", path), unicodedata.normalize("NFD", path),
                f"{HASHED_DIR}/{digest}", f"data/{HASHED_DIR}/{digest}"}
    keys = {object_key(prefix, v) for v in variants}
    assert len(keys) == len(variants)


@CI
@given(prefixes, st.lists(nice_text, min_size=1, max_size=6).map("/".join))
def test_a_plain_vietnamese_path_is_kept_as_it_is(prefix: str, path: str) -> None:
    parts = path.split("/")
    if any(p in (".", "..") for p in parts):
        return
    assert object_key(prefix, path) == f"{prefix}/{path}"


@CI
@given(prefixes, logical_paths)
def test_a_hashed_key_is_the_sha256_of_the_logical_path_bytes(prefix: str, path: str) -> None:
    key = object_key(prefix, path)
    if key.startswith(f"{prefix}/{HASHED_DIR}/"):
        raw = path.encode("utf-8", "surrogateescape")  # the name's original bytes
        assert key == f"{prefix}/{HASHED_DIR}/{hashlib.sha256(raw).hexdigest()}"


def test_nfc_and_nfd_spellings_are_different_keys() -> None:
    nfc = unicodedata.normalize("NFC", "data/Tài liệu/Quyết định.pdf")
    nfd = unicodedata.normalize("NFD", nfc)
    assert object_key("aip", nfc) == f"aip/{nfc}"
    assert object_key("aip", nfd) == f"aip/{nfd}"
    assert object_key("aip", nfc) != object_key("aip", nfd)


def test_a_component_of_exactly_240_bytes_is_kept_and_241_is_hashed() -> None:
    kept = "ệ" * (MAX_COMPONENT_BYTES // 3)
    assert len(kept.encode()) == MAX_COMPONENT_BYTES
    assert object_key("aip", f"data/{kept}") == f"aip/data/{kept}"
    assert object_key("aip", f"data/{kept}a").startswith(f"aip/{HASHED_DIR}/")


def reference_check_key(key: str) -> str:
    """check_key as first written (a unicodedata lookup per character): the definition the
    faster one must keep, refusal for refusal and reason for reason."""
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


def outcome(check: Callable[[str], str], key: str) -> str:
    try:
        return f"ok {check(key)}"
    except InvalidKey as exc:
        return f"refused {exc}"


hostile_keys = st.one_of(
    st.lists(component, min_size=1, max_size=8).map("/".join),
    st.text(max_size=300),  # any code point, surrogates and controls included
    st.text(alphabet=st.sampled_from("/.ệ\x00\x1f\x7f\x9f\ud800\udfffa"), max_size=40),
    st.integers(250, 1100).map(lambda n: "ệ/" * (n // 2)),  # around the 1,024-byte limit
    st.integers(250, 1100).map(lambda n: "a" * n),
)


@CI
@given(hostile_keys)
def test_check_key_decides_every_key_as_its_reference_definition(key: str) -> None:
    assert outcome(check_key, key) == outcome(reference_check_key, key)


@pytest.mark.parametrize("key", ["", "/", "/a", "a/", "a//b", ".", "..", "a/./b", "a/../b",
                                 "a\x00b", "a\nb", "a\x7fb", "x" * 1025])
def test_check_key_refuses_keys_that_could_escape_or_not_be_stored(key: str) -> None:
    with pytest.raises(InvalidKey):
        check_key(key)


def test_classified_objects_get_opaque_keys_that_reveal_no_name() -> None:
    path = "data/representations/rep1/data/Kế hoạch tác chiến.pdf"
    key = object_key("urn_uuid_X", path, opaque=True)
    assert key.startswith("urn_uuid_X/~h/") and "Kế hoạch" not in key
    assert key == object_key("urn_uuid_X", path, opaque=True)  # stable: the catalog keeps it
    assert object_key("urn_uuid_X", path) == f"urn_uuid_X/{path}"
