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

    def as_dict(self, classified: str | None = None) -> dict[str, Any]:
        """The report; for a ``classified`` transfer (its level) without what may be secret:
        the source folder, file names, titles and every message (they quote names and
        metadata values), each file being "file N" instead. What each problem is (code,
        field, rule) and every format stay; the command's own output listed it all."""
        data = {"source": self.source, "aip": self.aip, "kind": self.kind,
                "started": self.started, "outcome": self.outcome, "checks": self.checks,
                "problems": [p.as_dict() for p in self.problems],
                "warnings": [p.as_dict() for p in self.warnings], "formats": self.formats}
        return data if classified is None else _redacted(data, classified)

    def html(self, classified: str | None = None) -> str:
        env = Environment(loader=PackageLoader("ingest", "templates"),
                          autoescape=select_autoescape(["html"]))
        return env.get_template("transfer_report.html").render(r=self.as_dict(classified))


def _redacted(data: dict[str, Any], level: str) -> dict[str, Any]:
    labels: dict[str, str] = {}

    def label(path: str) -> str:
        return labels.setdefault(path, f"file {len(labels) + 1}")

    def problem(p: dict[str, Any]) -> dict[str, Any]:
        kept = {k: p[k] for k in ("code", "field", "rule") if k in p}
        where = f" in {label(p['path'])}" if p.get("path") else ""
        return {**kept, **({"path": label(p["path"])} if p.get("path") else {}),
                "message": f"{p['code']}{where} (classified transfer: the command's output "
                           "named it)"}

    formats = {label(path): fmt for path, fmt in sorted(data["formats"].items())}
    return {**data, "source": f"(a transfer classified {level})", "formats": formats,
            "redacted": f"classified {level}: names, titles and messages left out",
            "checks": [{**c, "problems": [problem(p) for p in c["problems"]],
                        "warnings": [problem(p) for p in c["warnings"]]}
                       for c in data["checks"]],
            "problems": [problem(p) for p in data["problems"]],
            "warnings": [problem(p) for p in data["warnings"]]}
