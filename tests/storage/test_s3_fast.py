"""The fast path of s3:// locations (storage/s3_fast.py): when it is used, when it is not, and
that it fails the way boto3 does.

The contract suite already runs on both transports (``store`` = ``s3`` and ``s3-boto3``).
Here: the choice itself, a body damaged in transit, a server restarted under pooled
connections, many threads at once, and, against a small stand-in HTTP server, what rclone
cannot be made to do on demand (answer 503 SlowDown, cut a body short, send a chunked body).
The stand-in checks no signature; it replaces only the server, never boto3 or our code.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import io
import json
import os
import subprocess
import sys
import threading
import unicodedata
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import storage.s3 as s3_module
import storage.s3_fast as s3_fast
from repository.errors import BackendUnavailable, KhosoError
from storage.errors import ObjectMissing, StorageError
from storage.replicate import UNREADABLE, StoredObject, check_object
from storage.s3 import S3Backend

from .conftest import AKID, SECRET, admin_client, free_port, serve_rclone

if TYPE_CHECKING:  # conftest is pytest's to import; only its types are needed here
    from tests.storage.conftest import Store

pytestmark = pytest.mark.s3
both = pytest.mark.parametrize("store", ["s3", "s3-boto3"], indirect=True)
CREDENTIALS = {"aws_access_key_id": AKID, "aws_secret_access_key": SECRET}


def boto3_operations(backend: Any) -> list[str]:
    """Every operation boto3 is asked to make from now on, by name."""
    seen: list[str] = []
    backend._client.meta.events.register(
        "before-call.s3", lambda model, **_: seen.append(model.name))
    return seen


@both
def test_small_puts_and_gets_take_the_path_the_location_chose(
        store: Store, request: pytest.FixtureRequest) -> None:
    backend: Any = store.backend
    fast = request.node.callspec.params["store"] == "s3"
    assert (backend._fast is not None) == fast
    through_boto3 = boto3_operations(backend)
    on_the_wire: list[str] = []
    if backend._fast is not None:
        backend._fast.on_request = lambda method, path, headers: on_the_wire.append(method)
    data = b"Quyet dinh so 1" * 100
    backend.put("aip-1/data/Quyết định.txt", io.BytesIO(data), absent=True)
    with backend.open("aip-1/data/Quyết định.txt") as stream:
        assert stream.read() == data
    assert store.raw_path("aip-1/data/Quyết định.txt").read_bytes() == data
    if fast:
        assert on_the_wire == ["PUT", "GET"] and through_boto3 == []
    else:
        assert through_boto3 == ["PutObject", "GetObject"]


@pytest.mark.parametrize(("url", "options", "env"), [
    ("s3://b/p?endpoint_url=http://127.0.0.1:9", {"fast_path": "false"}, {}),
    ("s3://b/p?endpoint_url=https://127.0.0.1:9", {}, {}),  # TLS: botocore's to verify
    ("s3://b/p", {}, {}),  # AWS itself: botocore resolves the endpoint
    ("s3://b/p?endpoint_url=http://127.0.0.1:9/base", {}, {}),
    ("s3://b/p?endpoint_url=http://127.0.0.1:9", {"object_lock_days": 1}, {}),
    ("s3://b/p?endpoint_url=http://127.0.0.1:9", {}, {"HTTP_PROXY": "http://proxy:3128"}),
])
def test_the_fast_path_is_not_taken_where_it_could_differ_from_boto3(
        monkeypatch: pytest.MonkeyPatch, url: str, options: dict, env: dict) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert S3Backend("plain", url, {**CREDENTIALS, **options})._fast is None


def test_the_fast_path_is_taken_on_plain_http_unless_a_proxy_applies(
        monkeypatch: pytest.MonkeyPatch) -> None:
    url = "s3://b/p?endpoint_url=http://127.0.0.1:9"
    assert S3Backend("fast", url, CREDENTIALS)._fast is not None
    monkeypatch.setenv("HTTP_PROXY", "http://proxy:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    assert S3Backend("fast", url, CREDENTIALS)._fast is not None


@both
def test_a_body_damaged_in_transit_is_refused_and_nothing_is_stored(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    # Content-MD5 of other bytes stands for a body changed on the way: rclone checks it.
    monkeypatch.setattr(s3_module, "_md5", lambda data: base64.b64encode(
        hashlib.md5(b"other bytes").digest()).decode())
    with pytest.raises(StorageError) as caught:
        store.backend.put("aip-1/data/a.txt", io.BytesIO(b"the real bytes"), absent=True)
    assert "aip-1/data/a.txt" in str(caught.value) and "BadDigest" in str(caught.value)
    assert store.backend.stat("aip-1/data/a.txt") is None


@both
def test_wrong_credentials_are_refused_by_name_without_the_secret(store: Store) -> None:
    broken = store.broken()
    big = b"\x00" * (4 << 20)  # one PUT the server refuses before it has read the body
    for operation in (lambda: broken.open("aip-1/a.txt"),
                      lambda: broken.put("aip-1/a.txt", io.BytesIO(b"x"), replace=True),
                      lambda: broken.put("aip-1/a.txt", io.BytesIO(big), replace=True)):
        with pytest.raises(BackendUnavailable) as caught:
            operation()
        assert "access refused (SignatureDoesNotMatch)" in str(caught.value)
        assert not any(secret in str(caught.value) for secret in store.secrets)
    assert store.backend.stat("aip-1/a.txt") is None


@both
def test_no_credentials_anywhere_is_backend_unavailable(store: Store) -> None:
    url = f"s3://{store.bucket}/p?endpoint_url={store.backend._endpoint}"  # type: ignore
    fast = "true" if store.backend._fast is not None else "false"  # type: ignore
    backend = S3Backend("nocreds", url, {"fast_path": fast})
    for operation in (lambda: backend.open("a.txt"),
                      lambda: backend.put("a.txt", io.BytesIO(b"x"), absent=True)):
        with pytest.raises(BackendUnavailable, match="no AWS credentials"):
            operation()


def test_a_restarted_server_does_not_fail_the_next_request(tmp_path: Path) -> None:
    """Pooled keep-alive connections die with the server; with one attempt allowed, the
    next request still succeeds (it is sent again at once on a new connection)."""
    root, port = tmp_path / "root", free_port()
    (root / "bucket").mkdir(parents=True)
    server = serve_rclone(root, port, tmp_path / "rclone.log")
    try:
        backend = S3Backend("restart", f"s3://bucket/p?endpoint_url=http://127.0.0.1:{port}",
                            {**CREDENTIALS, "max_attempts": 1})
        assert backend._fast is not None
        backend.put("a.txt", io.BytesIO(b"before"), absent=True)
        assert backend.open("a.txt").read() == b"before"
        server.kill()
        server.wait()
        server = serve_rclone(root, port, tmp_path / "rclone.log")
        backend.put("b.txt", io.BytesIO(b"after"), absent=True)
        assert backend.open("a.txt").read() == b"before"
        assert (root / "bucket" / "p" / "b.txt").read_bytes() == b"after"
    finally:
        server.kill()
        server.wait()


@both
def test_many_threads_each_get_their_own_answers(store: Store) -> None:
    """Shared pooled connections never cross answers between threads."""

    def one(n: int) -> None:
        data = f"object {n} ".encode() * (n + 1)
        key = f"aip-1/data/{n:03d}.txt"
        store.backend.put(key, io.BytesIO(data), absent=True)
        digest = hashlib.sha256(data).hexdigest()
        assert check_object(store.backend, StoredObject(key, digest, len(data))) == "ok"

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(one, range(200)))
    assert len(list(store.backend.list("aip-1/"))) == 200


# -- against a stand-in server (what rclone cannot be made to do) -----------------------------

Answer = Callable[[http.server.BaseHTTPRequestHandler], None]


@pytest.fixture
def stand_in() -> Iterator[tuple[str, list[Answer], list[str]]]:
    """An HTTP/1.1 server answering each request with the next scripted answer; the list of
    request lines it saw, and on which connection (``port`` of the client)."""
    answers: list[Answer] = []
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _any(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            self.rfile.read(length)
            seen.append(f"{self.command} {self.path} from {self.client_address[1]}")
            answers.pop(0)(self)

        do_GET = do_PUT = do_HEAD = _any

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", answers, seen
    finally:
        server.shutdown()
        server.server_close()


def reply(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Answer:
    def answer(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        for name, value in (headers or {"Content-Length": str(len(body))}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)
    return answer


def s3_error(status: int, code: str) -> Answer:
    return reply(status, f"<?xml version='1.0'?><Error><Code>{code}</Code><Message>try "
                         f"again &amp; later</Message></Error>".encode())


def backend_on(endpoint: str, attempts: int = 5) -> S3Backend:
    backend = S3Backend("stand-in", f"s3://bucket/p?endpoint_url={endpoint}",
                        {**CREDENTIALS, "max_attempts": attempts})
    assert backend._fast is not None
    return backend


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Backoff pauses, recorded instead of slept (the clock is the only thing replaced)."""
    slept: list[float] = []
    monkeypatch.setattr(s3_fast.time, "sleep", slept.append)
    return slept


def test_slow_down_is_retried_with_throttling_backoff(stand_in: Any, pauses: list) -> None:
    endpoint, answers, seen = stand_in
    answers += [s3_error(503, "SlowDown"), s3_error(503, "SlowDown"), reply(200)]
    backend_on(endpoint).put("a.txt", io.BytesIO(b"bytes"), absent=True)
    assert [line.split()[0] for line in seen] == ["PUT", "PUT", "PUT"]
    assert len(pauses) == 2 and 0 <= pauses[0] <= 1 and 0 <= pauses[1] <= 2


def test_retries_are_bounded_and_the_last_error_is_named(stand_in: Any, pauses: list) -> None:
    endpoint, answers, seen = stand_in
    answers += [s3_error(503, "SlowDown")] * 3
    with pytest.raises(StorageError) as caught:
        backend_on(endpoint, attempts=3).put("a.txt", io.BytesIO(b"bytes"), absent=True)
    assert len(seen) == 3 and len(pauses) == 2
    assert "a.txt: SlowDown try again & later" in str(caught.value)


def test_a_server_error_on_get_is_retried(stand_in: Any, pauses: list) -> None:
    endpoint, answers, _ = stand_in
    answers += [s3_error(500, "InternalError"), reply(200, b"the object")]
    assert backend_on(endpoint).open("a.txt").read() == b"the object"
    assert len(pauses) == 1 and pauses[0] <= 0.05


def test_a_missing_object_is_object_missing(stand_in: Any, pauses: list) -> None:
    endpoint, answers, seen = stand_in
    answers += [s3_error(404, "NoSuchKey"), reply(404)]
    with pytest.raises(ObjectMissing):
        backend_on(endpoint).open("a.txt")
    with pytest.raises(ObjectMissing):  # no error document at all: the status decides
        backend_on(endpoint).open("a.txt")
    assert len(seen) == 2 and pauses == []


def test_a_body_cut_short_is_an_error_not_a_short_file(stand_in: Any) -> None:
    endpoint, answers, _ = stand_in

    def cut(handler: http.server.BaseHTTPRequestHandler) -> None:
        reply(200, b"only ten b", {"Content-Length": "1000"})(handler)
        handler.close_connection = True

    answers += [cut, cut]
    backend = backend_on(endpoint)
    with backend.open("a.txt") as stream, pytest.raises(StorageError, match=r"a\.txt"):
        stream.read(1 << 20)
    obj = StoredObject("a.txt", hashlib.sha256(b"only ten b").hexdigest(), 10)
    assert check_object(backend, obj) == UNREADABLE


def test_a_chunked_body_arrives_whole_and_the_connection_is_reused(stand_in: Any) -> None:
    endpoint, answers, seen = stand_in
    data = bytes(range(256)) * 300

    def chunked(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        for start in range(0, len(data), 7000):
            piece = data[start:start + 7000]
            handler.wfile.write(b"%x;ext=1\r\n%s\r\n" % (len(piece), piece))
        handler.wfile.write(b"0\r\nX-Trailer: ignored\r\n\r\n")

    answers += [chunked, chunked]
    backend = backend_on(endpoint)
    for _ in range(2):
        with backend.open("a.txt") as stream:
            assert stream.read() == data
    assert len({line.rsplit(" ", 1)[1] for line in seen}) == 1  # one connection for both


def test_no_transport_error_escapes_a_server_that_hangs_up(stand_in: Any, pauses: list) -> None:
    endpoint, answers, _ = stand_in

    def hang_up(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.close_connection = True

    answers += [hang_up] * 4
    backend = backend_on(endpoint, attempts=2)
    for operation in (lambda: backend.open("a.txt"),
                      lambda: backend.put("a.txt", io.BytesIO(b"x"), absent=True)):
        with pytest.raises(KhosoError) as caught:
            operation()
        assert isinstance(caught.value, StorageError)
        assert "ConnectionClosedError" in str(caught.value)
    assert len(pauses) == 2


def test_a_closed_port_is_backend_unavailable(pauses: list) -> None:
    backend = backend_on(f"http://127.0.0.1:{free_port()}", attempts=3)
    with pytest.raises(BackendUnavailable, match=r"cannot reach http://127\.0\.0\.1"):
        backend.open("a.txt")
    assert len(pauses) == 2


def test_objects_written_on_one_path_read_the_same_on_the_other(rclone_s3: Any,
                                                                s3_bucket: str) -> None:
    url = f"s3://{s3_bucket}/p?endpoint_url={rclone_s3.endpoint}"
    fast = S3Backend("fast", url, CREDENTIALS)
    slow = S3Backend("slow", url, {**CREDENTIALS, "fast_path": "false"})
    data = {f"data/{n}/Tệp {n}.bin": bytes([n]) * (n * 997) for n in range(1, 6)}
    for n, (key, body) in enumerate(data.items()):
        (fast if n % 2 else slow).put(key, io.BytesIO(body), absent=True)
    for key, body in data.items():
        assert fast.open(key).read() == slow.open(key).read() == body
    admin = admin_client(rclone_s3.endpoint)
    assert len(admin.list_objects_v2(Bucket=s3_bucket)["Contents"]) == len(data)


# -- listing, HEAD, and opening without boto3 -------------------------------------------------

HOSTILE_KEYS = ["data/Tài liệu/Quyết định số 1.pdf",
                "data/" + unicodedata.normalize("NFD", "Tài liệu") + "/a b.txt",
                "data/a+b=c&d;e.txt", "data/100%/~h/x", "data/[1] (2)'3'!*@$,.txt",
                "tagmanifest-sha256.txt"]


def test_listing_and_stat_on_the_fast_path_agree_with_boto3(rclone_s3: Any,
                                                             s3_bucket: str) -> None:
    url = f"s3://{s3_bucket}/p?endpoint_url={rclone_s3.endpoint}"
    fast = S3Backend("fast", url, CREDENTIALS)
    slow = S3Backend("slow", url, {**CREDENTIALS, "fast_path": "false"})
    on_the_wire: list[str] = []
    assert fast._fast is not None
    fast._fast.on_request = lambda method, path, headers: on_the_wire.append(method)
    for n, key in enumerate(HOSTILE_KEYS):
        fast.put(f"aip-1/{key}", io.BytesIO(b"x" * (n + 1)))  # not absent: HEAD, then PUT
    fast.put("aip-10/other.txt", io.BytesIO(b"elsewhere"), absent=True)
    for prefix in ("aip-1/", "aip-1/data/Tài", "aip-1/data/a+b", "aip-1/data/100%", "aip-", ""):
        listed_fast = sorted(fast.list(prefix), key=lambda o: o.key)
        listed_slow = sorted(slow.list(prefix), key=lambda o: o.key)
        assert [(o.key, o.size) for o in listed_fast] == [(o.key, o.size) for o in listed_slow]
        assert listed_fast
        for a, b in zip(listed_fast, listed_slow, strict=True):
            assert a.modified == b.modified and a.modified is not None
    assert {o.key for o in fast.list("aip-1/")} == {f"aip-1/{k}" for k in HOSTILE_KEYS}
    for n, key in enumerate(HOSTILE_KEYS):
        assert fast.stat(f"aip-1/{key}") == slow.stat(f"aip-1/{key}")
        assert fast.stat(f"aip-1/{key}").size == n + 1  # type: ignore[union-attr]
    assert fast.stat("aip-1/no such object") is None
    assert "HEAD" in on_the_wire and "GET" in on_the_wire
    assert fast._boto is None  # nothing needed boto3's client


def test_a_listing_is_read_page_by_page_and_its_keys_decoded(stand_in: Any) -> None:
    endpoint, answers, seen = stand_in

    def page(keys: list[str], token: str | None) -> Answer:
        items = "".join(f"<Contents><Key>{k}</Key><LastModified>2026-12-03T06:00:00.000Z"
                        f"</LastModified><Size>{n}</Size></Contents>" for n, k in enumerate(keys))
        more = (f"<IsTruncated>true</IsTruncated><NextContinuationToken>{token}"
                "</NextContinuationToken>") if token else "<IsTruncated>false</IsTruncated>"
        return reply(200, ('<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns='
                           '"http://s3.amazonaws.com/doc/2006-03-01/"><EncodingType>url'
                           f"</EncodingType>{more}{items}</ListBucketResult>").encode())

    answers += [page(["p/T%C3%A0i%20li%E1%BB%87u.pdf", "p/a+b"], "tok 1/+="),
                page(["p/%2B%25.txt"], None)]
    listed = list(backend_on(endpoint).list(""))
    assert [(o.key, o.size) for o in listed] == [("Tài liệu.pdf", 0), ("a b", 1),
                                                 ("+%.txt", 0)]
    assert listed[0].modified is not None and listed[0].modified.utcoffset() is not None
    assert [line.split()[1] for line in seen] == [
        "/bucket?encoding-type=url&list-type=2&prefix=p%2F",
        "/bucket?continuation-token=tok%201%2F%2B%3D&encoding-type=url&list-type=2&prefix=p%2F"]


def test_a_listing_that_repeats_its_token_fails_instead_of_looping(stand_in: Any) -> None:
    endpoint, answers, seen = stand_in
    again = reply(200, b"<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>"
                       b"same</NextContinuationToken></ListBucketResult>")
    answers += [again, again, again]
    with pytest.raises(StorageError, match="twice"):
        list(backend_on(endpoint).list("a/"))
    assert len(seen) == 2


def test_a_listing_that_is_not_xml_is_a_storage_error(stand_in: Any) -> None:
    endpoint, answers, _ = stand_in
    answers += [reply(200, b"<html>a proxy's page")]
    with pytest.raises(StorageError, match="not XML"):
        list(backend_on(endpoint).list("a/"))


def test_a_listing_answered_200_with_an_s3_error_is_that_error_never_an_empty_listing(
        stand_in: Any, pauses: list) -> None:
    """S3 may answer 200 with an ``<Error>`` document: botocore makes it a 500 and retries it.
    It is never read as "no objects" (replicate would then copy everything again); the last
    one fails by the server's code and message, and any other XML root is no listing."""
    endpoint, answers, seen = stand_in
    error = s3_error(200, "InternalError")
    good = reply(200, b"<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>p/a"
                      b"</Key><Size>3</Size></Contents></ListBucketResult>")
    answers += [error, good, error, error, reply(200, b"<Other><Contents><Key>p/a</Key>"
                                                      b"</Contents></Other>")]
    backend = backend_on(endpoint, attempts=2)
    assert [(o.key, o.size) for o in backend.list("")] == [("a", 3)]
    assert len(seen) == 2 and len(pauses) == 1 and pauses[0] <= 0.05
    with pytest.raises(StorageError, match="InternalError try again & later"):
        list(backend.list(""))
    assert len(seen) == 4 and len(pauses) == 2
    with pytest.raises(StorageError, match="<Other>, not <ListBucketResult>"):
        list(backend.list(""))
    assert len(seen) == 5 and len(pauses) == 2


def test_stat_on_the_fast_path_answers_as_head_does(stand_in: Any, pauses: list) -> None:
    endpoint, answers, seen = stand_in
    answers += [reply(200, headers={"Content-Length": "1234"}), reply(404), reply(403),
                reply(200, headers={"Content-Length": "7"})]
    backend = backend_on(endpoint)
    assert backend.stat("a.txt").size == 1234  # type: ignore[union-attr]
    assert backend.stat("a.txt") is None
    with pytest.raises(BackendUnavailable, match="access refused"):
        backend.stat("a.txt")
    assert backend.stat("b.txt").size == 7  # type: ignore[union-attr]
    # Four HEADs, their answers bodiless, all on one kept-alive connection but the refused one.
    assert [line.split()[0] for line in seen] == ["HEAD"] * 4 and pauses == []


def test_a_repeated_content_length_is_one_length_and_conflicting_ones_are_refused(
        stand_in: Any, pauses: list) -> None:
    """Content-Length sent twice with the same number frames the body by that number (as
    http.client reads it), for HEAD and GET alike, and the connection is kept. Two different
    numbers, or no number, say nothing about where the body ends: a broken response, its
    connection closed, never a body read until the server hangs up or the read times out."""
    endpoint, answers, seen = stand_in

    def lengths(*values: str, body: bytes = b"") -> Answer:
        def answer(handler: http.server.BaseHTTPRequestHandler) -> None:
            handler.send_response(200)
            for value in values:  # one header line each
                handler.send_header("Content-Length", value)
            handler.end_headers()
            handler.wfile.write(body)
        return answer

    answers += [lengths("5", "5"), lengths("5", "5", body=b"hello"),
                lengths("5", "6", body=b"hello"), lengths("five", body=b"hello"),
                lengths("5", body=b"after")]
    backend = backend_on(endpoint, attempts=1)
    assert backend.stat("a.txt").size == 5  # type: ignore[union-attr]
    with backend.open("a.txt") as stream:
        assert stream.read() == b"hello"
    for _ in range(2):
        with pytest.raises(StorageError, match="ConnectionClosedError"):
            backend.open("a.txt")
    assert backend.open("a.txt").read() == b"after"
    connections = [line.rsplit(" ", 1)[1] for line in seen]
    assert connections[0] == connections[1] == connections[2]  # kept while the lengths agree
    assert len(set(connections[2:])) == 3 and pauses == []  # each broken answer hung up


def test_a_fast_location_is_used_without_ever_importing_boto3(rclone_s3: Any,
                                                              s3_bucket: str) -> None:
    """What replicate and audit ask of a location (put, read back, stat, list) costs no
    boto3 import nor client: about 0.25 s of every command's start-up (docs/benchmarks.md)."""
    script = f"""if True:
        import io, json, sys
        from storage.s3 import S3Backend
        b = S3Backend("s3", "s3://{s3_bucket}/p?endpoint_url={rclone_s3.endpoint}",
                      {{"aws_access_key_id": "{AKID}", "aws_secret_access_key": "{SECRET}"}})
        b.put("aip/Tài liệu.txt", io.BytesIO(b"bytes"))
        print(json.dumps({{"read": b.open("aip/Tài liệu.txt").read().decode(),
                          "listed": [o.key for o in b.list("aip/")],
                          "size": b.stat("aip/Tài liệu.txt").size,
                          "missing": b.stat("aip/nothing") is None,
                          "loaded": sorted(m for m in ("boto3", "urllib3", "s3transfer")
                                           if m in sys.modules)}}))
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={**env, "AWS_CONFIG_FILE": os.devnull}, check=True,
                          cwd=Path(__file__).resolve().parents[2])
    assert json.loads(done.stdout) == {"read": "bytes", "listed": ["aip/Tài liệu.txt"],
                                       "size": 5, "missing": True, "loaded": []}


def _boto3_answer(url: str, options: dict) -> tuple[Any, str]:
    """Credentials and region as boto3 itself resolves them for this location."""
    import boto3

    session = boto3.session.Session(
        aws_access_key_id=options.get("aws_access_key_id"),
        aws_secret_access_key=options.get("aws_secret_access_key"),
        aws_session_token=options.get("aws_session_token"),
        profile_name=options.get("profile"), region_name=options.get("region"))
    client = session.client("s3", endpoint_url=url.partition("endpoint_url=")[2],
                            region_name=session.region_name or "us-east-1")
    return session.get_credentials().get_frozen_credentials(), client.meta.region_name


@pytest.mark.parametrize(("options", "env", "settled"), [
    (CREDENTIALS, {}, True),
    ({**CREDENTIALS, "region": "ap-southeast-1"}, {"AWS_DEFAULT_REGION": "eu-west-1"}, True),
    ({**CREDENTIALS, "region": ""}, {"AWS_DEFAULT_REGION": "eu-west-1"}, True),
    (CREDENTIALS, {"AWS_DEFAULT_REGION": "eu-west-1"}, True),
    ({**CREDENTIALS, "aws_session_token": "tok"}, {"AWS_SESSION_TOKEN": "other"}, True),
    ({}, {"AWS_ACCESS_KEY_ID": AKID, "AWS_SECRET_ACCESS_KEY": SECRET,
          "AWS_SESSION_TOKEN": "tok"}, True),
    ({"aws_access_key_id": AKID}, {"AWS_SECRET_ACCESS_KEY": SECRET}, False),  # partial
    (CREDENTIALS, {"AWS_DEFAULTS_MODE": "standard"}, False),  # any other AWS_* variable
    (CREDENTIALS, {"config": "[default]\nregion = eu-west-3\n"}, False),
    (CREDENTIALS, {"credentials": "[default]\nregion = eu-west-3\n"}, False),
])
def test_a_location_is_opened_without_boto3_only_where_boto3_would_agree(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: dict, env: dict,
        settled: bool) -> None:
    for name, value in env.items():
        if name in ("config", "credentials"):
            (tmp_path / name).write_text(value)
            value, name = str(tmp_path / name), ("AWS_CONFIG_FILE" if name == "config"
                                                 else "AWS_SHARED_CREDENTIALS_FILE")
        monkeypatch.setenv(name, value)
    url = "s3://b/p?endpoint_url=http://127.0.0.1:9"
    backend = S3Backend("loc", url, options)
    assert (backend._boto is None) == settled
    assert backend._fast is not None
    credentials, region = _boto3_answer(url, options)
    ours = backend._frozen_credentials()
    assert (ours.access_key, ours.secret_key, ours.token or None) == (
        credentials.access_key, credentials.secret_key, credentials.token or None)
    assert backend._fast._signer._region == region


@pytest.mark.parametrize(("options", "env"), [
    ({**CREDENTIALS, "region": "not a region!"}, {}),
    (CREDENTIALS, {"AWS_PROFILE": "khoso-no-such-profile"}),
    ({**CREDENTIALS, "profile": "khoso-no-such-profile"}, {}),
])
def test_what_botocore_refuses_is_still_refused_when_the_location_is_opened(
        monkeypatch: pytest.MonkeyPatch, options: dict, env: dict) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(BackendUnavailable):
        S3Backend("loc", "s3://b/p?endpoint_url=http://127.0.0.1:9", options)


def test_a_head_without_a_length_is_a_storage_error_not_a_crash(stand_in: Any) -> None:
    """``stat`` (asked before every put that did not list first) needs the size: an answer
    without a Content-Length is the location's fault, reported as such, never a KeyError
    that ends a replicate's worker."""
    endpoint, answers, _ = stand_in
    answers.append(reply(200, headers={"Transfer-Encoding": "chunked"}))
    with pytest.raises(StorageError, match="no usable Content-Length"):
        backend_on(endpoint).stat("a.txt")
