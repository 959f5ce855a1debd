"""A file:// location taking a finished staged file itself (a hard link), or declining."""

from __future__ import annotations

import errno
import hashlib
import io
import os
from pathlib import Path

import pytest

from storage.errors import ObjectExists
from storage.fs import FileBackend
from storage.replicate import StoredObject, store_all


def _staged(tmp_path: Path, data: bytes, name: str = "a.pdf") -> StoredObject:
    local = tmp_path / "staging" / name
    local.parent.mkdir(parents=True, exist_ok=True)
    local.write_bytes(data)
    return StoredObject(f"aip_1/data/{name}", hashlib.sha256(data).hexdigest(), len(data), local)


def test_the_staged_file_becomes_the_object_and_the_other_location_gets_a_copy(
        tmp_path: Path) -> None:
    obj = _staged(tmp_path, b"%PDF-1.7 ho so" * 1000)
    adopter = FileBackend("local", (tmp_path / "local").as_uri())
    other = FileBackend("offsite", (tmp_path / "offsite").as_uri())
    store_all(adopter, [obj], adopt=True)
    store_all(other, [obj])
    assert obj.local is not None
    adopted, copied = tmp_path / "local" / obj.key, tmp_path / "offsite" / obj.key
    assert os.stat(adopted).st_ino == os.stat(obj.local).st_ino  # no byte copied
    assert os.stat(copied).st_ino != os.stat(obj.local).st_ino
    obj.local.unlink()  # staging removed: the object stays, with its one name
    assert adopted.read_bytes() == copied.read_bytes() == b"%PDF-1.7 ho so" * 1000
    assert os.stat(adopted).st_nlink == 1


@pytest.mark.parametrize("code", [errno.EXDEV, errno.EPERM, errno.EMLINK])
def test_a_location_that_cannot_link_copies_instead(tmp_path: Path, monkeypatch,  # type: ignore[no-untyped-def]
                                                    code: int) -> None:
    obj = _staged(tmp_path, b"noi dung")

    def refuse(*_args: object) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "link", refuse)
    backend = FileBackend("local", (tmp_path / "local").as_uri())
    assert backend.adopt(obj.key, obj.local) is None  # type: ignore[arg-type]
    store_all(backend, [obj], adopt=True)
    assert obj.local is not None
    assert (tmp_path / "local" / obj.key).read_bytes() == b"noi dung"
    assert os.stat(tmp_path / "local" / obj.key).st_ino != os.stat(obj.local).st_ino


def test_an_existing_object_is_never_replaced_by_adoption(tmp_path: Path) -> None:
    backend = FileBackend("local", (tmp_path / "local").as_uri())
    backend.put("aip_1/data/a.pdf", io.BytesIO(b"other bytes already there"))
    obj = _staged(tmp_path, b"new bytes")
    assert backend.adopt(obj.key, obj.local) is None  # type: ignore[arg-type]
    with pytest.raises(ObjectExists):
        store_all(backend, [obj], adopt=True)
    # The failed store removes only what it wrote: the object that was there stays.
    assert (tmp_path / "local" / obj.key).read_bytes() == b"other bytes already there"
