"""``khoso keys list`` and ``khoso keys rotate``: KEKs and the data keys they wrap.

A rotation makes a new KEK current for a level and re-wraps, in the catalog, every data key
wrapped by an older KEK of that level: no stored byte changes (an envelope carries no key,
storage/crypto.py), so no location is written and every audit digest stays valid. Rows are
re-wrapped in batches, each its own transaction; a rotation killed midway leaves every row
readable (old KEKs are kept) and running it again finishes the job. Old KEK files stay in
``HOME/keys/kek``: catalog backups made before the rotation still need them. Remove one by
hand only when ``khoso keys list`` shows no file uses it and no backup does.
"""

from __future__ import annotations

from sqlalchemy import func, select

from repository import events
from repository.catalog.models import AipFile
from repository.context import Repository
from repository.errors import UsageError
from repository.keyring import ENCRYPTION, keys, rewrap

BATCH = 500


def list_keys(repo: Repository) -> dict:
    provider = keys(repo)
    with repo.catalog.session() as session:
        used = dict(session.execute(select(AipFile.kek_id, func.count(AipFile.id))
                                    .where(AipFile.kek_id.is_not(None))
                                    .group_by(AipFile.kek_id)).all())
    return {"keks": [{"kek": k.kek_id, "level": k.level, "generation": k.generation,
                      "current": k.current, "files": used.get(k.kek_id, 0)}
                     for k in provider.keks()]}


def rotate(repo: Repository, level: str | None = None) -> dict:
    provider = keys(repo)
    if level is not None:
        lvl = repo.policies.level(level)
        if lvl.rank == 0:
            raise UsageError(reason=f"{lvl.key} content is not encrypted: nothing to rotate")
        levels = [lvl.key]
    else:
        levels = sorted({k.level for k in provider.keks()})
    rotated = []
    for name in levels:
        new_id = provider.rotate(name)
        old = sorted(k.kek_id for k in provider.keks() if k.level == name and k.kek_id != new_id)
        count = _rewrap_all(repo, provider, old, new_id)
        with repo.catalog.session() as session:
            events.record(session, ENCRYPTION, events.SUCCESS, repo.agent, detail={
                "action": "key rotation", "level": name, "kek": new_id, "previous": old,
                "rewrapped": count, "objects_rewritten": 0})
        rotated.append({"level": name, "kek": new_id, "previous": old, "rewrapped": count})
    return {"rotated": rotated}


def _rewrap_all(repo: Repository, provider, old: list[str],  # type: ignore[no-untyped-def]
                new_id: str) -> int:
    if not old:
        return 0
    done = 0
    while True:
        with repo.catalog.session() as session:
            rows = list(session.scalars(select(AipFile).where(AipFile.kek_id.in_(old))
                                        .order_by(AipFile.id).limit(BATCH)))
            for row in rows:
                assert row.wrapped_key is not None and row.kek_id is not None
                row.wrapped_key = rewrap(provider, row.kek_id, row.wrapped_key, new_id, row.path)
                row.kek_id = new_id
            done += len(rows)
        if len(rows) < BATCH:
            return done
