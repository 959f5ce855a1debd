"""``khoso ingest``: transfer → staged AIP → verified copies → catalog rows and events.

Write order: objects in every required location, each read back; then one catalog
transaction (AIP, files, replicas, events). If anything fails, every object this run wrote is
removed and the catalog is untouched; staging is always cleaned.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import select

from ingest.aip import StagedAip
from ingest.metadata import read_metadata
from ingest.pipeline import IngestRequest, build, new_aip_id
from policies.engine import protection_ends
from repository import __version__, events
from repository.catalog.models import Aip, AipFile, Location, Replica
from repository.context import Repository
from repository.errors import UsageError
from repository.placement import choose_locations
from repository.progress import NoProgress, Progress
from storage.keys import aip_prefix, object_key
from storage.replicate import StoredObject, remove_all, store_all


@dataclass(frozen=True)
class IngestOptions:
    source: Path
    metadata: Path | None = None
    classification: str | None = None
    classified_on: date | None = None


def ingest(repo: Repository, opts: IngestOptions, progress: Progress | None = None) -> dict:
    progress = progress or NoProgress()
    level = repo.policies.level(opts.classification)
    if opts.classified_on and level.rank == 0:
        raise UsageError(reason="--classified-on needs --classification above unclassified")
    classified_on = (opts.classified_on or datetime.now(UTC).date()) if level.rank else None
    description = read_metadata(opts.metadata)
    mode = "03" if level.rank else description.fields.get("mode", "01")
    with repo.catalog.session() as session:
        locations = list(session.scalars(select(Location).order_by(Location.id)))
    targets = choose_locations(repo.policies, locations, level)

    aip_id = new_aip_id()
    bag_info = {
        "Source-Organization": description.fields.get("organName", "") or "unknown",
        "External-Identifier": aip_id,
        "External-Description": description.fields.get("title", opts.source.name),
        "Bag-Software-Agent": f"khoso {__version__}",
        "Khoso-Source": str(opts.source),
        "Khoso-Classification": level.key,
    }
    if classified_on:
        bag_info["Khoso-Classified-On"] = classified_on.isoformat()
    started = datetime.now(UTC)
    request = IngestRequest(opts.source, aip_id, description, bag_info, repo.agent)
    staged = build(request, repo.settings.staging, progress)
    try:
        return _store_and_record(repo, staged, targets, level.key, classified_on, mode,
                                 started, opts, progress)
    finally:
        shutil.rmtree(staged.root, ignore_errors=True)


def _objects(staged: StagedAip, prefix: str) -> list[StoredObject]:
    return [StoredObject(object_key(prefix, f.path), f.sha256, f.size, f.local)
            for f in staged.files]


def _store_and_record(repo: Repository, staged: StagedAip, targets: list[Location],
                      level: str, classified_on: date | None, mode: str, started: datetime,
                      opts: IngestOptions, progress: Progress) -> dict:
    prefix = aip_prefix(staged.aip_id)
    objects = _objects(staged, prefix)
    total = sum(o.size for o in objects)
    done: list[Location] = []
    try:
        for loc in targets:
            backend = repo.backend(loc)
            with progress.task(f"storing in {loc.name}", total) as advance:
                store_all(backend, objects, on_bytes=advance)
            done.append(loc)
        result = _record(repo, staged, targets, prefix, objects, level, classified_on, mode,
                         started, opts)
    except BaseException:
        for loc in done:
            remove_all(repo.backend(loc), [o.key for o in objects])
        raise
    return result


def _record(repo: Repository, staged: StagedAip, targets: list[Location], prefix: str,
            objects: list[StoredObject], level: str, classified_on: date | None, mode: str,
            started: datetime, opts: IngestOptions) -> dict:
    now = datetime.now(UTC)
    lvl = repo.policies.level(level)
    content = staged.content_files
    aip = Aip(id=staged.aip_id, title=staged.bag_info.get("External-Description", ""),
              source=str(opts.source), classification=level, classified_on=classified_on,
              protect_until=protection_ends(lvl, classified_on) if classified_on else None,
              access_mode=mode, file_count=len(content), byte_count=sum(f.size for f in content),
              key_prefix=prefix, tagmanifest_sha256=staged.tagmanifest_sha256, created_at=now)
    aip.files = [AipFile(path=f.path, storage_key=o.key, role=f.role, size=f.size,
                         sha256=f.sha256, puid=f.puid, mime=f.mime, classification=level)
                 for f, o in zip(staged.files, objects, strict=True)]
    with repo.catalog.session() as session:
        session.add(aip)
        for loc in targets:
            session.add(Replica(aip_id=aip.id, location_id=loc.id, status="verified",
                                stored_at=now, last_verified=now, last_checked=now))
        agent, aid = repo.agent, aip.id
        events.record(session, events.INGESTION_START, events.SUCCESS, agent, aip=aid,
                      at=started, detail={"source": str(opts.source)})
        events.record(session, events.MESSAGE_DIGEST_CALCULATION, events.SUCCESS, agent,
                      aip=aid, detail={"algorithm": "SHA-256", "files": len(staged.files)})
        events.record(session, events.FORMAT_IDENTIFICATION, events.SUCCESS, agent, aip=aid,
                      detail={"identified": sum(1 for f in content if f.puid or f.mime)})
        if lvl.rank:
            events.record(session, events.POLICY_ASSIGNMENT, events.SUCCESS, agent, aip=aid,
                          detail={"classification": level, "classified_on": str(classified_on),
                                  "protect_until": str(aip.protect_until)})
        events.record(session, events.INFORMATION_PACKAGE_CREATION, events.SUCCESS, agent,
                      aip=aid, detail={"format": "BagIt 1.0 / E-ARK AIP",
                                       "tagmanifest_sha256": staged.tagmanifest_sha256})
        for loc in targets:
            events.record(session, events.REPLICATION, events.SUCCESS, agent, aip=aid,
                          detail={"location": loc.name, "objects": len(objects),
                                  "verified": "read back, SHA-256"})
        events.record(session, events.INGESTION_END, events.SUCCESS, agent, aip=aid,
                      detail={"files": aip.file_count, "bytes": aip.byte_count})
    return {"aip": aip.id, "files": aip.file_count, "bytes": aip.byte_count,
            "classification": level,
            "replicas": [{"location": loc.name, "status": "verified"} for loc in targets]}
