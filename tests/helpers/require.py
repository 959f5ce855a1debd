"""KHOSO_TEST_REQUIRE=1 (set by scripts/test and CI) turns a skip for a missing real
component into a failure, so CI never passes by skipping (restic's
RESTIC_TEST_DISALLOW_SKIP)."""

from __future__ import annotations

import os

import pytest

REQUIRE = os.environ.get("KHOSO_TEST_REQUIRE") == "1"


def missing(what: str) -> None:
    if REQUIRE:
        pytest.fail(f"{what} (KHOSO_TEST_REQUIRE=1 forbids skipping)")
    pytest.skip(what)
