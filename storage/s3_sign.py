"""AWS Signature Version 4 for the single S3 requests of the fast path (``storage/s3_fast.py``).

The algorithm is AWS's ("Create a signed AWS API request", SigV4 for S3 with a signed
payload): canonical request → string to sign → HMAC-SHA256 with a key derived from the
secret, the day, the region and the service. botocore's ``S3SigV4Auth`` does the same, but
costs about 150 µs per request here (it builds and re-parses a request object and its URL);
this signer only handles what the fast path sends (header values without line breaks, a query
string already in canonical form: see ``canonical_query``) and caches the derived key per day,
so it costs a few µs.
``tests/storage/test_s3_sign.py`` proves it produces botocore's signature, header for header,
for hostile keys; a wrong signature would anyway be refused by the server (SignatureDoesNotMatch).

Credentials come from a callable returning botocore's frozen credentials, asked on every
request: refreshable credentials (assumed roles, instance profiles) stay fresh.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def canonical_query(params: dict[str, str]) -> str:
    """The query string as SigV4 signs it (names and values percent-encoded except the
    unreserved characters, sorted); sent exactly so, it needs no second form."""
    pairs = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in params.items())
    return "&".join(f"{k}={v}" for k, v in pairs)


class SigV4Signer:
    def __init__(self, credentials: Callable[[], Any], region: str, service: str = "s3") -> None:
        self._credentials = credentials  # -> object with access_key, secret_key, token
        self._region = region
        self._service = service
        self._keys: dict[tuple[str, str], bytes] = {}
        self._lock = threading.Lock()

    def sign(self, method: str, path: str, headers: dict[str, str], payload_sha256: str,
             now: datetime | None = None, query: str = "") -> dict[str, str]:
        """Add x-amz-date, x-amz-content-sha256, the token if any, and Authorization.

        ``path`` is the request path exactly as sent (already percent-encoded: S3 signs it
        as is, without normalising); ``query`` the query string as sent, made by
        ``canonical_query``; ``headers`` must hold ``host`` and use lower-case names.
        """
        creds = self._credentials()
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        day = stamp[:8]
        headers["x-amz-date"] = stamp
        headers["x-amz-content-sha256"] = payload_sha256
        if creds.token:
            headers["x-amz-security-token"] = creds.token
        names = sorted(headers)
        signed = ";".join(names)
        # SigV4: header values trimmed, inner runs of spaces folded to one.
        canonical_headers = "".join(f"{n}:{' '.join(headers[n].split())}\n" for n in names)
        canonical = f"{method}\n{path}\n{query}\n{canonical_headers}\n{signed}\n{payload_sha256}"
        scope = f"{day}/{self._region}/{self._service}/aws4_request"
        to_sign = (f"{ALGORITHM}\n{stamp}\n{scope}\n"
                   f"{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}")
        signature = hmac.new(self._key(creds.secret_key, day), to_sign.encode("utf-8"),
                             hashlib.sha256).hexdigest()
        headers["authorization"] = (f"{ALGORITHM} Credential={creds.access_key}/{scope}, "
                                    f"SignedHeaders={signed}, Signature={signature}")
        return headers

    def _key(self, secret: str, day: str) -> bytes:
        """The derived signing key, made once per secret and day (it changes daily)."""
        cache_key = (hashlib.sha256(secret.encode("utf-8")).hexdigest(), day)
        with self._lock:
            key = self._keys.get(cache_key)
            if key is None:
                key = ("AWS4" + secret).encode("utf-8")
                for part in (day, self._region, self._service, "aws4_request"):
                    key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
                self._keys = {cache_key: key}  # keep only the current one
            return key
