"""Record every path this process opens (os.open, open, io.open): proof that a byte is read
once, or that a file is not read at all."""

from __future__ import annotations

import builtins
import io
import os

import pytest


def record_opens(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real_os_open, real_open = os.open, builtins.open  # io.open is builtins.open

    def os_open(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(os.fspath(path))
        return real_os_open(path, *args, **kwargs)

    def py_open(file, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not isinstance(file, int):
            seen.append(os.fspath(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(builtins, "open", py_open)
    monkeypatch.setattr(io, "open", py_open)
    return seen
