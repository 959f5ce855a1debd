"""``s3://bucket/prefix`` locations: one object per key under the prefix, through boto3.

URL: ``s3://bucket[/prefix][?endpoint_url=http://127.0.0.1:9100&region=eu-west-1]``. The
location's options may also carry ``endpoint_url`` and ``region`` (options win over the URL),
``profile``, ``multipart_threshold``/``multipart_chunksize`` (bytes), ``max_attempts``,
``object_lock_days``/``object_lock_mode`` (S3 Object Lock retention given to every new object;
GOVERNANCE by default, COMPLIANCE for retention nobody can shorten; the bucket must have
Object Lock enabled), ``fast_path`` (``true`` by default; ``false`` sends every request through
boto3), and ``aws_access_key_id``/``aws_secret_access_key``/``aws_session_token``. Credentials
normally come from the standard AWS environment variables and profiles that boto3 reads; the
options are for tests and throwaway servers, since options are stored in the catalog.
Credentials never appear in a URL or a message.

Writes: an object smaller than ``multipart_threshold`` goes in one PUT with Content-MD5, so a
body damaged in transit is refused by the server (rclone verifies it, INFRA.md); a larger one
streams as a multipart upload, each part with its own Content-MD5, aborted on any failure so no
orphan upload is left behind. Our SHA-256 is computed from the very chunks we send. ETags and
``x-amz-checksum-*`` are never evidence: no local server verifies them (INFRA.md).

Fast path (``storage/s3_fast.py``): on an ``http://`` endpoint reached without a proxy and
without object lock, a PUT of at most 8 MiB, every GET and HEAD and the listing are sent as
single signed HTTP/1.1 requests on pooled keep-alive connections instead of through botocore's
request pipeline (which costs about 1.4 ms of CPU per request; every object stored costs a PUT
and a GET). Same requests on the wire (Content-MD5 on PUT, the signed SHA-256 of the body),
same bounded retries, same errors: botocore's exception classes, translated here by ``_error``.
Such a location whose credentials and region come from its own options (or the AWS credential
and region variables) alone is opened without importing boto3 (about 0.25 s of a command's
start-up); its client is made the first time something needs it (multipart, DELETE, bucket
settings). Wherever a profile, a config or credentials file or another ``AWS_*`` variable
could change the outcome, the session and client are made when the location is opened, and
fail there, as before (``_settled_without_botocore``).

S3 has no "create only if absent" that every server honours (rclone ignores If-None-Match), so
``put`` looks first and compares an existing object by reading it back and hashing it. That
check-then-write is not atomic: one writer per key is the catalog's job, not this module's.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
import re
import sys
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple, cast
from urllib.parse import parse_qsl, unquote, urlsplit

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from botocore.exceptions import ConnectionError as BotoConnectionError

from repository.errors import KhosoError
from storage.backend import Capabilities, ObjectInfo, PartialWrite
from storage.errors import (
    BackendUnavailable,
    InvalidKey,
    ObjectExists,
    ObjectMissing,
    SourceMismatch,
    StorageError,
)
from storage.fixity import HashingReader, hash_stream
from storage.keys import check_key
from storage.registry import safe_url
from storage.s3_fast import FAST_PUT_MAX, FastS3
from storage.s3_sign import SigV4Signer

if TYPE_CHECKING:
    from botocore.config import Config

MiB = 1 << 20
DEFAULT_THRESHOLD = 64 * MiB
DEFAULT_PART_SIZE = 16 * MiB
MIN_PART_SIZE = 5 * MiB  # S3: every part but the last must be at least 5 MiB
MAX_PARTS = 10_000  # S3: part numbers 1..10,000
MAX_S3_KEY_BYTES = 1024
DEFAULT_ATTEMPTS = 5

_URL_PARAMS = {"endpoint_url", "region"}
_OPTIONS = _URL_PARAMS | {"profile", "aws_access_key_id", "aws_secret_access_key",
                          "aws_session_token", "multipart_threshold", "multipart_chunksize",
                          "max_attempts", "object_lock_days", "object_lock_mode", "fast_path"}
LOCK_MODES = ("GOVERNANCE", "COMPLIANCE")
_BASE_TRANSPORT: tuple[type[BaseException], ...] = (BotoCoreError, ClientError, OSError)
_MISSING = {"NoSuchKey", "404", "NotFound", "NoSuchUpload"}
_REFUSED = {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
            "InvalidToken", "TokenRefreshRequired", "AuthorizationHeaderMalformed"}


def _transport() -> tuple[type[BaseException], ...]:
    """Everything boto, botocore or urllib3 may raise on the wire, plus OSError from sockets.

    urllib3 comes with boto3, which the fast path does not import: until it is imported, none
    of its errors can be raised (evaluated only when an exception is being matched). While
    one worker imports it (its first object too large for the fast path), the module is
    already in ``sys.modules`` but half made: no error of it can have been raised yet either
    (a 20,000-file replicate crashed on ``urllib3.HTTPError`` there before).
    """
    http_error = getattr(sys.modules.get("urllib3.exceptions"), "HTTPError", None)
    return (*_BASE_TRANSPORT, http_error) if http_error is not None else _BASE_TRANSPORT


def _config(max_attempts: int) -> Config:
    from botocore.config import Config

    return Config(
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        # INFRA.md: without these, ranged GETs against rclone fail with FlexibleChecksumError;
        # the CRC headers botocore would add are no evidence anyway (we hash the bytes).
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        # Bounded retries: "standard" mode retries throttling, 5xx and connection errors with
        # jittered exponential backoff, at most max_attempts tries in all; 4xx answers (wrong
        # credentials, missing object, BadDigest) are final. Every body we send is in-memory
        # bytes, so a retry resends exactly the same bytes.
        retries={"mode": "standard", "max_attempts": max_attempts},
        connect_timeout=10,
        read_timeout=60,
    )


class S3Backend:
    def __init__(self, location: str, url: str, options: dict | None = None) -> None:
        self.location = location
        self.url = url
        parsed = urlsplit(url)
        if parsed.scheme != "s3" or not parsed.hostname:
            raise BackendUnavailable(location=location, reason=f"not an s3://bucket URL: "
                                                               f"{safe_url(url)}")
        if parsed.username or parsed.password:
            raise BackendUnavailable(location=location, reason="credentials do not belong in "
                                     "the URL: use the AWS environment or a profile")
        self.bucket = parsed.netloc
        self.prefix = unquote(parsed.path).strip("/")
        if self.prefix:
            check_key(self.prefix)
        opts = self._options(dict(parse_qsl(parsed.query, keep_blank_values=True)), options or {})
        self._endpoint: str | None = opts.get("endpoint_url") or None
        self._threshold = _int_option(location, opts, "multipart_threshold", DEFAULT_THRESHOLD, 1)
        self._part_size = _int_option(location, opts, "multipart_chunksize", DEFAULT_PART_SIZE,
                                      MIN_PART_SIZE)
        attempts = _int_option(location, opts, "max_attempts", DEFAULT_ATTEMPTS, 1)
        self._lock_days = _int_option(location, opts, "object_lock_days", 0, 0)
        self._lock_mode = str(opts.get("object_lock_mode") or "GOVERNANCE").upper()
        if self._lock_mode not in LOCK_MODES:
            raise BackendUnavailable(location=location, reason="option object_lock_mode must be "
                                     "GOVERNANCE or COMPLIANCE")
        self._secrets = [str(opts[k]) for k in ("aws_secret_access_key", "aws_session_token",
                                                "aws_access_key_id") if opts.get(k)]
        self._opts, self._attempts = opts, attempts
        self._capabilities: Capabilities | None = None
        self._credentials: Any = _UNRESOLVED
        self._boto: tuple[Any, Any] | None = None  # boto3 session and client
        self._boto_lock = threading.Lock()
        self._settled = _settled_without_botocore(self._endpoint, opts)
        if self._settled is None:
            self._boto = self._open_boto3()
        self._fast = self._fast_path(opts, attempts)
        if self._fast is None and self._boto is None:
            self._boto = self._open_boto3()  # every request goes through it: make it now

    def _open_boto3(self) -> tuple[Any, Any]:
        try:
            import boto3

            opts = self._opts
            session = boto3.session.Session(
                aws_access_key_id=opts.get("aws_access_key_id"),
                aws_secret_access_key=opts.get("aws_secret_access_key"),
                aws_session_token=opts.get("aws_session_token"),
                profile_name=opts.get("profile"), region_name=opts.get("region"))
            # S3-compatible servers ignore the region but SigV4 needs one.
            client = session.client("s3", endpoint_url=self._endpoint,
                                    region_name=session.region_name or "us-east-1",
                                    config=_config(self._attempts))
        except (BotoCoreError, ValueError) as exc:
            raise BackendUnavailable(location=self.location,
                                     reason=self._scrub(str(exc))) from exc
        return session, client

    @property
    def _client(self) -> Any:
        """boto3's S3 client; made on first need when the location was opened without it."""
        if self._boto is None:
            with self._boto_lock:
                if self._boto is None:
                    self._boto = self._open_boto3()
        return self._boto[1]

    def _options(self, query: dict[str, str], options: dict) -> dict[str, Any]:
        for given, allowed, where in ((query, _URL_PARAMS, "URL parameter"),
                                      (options, _OPTIONS, "option")):
            unknown = sorted(set(given) - allowed)
            if unknown:
                known = ", ".join(sorted(allowed))
                raise BackendUnavailable(location=self.location, reason=f"unknown {where} "
                                         f"{', '.join(unknown)} (known: {known})")
        return {**query, **options}

    # -- the Backend interface -------------------------------------------------------------

    @property
    def capabilities(self) -> Capabilities:
        """Object lock and versioning as the bucket reports them, asked once.

        When the bucket cannot be asked (unreachable, refused) the answer is the conservative
        "neither", and it is asked again next time.
        """
        if self._capabilities is None:
            lock = self._bucket_setting("get_object_lock_configuration")
            versioning = self._bucket_setting("get_bucket_versioning")
            if lock is None or versioning is None:
                return Capabilities(object_lock=False, versioning=False, delete=True)
            enabled = lock.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled")
            self._capabilities = Capabilities(object_lock=enabled == "Enabled",
                                              versioning=versioning.get("Status") == "Enabled",
                                              delete=True)
        return self._capabilities

    def check(self) -> None:
        """The bucket answers and these credentials may write to it.

        Writing is proven by starting and aborting a multipart upload: nothing is stored, so
        no probe object is left behind (on an object-lock bucket it could never be removed).
        """
        probe = self._full(f".khoso-probe-{uuid.uuid4().hex}")
        try:
            self._client.head_bucket(Bucket=self.bucket)
            if self._lock_days and not self.capabilities.object_lock:
                raise BackendUnavailable(location=self.location, reason=(
                    f"option object_lock_days needs S3 Object Lock, and bucket {self.bucket} "
                    "does not have it enabled (it can only be enabled when a bucket is made)"))
            upload = self._client.create_multipart_upload(Bucket=self.bucket, Key=probe)
            self._client.abort_multipart_upload(Bucket=self.bucket, Key=probe,
                                                UploadId=upload["UploadId"])
        except _transport() as exc:
            error = self._error(exc, None)
            if _code(exc) in _MISSING:
                error = BackendUnavailable(location=self.location,
                                           reason=f"bucket {self.bucket} does not exist")
            elif not isinstance(error, BackendUnavailable):
                error = BackendUnavailable(location=self.location,
                                           reason=error.kwargs.get("reason", str(error)))
            raise error from exc

    def put(self, key: str, stream: BinaryIO, *, replace: bool = False,
            absent: bool = False, expect_sha256: str | None = None) -> ObjectInfo:
        full = self._full(key)
        if not replace and not absent:
            existing = self.stat(key)
            if existing is not None:
                return self._same_as_existing(key, existing, stream, expect_sha256)
        reader = HashingReader(stream)
        buffered: list[bytes] = []
        total = 0
        while total < self._threshold:
            part = self._read_part(reader, key)
            buffered.append(part)
            total += len(part)
            if len(part) < self._part_size:
                break  # end of stream
        retention = self._retention()
        if total < self._threshold:
            body = b"".join(buffered)
            if expect_sha256 is not None and reader.hexdigest() != expect_sha256:
                raise SourceMismatch(location=self.location, key=key)  # nothing sent yet
            if self._fast is not None and not retention and len(body) <= FAST_PUT_MAX:
                # The whole stream is in ``body``: the reader's digest is the body's SHA-256.
                try:
                    self._fast.put(full, body, reader.hexdigest(), _md5(body))
                except _transport() as exc:
                    raise self._error(exc, key) from exc
            else:
                self._call("put_object", key, Key=full, Body=body, ContentMD5=_md5(body),
                           **retention)
        else:
            self._put_multipart(key, full, reader, buffered, retention, expect_sha256)
        if retention:
            self._ensure_retention(key, full, retention)
        return ObjectInfo(key, reader.size, reader.hexdigest())

    def adopt(self, key: str, local: Path) -> ObjectInfo | None:
        return None  # an object store has no link to a local file: always put

    def open(self, key: str) -> BinaryIO:
        full = self._full(key)
        if self._fast is not None:
            try:
                body: Any = self._fast.get(full)
            except _transport() as exc:
                raise self._error(exc, key) from exc
        else:
            body = self._call("get_object", key, Key=full)["Body"]
        return cast(BinaryIO, _ObjectReader(body, self, key))

    def stat(self, key: str) -> ObjectInfo | None:
        full = self._full(key)
        try:
            if self._fast is not None:
                try:
                    size = self._fast.head(full).get("content-length")
                except _transport() as exc:
                    raise self._error(exc, key) from exc
            else:
                size = self._call("head_object", key, Key=full)["ContentLength"]
        except ObjectMissing:
            return None
        try:
            return ObjectInfo(key, int(size))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise StorageError(location=self.location, reason=f"{key}: the server's answer to "
                               f"HEAD has no usable Content-Length ({size!r})") from None

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        if prefix:
            # Every complete component must be a valid key component; the last one may be
            # partial ("data/Tà" matches "data/Tài liệu/…"), so check it with a stand-in end.
            check_key(prefix + "_")
        base = f"{self.prefix}/" if self.prefix else ""
        return self._list(base, base + prefix)

    def delete(self, key: str) -> None:
        with contextlib.suppress(ObjectMissing):
            self._call("delete_object", key, Key=self._full(key))

    def list_partial(self) -> Iterator[PartialWrite]:
        """Multipart uploads never completed nor aborted (a run killed mid-upload)."""
        base = f"{self.prefix}/" if self.prefix else ""
        pages = self._client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket, Prefix=base)
        try:
            for page in pages:
                for up in page.get("Uploads", []):
                    yield PartialWrite(f"{up['Key'][len(base):]}?uploadId={up['UploadId']}",
                                       up.get("Initiated"))
        except _transport() as exc:
            raise self._error(exc, None) from exc

    def discard_partial(self, partial: PartialWrite) -> None:
        key, sep, upload_id = partial.ref.rpartition("?uploadId=")
        if not sep or not upload_id:
            raise InvalidKey(key=partial.ref, reason="not a multipart upload of this location")
        with contextlib.suppress(ObjectMissing):
            self._call("abort_multipart_upload", key, Key=self._full(key), UploadId=upload_id)

    # -- helpers ---------------------------------------------------------------------------

    def _fast_path(self, opts: dict[str, Any], attempts: int) -> FastS3 | None:
        """The fast transport, where it sends exactly what boto3 would (see the docstring)."""
        wanted = str(opts.get("fast_path", "true")).strip().lower()
        if wanted not in ("true", "false"):
            raise BackendUnavailable(location=self.location,
                                     reason="option fast_path must be true or false")
        endpoint = urlsplit(self._endpoint or "")
        if wanted == "false" or self._lock_days or endpoint.scheme != "http" \
                or endpoint.path not in ("", "/") or not endpoint.hostname \
                or _proxied(endpoint.hostname):
            return None
        region = self._settled.region if self._settled is not None \
            else self._client.meta.region_name
        signer = SigV4Signer(self._frozen_credentials, region)
        try:
            return FastS3(f"http://{endpoint.netloc}", self.bucket, signer, attempts=attempts)
        except ValueError as exc:  # a port out of range or not a number
            raise BackendUnavailable(location=self.location,
                                     reason=f"invalid endpoint_url: {exc}") from exc

    def _frozen_credentials(self) -> Any:
        """The session's credentials, resolved once as the boto3 client did (so a location
        without any fails the same way), frozen per request so refreshable ones stay fresh."""
        if self._settled is not None:
            return self._settled.credentials
        if self._credentials is _UNRESOLVED:
            assert self._boto is not None
            self._credentials = self._boto[0].get_credentials()
        if self._credentials is None:
            raise NoCredentialsError()
        return self._credentials.get_frozen_credentials()

    def _ensure_retention(self, key: str, full: str, retention: dict[str, Any]) -> None:
        """Read the retention back (never assume it was applied: some servers drop it on
        multipart uploads) and apply it to the new version when it is missing or shorter."""
        head = self._call("head_object", key, Key=full)
        until = head.get("ObjectLockRetainUntilDate")
        wanted = retention["ObjectLockRetainUntilDate"]
        if until is not None and until >= wanted - timedelta(seconds=1) \
                and head.get("ObjectLockMode") == retention["ObjectLockMode"]:
            return
        params: dict[str, Any] = {"Key": full, "Retention": {
            "Mode": retention["ObjectLockMode"], "RetainUntilDate": wanted}}
        if head.get("VersionId"):
            params["VersionId"] = head["VersionId"]
        self._call("put_object_retention", key, **params)

    def _retention(self) -> dict[str, Any]:
        """S3 Object Lock retention for a new object, when the location asks for it: the
        object (this version) cannot be deleted or overwritten until the date passes."""
        if not self._lock_days:
            return {}
        until = datetime.now(UTC) + timedelta(days=self._lock_days)
        return {"ObjectLockMode": self._lock_mode, "ObjectLockRetainUntilDate": until}

    def _full(self, key: str) -> str:
        full = f"{self.prefix}/{check_key(key)}" if self.prefix else check_key(key)
        if len(full.encode("utf-8")) > MAX_S3_KEY_BYTES:
            raise InvalidKey(key=key[:80] + "…", reason="longer than 1,024 bytes with the "
                             f"location prefix {self.prefix!r}")
        return full

    def _call(self, operation: str, key: str | None, **params: Any) -> Any:
        try:
            return getattr(self._client, operation)(Bucket=self.bucket, **params)
        except _transport() as exc:
            raise self._error(exc, key) from exc

    def _list(self, base: str, full_prefix: str) -> Iterator[ObjectInfo]:
        if self._fast is not None:
            try:
                for key, size, modified in self._fast.list(full_prefix):
                    yield ObjectInfo(key[len(base):], size, modified=_timestamp(modified))
            except (*_transport(), ValueError) as exc:  # ValueError: a listing not S3's XML
                raise self._error(exc, None) from exc
            return
        pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                        Prefix=full_prefix)
        try:
            for page in pages:
                for item in page.get("Contents", []):
                    yield ObjectInfo(item["Key"][len(base):], int(item["Size"]),
                                     modified=item.get("LastModified"))
        except _transport() as exc:
            raise self._error(exc, None) from exc

    def _read_part(self, reader: HashingReader, key: str) -> bytes:
        """Up to one part from the source; short only at the end of the stream."""
        try:
            data = reader.read(self._part_size)
            if len(data) in (0, self._part_size):
                return data
            buf = bytearray(data)
            while len(buf) < self._part_size and (more := reader.read(self._part_size - len(buf))):
                buf += more
            return bytes(buf)
        except OSError as exc:
            raise StorageError(location=self.location,
                               reason=f"{key}: reading the source failed: {exc}") from exc

    def _put_multipart(self, key: str, full: str, reader: HashingReader,
                       buffered: list[bytes], retention: dict[str, Any],
                       expect_sha256: str | None = None) -> None:
        upload_id = self._call("create_multipart_upload", key, Key=full,
                               **retention)["UploadId"]
        try:
            parts = []
            for number, data in enumerate(self._parts(reader, buffered, key), start=1):
                if number > MAX_PARTS:
                    raise StorageError(location=self.location, reason=f"{key}: more than "
                                       f"{MAX_PARTS} parts; raise the multipart_chunksize option")
                answer = self._call("upload_part", key, Key=full, UploadId=upload_id,
                                    PartNumber=number, Body=data, ContentMD5=_md5(data))
                parts.append({"PartNumber": number, "ETag": answer["ETag"]})
            if expect_sha256 is not None and reader.hexdigest() != expect_sha256:
                # Not completed, so never visible: the upload is aborted below.
                raise SourceMismatch(location=self.location, key=key)
            self._call("complete_multipart_upload", key, Key=full, UploadId=upload_id,
                       MultipartUpload={"Parts": parts})
        except BaseException:
            # Abort even on Ctrl-C; a failed abort must not hide the original error.
            with contextlib.suppress(*_transport()):
                self._client.abort_multipart_upload(Bucket=self.bucket, Key=full,
                                                    UploadId=upload_id)
            raise

    def _parts(self, reader: HashingReader, buffered: list[bytes], key: str) -> Iterator[bytes]:
        """The parts already read, then the rest of the stream; each dropped once sent."""
        last = b""
        while buffered:
            last = buffered.pop(0)
            yield last
        while len(last) == self._part_size:
            last = self._read_part(reader, key)
            if last:
                yield last

    def _same_as_existing(self, key: str, existing: ObjectInfo, stream: BinaryIO,
                          expect_sha256: str | None) -> ObjectInfo:
        """A resumed run may re-send an object: accept it only if the bytes are the same."""
        try:
            incoming = hash_stream(stream)
        except OSError as exc:
            raise StorageError(location=self.location,
                               reason=f"{key}: reading the source failed: {exc}") from exc
        if expect_sha256 is not None and incoming.sha256 != expect_sha256:
            raise SourceMismatch(location=self.location, key=key)
        if incoming.size != existing.size:
            raise ObjectExists(location=self.location, key=key)
        with self.open(key) as stored:
            if hash_stream(stored).sha256 != incoming.sha256:
                raise ObjectExists(location=self.location, key=key)
        return ObjectInfo(key, incoming.size, incoming.sha256)

    def _bucket_setting(self, operation: str) -> dict | None:
        """The bucket's answer; {} for "not configured/not supported"; None if not asked."""
        try:
            return getattr(self._client, operation)(Bucket=self.bucket)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            return {} if status in (400, 404, 405, 501) else None
        except _transport():
            return None

    def _error(self, exc: BaseException, key: str | None) -> KhosoError:
        """The one place where boto and socket errors become khoso errors."""
        code = _code(exc)
        where = f"{key}: " if key else ""
        if isinstance(exc, ClientError):
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in _MISSING and key is not None:
                return ObjectMissing(location=self.location, key=key)
            if code == "NoSuchBucket":
                return BackendUnavailable(location=self.location,
                                          reason=f"bucket {self.bucket} does not exist")
            if code in _REFUSED or status in (401, 403):
                return BackendUnavailable(location=self.location, reason=f"access refused "
                                          f"({code}): check the credentials and their "
                                          f"permissions on bucket {self.bucket}")
            message = exc.response.get("Error", {}).get("Message", "")
            return StorageError(location=self.location,
                                reason=self._scrub(f"{where}{code} {message}".strip()))
        if isinstance(exc, NoCredentialsError):
            return BackendUnavailable(location=self.location, reason="no AWS credentials found "
                                      "(environment, profile or location options)")
        if isinstance(exc, BotoConnectionError):
            endpoint = safe_url(self._endpoint) if self._endpoint else "AWS S3"
            return BackendUnavailable(location=self.location, reason=f"cannot reach {endpoint}")
        return StorageError(location=self.location,
                            reason=self._scrub(f"{where}{type(exc).__name__}: {exc}"))

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        if self._endpoint:
            text = text.replace(self._endpoint, safe_url(self._endpoint))
        return text


class _ObjectReader(io.RawIOBase):
    """A GET body streamed on demand; transport errors come out as khoso errors.

    botocore's StreamingBody raises IncompleteReadError when fewer bytes arrive than the
    Content-Length announced, so a truncated transfer is an error here, never a short file.
    """

    def __init__(self, body: Any, backend: S3Backend, key: str) -> None:
        super().__init__()
        self._body = body
        self._backend = backend
        self._key = key

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        try:
            return self._body.read(None if size is None or size < 0 else size)
        except _transport() as exc:
            raise self._backend._error(exc, self._key) from exc

    def readall(self) -> bytes:
        return self.read()

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            with contextlib.suppress(*_transport()):
                self._body.close()
        super().close()


_UNRESOLVED = object()
_ENV_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
# The AWS variables that cannot change what a fast-path location with credentials gets: the CA
# bundle only matters to https (never the fast path); the credentials file and the instance
# metadata are asked only when no credentials were given (the files' content is checked
# below); the region is read here as botocore reads it.
_ENV_KNOWN = {*_ENV_CREDENTIALS, "AWS_CA_BUNDLE", "AWS_CONFIG_FILE",
              "AWS_SHARED_CREDENTIALS_FILE", "AWS_EC2_METADATA_DISABLED", "AWS_DEFAULT_REGION"}
# botocore's own checks when it makes a client (botocore.utils.is_valid_endpoint_url and
# validate_region_name): a location they would refuse is opened through botocore, which
# refuses it as before.
_HOST_LABELS = re.compile(r"^((?!-)[A-Z\d-]{1,63}(?<!-)\.)*((?!-)[A-Z\d-]{1,63}(?<!-))$",
                          re.IGNORECASE)
_REGION = re.compile(r"^(?![0-9]+$)(?!-)[a-zA-Z0-9-]{,63}(?<!-)$")


class _Credentials(NamedTuple):
    """Static credentials, as botocore's frozen ones (what the signer reads)."""

    access_key: str
    secret_key: str
    token: str | None


class _Settled(NamedTuple):
    credentials: _Credentials
    region: str


def _settled_without_botocore(endpoint: str | None, opts: dict[str, Any]) -> _Settled | None:
    """Credentials and region when this location's options (or the AWS credential and region
    variables) decide them alone, exactly as boto3 would, so opening it needs no boto3; None
    whenever anything else could count (a profile, another ``AWS_*`` variable, a config or
    credentials file with content) or botocore could refuse them."""
    if opts.get("profile") or not endpoint or set("\t\r\n") & set(endpoint):
        return None
    host = urlsplit(endpoint).hostname
    if not host or len(host) > 255 or not _HOST_LABELS.match(host.removesuffix(".")):
        return None
    env = os.environ
    if any(name.startswith("AWS_") and name not in _ENV_KNOWN for name in env):
        return None
    for variable, default in (("AWS_CONFIG_FILE", "~/.aws/config"),
                              ("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials")):
        path = os.path.expandvars(os.path.expanduser(env.get(variable, default)))
        if os.path.isfile(path) and os.path.getsize(path) > 0:  # botocore reads only files
            return None
    # boto3: the region option when given (even empty), else AWS_DEFAULT_REGION; we add the
    # default when neither says one.
    region = str(opts["region"] if opts.get("region") is not None
                 else env.get("AWS_DEFAULT_REGION") or "") or "us-east-1"
    if not _REGION.match(region):
        return None
    names = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")
    given = [opts.get(name) for name in names]
    # boto3: any credential option makes the options the credentials; else the environment's
    # AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN come first (EnvProvider).
    key, secret, token = given if any(given) else [env.get(n) for n in _ENV_CREDENTIALS]
    if not key or not secret:
        return None  # partial or none: botocore decides (and names what is missing)
    return _Settled(_Credentials(str(key), str(secret), str(token) if token else None), region)


def _timestamp(value: str | None) -> datetime | None:
    """LastModified of a listing (ISO 8601, as botocore parses it: timezone-aware)."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _proxied(host: str) -> bool:
    """Whether botocore would go through an HTTP proxy (HTTP_PROXY/NO_PROXY) to ``host``."""
    proxies = urllib.request.getproxies_environment()
    if not (proxies.get("http") or proxies.get("all")):
        return False
    return not urllib.request.proxy_bypass_environment(host, proxies)


def _code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def _md5(data: bytes) -> str:
    """Content-MD5: the server's transport check (not fixity evidence; we keep SHA-256)."""
    return base64.b64encode(hashlib.md5(data).digest()).decode("ascii")


def _int_option(location: str, options: dict, name: str, default: int, minimum: int) -> int:
    value = options.get(name, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = minimum - 1
    if isinstance(value, bool) or number < minimum:
        raise BackendUnavailable(location=location,
                                 reason=f"option {name} must be an integer of at least {minimum}")
    return number
