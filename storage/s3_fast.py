"""The fast path of ``s3://`` locations: PUT of a small object, GET and HEAD of any object and
LIST (ListObjectsV2), each one HTTP/1.1 request on a pooled keep-alive connection, signed by
:mod:`storage.s3_sign`.

Why (measured, docs/benchmarks.md): botocore spends about 1.4 ms of CPU per request under the
GIL, and every object khoso stores costs two requests (the PUT, then the GET whose bytes we
hash ourselves: issue 4, "every write verified by reading back"). Here a PUT or a GET costs
about 0.15 ms, and a command that only needs these requests never imports boto3 nor builds
its client (about 0.25 s of start-up). Everything else stays with boto3 in ``storage/s3.py``:
multipart uploads, DELETE, object lock, bucket settings; and so do ``https`` endpoints and
endpoints behind a proxy (their TLS and proxy settings are botocore's to honour).

Errors are raised as botocore's own exception classes (``ClientError`` carrying the server's
code and message, ``EndpointConnectionError``, ``ConnectionClosedError``, ``ReadTimeoutError``,
``IncompleteReadError``), so ``S3Backend._error`` translates both paths in one place.
Retries follow botocore's "standard" mode, bounded by the location's ``max_attempts``:
connection failures, 500/502/503/504, 429 and throttling codes (``SlowDown``), with jittered
exponential backoff (base 1 s when throttled, 50 ms otherwise, at most 20 s). A request on a
pooled connection that the server had already closed is sent again at once on a new one.
A GET is retried only until its body starts to stream. A listing answered 200 with an S3
``<Error>`` document is that error, retried as the 500 botocore makes of it. A response whose
Content-Length values disagree, or are not a number, is a broken response
(``ConnectionClosedError``) and its connection is closed.
"""

from __future__ import annotations

import contextlib
import functools
import html
import os
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.client import responses
from typing import BinaryIO, TypeVar
from urllib.parse import quote, unquote_plus, urlsplit
from xml.etree import ElementTree

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    HTTPClientError,
    IncompleteReadError,
    PaginationError,
    ReadTimeoutError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from storage.s3_sign import EMPTY_SHA256, SigV4Signer, canonical_query

FAST_PUT_MAX = 8 << 20  # larger single PUTs go through boto3 (Expect: 100-continue)
_LINE_MAX = 64 << 10  # a status or header line longer than this is not an S3 server's
_HEADERS_MAX = 200
_ERROR_BODY_MAX = 64 << 10
_LIST_BODY_MAX = 64 << 20  # one page of at most 1,000 keys is far smaller
_IDLE_MAX = 32
_TRANSIENT_STATUS = {500, 502, 503, 504}
_TRANSIENT_CODES = {"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"}
_THROTTLED_CODES = {"Throttling", "ThrottlingException", "ThrottledException",
                    "RequestThrottledException", "TooManyRequestsException",
                    "RequestLimitExceeded", "BandwidthLimitExceeded", "RequestThrottled",
                    "SlowDown", "PriorRequestNotComplete", "LimitExceededException"}
_TRANSIENT_ERRORS = (BotoConnectionError, HTTPClientError)  # botocore's transient classes
_T = TypeVar("_T")


class _Stale(Exception):
    """A pooled connection the server had closed before our request reached it."""


class FastS3:
    """Single-request S3 operations on one bucket of an ``http://`` endpoint."""

    def __init__(self, endpoint: str, bucket: str, signer: SigV4Signer, *, attempts: int,
                 connect_timeout: float = 10, read_timeout: float = 60) -> None:
        parts = urlsplit(endpoint)
        if parts.scheme != "http" or not parts.hostname or parts.path not in ("", "/"):
            raise ValueError(f"the fast path needs an http://host[:port] endpoint: {endpoint}")
        port = parts.port or 80
        # SigV4 signs the Host header as botocore sends it: no port when it is the default,
        # an IPv6 address in brackets.
        name = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        self._host = name if port == 80 else f"{name}:{port}"
        self._endpoint = f"http://{self._host}"
        self._bucket = quote(bucket, safe="~")
        self._signer = signer
        self._attempts = attempts
        self._pool = _Pool(parts.hostname, port, self._endpoint, connect_timeout, read_timeout)
        # Tests look at each request as sent (method, path, headers); never set in production.
        self.on_request: Callable[[str, str, dict[str, str]], None] | None = None

    def put(self, key: str, body: bytes, sha256_hex: str, md5_b64: str) -> None:
        """One PUT; ``sha256_hex`` (our digest of ``body``) is the signed payload hash and
        Content-MD5 lets the server refuse a body damaged in transit."""
        response = self._send("PUT", key, {"content-md5": md5_b64}, body, sha256_hex,
                              "PutObject")
        response.read()  # S3 answers a PUT with an empty body; read it to reuse the socket

    def get(self, key: str) -> _Body:
        """The object's bytes, streamed on demand (``read(n)`` until ``b""``)."""
        return self._send("GET", key, {}, None, EMPTY_SHA256, "GetObject")

    def head(self, key: str) -> dict[str, str]:
        """The object's response headers (``content-length`` is its size)."""
        return self._send("HEAD", key, {}, None, EMPTY_SHA256, "HeadObject").headers

    def list(self, prefix: str) -> Iterator[tuple[str, int, str | None]]:
        """(key, size, LastModified as sent) of every object whose key starts with ``prefix``:
        ListObjectsV2 page by page, as botocore's paginator asks (``encoding-type=url``, keys
        decoded only when the server says it encoded them)."""
        token: str | None = None
        while True:
            params = {"list-type": "2", "prefix": prefix, "encoding-type": "url"}
            if token is not None:
                params["continuation-token"] = token
            page = self._request("GET", f"/{self._bucket}", canonical_query(params), {},
                                 None, EMPTY_SHA256, "ListObjectsV2", _read_page)
            yield from page.objects
            if not page.truncated:
                return
            if not page.next_token or page.next_token == token:
                # botocore's paginator refuses the same (or no) token twice: no endless loop
                raise PaginationError(message=f"the server sent continuation token "
                                              f"{page.next_token!r} twice or none")
            token = page.next_token

    def _send(self, method: str, key: str, extra: dict[str, str], body: bytes | None,
              payload_sha256: str, operation: str) -> _Body:
        return self._request(method, _object_path(self._bucket, key), "", extra, body,
                             payload_sha256, operation, _as_is)

    def _request(self, method: str, path: str, query: str, extra: dict[str, str],
                 body: bytes | None, payload_sha256: str, operation: str,
                 take: Callable[[_Body], _T]) -> _T:
        """``take`` of the first successful answer; a ``ClientError`` it raises (an error
        the server sent with a 2xx status) is retried as any other error answer."""
        target = f"{path}?{query}" if query else path
        url = self._endpoint + target
        attempt = 0
        while True:
            attempt += 1
            headers = {"host": self._host, "accept-encoding": "identity", **extra}
            self._signer.sign(method, path, headers, payload_sha256, query=query)
            if self.on_request is not None:
                self.on_request(method, target, dict(headers))
            try:
                response = self._pool.exchange(_head(method, target, headers, body), body,
                                               url, method == "HEAD")
            except _TRANSIENT_ERRORS:
                if attempt >= self._attempts:
                    raise
                _pause(attempt, throttled=False)
                continue
            if response.status < 300:
                try:
                    return take(response)
                except ClientError as exc:
                    error = exc
            else:
                error = response.client_error(operation)
            code = error.response["Error"]["Code"]
            status = error.response["ResponseMetadata"]["HTTPStatusCode"]
            throttled = code in _THROTTLED_CODES or status == 429
            if attempt < self._attempts and (throttled or code in _TRANSIENT_CODES
                                             or status in _TRANSIENT_STATUS):
                _pause(attempt, throttled)
                continue
            raise error


def _as_is(response: _Body) -> _Body:
    return response


@functools.lru_cache(maxsize=1024)
def _object_path(bucket: str, key: str) -> str:
    """The request path of an object (percent-encoded once for its PUT and its GET)."""
    return f"/{bucket}/{quote(key, safe='/~')}"


def _pause(attempt: int, throttled: bool) -> None:
    """botocore standard mode: rand(0, 1) * min(base * 2 ** (attempt - 1), 20 s)."""
    base = 1.0 if throttled else 0.05
    time.sleep(random.random() * min(base * 2 ** (attempt - 1), 20.0))


def _head(method: str, path: str, headers: dict[str, str], body: bytes | None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1"]
    for name, value in headers.items():
        if "\r" in value or "\n" in value:  # no header injection, whatever a value holds
            raise ValueError(f"line break in the value of header {name}")
        lines.append(f"{name}: {value}")
    if body is not None:
        lines.append(f"content-length: {len(body)}")
    lines.append("user-agent: khoso")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


class _Pool:
    """Idle keep-alive connections to one endpoint, shared by threads, never across a fork."""

    def __init__(self, host: str, port: int, endpoint: str, connect_timeout: float,
                 read_timeout: float) -> None:
        self._address = (host, port)
        self._endpoint = endpoint
        self._timeouts = (connect_timeout, read_timeout)
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def exchange(self, head: bytes, body: bytes | None, url: str,
                 bodiless: bool = False) -> _Body:
        """Send one request; the response's status and headers, its body still to read
        (``bodiless``: the answer to a HEAD, which announces a length but sends nothing)."""
        conn = self._take()
        try:
            return conn.exchange(head, body, url, self, bodiless)
        except _Stale:
            self._drop_idle()  # the server restarted or timed them out: all are stale
        return self._connect().exchange(head, body, url, self, bodiless)

    def give(self, conn: _Connection) -> None:
        with self._lock:
            if os.getpid() == self._pid and len(self._idle) < _IDLE_MAX:
                self._idle.append(conn)
                return
        conn.close()

    def _take(self) -> _Connection:
        with self._lock:
            if os.getpid() != self._pid:
                # A forked child must not talk on its parent's sockets: answers would cross.
                self._idle, self._pid = [], os.getpid()
            if self._idle:
                return self._idle.pop()
        return self._connect()

    def _drop_idle(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _connect(self) -> _Connection:
        connect_timeout, read_timeout = self._timeouts
        try:
            sock = socket.create_connection(self._address, timeout=connect_timeout)
        except OSError as exc:
            raise EndpointConnectionError(endpoint_url=self._endpoint, error=exc) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(read_timeout)
        return _Connection(sock, fresh=True)


class _Connection:
    def __init__(self, sock: socket.socket, fresh: bool) -> None:
        self.sock = sock
        self.rfile: BinaryIO = sock.makefile("rb")  # type: ignore[assignment]
        self.fresh = fresh

    def exchange(self, head: bytes, body: bytes | None, url: str, pool: _Pool,
                 bodiless: bool = False) -> _Body:
        reused, self.fresh = not self.fresh, False
        unsent: OSError | None = None
        try:
            try:
                if body and len(body) > 64 << 10:
                    self.sock.sendall(head)
                    self.sock.sendall(body)
                else:
                    self.sock.sendall(head + body if body else head)
            except ConnectionError as exc:
                # The server may have answered (403, 400) and hung up before taking the whole
                # body: its answer, when it arrived, says more than the broken pipe does.
                unsent = exc
            status, version, headers = self._read_head()
        except TimeoutError as exc:
            self.close()
            raise ReadTimeoutError(endpoint_url=url, error=exc) from exc
        except (OSError, ValueError) as exc:
            self.close()
            if reused and isinstance(unsent or exc, (ConnectionError, _Eof)) \
                    and not getattr(exc, "partial", False):
                raise _Stale from exc
            raise ConnectionClosedError(endpoint_url=url, error=unsent or exc) from exc
        if unsent is not None:
            if status < 300:  # never a success for a body the server did not get whole
                self.close()
                raise ConnectionClosedError(endpoint_url=url, error=unsent) from unsent
            headers["connection"] = "close"  # read what the server said, then hang up
        return _Body(self, pool, status, version, headers, url, bodiless)

    def _read_head(self) -> tuple[int, str, dict[str, str]]:
        while True:
            line = self.rfile.readline(_LINE_MAX)
            if not line:
                raise _Eof("the server closed the connection")
            version, _, rest = line.decode("latin-1").rstrip("\r\n").partition(" ")
            if not version.startswith("HTTP/1.") or not rest[:3].isdigit():
                raise _Eof("not an HTTP/1.x status line", partial=True)
            status = int(rest[:3])
            headers: dict[str, str] = {}
            for _ in range(_HEADERS_MAX):
                raw = self.rfile.readline(_LINE_MAX)
                if raw in (b"\r\n", b"\n"):
                    break
                if not raw.endswith(b"\n"):
                    raise _Eof("the response headers were cut short", partial=True)
                name, sep, value = raw.decode("latin-1").partition(":")
                if not sep:
                    raise _Eof("a malformed response header", partial=True)
                name = name.strip().lower()
                value = value.strip()
                headers[name] = f"{headers[name]}, {value}" if name in headers else value
            else:
                raise _Eof("too many response headers", partial=True)
            if not 100 <= status < 200:  # interim answers (100 Continue) are skipped
                if "content-length" in headers:
                    headers["content-length"] = _content_length(headers["content-length"])
                return status, version, headers

    def close(self) -> None:
        for closing in (self.rfile.close, self.sock.close):
            with contextlib.suppress(OSError):
                closing()


def _content_length(value: str) -> str:
    """The one length a Content-Length field announces. A field repeated with the same number
    ("5, 5" once merged) is that number (RFC 9110 8.6, as http.client reads it); differing or
    non-numeric values leave the body's end unknown: a broken response, never read on."""
    values = {part.strip() for part in value.split(",")}
    length = values.pop() if len(values) == 1 else ""
    if not (length.isascii() and length.isdigit()):
        raise _Eof(f"an invalid Content-Length: {value!r}", partial=True)
    return length


class _Eof(ConnectionError):
    def __init__(self, message: str, partial: bool = False) -> None:
        super().__init__(message)
        self.partial = partial  # part of a response arrived: not a stale connection


class _Body:
    """A response body framed by Content-Length, chunked coding or the connection's end.

    Read to its end, the connection goes back to the pool; closed early, it is closed (it
    could hold the rest of this answer). Fewer bytes than announced raise
    ``IncompleteReadError``: a truncated object is an error, never a short file.
    """

    def __init__(self, conn: _Connection, pool: _Pool, status: int, version: str,
                 headers: dict[str, str], url: str, bodiless: bool = False) -> None:
        self._conn: _Connection | None = conn
        self._pool = pool
        self._url = url
        self.status = status
        self.headers = headers
        self._chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        self._left: int | None = None  # bytes left (Content-Length, or of the current chunk)
        self._read = 0
        self._expected: int | None = None
        if not self._chunked and "content-length" in headers:
            self._left = self._expected = int(headers["content-length"])  # checked on arrival
        if status in (204, 304) or bodiless:
            self._chunked = False
            self._left = self._expected = 0
        self._reusable = (version == "HTTP/1.1" and "close" not in headers.get("connection", "")
                          .lower() and (self._chunked or self._left is not None))
        self._done = False
        if self._left == 0 and not self._chunked:
            self._finish()

    def read(self, amt: int | None = None) -> bytes:
        if self._done or self._conn is None:
            return b""
        try:
            data = self._read_chunked(amt) if self._chunked else self._read_plain(amt)
        except TimeoutError as exc:
            self.close()
            raise ReadTimeoutError(endpoint_url=self._url, error=exc) from exc
        except (OSError, ValueError) as exc:
            self.close()
            raise ConnectionClosedError(endpoint_url=self._url, error=exc) from exc
        self._read += len(data)
        return data

    def _read_plain(self, amt: int | None) -> bytes:
        assert self._conn is not None
        if self._left is None:  # delimited by the end of the connection
            data = self._conn.rfile.read(amt) if amt is not None else self._conn.rfile.read()
            if not data or amt is None:
                self._finish()
            return data or b""
        want = self._left if amt is None else min(amt, self._left)
        data = self._conn.rfile.read(want) or b""
        self._left -= len(data)
        if len(data) < want:
            expected, got = self._expected, self._read + len(data)
            self.close()
            raise IncompleteReadError(actual_bytes=got, expected_bytes=expected)
        if self._left == 0:
            self._finish()
        return data

    def _read_chunked(self, amt: int | None) -> bytes:
        assert self._conn is not None
        rfile = self._conn.rfile
        out = bytearray()
        while amt is None or len(out) < amt:
            if not self._left:
                line = rfile.readline(_LINE_MAX)
                if not line.endswith(b"\n"):
                    raise ValueError("a chunk header was cut short")
                size = int(line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while rfile.readline(_LINE_MAX) not in (b"\r\n", b"\n", b""):
                        pass  # trailers: none of them matters to us
                    self._finish()
                    break
                self._left = size
            want = self._left if amt is None else min(amt - len(out), self._left)
            data = rfile.read(want) or b""
            if len(data) < want:
                raise ValueError("the connection ended inside a chunk")
            out += data
            self._left -= len(data)
            if self._left == 0 and rfile.readline(_LINE_MAX) not in (b"\r\n", b"\n"):
                raise ValueError("a chunk did not end with CRLF")
        return bytes(out)

    def _finish(self) -> None:
        self._done = True
        conn, self._conn = self._conn, None
        if conn is not None:
            if self._reusable:
                self._pool.give(conn)
            else:
                conn.close()

    def close(self) -> None:
        if not self._done:
            self._done = True
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.close()

    def client_error(self, operation: str) -> ClientError:
        """The server's error answer as botocore raises it."""
        try:
            body = self.read(_ERROR_BODY_MAX)
        except (IncompleteReadError, HTTPClientError):
            body = b""
        self.close()  # anything past the first 64 KiB is not worth the socket
        return _client_error(body, self.status, self.headers, operation)


def _client_error(body: bytes, status: int, headers: dict[str, str],
                  operation: str) -> ClientError:
    """Code and message from the XML body (``<Error><Code>…``), else the HTTP status, as
    botocore's parser does."""
    text = body.decode("utf-8", "replace")
    code, message = _xml_text(text, "Code"), _xml_text(text, "Message")
    if not code:  # no S3 error document: botocore names the status instead
        code, message = str(status), responses.get(status, "")
    return ClientError({"Error": {"Code": code, "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": status,
                                             "HTTPHeaders": dict(headers)}},
                       operation)


def _read_page(response: _Body) -> _ListPage:
    """One ListObjectsV2 answer, read whole. A 200 whose body is an S3 ``<Error>`` document
    is that error: botocore turns it into a 500 (so it is retried) before parsing."""
    try:
        body = response.read(_LIST_BODY_MAX + 1)
    finally:
        response.close()  # a page too large to read leaves the rest unread: hang up
    if len(body) > _LIST_BODY_MAX:
        raise ValueError("a listing page larger than 64 MiB")
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise ValueError(f"a listing that is not XML: {exc}") from exc
    if _local(root.tag) == "Error":
        raise _client_error(body, 500, response.headers, "ListObjectsV2")
    if _local(root.tag) != "ListBucketResult":
        raise ValueError(f"a listing whose XML is <{_local(root.tag)}>, not <ListBucketResult>")
    return _ListPage(root)


class _ListPage:
    """One ListObjectsV2 answer, read as botocore's parser and its S3 handlers read it."""

    def __init__(self, root: ElementTree.Element) -> None:
        fields = {_local(child.tag): child for child in root}
        encoded = _text(fields.get("EncodingType")) == "url"
        self.truncated = _text(fields.get("IsTruncated")).lower() == "true"
        self.next_token: str | None = _text(fields.get("NextContinuationToken")) or None
        self.objects: list[tuple[str, int, str | None]] = []
        for item in root:
            if _local(item.tag) != "Contents":
                continue
            parts = {_local(child.tag): _text(child) for child in item}
            key = parts.get("Key", "")
            self.objects.append((unquote_plus(key) if encoded else key,
                                 int(parts.get("Size") or 0), parts.get("LastModified")))


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]  # without the S3 namespace


def _text(element: ElementTree.Element | None) -> str:
    return (element.text or "") if element is not None else ""


def _xml_text(text: str, tag: str) -> str:
    found = re.search(rf"<{tag}>(.*?)</{tag}>", text, re.DOTALL)
    return html.unescape(found.group(1)).strip() if found else ""
