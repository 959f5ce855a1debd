"""Run the intake steps on a transfer and leave a finished AIP in staging.

Every problem is collected (not just the first); any problem rejects the transfer with all of
them listed. Staging is removed whenever the pipeline does not hand a finished AIP back.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from ingest.aip import StagedAip, copy_transfer, finish_bag
from ingest.identify import identify_paths
from ingest.metadata import Description
from ingest.transfer import read_transfer
from repository.errors import InvalidInput, Problem, TransferRejected
from repository.progress import NoProgress, Progress


@dataclass(frozen=True)
class IngestRequest:
    source: Path
    aip_id: str
    description: Description
    bag_info: dict[str, str]
    agent: str


def new_aip_id() -> str:
    # TT 05/2025: AIP OBJID urn:uuid:{UUID} with the UUID in upper case.
    return f"urn:uuid:{str(uuid.uuid4()).upper()}"


def build(request: IngestRequest, staging_root: Path,
          progress: Progress | None = None) -> StagedAip:
    progress = progress or NoProgress()
    source = request.source
    if not source.exists():
        raise InvalidInput(reason=f"{source}: no such file or folder")
    if not source.is_dir():
        raise InvalidInput(reason=f"{source}: archives and serialized bags are not accepted yet; "
                                  "unpack it and ingest the folder")
    transfer = read_transfer(source)
    if transfer.problems:
        raise TransferRejected(source=str(source), count=len(transfer.problems),
                               details=list(transfer.problems))
    staging = staging_root / request.aip_id.replace(":", "_")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        return _build_in(staging, transfer, request, progress)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _build_in(staging: Path, transfer, request: IngestRequest,  # type: ignore[no-untyped-def]
              progress: Progress) -> StagedAip:
    started = _now()
    with progress.task("copying and hashing", transfer.total_bytes) as advance:
        content = copy_transfer(transfer, staging, advance)
    digests_at = _now()
    ids = identify_paths([f.local for f in content])
    problems: list[Problem] = []
    content = [replace(f, puid=i.puid, mime=i.mime) for f, i in zip(content, ids, strict=True)]
    if problems:
        raise TransferRejected(source=str(request.source), count=len(problems), details=problems)
    premis_events = [
        {"type": "ingestion start", "at": started},
        {"type": "message digest calculation", "at": digests_at, "detail": "SHA-256"},
        {"type": "format identification", "at": _now(),
         "detail": "PRONOM/libmagic"},
        {"type": "information package creation", "at": _now(), "detail": "BagIt 1.0 + E-ARK"},
    ]
    fields = dict(request.description.fields)
    fields.setdefault("title", request.source.name)
    staged = StagedAip(request.aip_id, staging)
    return finish_bag(staged, content, fields, request.bag_info, request.agent, premis_events)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
