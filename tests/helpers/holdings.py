"""Holdings built without the ingest pipeline, for tests of what happens after ingest.

Real bytes are written to every location through the real backends and the catalog rows
say exactly what ingest's would (key, size, SHA-256 of each object, one verified replica per
location, an ``information package creation`` event), so audits, repairs and reports run on
them unchanged; only format identification, virus scanning and bag building are skipped,
which keeps a test with many AIPs fast. AIPs made by ``khoso ingest`` are used where ingest
itself matters.
"""

from __future__ import annotations

import hashlib
import io
import random
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from repository import events
from repository.catalog.models import Aip, AipFile, Location, Replica
from repository.context import Repository


def synthetic_holding(repo: Repository, *, aips: int = 2, files: int = 3, size: int = 4096,
                      locations: tuple[str, ...] = ("local", "offsite"), seed: int = 1,
                      checked_ago: timedelta = timedelta(0)) -> list[str]:
    """Store ``aips`` AIPs of ``files`` files each in every named location; their ids."""
    rng = random.Random(seed)
    when = datetime.now(UTC) - checked_ago
    with repo.catalog.session() as session:
        locs = [session.scalar(select(Location).where(Location.name == n)) for n in locations]
    assert all(locs), f"locations {locations} must exist first"
    backends = [repo.backend(loc) for loc in locs]  # type: ignore[arg-type]
    made = []
    for _ in range(aips):
        aip_id = "urn:uuid:" + str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper()
        prefix = aip_id.replace(":", "_")
        rows = []
        for j in range(files):
            data = rng.randbytes(size + j)
            path = f"data/representations/rep1/data/tệp {j}.bin"
            key = f"{prefix}/{path}"
            for backend in backends:
                backend.put(key, io.BytesIO(data))
            rows.append(AipFile(path=path, storage_key=key, role="payload", size=len(data),
                                sha256=hashlib.sha256(data).hexdigest()))
        with repo.catalog.session() as session:
            session.add(Aip(id=aip_id, title=f"Hồ sơ {aip_id[-4:]}", key_prefix=prefix,
                            file_count=files, byte_count=sum(r.size for r in rows),
                            files=rows, created_at=when))
            session.flush()
            for loc in locs:
                session.add(Replica(aip_id=aip_id, location_id=loc.id, status="verified",  # type: ignore[union-attr]
                                    stored_at=when, last_verified=when, last_checked=when))
            events.record(session, events.INFORMATION_PACKAGE_CREATION, events.SUCCESS,
                          "tests", aip=aip_id, detail={"files": files}, at=when)
        made.append(aip_id)
    return made


def set_checked(repo: Repository, aip_id: str, location: str, *, ago: timedelta | None,
                status: str = "verified") -> None:
    """Make one copy look last checked ``ago`` (None: never) and with ``status``."""
    when = None if ago is None else datetime.now(UTC) - ago
    with repo.catalog.session() as session:
        rep = session.scalar(select(Replica).join(Location).where(
            Replica.aip_id == aip_id, Location.name == location))
        assert rep is not None
        rep.last_checked, rep.status = when, status
        rep.last_verified = when if status == "verified" else rep.last_verified
