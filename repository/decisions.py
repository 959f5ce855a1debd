"""Recording policy decisions: every refusal is a chained event before it is an error.

Services (CLI and HTTP alike) call :func:`refuse` with the engine's ``Decision``; the error
it raises carries the rule in its message and as a structured detail, so ``--json`` and the
HTTP 403 body both name it.
"""

from __future__ import annotations

from typing import Any, NoReturn

from policies.engine import Decision
from repository import events
from repository.context import Repository
from repository.errors import PolicyRefused, Problem


def refusal_error(decision: Decision) -> PolicyRefused:
    where = f" ({decision.source})" if decision.source else ""
    return PolicyRefused(rule=decision.rule, reason=decision.reason, details=[Problem(
        code="policy-refused", message=f"rule {decision.rule}{where}", rule=decision.rule,
        extra={"reason": decision.reason, "source": decision.source})])


def refuse(repo: Repository, decision: Decision, *, aip: str | None,
           detail: dict[str, Any], event_type: str = events.ACCESS_REFUSED) -> NoReturn:
    """Record the refusal (its own transaction, so it survives the error) and raise."""
    with repo.catalog.session() as session:
        events.record(session, event_type, events.FAILURE, repo.agent, aip=aip,
                      detail={**detail, "rule": decision.rule, "reason": decision.reason})
    raise refusal_error(decision)
