"""Reading copies side by side (repository/copy_check.py): each copy's finding is exactly what
hashing that copy alone would give, whatever is wrong with which copy and however its reads
are split (property test, fixed seed, bounded examples)."""

from __future__ import annotations

import hashlib
import io
import random
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from repository.copy_check import check_copies
from storage.fs import FileBackend
from storage.replicate import CORRUPT, MISSING, OK, UNREADABLE, StoredObject

KEY = "urn_uuid_X/data/tệp.bin"


class _Flaky:
    """A backend whose streams return short reads, or fail after ``fail_after`` bytes."""

    def __init__(self, inner: FileBackend, seed: int, fail_after: int | None = None) -> None:
        self.inner, self.rng, self.fail_after = inner, random.Random(seed), fail_after

    def open(self, key: str):  # type: ignore[no-untyped-def]
        outer = self
        stream = self.inner.open(key)

        class Stream(io.RawIOBase):
            given = 0

            def read(self, n: int = -1) -> bytes:
                if outer.fail_after is not None and self.given >= outer.fail_after:
                    raise OSError("device error")
                data = stream.read(max(1, outer.rng.randint(1, max(n, 1))))
                self.given += len(data)
                return data

            def close(self) -> None:
                stream.close()

        return Stream()


def _damage(data: bytes, kind: str, at: int) -> bytes | None:
    at = at % (len(data) + 1)
    if kind == "flip" and data:
        i = at % len(data)
        return data[:i] + bytes([data[i] ^ 0x20]) + data[i + 1:]
    return {"intact": data, "truncate": data[:at], "extend": data + b"!", "missing": None,
            "flip": data}[kind]


copies = st.lists(st.tuples(st.sampled_from(["intact", "flip", "truncate", "extend",
                                             "missing", "unreadable"]),
                            st.integers(0, 10_000), st.booleans()), min_size=1, max_size=4)


@settings(max_examples=150, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=700), plan=copies, chunk=st.sampled_from([1, 7, 64, 4096]))
def test_each_copy_is_judged_by_its_own_bytes(tmp_path: Path, data: bytes, plan, chunk) -> None:  # type: ignore[no-untyped-def]
    obj = StoredObject(KEY, hashlib.sha256(data).hexdigest(), len(data))
    backends, expected = [], []
    for n, (kind, at, short_reads) in enumerate(plan):
        root = tmp_path / f"{len(list(tmp_path.iterdir()))}-{n}"
        backend = FileBackend(f"loc{n}", root.as_uri())
        stored = _damage(data, "intact" if kind == "unreadable" else kind, at)
        if stored is not None:
            (root / KEY).parent.mkdir(parents=True, exist_ok=True)
            (root / KEY).write_bytes(stored)
        if kind == "unreadable":
            backends.append(_Flaky(backend, at, fail_after=at % (len(data) + 1)))
            expected.append(UNREADABLE)
            continue
        backends.append(_Flaky(backend, at) if short_reads else backend)
        expected.append(MISSING if stored is None else OK if stored == data else CORRUPT)
    seen: list[int] = []
    assert check_copies(backends, obj, seen.append, chunk=chunk) == expected
    # Progress counts every byte read: all of each readable copy, part of a failing one.
    whole = sum(len(_damage(data, k, a) or b"") for (k, a, _), e
                in zip(plan, expected, strict=True) if e in (OK, CORRUPT))
    assert whole <= sum(seen) <= whole + len(data) * expected.count(UNREADABLE)


def test_agreeing_copies_are_hashed_once(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Two equal copies cost one SHA-256 pass: the point of reading them side by side."""
    data = random.Random(3).randbytes(300_000)
    backends = []
    for name in ("a", "b"):
        (tmp_path / name / KEY).parent.mkdir(parents=True)
        (tmp_path / name / KEY).write_bytes(data)
        backends.append(FileBackend(name, (tmp_path / name).as_uri()))
    hashed = 0
    real = hashlib.sha256

    class Counting:
        def __init__(self, inner=None) -> None:  # type: ignore[no-untyped-def]
            self.inner = inner or real()

        def update(self, chunk: bytes) -> None:
            nonlocal hashed
            hashed += len(chunk)
            self.inner.update(chunk)

        def copy(self):  # type: ignore[no-untyped-def]
            return Counting(self.inner.copy())

        def hexdigest(self) -> str:
            return self.inner.hexdigest()

    monkeypatch.setattr("repository.copy_check.hashlib.sha256", Counting)
    obj = StoredObject(KEY, real(data).hexdigest(), len(data))
    assert check_copies(backends, obj, chunk=65536) == [OK, OK]
    assert hashed == len(data)
    (tmp_path / "b" / KEY).write_bytes(data[:-1] + b"x")
    hashed = 0
    assert check_copies(backends, obj, chunk=65536) == [OK, CORRUPT]
    assert hashed == len(data) + len(data) % 65536  # only the differing last chunk twice
