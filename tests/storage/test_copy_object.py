"""storage/replicate.py ``copy_object``: one object into a location, from the first source
copy that verifies, never overwriting, on every backend of the contract suite."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from storage.registry import open_backend
from storage.replicate import COPIED, PRESENT, CopyNotVerified, StoredObject, copy_object

if TYPE_CHECKING:
    from tests.storage.conftest import Store

KEY = "urn_uuid_A/data/Quyết định.pdf"
DATA = b"%PDF-1.7 bytes of a record " * 500


def obj(data: bytes = DATA) -> StoredObject:
    return StoredObject(KEY, hashlib.sha256(data).hexdigest(), len(data))


def source(tmp_path: Path, name: str, data: bytes = DATA):  # type: ignore[no-untyped-def]
    backend = open_backend(name, (tmp_path / name).as_uri(), {})
    backend.put(KEY, io.BytesIO(data))
    return backend


def test_copies_from_the_first_good_source_and_reads_back(store: Store, tmp_path: Path) -> None:
    damaged = source(tmp_path, "damaged", DATA[:-1] + b"X")
    good = source(tmp_path, "good")
    assert copy_object([damaged, good], store.backend, obj()) == COPIED
    assert store.raw_path(KEY).read_bytes() == DATA


def test_an_unreachable_source_is_passed_over_and_remembered(store: Store,
                                                             tmp_path: Path) -> None:
    gone = store.unreachable()
    unreachable: set[str] = set()
    target = open_backend("target", (tmp_path / "target").as_uri(), {})
    assert copy_object([gone, source(tmp_path, "good")], target, obj(),
                       unreachable=unreachable) == COPIED
    if store.kind == "s3":
        assert unreachable == {gone.location}


def test_present_and_identical_is_not_written_again(store: Store, tmp_path: Path) -> None:
    store.backend.put(KEY, io.BytesIO(DATA))

    class Untouched:
        location = "never-read"

        def open(self, key: str):  # type: ignore[no-untyped-def]
            raise AssertionError("a present object was copied again")

    assert copy_object([Untouched()], store.backend, obj()) == PRESENT  # type: ignore[list-item]


def test_other_content_under_the_key_is_never_overwritten(store: Store, tmp_path: Path) -> None:
    store.backend.put(KEY, io.BytesIO(b"someone else's bytes"))
    with pytest.raises(CopyNotVerified, match="never overwritten"):
        copy_object([source(tmp_path, "good")], store.backend, obj())
    assert store.raw_path(KEY).read_bytes() == b"someone else's bytes"


def test_no_good_source_leaves_nothing_behind(store: Store, tmp_path: Path) -> None:
    bad = source(tmp_path, "bad", DATA[:-1] + b"X")
    with pytest.raises(CopyNotVerified, match="no source copy verifies"):
        copy_object([bad], store.backend, obj())
    assert store.backend.stat(KEY) is None


def test_a_damaged_source_never_touches_what_another_run_stored_meanwhile(
        store: Store, tmp_path: Path) -> None:
    """Two runs may copy into one location at once. This one listed the location before the
    other stored (and recorded) the object, so it goes on as if the key were absent; its
    damaged source must then neither overwrite that object nor remove it afterwards (the
    catalog would list a verified copy that lacks a file)."""
    store.backend.put(KEY, io.BytesIO(DATA))  # the other run's verified object
    damaged = source(tmp_path, "damaged", DATA[:-1] + b"X")
    with pytest.raises(CopyNotVerified, match="no source copy verifies"):
        copy_object([damaged], store.backend, obj(), present=False)
    assert store.raw_path(KEY).read_bytes() == DATA
    assert copy_object([damaged, source(tmp_path, "good")], store.backend, obj(),
                       present=False) == COPIED
    assert store.raw_path(KEY).read_bytes() == DATA
