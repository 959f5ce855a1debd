"""Run the real ``khoso`` command line in-process and read its exit code and output."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from repository.cli.app import main


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


class Khoso:
    def __init__(self, home: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.home = home
        self._capsys = capsys

    def __call__(self, *args: str) -> Result:
        self._capsys.readouterr()
        code = main([str(a) for a in args])
        captured = self._capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def ok(self, *args: str) -> Result:
        result = self(*args)
        assert result.code == 0, f"khoso {' '.join(map(str, args))} exited {result.code}:\n" \
                                 f"{result.err}\n{result.out}"
        return result

    def json(self, *args: str, code: int = 0) -> Any:
        result = self(*args, "--json")
        assert result.code == code, f"exit {result.code} (wanted {code}): {result.err}\n" \
                                    f"{result.out}"
        return result.json
