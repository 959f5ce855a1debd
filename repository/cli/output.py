"""Rendering: one JSON document on stdout with --json, readable text otherwise."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False)


def emit(data: Any, as_json: bool, text: str | None = None) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
        sys.stdout.flush()
    elif text is not None:
        stdout.print(text, markup=False)


def warn(text: str) -> None:
    stderr.print(text, markup=False, style="yellow")
