"""The transfer report: every check run on a transfer and its outcome (JSON and HTML)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from repository.errors import Problem


@dataclass
class TransferReport:
    source: str
    aip: str | None = None
    kind: str = "?"
    started: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    checks: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    formats: dict[str, str | None] = field(default_factory=dict)
    _seen: dict[int, set[tuple[str, str | None, str]]] = field(default_factory=dict, repr=False)

    def record(self, check: str, problems: list[Problem], warnings: list[Problem],
               detail: str) -> None:
        outcome = "failed" if problems else "warning" if warnings else "passed"
        self.checks.append({"check": check, "outcome": outcome, "detail": detail,
                            "problems": [p.as_dict() for p in problems],
                            "warnings": [p.as_dict() for p in warnings]})
        self._add(self.problems, problems)
        self._add(self.warnings, warnings)

    def reject(self, problem: Problem) -> None:
        self._add(self.problems, [problem])

    def warn(self, problem: Problem) -> None:
        self._add(self.warnings, [problem])

    def _add(self, into: list[Problem], items: list[Problem]) -> None:
        # The same problem may reach the report twice (a check's list, then the rejection):
        # keep it once. A set of keys, not `in` on the list: 20,000 warnings must stay linear.
        seen = self._seen.setdefault(id(into), set())
        for p in items:
            key = (p.code, p.path, p.message)
            if key not in seen:
                seen.add(key)
                into.append(p)

    @property
    def outcome(self) -> str:
        return "rejected" if self.problems else "accepted"

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "aip": self.aip, "kind": self.kind,
                "started": self.started, "outcome": self.outcome, "checks": self.checks,
                "problems": [p.as_dict() for p in self.problems],
                "warnings": [p.as_dict() for p in self.warnings], "formats": self.formats}

    def html(self) -> str:
        env = Environment(loader=PackageLoader("ingest", "templates"),
                          autoescape=select_autoescape(["html"]))
        return env.get_template("transfer_report.html").render(r=self.as_dict())
