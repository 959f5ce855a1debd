"""Copies read into reused buffers (repository/copy_check.py): local files are read with
``readinto`` into buffers each thread keeps, other streams with ``read``. Whatever mix of
readers, short reads, failures and damage, every copy's finding is exactly what hashing that
copy alone gives (property test, fixed seed, bounded examples), and a buffer reused from
the previous file never leaks into the next one's digest."""

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


class _ShortRaw(io.RawIOBase):
    """A raw file that returns short reads and may fail after ``fail_after`` bytes."""

    def __init__(self, path: Path, seed: int, fail_after: int | None) -> None:
        self.data, self.pos = path.read_bytes(), 0
        self.rng, self.fail_after = random.Random(seed), fail_after

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        if self.fail_after is not None and self.pos >= self.fail_after:
            raise OSError("device error")
        n = min(len(buffer), self.rng.randint(1, 97), len(self.data) - self.pos)
        buffer[:n] = self.data[self.pos:self.pos + n]
        self.pos += n
        return n


class _Backend:
    """A file:// location whose objects come back as ``kind`` streams."""

    def __init__(self, root: Path, kind: str, seed: int, fail_after: int | None) -> None:
        self.inner = FileBackend(root.name, root.as_uri())
        self.root, self.kind, self.seed, self.fail_after = root, kind, seed, fail_after

    def open(self, key: str):  # type: ignore[no-untyped-def]
        if self.kind == "file":
            return self.inner.open(key)  # a real io.BufferedReader: the readinto path
        if not (self.root / key).exists():
            return self.inner.open(key)  # raises ObjectMissing
        raw = _ShortRaw(self.root / key, self.seed, self.fail_after)
        if self.kind == "buffered":
            return io.BufferedReader(raw, buffer_size=64)  # readinto, short raw reads
        return io.BytesIO(raw.data)  # neither: the read() path


def _damage(data: bytes, kind: str, at: int) -> bytes | None:
    at = at % (len(data) + 1)
    if kind == "flip" and data:
        i = at % len(data)
        return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:]
    return {"intact": data, "truncate": data[:at], "extend": data + b"\0", "missing": None,
            "flip": data}[kind]


plans = st.lists(st.tuples(st.sampled_from(["intact", "flip", "truncate", "extend", "missing",
                                            "unreadable"]),
                           st.sampled_from(["file", "buffered", "bytes"]),
                           st.integers(0, 5_000)), min_size=1, max_size=3)


@settings(max_examples=150, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=st.binary(max_size=900), data=st.binary(max_size=900), plan=plans,
       chunk=st.sampled_from([1, 5, 64, 1000]))
def test_every_reader_judges_each_copy_by_its_own_bytes(tmp_path: Path, first: bytes,
                                                       data: bytes, plan, chunk) -> None:  # type: ignore[no-untyped-def]
    base = tmp_path / str(len(list(tmp_path.iterdir())))
    # An earlier file read in this thread leaves its bytes in the reused buffers.
    warm = FileBackend("warm", (base / "warm").as_uri())
    (base / "warm" / KEY).parent.mkdir(parents=True)
    (base / "warm" / KEY).write_bytes(first)
    assert check_copies([warm, warm], StoredObject(KEY, hashlib.sha256(first).hexdigest(),
                                                   len(first)), chunk=chunk) == [OK, OK]

    obj = StoredObject(KEY, hashlib.sha256(data).hexdigest(), len(data))
    backends, expected = [], []
    for n, (kind, reader, at) in enumerate(plan):
        root = base / f"loc{n}"
        stored = _damage(data, "intact" if kind == "unreadable" else kind, at)
        if stored is not None:
            (root / KEY).parent.mkdir(parents=True)
            (root / KEY).write_bytes(stored)
        fails = kind == "unreadable" and reader == "buffered" and at % (len(data) + 1) < len(data)
        backends.append(_Backend(root, reader, at, at % (len(data) + 1) if fails else None))
        expected.append(UNREADABLE if fails else MISSING if stored is None
                        else OK if stored == data else CORRUPT)

    assert check_copies(backends, obj, chunk=chunk) == expected  # type: ignore[arg-type]
