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
Whatever the grace, the objects of an AIP a live ingest or update-metadata is writing (its
staging lock is held), and while a replicate runs those of any catalogued AIP, are kept.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from repository.catalog.models import Aip, AipFile, Location, Replica
from repository.context import Repository
from repository.errors import KhosoError, NotFound, UsageError
from repository.staging import AIP_ENTRY, held, run_lock, stale, sweep
from storage.backend import Backend, ObjectInfo, PartialWrite

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
    staging = repo.settings.staging
    with repo.catalog.session() as session:
        locations = [loc for loc in session.scalars(select(Location).order_by(Location.id))
                     if opts.location in (None, loc.name)]
    if opts.location and not locations:
        raise NotFound(kind="storage location", name=opts.location)
    # No replicate may start while orphans are removed; one already running keeps the
    # objects of catalogued AIPs (they may be its copies in progress).
    with run_lock(staging, "replicate", shared=False, wait=False) as no_replicate:
        # Order matters: list first, then see which runs are live, then read the catalog.
        # An object listed is then owned, or its run is still live, or its run is dead.
        listed = {loc.id: _listing(repo.backend(loc)) for loc in locations}
        busy = held(staging)
        owned, catalogued = _catalog(repo)
        scope = Scope(now - timedelta(hours=opts.grace_hours), now, opts.fix, busy,
                      set() if no_replicate else catalogued)
        report = [_location(repo.backend(loc), listed[loc.id], owned[loc.id], scope)
                  for loc in locations]
        dead = sweep(staging) if opts.fix else stale(staging)
    return {"grace_hours": opts.grace_hours, "fix": opts.fix, "locations": report,
            "staging": [{"name": n, "removed": opts.fix} for n in dead],
            "orphans": sum(len(r["orphans"]) for r in report),
            "removed": sum(r["removed"] for r in report)}


@dataclass(frozen=True)
class Scope:
    cutoff: datetime  # older than this may be removed
    now: datetime
    fix: bool
    busy: set[str]  # AIP prefixes a live ingest or update-metadata is writing
    replicating: set[str]  # AIP prefixes a live replicate may be writing


def _catalog(repo: Repository) -> tuple[dict[int, set[str]], set[str]]:
    owned: dict[int, set[str]] = defaultdict(set)
    with repo.catalog.session() as session:
        rows = session.execute(select(Replica.location_id, AipFile.storage_key)
                               .join(AipFile, AipFile.aip_id == Replica.aip_id))
        for location_id, key in rows:
            owned[location_id].add(key)
        prefixes = set(session.scalars(select(Aip.key_prefix)))
    return owned, prefixes


def _listing(backend: Backend) -> tuple[list[ObjectInfo], list[PartialWrite]] | str:
    try:
        return list(backend.list()), list(backend.list_partial())
    except KhosoError as exc:
        return str(exc)


def _location(backend: Backend, listing: tuple[list[ObjectInfo], list[PartialWrite]] | str,
              owned: set[str], scope: Scope) -> dict:
    out: dict = {"location": backend.location, "objects": 0, "owned": 0, "orphans": [],
                 "partial": [], "foreign": [], "removed": 0}
    if isinstance(listing, str):
        out["error"] = listing
        return out
    objects, partial = listing
    for obj in objects:
        out["objects"] += 1
        prefix = obj.key.split("/", 1)[0]
        if obj.key in owned:
            out["owned"] += 1
        elif not obj.key.startswith(AIP_ENTRY):
            out["foreign"].append(obj.key)
        else:
            entry = {"key": obj.key, "size": obj.size,
                     "age_hours": _age(obj.modified, scope.now), "removed": False}
            if prefix in scope.busy:
                entry["kept"] = "a run that is writing this AIP is still live"
            elif prefix in scope.replicating:
                entry["kept"] = "a replicate run is in progress"
            elif scope.fix and obj.modified is not None and obj.modified <= scope.cutoff:
                entry["removed"] = _try(lambda o=obj: backend.delete(o.key), entry)
            out["orphans"].append(entry)
    for part in partial:
        entry = {"ref": part.ref, "age_hours": _age(part.started, scope.now), "removed": False}
        if scope.fix and part.started is not None and part.started <= scope.cutoff:
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
