"""The backend contract: every backend passes the same tests (restic's backend/test,
fsspec's tests/abstract). A new backend joins by adding a parameter to the ``store`` fixture.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import unicodedata
from collections.abc import Callable
from typing import TYPE_CHECKING, BinaryIO

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from repository.errors import BackendUnavailable, KhosoError
from storage.backend import CHUNK, Backend
from storage.errors import InvalidKey, ObjectExists, ObjectMissing, SourceMismatch
from storage.keys import MAX_COMPONENT_BYTES, MAX_KEY_BYTES, object_key

if TYPE_CHECKING:  # conftest is pytest's to import; only its type is needed here
    from tests.storage.conftest import Store

MiB = 1 << 20
NFC_PATH = unicodedata.normalize("NFC", "data/Tài liệu/Quyết định.pdf")
NFD_PATH = unicodedata.normalize("NFD", "data/Tài liệu/Quyết định.pdf")
INVALID_KEYS = ["..", "a/../b", "./a", "a//b", "/a", "/", "a/", "", "a/\x00b"]


def payload(size: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(size)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_all(backend: Backend, key: str) -> bytes:
    """Read the way callers do: fixed-size read(n) calls until EOF."""
    chunks = []
    with backend.open(key) as stream:
        while chunk := stream.read(CHUNK):
            chunks.append(chunk)
    return b"".join(chunks)


class TrickleStream(io.RawIOBase):
    """A non-seekable source that returns short reads, like a pipe or a socket."""

    def __init__(self, data: bytes, step: int = 3 * MiB + 17) -> None:
        self._data = memoryview(data)
        self._pos = 0
        self._step = step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self._step, len(self._data) - self._pos)
        buffer[:n] = self._data[self._pos:self._pos + n]
        self._pos += n
        return n


class Untouchable(io.RawIOBase):
    """A source that fails the test if anyone reads it."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        raise AssertionError("the source was read although the key is invalid")


def test_put_then_open_returns_the_same_bytes_and_our_sha256(store: Store) -> None:
    data = payload(300_001)
    info = store.backend.put("aip-1/data/report.pdf", io.BytesIO(data))
    assert (info.key, info.size, info.sha256) == ("aip-1/data/report.pdf", len(data), sha256(data))
    assert read_all(store.backend, "aip-1/data/report.pdf") == data
    assert store.backend.stat("aip-1/data/report.pdf").size == len(data)
    assert store.raw_path("aip-1/data/report.pdf").read_bytes() == data


def test_empty_object_round_trips(store: Store) -> None:
    info = store.backend.put("aip-1/data/empty.txt", io.BytesIO(b""))
    assert (info.size, info.sha256) == (0, sha256(b""))
    assert read_all(store.backend, "aip-1/data/empty.txt") == b""
    assert store.backend.stat("aip-1/data/empty.txt").size == 0


def test_large_object_streams_from_a_trickling_source_intact(store: Store) -> None:
    data = payload(20 * MiB, seed=20)
    parts: list[int] = []
    if store.kind == "s3":
        # rclone's HEAD gives the file's MD5, not the multipart ETag, so count the parts sent.
        store.backend._client.meta.events.register(  # type: ignore[attr-defined]
            "before-parameter-build.s3.UploadPart",
            lambda params, **_: parts.append(len(params["Body"])))
    info = store.backend.put("aip-1/data/scan.tiff", TrickleStream(data))
    assert (info.size, info.sha256) == (len(data), sha256(data))
    assert sha256(read_all(store.backend, "aip-1/data/scan.tiff")) == sha256(data)
    assert sha256(store.raw_path("aip-1/data/scan.tiff").read_bytes()) == sha256(data)
    if store.kind == "s3":
        assert parts == [5 * MiB] * 4  # the multipart path, in full-size parts


def test_put_over_other_content_is_refused_and_the_original_survives(store: Store) -> None:
    store.backend.put("aip-1/data/a.txt", io.BytesIO(b"original"))
    with pytest.raises(ObjectExists) as caught:
        store.backend.put("aip-1/data/a.txt", io.BytesIO(b"impostor"))
    assert caught.value.exit_code == 1
    assert read_all(store.backend, "aip-1/data/a.txt") == b"original"
    assert store.raw_path("aip-1/data/a.txt").read_bytes() == b"original"


def test_put_over_other_content_of_the_same_size_is_refused(store: Store) -> None:
    store.backend.put("aip-1/data/a.txt", io.BytesIO(b"AAAA"))
    with pytest.raises(ObjectExists):
        store.backend.put("aip-1/data/a.txt", io.BytesIO(b"AAAB"))
    assert read_all(store.backend, "aip-1/data/a.txt") == b"AAAA"


def test_put_of_the_same_content_again_is_accepted_as_a_resumed_run(store: Store) -> None:
    data = payload(10_000)
    first = store.backend.put("aip-1/data/a.bin", io.BytesIO(data))
    again = store.backend.put("aip-1/data/a.bin", io.BytesIO(data))
    assert again == first
    assert read_all(store.backend, "aip-1/data/a.bin") == data


def test_put_with_replace_overwrites(store: Store) -> None:
    store.backend.put("aip-1/tagmanifest-sha256.txt", io.BytesIO(b"old"))
    info = store.backend.put("aip-1/tagmanifest-sha256.txt", io.BytesIO(b"newer"), replace=True)
    assert (info.size, info.sha256) == (5, sha256(b"newer"))
    assert read_all(store.backend, "aip-1/tagmanifest-sha256.txt") == b"newer"


@pytest.mark.parametrize("size", [10_000, 20 * MiB], ids=["small", "multipart"])
def test_bytes_that_do_not_match_the_expected_sha256_are_never_stored(store: Store,
                                                                      size: int) -> None:
    """Replicate and repair say which SHA-256 the bytes must have: a damaged source is
    refused before anything is visible under the key, so the caller never has to remove
    an object (which, meanwhile, another run may have stored and recorded)."""
    store.backend.check()  # rclone answers NoSuchUpload to a listing of a bucket never used
    good, damaged = payload(size), bytearray(payload(size))
    damaged[size // 2] ^= 1
    with pytest.raises(SourceMismatch) as caught:
        store.backend.put("aip-1/data/a.bin", io.BytesIO(bytes(damaged)),
                          expect_sha256=sha256(good))
    assert caught.value.exit_code == 1 and "aip-1/data/a.bin" in str(caught.value)
    assert store.backend.stat("aip-1/data/a.bin") is None
    assert list(store.backend.list_partial()) == []  # no temporary file or upload left
    # Nor does it replace what is there, even when asked to replace.
    store.backend.put("aip-1/data/a.bin", io.BytesIO(good))
    with pytest.raises(SourceMismatch):
        store.backend.put("aip-1/data/a.bin", io.BytesIO(bytes(damaged)), replace=True,
                          expect_sha256=sha256(good))
    assert read_all(store.backend, "aip-1/data/a.bin") == good
    info = store.backend.put("aip-1/data/b.bin", io.BytesIO(good), expect_sha256=sha256(good))
    assert (info.size, info.sha256) == (size, sha256(good))
    # Nor is an object already holding those same wrong bytes accepted as a resumed put.
    store.backend.put("aip-1/data/c.bin", io.BytesIO(bytes(damaged)))
    with pytest.raises(SourceMismatch):
        store.backend.put("aip-1/data/c.bin", io.BytesIO(bytes(damaged)),
                          expect_sha256=sha256(good))


def test_stat_of_a_missing_object_is_none(store: Store) -> None:
    assert store.backend.stat("aip-1/data/nothing-here.pdf") is None


def test_open_of_a_missing_object_raises_object_missing(store: Store) -> None:
    with pytest.raises(ObjectMissing) as caught:
        store.backend.open("aip-1/data/nothing-here.pdf")
    assert "aip-1/data/nothing-here.pdf" in str(caught.value)


def test_list_returns_exactly_the_objects_under_a_prefix(store: Store) -> None:
    sizes = {"a/1": 1, "a/2": 2, "a/b/3": 3, "ab/4": 4, "b/5": 5}
    for key, size in sizes.items():
        store.backend.put(key, io.BytesIO(b"x" * size))

    def listed(prefix: str) -> dict[str, int]:
        return {info.key: info.size for info in store.backend.list(prefix)}

    assert listed("") == sizes
    assert listed("a/") == {"a/1": 1, "a/2": 2, "a/b/3": 3}
    assert listed("a") == {"a/1": 1, "a/2": 2, "a/b/3": 3, "ab/4": 4}  # a prefix, not a folder
    assert listed("a/b") == {"a/b/3": 3}
    assert listed("zzz/") == {}


def test_deleted_object_is_gone_and_deleting_again_is_no_error(store: Store) -> None:
    store.backend.put("aip-1/data/a.txt", io.BytesIO(b"bytes"))
    store.backend.delete("aip-1/data/a.txt")
    assert store.backend.stat("aip-1/data/a.txt") is None
    assert list(store.backend.list("aip-1/")) == []
    store.backend.delete("aip-1/data/a.txt")


def test_vietnamese_nfc_and_nfd_keys_stay_distinct_and_byte_exact(store: Store) -> None:
    assert NFC_PATH != NFD_PATH
    store.backend.put(NFC_PATH, io.BytesIO(b"NFC copy"))
    store.backend.put(NFD_PATH, io.BytesIO(b"NFD copy"))
    assert {info.key for info in store.backend.list("data/")} == {NFC_PATH, NFD_PATH}
    assert read_all(store.backend, NFC_PATH) == b"NFC copy"
    assert read_all(store.backend, NFD_PATH) == b"NFD copy"
    # On disk too, both spellings survive as their own bytes: nobody normalised them.
    folders = {os.fsencode(unicodedata.normalize(form, "Tài liệu")) for form in ("NFC", "NFD")}
    assert set(os.listdir(os.fsencode(store.raw_path("data")))) == folders


def vietnamese_name(index: int, size: int = MAX_COMPONENT_BYTES) -> str:
    """A folder name of exactly ``size`` UTF-8 bytes, in NFC Vietnamese."""
    text = f"{index:02d} Hồ sơ Quyết định của Ủy ban nhân dân tỉnh Thừa Thiên Huế về lưu trữ " * 5
    name = ""
    for ch in text:
        if len((name + ch).encode("utf-8")) > size:
            break
        name += ch
    return name + "x" * (size - len(name.encode("utf-8")))


def test_five_deep_240_byte_vietnamese_folders_store_and_return_intact(store: Store) -> None:
    folders = [vietnamese_name(i) for i in range(5)]
    assert all(len(f.encode("utf-8")) == MAX_COMPONENT_BYTES for f in folders)
    logical = "data/" + "/".join(folders) + "/Quyết định số 1.pdf"
    key = object_key("urn_uuid_1234", logical)
    assert len(key.encode("utf-8")) <= MAX_KEY_BYTES
    data = payload(4096)
    assert store.backend.put(key, io.BytesIO(data)).sha256 == sha256(data)
    assert read_all(store.backend, key) == data
    assert [info.key for info in store.backend.list("urn_uuid_1234/")] == [key]


def test_240_byte_vietnamese_folders_within_the_key_limit_keep_their_names(store: Store) -> None:
    logical = f"data/{vietnamese_name(1)}/{vietnamese_name(2)}/Quyết định.pdf"
    key = object_key("urn_uuid_1234", logical)
    assert key == f"urn_uuid_1234/{logical}"
    store.backend.put(key, io.BytesIO(b"long names"))
    assert read_all(store.backend, key) == b"long names"
    assert store.raw_path(key).read_bytes() == b"long names"


@pytest.mark.parametrize("key", INVALID_KEYS)
def test_invalid_keys_are_refused_before_any_io(store: Store, key: str) -> None:
    # On a location that cannot be reached, any I/O would fail as BackendUnavailable or
    # StorageError: getting InvalidKey proves the key was refused first.
    backend = store.unreachable()
    operations: list[Callable[[], object]] = [
        lambda: backend.put(key, Untouchable()),  # type: ignore[arg-type]
        lambda: backend.put(key, Untouchable(), replace=True),  # type: ignore[arg-type]
        lambda: backend.open(key),
        lambda: backend.stat(key),
        lambda: backend.delete(key),
    ]
    for operation in operations:
        with pytest.raises(InvalidKey) as caught:
            operation()
        assert caught.value.exit_code == 2


@pytest.mark.parametrize("prefix", ["/", "/etc", "../", "a/../", "a//b", "./a"])
def test_list_refuses_a_prefix_that_could_escape(store: Store, prefix: str) -> None:
    with pytest.raises(InvalidKey):
        list(store.unreachable().list(prefix))


def test_check_passes_on_a_healthy_location(store: Store) -> None:
    store.backend.check()


def test_check_on_an_unreachable_location_raises_backend_unavailable(store: Store) -> None:
    with pytest.raises(BackendUnavailable) as caught:
        store.unreachable().check()
    assert caught.value.exit_code == 2


def every_operation(backend: Backend) -> dict[str, Callable[[], object]]:
    return {
        "check": backend.check,
        "put": lambda: backend.put("aip-1/a.txt", io.BytesIO(b"bytes")),
        "put-replace": lambda: backend.put("aip-1/a.txt", io.BytesIO(b"bytes"), replace=True),
        "open": lambda: backend.open("aip-1/a.txt").read(),
        "stat": lambda: backend.stat("aip-1/a.txt"),
        "list": lambda: list(backend.list("aip-1/")),
        "delete": lambda: backend.delete("aip-1/a.txt"),
    }


@pytest.mark.parametrize("breakage", ["broken", "unreachable"])
def test_no_transport_or_os_error_escapes_any_operation(store: Store, breakage: str) -> None:
    backend: Backend = getattr(store, breakage)()
    for name, operation in every_operation(backend).items():
        try:
            operation()
        except KhosoError as exc:
            assert not any(secret in str(exc) for secret in store.secrets), name
        except (BotoCoreError, ClientError, OSError) as exc:  # pragma: no cover - the failure
            pytest.fail(f"{name} leaked {type(exc).__name__}: {exc}")


def test_a_failed_source_leaves_no_object(store: Store) -> None:
    class Failing(TrickleStream):
        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            if self._pos >= 12 * MiB:
                raise OSError(5, "Input/output error")
            return super().readinto(buffer)

    source: BinaryIO = Failing(payload(20 * MiB))  # type: ignore[assignment]
    with pytest.raises(KhosoError):
        store.backend.put("aip-1/data/half.tiff", source)
    assert store.backend.stat("aip-1/data/half.tiff") is None
    if store.kind == "s3":
        uploads = store.admin.list_multipart_uploads(Bucket=store.bucket).get("Uploads", [])
        assert uploads == []  # the multipart upload was aborted, not left to accrue


def test_list_tells_when_each_object_was_written(store: Store) -> None:
    from datetime import UTC, datetime, timedelta

    store.backend.put("urn_uuid_A/data/a.txt", io.BytesIO(b"a"))
    (info,) = list(store.backend.list("urn_uuid_A/"))
    assert info.modified is not None
    assert abs(datetime.now(UTC) - info.modified) < timedelta(minutes=5)


def test_partial_writes_of_a_killed_run_are_listed_and_discarded(store: Store) -> None:
    """What kill -9 leaves mid-write (a temporary file, an unfinished multipart upload) is
    invisible under object keys, but ``storage fsck`` can list and discard it."""
    store.backend.check()
    if store.kind == "file":
        tmp = store.raw_path(".khoso-tmp/deadbeef")
        tmp.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(b"half an object")
    else:
        store.admin.create_multipart_upload(Bucket=store.bucket,
                                            Key="khoso-test/urn_uuid_A/data/big.bin")
    (partial,) = list(store.backend.list_partial())
    assert partial.started is not None
    assert list(store.backend.list()) == []
    store.backend.discard_partial(partial)
    assert list(store.backend.list_partial()) == []
    store.backend.discard_partial(partial)  # already gone: not an error


def test_a_failed_put_leaves_no_partial_write(store: Store) -> None:
    class Breaks(io.RawIOBase):
        def __init__(self) -> None:
            self.sent = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            if self.sent > 12 * MiB:
                raise OSError("the source disk failed")
            n = len(buffer)
            buffer[:n] = b"\x00" * n
            self.sent += n
            return n

    with pytest.raises(KhosoError):
        store.backend.put("urn_uuid_A/data/big.bin", Breaks())  # type: ignore[arg-type]
    assert list(store.backend.list_partial()) == []
    assert store.backend.stat("urn_uuid_A/data/big.bin") is None
