"""Bit rot injected into random copies (seeded): the next full audit finds every damaged copy,
repair restores each one that has a good copy, and reports the rest as unrecoverable.

``KHOSO_TEST_ROT_SEEDS=1,2,3`` runs other seeds (a soak run); the suite uses two fixed ones."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from repository.demo import make_sample_transfer
from tests.helpers.storage import location_root

SEEDS = [int(seed) for seed in os.environ.get("KHOSO_TEST_ROT_SEEDS", "3,17").split(",")]


def _stored_objects(khoso, aip: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [f["path"] for f in khoso.json("aip", "show", aip)["files"]]


def _object(khoso, aip: str, path: str, location: str) -> Path:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from repository.catalog.models import AipFile
    from repository.context import open_repository

    repo = open_repository(str(khoso.home))
    try:
        with repo.catalog.session() as session:
            key = session.scalar(select(AipFile.storage_key).where(
                AipFile.aip_id == aip, AipFile.path == path))
    finally:
        repo.close()
    return location_root(khoso.home, location) / key


def _rot(path: Path, rng: random.Random) -> None:
    data = bytearray(path.read_bytes())
    if not data or rng.random() < 0.2:
        path.unlink()  # a lost object, not just flipped bits
        return
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(data))
        data[i] ^= 1 << rng.randrange(8)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("seed", SEEDS)
def test_every_rotten_copy_is_found_and_repaired(khoso, tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    khoso.ok("storage", "add", "offsite", (tmp_path / "offsite").as_uri())
    aips = []
    for n in range(3):
        folder, md = make_sample_transfer(tmp_path / f"in{n}", f"Hồ sơ {n}", f"Hồ sơ số {n}")
        aips.append(khoso.json("ingest", folder, "--metadata", md)["aip"])
    every = [(aip, path) for aip in aips for path in _stored_objects(khoso, aip)]
    damaged = rng.sample(every, 8)
    both, single = damaged[0], damaged[1:]
    expected: set[tuple[str, str, str]] = set()
    for aip, path in single:
        location = rng.choice(["local", "offsite"])
        _rot(_object(khoso, aip, path, location), rng)
        expected.add((aip, path, location))
    for location in ("local", "offsite"):
        _rot(_object(khoso, *both, location), rng)
        expected.add((*both, location))

    found = khoso.json("audit", code=1)["problems"]
    assert {(p["aip"], p["path"], p["location"]) for p in found} == expected

    repaired = khoso.json("repair", code=1)
    assert {(r["aip"], r["path"], r["location"]) for r in repaired["repaired"]} == {
        e for e in expected if (e[0], e[1]) != both}
    assert {(r["aip"], r["path"]) for r in repaired["unrecoverable"]} == {both}

    after = khoso.json("audit", code=1)["problems"]
    assert {(p["aip"], p["path"]) for p in after} == {both}
