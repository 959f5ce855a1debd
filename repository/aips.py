"""``khoso aip list/show``: what the catalog holds, in the contract's JSON shape."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from repository import events
from repository.catalog.models import Aip, Replica
from repository.context import Repository
from repository.users import get_aip


def list_aips(repo: Repository) -> dict:
    with repo.catalog.session() as session:
        rows = session.scalars(select(Aip).order_by(Aip.created_at, Aip.id))
        return {"aips": [{"aip": a.id, "title": a.title, "files": a.file_count,
                          "bytes": a.byte_count, "classification": a.classification,
                          "created": a.created_at.isoformat()} for a in rows]}


def show_aip(repo: Repository, aip_id: str) -> dict:
    with repo.catalog.session() as session:
        aip = get_aip(session, aip_id)
        replicas = session.scalars(select(Replica).options(selectinload(Replica.location))
                                   .where(Replica.aip_id == aip_id).order_by(Replica.id))
        return {
            "aip": aip.id, "title": aip.title, "classification": aip.classification,
            "classified_on": aip.classified_on.isoformat() if aip.classified_on else None,
            "protect_until": aip.protect_until.isoformat() if aip.protect_until else None,
            "access_mode": aip.access_mode, "source": aip.source,
            "version": aip.version, "previous_version": aip.previous_version,
            "files": [{"path": f.path, "size": f.size, "sha256": f.sha256, "puid": f.puid,
                       "mime": f.mime, "classification": f.classification, "role": f.role}
                      for f in aip.files],
            "replicas": [{"location": r.location.name, "status": r.status,
                          "last_verified": r.last_verified.isoformat()
                          if r.last_verified else None} for r in replicas],
            "events": [{"seq": e.seq, "type": e.type, "outcome": e.outcome,
                        "at": e.at.isoformat(), "agent": e.agent,
                        "detail": json.loads(e.detail)}
                       for e in events.events_for(session, aip_id)],
        }
