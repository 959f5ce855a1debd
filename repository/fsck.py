"""``khoso storage fsck``: objects no catalog entry owns, and what killed runs left behind.

The write order (docs/design.md) lets a crash leave objects without a catalog row, never the
reverse. This finds them, per location:

* orphans: an object under an AIP key (``urn_uuid_…``) that no ``aip_files`` row of an AIP
  with a copy in *this* location owns (an ingest or replicate killed before its catalog
  transaction, a copy whose catalog rows were removed);
* partial writes: temporary files and unfinished multipart uploads;
* staging entries of AIPs that no live run holds (repository/staging.py).

With ``--fix`` it removes orphans and partial writes older than the grace period (24 hours
by default: longer than any run still writing them, which would otherwise lose its work) and
the dead staging entries. Objects not named like khoso's (``foreign``) are listed and never
removed: a location may be shared with other software, never with another khoso home.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from repository.catalog.models import AipFile, Location, Replica
from repository.context import Repository
from repository.errors import KhosoError, NotFound, UsageError
from repository.staging import AIP_ENTRY, stale, sweep
from storage.backend import Backend

DEFAULT_GRACE_HOURS = 24.0


@dataclass(frozen=True)
class FsckOptions:
    fix: bool = False
    grace_hours: float = DEFAULT_GRACE_HOURS
    location: str | None = None


def fsck(repo: Repository, opts: FsckOptions) -> dict:
    if opts.grace_hours < 0:
        raise UsageError(reason="--grace must be 0 hours or more")
    now = datetime.now(UTC)
    cutoff = now - timedelta(hours=opts.grace_hours)
    with repo.catalog.session() as session:
        locations = list(session.scalars(select(Location).order_by(Location.id)))
        if opts.location and not any(loc.name == opts.location for loc in locations):
            raise NotFound(kind="storage location", name=opts.location)
        owned: dict[int, set[str]] = defaultdict(set)
        rows = session.execute(select(Replica.location_id, AipFile.storage_key)
                               .join(AipFile, AipFile.aip_id == Replica.aip_id))
        for location_id, key in rows:
            owned[location_id].add(key)
    report = [_location(repo.backend(loc), owned[loc.id], cutoff, now, opts.fix)
              for loc in locations if opts.location in (None, loc.name)]
    staging = sweep(repo.settings.staging) if opts.fix else stale(repo.settings.staging)
    return {"grace_hours": opts.grace_hours, "fix": opts.fix, "locations": report,
            "staging": [{"name": n, "removed": opts.fix} for n in staging],
            "orphans": sum(len(r["orphans"]) for r in report),
            "removed": sum(r["removed"] for r in report)}


def _location(backend: Backend, owned: set[str], cutoff: datetime, now: datetime,
              fix: bool) -> dict:
    out: dict = {"location": backend.location, "objects": 0, "owned": 0, "orphans": [],
                 "partial": [], "foreign": [], "removed": 0}
    try:
        listed = list(backend.list())
        partial = list(backend.list_partial())
    except KhosoError as exc:
        out["error"] = str(exc)
        return out
    for obj in listed:
        out["objects"] += 1
        if obj.key in owned:
            out["owned"] += 1
        elif not obj.key.startswith(AIP_ENTRY):
            out["foreign"].append(obj.key)
        else:
            old = obj.modified is not None and obj.modified <= cutoff
            entry = {"key": obj.key, "size": obj.size, "age_hours": _age(obj.modified, now),
                     "removed": False}
            if fix and old:
                entry["removed"] = _try(lambda o=obj: backend.delete(o.key), entry)
            out["orphans"].append(entry)
    for part in partial:
        entry = {"ref": part.ref, "age_hours": _age(part.started, now), "removed": False}
        if fix and part.started is not None and part.started <= cutoff:
            entry["removed"] = _try(lambda p=part: backend.discard_partial(p), entry)
        out["partial"].append(entry)
    out["removed"] = sum(1 for e in out["orphans"] + out["partial"] if e["removed"])
    return out


def _try(action, entry: dict) -> bool:  # type: ignore[no-untyped-def]
    """Remove one thing; a refusal (object lock, permissions) is reported, not fatal."""
    try:
        action()
    except KhosoError as exc:
        entry["kept"] = str(exc)
        return False
    return True


def _age(when: datetime | None, now: datetime) -> float | None:
    return None if when is None else round((now - when).total_seconds() / 3600, 3)
