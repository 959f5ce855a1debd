"""What only an S3 location has: credentials, buckets, capabilities, multipart uploads."""

from __future__ import annotations

import base64
import hashlib
import io
import sys
import types
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ConnectionClosedError, ReadTimeoutError

from repository.errors import BackendUnavailable, KhosoError
from storage.backend import Backend, Capabilities
from storage.errors import StorageError
from storage.registry import open_backend
from storage.s3 import _BASE_TRANSPORT, S3Backend, _ObjectReader, _transport

if TYPE_CHECKING:  # conftest is pytest's to import; only its types are needed here
    from tests.storage.conftest import S3Server, Store

pytestmark = pytest.mark.s3
MiB = 1 << 20


# The contract suite's ``store`` fixture, S3 member only.
only_s3 = pytest.mark.parametrize("store", ["s3"], indirect=True)


def location_url(server: S3Server, bucket: str, prefix: str = "p") -> str:
    return f"s3://{bucket}/{prefix}?endpoint_url={server.endpoint}"


def test_transport_errors_while_another_worker_still_imports_urllib3(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker importing boto3 for an object too large for the fast path leaves
    ``urllib3.exceptions`` half made in ``sys.modules`` while the other workers match their
    exceptions against ``_transport()``: a 20,000-file replicate crashed there on an
    AttributeError. Until the module is complete, none of its errors can have been raised."""
    half_made = types.ModuleType("urllib3.exceptions")
    monkeypatch.setitem(sys.modules, "urllib3.exceptions", half_made)
    assert _transport() == _BASE_TRANSPORT

    class HTTPError(Exception):
        pass

    half_made.HTTPError = HTTPError  # type: ignore[attr-defined]  # its import has finished
    assert _transport() == (*_BASE_TRANSPORT, HTTPError)


@pytest.mark.parametrize("port", ["99999", "abc"])
def test_an_endpoint_with_an_impossible_port_is_refused_clearly(port: str) -> None:
    with pytest.raises(BackendUnavailable, match="invalid endpoint_url") as caught:
        open_backend("bad-port", f"s3://bucket/p?endpoint_url=http://127.0.0.1:{port}",
                     {"aws_access_key_id": "AK", "aws_secret_access_key": "SK"})
    assert caught.value.exit_code == 2


@only_s3
def test_wrong_credentials_are_refused_naming_no_secret(store: Store) -> None:
    backend = store.broken()
    with pytest.raises(BackendUnavailable) as caught:
        backend.check()
    assert caught.value.exit_code == 2
    assert "access refused" in str(caught.value)
    assert not any(secret in str(caught.value) for secret in store.secrets)
    with pytest.raises(KhosoError):
        backend.put("aip-1/a.txt", io.BytesIO(b"bytes"))
    assert store.backend.stat("aip-1/a.txt") is None


def test_credentials_come_from_the_standard_aws_environment(
        rclone_s3: S3Server, s3_bucket: str, s3_credentials: dict[str, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_credentials["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_credentials["aws_secret_access_key"])
    backend = open_backend("env", location_url(rclone_s3, s3_bucket), {})
    backend.check()
    backend.put("a.txt", io.BytesIO(b"from env"))
    assert backend.open("a.txt").read() == b"from env"


def test_no_credentials_anywhere_is_backend_unavailable(rclone_s3: S3Server,
                                                         s3_bucket: str) -> None:
    backend = open_backend("nocreds", location_url(rclone_s3, s3_bucket), {})
    with pytest.raises(BackendUnavailable, match="no AWS credentials"):
        backend.check()


def test_check_names_a_missing_bucket(rclone_s3: S3Server,
                                      s3_credentials: dict[str, str]) -> None:
    backend = open_backend("gone", location_url(rclone_s3, "khoso-no-such-bucket"),
                           s3_credentials)
    with pytest.raises(BackendUnavailable, match="bucket khoso-no-such-bucket does not exist"):
        backend.check()


def test_check_leaves_nothing_behind(rclone_s3: S3Server, s3_bucket: str, s3_admin: Any,
                                     s3_credentials: dict[str, str]) -> None:
    open_backend("probe", location_url(rclone_s3, s3_bucket), s3_credentials).check()
    assert s3_admin.list_objects_v2(Bucket=s3_bucket).get("Contents", []) == []
    assert s3_admin.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
    assert [p for p in (rclone_s3.root / s3_bucket).rglob("*") if not p.is_dir()] == []


def test_credentials_in_the_url_are_refused_without_echoing_them() -> None:
    with pytest.raises(BackendUnavailable) as caught:
        S3Backend("leaky", "s3://AKIDLEAK:hunter2@bucket/p", {})
    assert "hunter2" not in str(caught.value) and "AKIDLEAK" not in str(caught.value)


@pytest.mark.parametrize(("url", "options", "named"), [
    ("s3://bucket/p", {"endpoint": "http://x"}, "endpoint"),
    ("s3://bucket/p?endpont_url=http://x", {}, "endpont_url"),
    ("s3://bucket/p", {"multipart_chunksize": 1024}, "multipart_chunksize"),
    ("s3://bucket/p", {"max_attempts": "many"}, "max_attempts"),
    ("s3://bucket/p", {"fast_path": "sometimes"}, "fast_path"),
    ("s3:///p", {}, "s3://bucket"),
])
def test_bad_location_settings_are_refused_by_name(url: str, options: dict, named: str) -> None:
    with pytest.raises(BackendUnavailable, match=named):
        S3Backend("bad", url, options)


def test_registry_opens_an_s3_location_that_satisfies_the_protocol(
        rclone_s3: S3Server, s3_bucket: str, s3_credentials: dict[str, str]) -> None:
    backend = open_backend("reg", location_url(rclone_s3, s3_bucket), s3_credentials)
    assert isinstance(backend, S3Backend)
    assert isinstance(backend, Backend)


def test_rclone_bucket_reports_neither_object_lock_nor_versioning(
        rclone_s3: S3Server, s3_bucket: str, s3_credentials: dict[str, str]) -> None:
    backend = open_backend("plain", location_url(rclone_s3, s3_bucket), s3_credentials)
    assert backend.capabilities == Capabilities(object_lock=False, versioning=False)


def test_object_lock_bucket_reports_object_lock(moto_endpoint: str) -> None:
    options = {"aws_access_key_id": "moto", "aws_secret_access_key": "moto"}
    locked = S3Backend("worm", f"s3://khoso-worm/p?endpoint_url={moto_endpoint}", options)
    locked._client.create_bucket(Bucket="khoso-worm", ObjectLockEnabledForBucket=True)
    plain = S3Backend("plain", f"s3://khoso-plain/p?endpoint_url={moto_endpoint}", options)
    plain._client.create_bucket(Bucket="khoso-plain")
    # Object lock implies versioning on S3 (and moto follows that).
    assert locked.capabilities == Capabilities(object_lock=True, versioning=True)
    assert plain.capabilities == Capabilities(object_lock=False, versioning=False)


def test_capabilities_of_an_unreachable_bucket_are_conservative(
        s3_credentials: dict[str, str]) -> None:
    backend = S3Backend("down", "s3://bucket/p?endpoint_url=http://127.0.0.1:9",
                        {**s3_credentials, "max_attempts": 1})
    assert backend.capabilities == Capabilities(object_lock=False, versioning=False)


@pytest.mark.parametrize("store", ["s3", "s3-boto3"], indirect=True)
def test_small_put_sends_content_md5_of_the_bytes(store: Store) -> None:
    sent: list[str] = []
    fast = store.backend._fast  # type: ignore[attr-defined]
    if fast is not None:  # the fast path: look at the request as it goes on the wire
        fast.on_request = lambda method, path, headers: sent.append(headers["content-md5"]) \
            if method == "PUT" else None
    else:
        store.backend._client.meta.events.register(  # type: ignore[attr-defined]
            "before-parameter-build.s3.PutObject",
            lambda params, **_: sent.append(params["ContentMD5"]))
    store.backend.put("a.txt", io.BytesIO(b"checked in transit"))
    assert sent == [base64.b64encode(hashlib.md5(b"checked in transit").digest()).decode()]


@only_s3
def test_failed_part_upload_aborts_the_multipart_upload(store: Store) -> None:
    calls = []

    def drop_third_part(params: dict, **_: object) -> None:
        calls.append(params["PartNumber"])
        if params["PartNumber"] == 3:
            raise ConnectionClosedError(endpoint_url="http://loopback")

    store.backend._client.meta.events.register(  # type: ignore[attr-defined]
        "before-parameter-build.s3.UploadPart", drop_third_part)
    with pytest.raises(StorageError):
        store.backend.put("big.bin", io.BytesIO(b"\x01" * (20 * MiB)))
    assert calls == [1, 2, 3]
    assert store.admin.list_multipart_uploads(Bucket=store.bucket).get("Uploads", []) == []
    assert store.backend.stat("big.bin") is None


def test_a_broken_download_surfaces_as_a_storage_error(s3_credentials: dict[str, str]) -> None:
    class Body:
        def read(self, amt: int | None = None) -> bytes:
            raise ReadTimeoutError(endpoint_url="http://loopback")

        def close(self) -> None:
            pass

    backend = S3Backend("dl", "s3://bucket/p?endpoint_url=http://127.0.0.1:9", s3_credentials)
    with _ObjectReader(Body(), backend, "a.txt") as stream, \
            pytest.raises(StorageError, match=r"a\.txt"):
        stream.read(1024)
