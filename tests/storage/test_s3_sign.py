"""The fast path's SigV4 signer (storage/s3_sign.py) against botocore's own ``S3SigV4Auth``:
for the same request at the same second, the same Authorization header, byte for byte.

Keys are hostile (Vietnamese NFC and NFD, spaces, reserved URL characters, any code point a
valid key may hold), as the path is signed exactly as it is sent. Property tests are
derandomised and bounded (STYLE.md 15). A live server checks the signatures too: the contract
suite runs on the fast path against rclone, which verifies SigV4 and refuses a wrong one.
"""

from __future__ import annotations

import hashlib
import unicodedata
from datetime import UTC, datetime
from urllib.parse import quote

import botocore.auth
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.s3_sign import EMPTY_SHA256, SigV4Signer, canonical_query

CI = settings(derandomize=True, max_examples=300, database=None, deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
HOST = "127.0.0.1:9100"
BUCKET = "khoso-kho"

components = st.one_of(
    st.sampled_from(["Tài liệu", unicodedata.normalize("NFD", "Quyết định số 1.pdf"),
                     "a b", "a+b=c&d", "100%", "~h", "x?y#z", "[1];(2)'3'!*@$,", "ü€𝄞"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs"),
                                   blacklist_characters="/"), min_size=1, max_size=25),
).filter(lambda c: c not in (".", ".."))
keys = st.lists(components, min_size=1, max_size=5).map("/".join)


def botocore_headers(method: str, path: str, headers: dict[str, str], body: bytes,
                     credentials: Credentials, region: str) -> dict[str, str]:
    request = AWSRequest(method=method, url=f"http://{HOST}{path}", data=body,
                         headers=dict(headers))
    S3SigV4Auth(credentials, "s3", region).add_auth(request)
    return {name.lower(): value for name, value in request.headers.items()}


def ours(method: str, path: str, headers: dict[str, str], body: bytes,
         credentials: Credentials, region: str, when: str) -> dict[str, str]:
    now = datetime.strptime(when, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    signer = SigV4Signer(credentials.get_frozen_credentials, region)
    payload = hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256
    return signer.sign(method, path, dict(headers), payload, now)


def same_signature(method: str, key: str, body: bytes, token: str | None = None,
                   region: str = "us-east-1") -> None:
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    path = f"/{BUCKET}/{quote(key, safe='/~')}"
    headers = {"host": HOST, "accept-encoding": "identity"}
    if method == "PUT":
        headers["content-md5"] = "1B2M2Y8AsgTpgAmY7PhCfg=="
    theirs = botocore_headers(method, path, headers, body, credentials, region)
    mine = ours(method, path, headers, body, credentials, region, theirs["x-amz-date"])
    for name in ("authorization", "x-amz-content-sha256", "x-amz-date"):
        assert mine[name] == theirs[name], name
    assert mine.get("x-amz-security-token") == theirs.get("x-amz-security-token")


@CI
@given(keys, st.binary(max_size=300))
def test_a_put_is_signed_as_botocore_signs_it(key: str, body: bytes) -> None:
    same_signature("PUT", key, body)


@CI
@given(keys)
def test_a_get_is_signed_as_botocore_signs_it(key: str) -> None:
    same_signature("GET", key, b"")


@CI
@given(st.one_of(keys, st.just("")), st.one_of(st.none(), st.text(max_size=40)))
def test_a_listing_with_its_query_is_signed_as_botocore_signs_it(prefix: str,
                                                                  token: str | None) -> None:
    """ListObjectsV2 as the fast path sends it: the query in canonical form, sent as signed."""
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    params = {"list-type": "2", "prefix": prefix, "encoding-type": "url"}
    if token is not None:
        params["continuation-token"] = token
    query = canonical_query(params)
    headers = {"host": HOST, "accept-encoding": "identity"}
    theirs = botocore_headers("GET", f"/{BUCKET}?{query}", headers, b"", credentials,
                              "us-east-1")
    now = datetime.strptime(theirs["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    signer = SigV4Signer(credentials.get_frozen_credentials, "us-east-1")
    mine = signer.sign("GET", f"/{BUCKET}", dict(headers), EMPTY_SHA256, now, query=query)
    assert mine["authorization"] == theirs["authorization"]


@pytest.mark.parametrize("region", ["us-east-1", "ap-southeast-1"])
def test_a_session_token_is_sent_and_signed(region: str) -> None:
    same_signature("PUT", "urn_uuid_A/data/Tài liệu.pdf", b"bytes", token="FQoGZXIvYXdzEXAMPLE",
                   region=region)


def test_the_derived_key_follows_the_day(monkeypatch: pytest.MonkeyPatch) -> None:
    """One signer across midnight UTC: the key is derived again for the new day."""
    credentials = Credentials("AKIDEXAMPLE", "secret-of-the-test")
    signer = SigV4Signer(credentials.get_frozen_credentials, "us-east-1")
    path = f"/{BUCKET}/a.txt"
    for moment in (datetime(2026, 11, 24, 23, 59, 59, tzinfo=UTC),
                   datetime(2026, 11, 25, 0, 0, 1, tzinfo=UTC)):
        monkeypatch.setattr(botocore.auth, "get_current_datetime",
                            lambda moment=moment: moment.replace(tzinfo=None))
        theirs = botocore_headers("GET", path, {"host": HOST}, b"", credentials, "us-east-1")
        mine = signer.sign("GET", path, {"host": HOST}, EMPTY_SHA256, moment)
        assert mine["authorization"] == theirs["authorization"]
