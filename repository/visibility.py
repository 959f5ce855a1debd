"""Which catalog entries a person may see (API list/show): policies.engine.decide_view.

Roles with ``catalog`` see every entry; anyone else sees only the records they could receive
a copy of, so a reader learns nothing of a classified record, not even its title, without a
grant. A refused ``show`` is recorded like any refused access (NĐ 30/2020 Annex VI 5.a).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from policies.engine import decide_view
from repository.access import _grants
from repository.aips import list_aips, show_aip
from repository.catalog.models import Aip
from repository.context import Repository
from repository.decisions import refuse
from repository.users import actor, get_aip, get_user, record_of


def visible_aips(repo: Repository, user_name: str) -> dict:
    now = datetime.now(UTC)
    with repo.catalog.session() as session:
        who = actor(get_user(session, user_name))
        allowed = {a.id for a in session.scalars(select(Aip))
                   if decide_view(repo.policies, who, record_of(repo, a),
                                  _grants(session, a.id), now).allowed}
    listed = list_aips(repo)
    return {"aips": [a for a in listed["aips"] if a["aip"] in allowed]}


def visible_aip(repo: Repository, aip_id: str, user_name: str) -> dict:
    now = datetime.now(UTC)
    with repo.catalog.session() as session:
        aip = get_aip(session, aip_id)
        who = actor(get_user(session, user_name))
        decision = decide_view(repo.policies, who, record_of(repo, aip),
                               _grants(session, aip_id), now)
    if not decision.allowed:
        refuse(repo, decision, aip=aip_id, detail={"action": "view", "user": user_name})
    return show_aip(repo, aip_id)
