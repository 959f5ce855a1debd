"""One exception hierarchy for everything khoso tells a person.

    KhosoError                      exit 1 unless a subclass says otherwise
    ├── InvalidInput                1  the input is bad (transfer, package, metadata file)
    │   └── TransferRejected        1  a transfer failed its checks (every problem listed)
    ├── Damaged                     1  the holdings are bad (damage found, unrecoverable copy)
    │   └── BrokenLog               1  the event chain does not verify
    ├── UsageError                  2  wrong arguments, unknown names
    │   └── NotFound                2  an AIP, user or location that does not exist
    ├── ConfigError                 2  missing home, bad policy file, bad settings
    ├── BackendUnavailable          2  a storage location cannot be reached
    ├── PolicyRefused               3  a policy rule refuses the action (names the rule)
    └── InternalError               1  khoso has a bug: shown with a traceback

Messages live in the ``message`` class attribute (docstrings vanish under ``python -OO``) and
are formatted with the keyword arguments given to the constructor. ``details`` carries the
structured problems (see :class:`Problem`) that the CLI prints as the ``details`` array of the
``--json`` error document.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input or a holding: a stable code, where, and what."""

    code: str
    message: str
    path: str | None = None
    field: str | None = None
    rule: str | None = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        # Shallow, not dataclasses.asdict: its deep copy cost ~75 us a problem, which a
        # transfer of 20,000 files with a warning each pays several times over.
        data = {"code": self.code, "message": self.message, "path": self.path,
                "field": self.field, "rule": self.rule, "extra": dict(self.extra)}
        return {k: v for k, v in data.items() if v not in (None, {})}


class KhosoError(Exception):
    message = "khoso failed: {reason}"
    exit_code = 1
    code = "error"

    def __init__(self, message: str | None = None, *, details: list[Problem] | None = None,
                 **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.details = list(details or [])
        if message is None:
            try:
                message = self.message.format(**kwargs)
            except (KeyError, IndexError):
                message = self.message
        self.text = message
        super().__init__(message)

    def __str__(self) -> str:
        return self.text

    def as_document(self) -> dict[str, Any]:
        return {"error": {"code": self.exit_code, "kind": self.code, "message": self.text,
                          "details": [p.as_dict() for p in self.details]}}


class InvalidInput(KhosoError):
    message = "invalid input: {reason}"
    code = "invalid-input"


class TransferRejected(InvalidInput):
    message = "transfer {source} rejected: {count} problem(s) found; nothing was stored"
    code = "transfer-rejected"


class Damaged(KhosoError):
    message = "damage found: {reason}"
    code = "damaged"


class BrokenLog(Damaged):
    message = "event log broken at event {seq}: {reason}"
    code = "broken-log"


class UsageError(KhosoError):
    message = "{reason}"
    exit_code = 2
    code = "usage"


class NotFound(UsageError):
    message = "no {kind} named {name!r}"
    code = "not-found"


class ConfigError(KhosoError):
    message = "configuration error: {reason}"
    exit_code = 2
    code = "config"


class BackendUnavailable(KhosoError):
    message = "storage location {location} unavailable: {reason}"
    exit_code = 2
    code = "backend-unavailable"


class PolicyRefused(KhosoError):
    message = "refused by policy rule {rule}: {reason}"
    exit_code = 3
    code = "policy-refused"


class InternalError(KhosoError):
    message = "internal error (a bug in khoso): {reason}"
    code = "internal"
