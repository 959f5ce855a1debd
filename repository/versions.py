"""``khoso aip update-metadata``: a metadata change makes a new AIP version; nothing stored is
ever overwritten (write-once, restic's rule that stored objects are immutable).

The new version is a new AIP (its own ``urn:uuid`` id and key prefix, ``version`` + 1,
``previous_version`` = the old id). Its bag has new METS.xml, EAD.xml (from the new metadata),
PREMIS.xml (a ``metadata modification`` event) and new BagIt tag files; every other payload
file is *shared*: its catalog row points at the object the earlier version stored (same
storage key, digests and, for classified content, the same wrapped data key), so no byte is
copied. The new objects go to every location holding a verified copy of the old version,
each read back; the shared objects must be there (their presence and size are checked; the
old version's audits vouch for their bytes). Then one catalog transaction records the new
AIP, its files, its copies and the events. The old version stays as it was, readable and
audited; a version can be updated only from the newest version.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ingest.aip import BagFile, StagedAip, finish_bag
from ingest.metadata import read_metadata
from ingest.pipeline import new_aip_id
from policies.metadata_profile import load_metadata_policy
from repository import __version__, events
from repository.catalog.models import Aip, AipFile, Location, Replica
from repository.context import Repository
from repository.errors import Damaged, NotFound, UsageError
from repository.keyring import keys
from repository.objects import stored_object
from repository.sealing import Prepared, prepare
from repository.staging import guarded
from storage.errors import StorageError
from storage.keys import aip_prefix
from storage.replicate import remove_all, store_all

METADATA_MODIFICATION = "metadata modification"  # PREMIS 3 event type
REGENERATED = {"data/METS.xml", "data/metadata/descriptive/EAD.xml",
               "data/metadata/preservation/PREMIS.xml"}


def update_metadata(repo: Repository, aip_id: str, metadata: Path) -> dict:
    old, targets = _current(repo, aip_id)
    description = read_metadata(metadata, policy=load_metadata_policy(repo.settings.policies_dir),
                                policies=repo.policies, transfer_classification=old.classification)
    level = repo.policies.level(old.classification)
    new_id = new_aip_id()
    shared = [f for f in old.files if f.role == "payload" and f.path not in REGENERATED]
    with guarded(repo.settings.staging, new_id):
        root = repo.settings.staging / new_id.replace(":", "_") / "aip"
        root.mkdir(parents=True)
        fields = {"title": old.title, **description.fields}
        staged = finish_bag(StagedAip(new_id, root), [_as_bag_file(f) for f in shared], fields,
                            _bag_info(old, new_id, fields), repo.agent,
                            [{"type": METADATA_MODIFICATION, "at": _now(),
                              "detail": f"new version of {old.id}"}])
        written = [f for f in staged.files if f.path not in {s.path for s in shared}]
        prefix = aip_prefix(new_id)
        objects = prepare(written, prefix, level.key if level.rank else None,
                          keys(repo) if level.rank else None, root)
        _check_shared(repo, targets, shared)
        done: list[Location] = []
        try:
            for loc in targets:
                store_all(repo.backend(loc), [o.stored for o in objects])
                done.append(loc)
            return _record(repo, old, new_id, prefix, fields, staged, written, objects, shared,
                           targets, metadata)
        except BaseException:
            for loc in done:
                remove_all(repo.backend(loc), [o.stored.key for o in objects])
            raise


def _current(repo: Repository, aip_id: str) -> tuple[Aip, list[Location]]:
    with repo.catalog.session() as session:
        old = session.scalar(select(Aip).where(Aip.id == aip_id).options(
            selectinload(Aip.files), selectinload(Aip.replicas).selectinload(Replica.location)))
        if old is None:
            raise NotFound(kind="AIP", name=aip_id)
        newer = session.scalar(select(Aip.id).where(Aip.previous_version == aip_id))
    if newer is not None:
        raise UsageError(reason=f"{aip_id} already has a newer version {newer}; update that one")
    targets = [r.location for r in old.replicas if r.status == "verified"]
    if not targets:
        raise Damaged(reason=f"{aip_id} has no verified copy to share files with; run "
                             "'khoso audit' and 'khoso repair' first")
    return old, targets


def _as_bag_file(f: AipFile) -> BagFile:
    # finish_bag only lists shared files in METS and the manifests; it never reads them.
    return BagFile(f.path, f.size, f.sha256, f.role, Path("/nonexistent/shared"), f.mime, f.puid)


def _bag_info(old: Aip, new_id: str, fields: dict[str, str]) -> dict[str, str]:
    info = {"Source-Organization": fields.get("organName", "") or "unknown",
            "External-Identifier": new_id,
            "External-Description": fields.get("title", old.title),
            "Bag-Software-Agent": f"khoso {__version__}",
            "Khoso-Source": old.source, "Khoso-Classification": old.classification,
            "Khoso-Previous-Version": old.id, "Khoso-Version": str(old.version + 1)}
    if old.classified_on:
        info["Khoso-Classified-On"] = old.classified_on.isoformat()
    return info


def _check_shared(repo: Repository, targets: list[Location], shared: list[AipFile]) -> None:
    """Every shared object is present, with its size, in every location of the new version."""
    for loc in targets:
        backend = repo.backend(loc)
        for f in shared:
            obj = stored_object(f)
            try:
                info = backend.stat(obj.key)
            except StorageError as exc:
                raise Damaged(reason=f"{loc.name}: {f.path}: {exc}") from exc
            if info is None or info.size != obj.size:
                raise Damaged(reason=f"{loc.name}: {f.path} of {f.aip_id} is missing or "
                                     "damaged; run 'khoso audit' and 'khoso repair' first")


def _record(repo: Repository, old: Aip, new_id: str, prefix: str, fields: dict[str, str],
            staged: StagedAip, written: list[BagFile], objects: list[Prepared],
            shared: list[AipFile], targets: list[Location], metadata: Path) -> dict:
    now = datetime.now(UTC)
    sealed = bool(objects) and objects[0].wrapped_key is not None
    mode = old.access_mode if old.access_mode == "03" else fields.get("mode", old.access_mode)
    aip = Aip(id=new_id, version=old.version + 1, previous_version=old.id,
              title=fields.get("title", old.title), source=old.source,
              classification=old.classification, classified_on=old.classified_on,
              protect_until=old.protect_until, access_mode=mode, file_count=old.file_count,
              byte_count=old.byte_count, key_prefix=prefix,
              tagmanifest_sha256=staged.tagmanifest_sha256, created_at=now)
    aip.files = [_shared_row(f) for f in shared] + [
        AipFile(path=f.path, storage_key=o.stored.key, role=f.role, size=f.size,
                sha256=f.sha256, puid=f.puid, mime=f.mime, classification=old.classification,
                stored_sha256=o.stored.sha256 if sealed else None,
                stored_size=o.stored.size if sealed else None,
                wrapped_key=o.wrapped_key, kek_id=o.kek_id)
        for f, o in zip(written, objects, strict=True)]
    with repo.catalog.session() as session:
        session.add(aip)
        for loc in targets:
            session.add(Replica(aip_id=new_id, location_id=loc.id, status="verified",
                                stored_at=now, last_verified=now, last_checked=now))
        detail = {"previous_version": old.id, "new_version": new_id,
                  "metadata": str(metadata), "shared_files": len(shared),
                  "new_objects": len(objects)}
        events.record(session, METADATA_MODIFICATION, events.SUCCESS, repo.agent, aip=old.id,
                      at=now, detail=detail)
        events.record(session, events.INFORMATION_PACKAGE_CREATION, events.SUCCESS, repo.agent,
                      aip=new_id, at=now, detail={**detail, "format": "BagIt 1.0 / E-ARK AIP",
                                                  "tagmanifest_sha256": aip.tagmanifest_sha256})
        for loc in targets:
            events.record(session, events.REPLICATION, events.SUCCESS, repo.agent, aip=new_id,
                          at=now, detail={"location": loc.name, "objects": len(objects),
                                          "shared": len(shared),
                                          "verified": "read back, SHA-256"})
    return {"aip": new_id, "version": aip.version, "previous_version": old.id,
            "files": aip.file_count, "new_objects": len(objects), "shared_objects": len(shared),
            "replicas": [{"location": loc.name, "status": "verified"} for loc in targets]}


def _shared_row(f: AipFile) -> AipFile:
    return AipFile(path=f.path, storage_key=f.storage_key, role=f.role, size=f.size,
                   sha256=f.sha256, puid=f.puid, mime=f.mime, classification=f.classification,
                   stored_sha256=f.stored_sha256, stored_size=f.stored_size,
                   wrapped_key=f.wrapped_key, kek_id=f.kek_id)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")

