"""Records, users and PDF readers shared by the access tests (both catalogs via `khoso`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from repository.demo import make_sample_transfer


@pytest.fixture
def people(khoso) -> None:  # type: ignore[no-untyped-def]
    khoso.ok("user", "add", "an", "--role", "reader", "--unit", "Phòng Đọc")
    khoso.ok("user", "add", "dung", "--role", "reader")
    khoso.ok("user", "add", "binh", "--role", "approver", "--authority", "toi-mat")
    khoso.ok("user", "add", "chi", "--role", "approver", "--authority", "mat")
    khoso.ok("user", "add", "quan", "--role", "administrator")


@pytest.fixture
def records(khoso, people, tmp_path: Path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """A public record and a Tối mật one (classified 2026-01-15: protected until 2046)."""
    public, _ = make_sample_transfer(tmp_path / "in", "Công khai", "Kế hoạch công khai")
    secret, _ = make_sample_transfer(tmp_path / "in", "Tối mật", "Báo cáo tối mật")
    return {
        "public": khoso.json("ingest", public)["aip"],
        "secret": khoso.json("ingest", secret, "--classification", "toi-mat",
                             "--classified-on", "2026-01-15")["aip"],
    }

