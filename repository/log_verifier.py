#!/usr/bin/env python3
"""Verify an exported khoso event log on any machine with Python 3.8+ and nothing else.

``khoso log export --out DIR`` copies this file to ``DIR/verify.py`` beside:

    events.jsonl        every event: seq, aip, type, outcome, at, agent, detail, prev, hash
    checkpoints.jsonl   signed statements {"type", "seq", "hash", "at", "key_id"} + signature
    public-key.pem      the Ed25519 public key that signs them now
    retired-keys/       keys it replaced (``khoso log rotate-key``), one PEM file each

Run ``python3 verify.py DIR [--previous OLD_DIR] [--key-id ID]``. It checks that:

1. every event's hash is the SHA-256 of its canonical form (compact JSON, sorted keys, UTF-8)
   and links to the event before it (an edited, inserted or deleted event breaks this);
2. every checkpoint is signed by the exported key (Ed25519, RFC 8032; verified here in pure
   Python, so no package is needed) and the chain still holds the (seq, hash) it signed, so a
   log rewritten from the start, or cut short, fails even though its own links agree;
3. with ``--previous``, every checkpoint of an earlier export you kept is still in this log;
4. with ``--key-id``, only the key whose id you recorded earlier is trusted at first; a key
   that replaced it is trusted once the trusted key signed a checkpoint covering the
   rotation event that names it (and so on, key after key). A key signs nothing after the
   event that retired it.

Exit 0 when everything verifies, 1 when anything does not (each problem is printed).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from pathlib import Path

# --- Ed25519 verification, RFC 8032 §5.1.7 (reference arithmetic of §6) -------------------
_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _recover_x(y: int, sign: int) -> int | None:
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P:
        return None
    return _P - x if (x & 1) != sign else x


_GY = 4 * pow(5, _P - 2, _P) % _P
_GX = _recover_x(_GY, 0) or 0
_G = (_GX, _GY, 1, _GX * _GY % _P)


def _add(p: tuple, q: tuple) -> tuple:
    a = (p[1] - p[0]) * (q[1] - q[0]) % _P
    b = (p[1] + p[0]) * (q[1] + q[0]) % _P
    c = 2 * p[3] * q[3] * _D % _P
    d = 2 * p[2] * q[2] % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _mul(s: int, p: tuple) -> tuple:
    q = (0, 1, 1, 0)
    while s:
        if s & 1:
            q = _add(q, p)
        p = _add(p, p)
        s >>= 1
    return q


def _decompress(data: bytes) -> tuple | None:
    if len(data) != 32:
        return None
    y = int.from_bytes(data, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    x = _recover_x(y, sign)
    return None if x is None else (x, y, 1, x * y % _P)


def ed25519_verify(public: bytes, message: bytes, signature: bytes) -> bool:
    a = _decompress(public)
    r = _decompress(signature[:32]) if len(signature) == 64 else None
    if a is None or r is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= _L:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little") % _L
    left, right = _mul(s, _G), _add(r, _mul(h, a))
    return ((left[0] * right[2] - right[0] * left[2]) % _P == 0
            and (left[1] * right[2] - right[1] * left[2]) % _P == 0)


# --- khoso's formats -------------------------------------------------------------------------
_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")  # RFC 8410 Ed25519 public key


def raw_public_key(pem: str) -> bytes:
    body = "".join(line for line in pem.splitlines() if line and not line.startswith("-----"))
    der = base64.b64decode(body)
    if len(der) != 44 or not der.startswith(_SPKI_PREFIX):
        raise ValueError("public-key.pem is not an Ed25519 public key")
    return der[len(_SPKI_PREFIX):]


def key_id(raw: bytes) -> str:
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:16]


def _canonical(doc: dict) -> bytes:
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def check_chain(events: list[dict]) -> tuple[dict[int, str], list[str]]:
    hashes: dict[int, str] = {}
    prev = "0" * 64
    for n, ev in enumerate(events, start=1):
        if ev.get("seq") != n:
            return hashes, [f"event {n} is missing (found {ev.get('seq')}): the log was cut"]
        if ev.get("prev") != prev:
            return hashes, [f"event {n} does not link to event {n - 1}"]
        body = {k: ev.get(k) for k in ("seq", "aip", "type", "outcome", "at", "agent",
                                       "detail", "prev")}
        if hashlib.sha256(_canonical(body)).hexdigest() != ev.get("hash"):
            return hashes, [f"event {n} ({ev.get('type')}) was edited: its hash does not match"]
        hashes[n], prev = ev["hash"], ev["hash"]
    return hashes, []


ROTATION = "checkpoint key rotated"


def read_keys(folder: Path) -> dict[str, bytes]:
    """Every exported key by id: public-key.pem and retired-keys/*.pem."""
    pems = [folder / "public-key.pem"]
    retired = folder / "retired-keys"
    if retired.is_dir():
        pems += sorted(retired.glob("*.pem"))
    raws = [raw_public_key(p.read_text(encoding="ascii")) for p in pems]
    return {key_id(raw): raw for raw in raws}


def rotations(events: list[dict]) -> list[tuple[int, str, str]]:
    """(seq, retired key id, successor key id) of each key rotation, in log order."""
    return [(ev["seq"], d.get("retired"), d.get("current")) for ev in events
            if ev.get("type") == "policy assignment"
            and isinstance(d := ev.get("detail"), dict) and d.get("action") == ROTATION]


def signed_by(cp: dict, keys: dict[str, bytes]) -> bool:
    raw = keys.get(cp["statement"].get("key_id"))
    return raw is not None and ed25519_verify(raw, _canonical(cp["statement"]),
                                              base64.b64decode(cp["signature"]))


def genuine(checkpoints: list[dict], keys: dict[str, bytes]) -> list[bool]:
    """Whether each checkpoint's signature verifies with the key it names: worked out once
    (pure-Python Ed25519 costs milliseconds a signature, and a long log has many)."""
    return [signed_by(cp, keys) for cp in checkpoints]


def trusted_keys(pinned: str | None, keys: dict[str, bytes], events: list[dict],
                 checkpoints: list[dict], valid: list[bool],
                 hashes: dict[int, str]) -> set[str]:
    """Without a pin, every exported key; with one, that key and each successor a trusted
    key vouched for: it signed a checkpoint, held by the chain, covering the rotation."""
    if pinned is None:
        return set(keys)
    trusted = {pinned}
    for seq, retired, successor in rotations(events):
        if retired in trusted and any(
                ok and cp["statement"].get("key_id") == retired
                and cp["statement"].get("seq", 0) >= seq
                and hashes.get(cp["statement"].get("seq")) == cp["statement"].get("hash")
                for cp, ok in zip(checkpoints, valid)):  # noqa: B905 - Python 3.8 has no strict=
            trusted.add(successor)
    return trusted


def check_checkpoints(checkpoints: list[dict], valid: list[bool], keys: dict[str, bytes],
                      trusted: set[str], hashes: dict[int, str], retired_at: dict[str, int],
                      label: str = "") -> list[str]:
    problems: list[str] = []
    last = max(hashes, default=0)
    for cp, ok in zip(checkpoints, valid):  # noqa: B905 - verify.py runs on Python 3.8
        st = cp["statement"]
        seq, kid = st.get("seq"), st.get("key_id")
        where = f"{label}checkpoint at event {seq}"
        if kid not in keys:
            problems.append(f"{where} names key {kid}, which the export does not hold")
        elif kid not in trusted:
            problems.append(f"{where} is signed by {kid}, which no trusted key vouched for")
        elif not ok:
            problems.append(f"{where}: the signature does not verify (forged or edited)")
        elif kid in retired_at and isinstance(seq, int) and seq > retired_at[kid]:
            problems.append(f"{where} is signed by {kid} after it was retired at event "
                            f"{retired_at[kid]} (forged?)")
        elif seq not in hashes:
            problems.append(f"{where}: the log ends at event {last}; events were deleted")
        elif hashes[seq] != st.get("hash"):
            problems.append(f"{where}: event {seq} is not the event that was signed; "
                            "the log was rewritten")
    return problems


def verify(folder: Path, previous: Path | None = None, want_key: str | None = None) -> list[str]:
    keys = read_keys(folder)
    problems: list[str] = []
    if want_key and want_key not in keys:
        problems.append(f"the export holds no key {want_key} (it holds {', '.join(keys)})")
    events = _lines(folder / "events.jsonl")
    hashes, chain_problems = check_chain(events)
    problems += chain_problems
    retired_at: dict[str, int] = {}
    for seq, retired, successor in rotations(events):
        if successor in keys:  # a rotation killed before its new key was saved retired nothing
            retired_at.setdefault(retired, seq)
    signed = _lines(folder / "checkpoints.jsonl")
    valid = genuine(signed, keys)
    trusted = trusted_keys(want_key, keys, events, signed, valid, hashes)
    problems += check_checkpoints(signed, valid, keys, trusted, hashes, retired_at)
    if previous is not None:
        old_keys = read_keys(previous)
        earlier = _lines(previous / "checkpoints.jsonl")
        problems += check_checkpoints(earlier, genuine(earlier, old_keys), old_keys,
                                      set(old_keys), hashes, retired_at,
                                      label="earlier export's ")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify an exported khoso event log.")
    parser.add_argument("folder", nargs="?", default=str(Path(__file__).parent))
    parser.add_argument("--previous", help="an earlier export whose checkpoints must still hold")
    parser.add_argument("--key-id", help="the key id you recorded before (ed25519:…)")
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    try:
        problems = verify(folder, Path(args.previous) if args.previous else None, args.key_id)
    except (OSError, ValueError, KeyError) as exc:
        print(f"cannot read the export in {folder}: {exc}", file=sys.stderr)
        return 1
    events = len(_lines(folder / "events.jsonl"))
    checkpoints = len(_lines(folder / "checkpoints.jsonl"))
    for problem in problems:
        print(f"FAILED: {problem}")
    if problems:
        return 1
    print(f"OK: {events} events chained, {checkpoints} checkpoints signed by "
          f"{', '.join(read_keys(folder))} and held by the chain")
    return 0


if __name__ == "__main__":
    sys.exit(main())
