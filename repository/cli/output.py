"""Rendering: one JSON document on stdout with --json, readable text otherwise.

The rich consoles ``stdout`` and ``stderr`` are made on first use (PEP 562 module
``__getattr__``): a command that prints JSON never imports rich for them.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    stdout: Console
    stderr: Console

_consoles: dict[str, Any] = {}


def __getattr__(name: str) -> Any:
    if name not in ("stdout", "stderr"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return _console(name)


def _console(name: str) -> Console:
    if name not in _consoles:
        from rich.console import Console

        _consoles[name] = Console(stderr=name == "stderr", highlight=False,
                                  **({"soft_wrap": True} if name == "stdout" else {}))
    return _consoles[name]


def emit(data: Any, as_json: bool, text: str | None = None) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
        sys.stdout.flush()
    elif text is not None:
        _console("stdout").print(text, markup=False)


def warn(text: str) -> None:
    _console("stderr").print(text, markup=False, style="yellow")
