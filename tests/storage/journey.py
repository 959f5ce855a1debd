"""Helpers for the storage journeys (replicate, encryption, crashes): homes, transfers, and the
one invariant every test of this issue checks.

The invariant (docs/design.md, write order): every copy the catalog lists is there and
verifies, object by object, with our own SHA-256.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from repository.catalog.models import Aip, Location, Problem, Replica
from repository.context import open_repository
from repository.objects import stored_object
from storage.replicate import OK, check_object

MARKER = "KHOSO-PLAINTEXT-MARKER-5f1c9e"  # never to be found in a location, staging or a log


def allow_ingest_without_scanner(home: Path) -> None:
    """These tests are about storage, not intake: the home's intake policy lets ingest run
    without clamd (a real, documented policy switch; the intake tests run clamd)."""
    policy = home / "policies" / "intake.yaml"
    if policy.is_file():
        text = policy.read_text(encoding="utf-8")
        policy.write_text(re.sub(r"allow_without_scanner:\s*false", "allow_without_scanner: true",
                                 text), encoding="utf-8")


def make_transfer(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def secret_transfer(root: Path, count: int = 3, size: int = 0) -> Path:
    """Files whose content and one name carry MARKER (each about ``size`` bytes if given)."""
    def body(i: int) -> bytes:
        line = f"Nội dung mật số {i}: {MARKER}\n".encode()
        return line * max(i + 1, size // len(line))

    files = {f"Hồ sơ mật/Văn bản {i:03d}.txt": body(i) for i in range(count)}
    files[f"Hồ sơ mật/{MARKER}.txt"] = f"{MARKER} trong tên và nội dung".encode()
    return make_transfer(root, files)


def many_files(root: Path, count: int, size: int = 700) -> Path:
    return make_transfer(root, {f"tệp/{i // 100:02d}/tài liệu {i:05d}.txt":
                                (f"{i:05d} ".encode() * (size // 6 + 1))[:size]
                                for i in range(count)})


def location_root(url: str) -> Path:
    return Path(unquote(urlparse(url).path))


def violations(home: Path, known_damage_ok: bool = False) -> list[str]:
    """Copies the catalog lists that are not there and verified (should always be []).

    With ``known_damage_ok`` a bad object of a copy marked damaged is fine when an open
    problem row names it (an audit found it, a repair has not fixed it yet).
    """
    repo = open_repository(str(home))
    bad: list[str] = []
    try:
        with repo.catalog.session() as session:
            replicas = list(session.scalars(select(Replica).options(
                selectinload(Replica.location), selectinload(Replica.aip).selectinload(Aip.files))))
            known = {(p.aip_id, p.location_id, p.path) for p in session.scalars(
                select(Problem).where(Problem.resolved_at.is_(None)))}
        for rep in replicas:
            backend = repo.backend(rep.location)
            for f in rep.aip.files:
                result = check_object(backend, stored_object(f))
                if result == OK or (known_damage_ok and rep.status != "verified"
                                    and (rep.aip_id, rep.location_id, f.path) in known):
                    continue
                bad.append(f"{rep.location.name}: {rep.aip_id} {f.path}: {result}")
    finally:
        repo.close()
    return bad


def location_roots(home: Path) -> dict[str, Path]:
    repo = open_repository(str(home))
    try:
        with repo.catalog.session() as session:
            return {loc.name: location_root(loc.url)
                    for loc in session.scalars(select(Location))
                    if loc.url.startswith("file:")}
    finally:
        repo.close()


def files_under(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` (temporary ones included), by relative path."""
    out: dict[str, bytes] = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = Path(dirpath) / name
            out[path.relative_to(root).as_posix()] = path.read_bytes()
    return out


def plaintext_hits(roots: list[Path], needles: list[bytes]) -> list[str]:
    """Files (or file names) under ``roots`` in which any needle appears."""
    hits = []
    for root in roots:
        for rel, data in files_under(root).items():
            if any(n in data or n in rel.encode() for n in needles):
                hits.append(f"{root}/{rel}")
    return hits
