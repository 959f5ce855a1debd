"""Access through the CLI on both catalogs: grants, refusals, marked copies, declassification."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from repository.context import open_repository
from repository.demo import make_sample_transfer


def _pdf_text(path: Path) -> list[str]:
    """Text of each page, as pdftotext (poppler) reads it."""
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                         capture_output=True, text=True).stdout
    return [page for page in out.split("\f") if page.strip()]


@pytest.fixture
def records(khoso, tmp_path: Path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    public, _md = make_sample_transfer(tmp_path / "in", "Công khai", "Kế hoạch công khai")
    secret, _ = make_sample_transfer(tmp_path / "in", "Tối mật", "Báo cáo tối mật")
    khoso.ok("user", "add", "an", "--role", "reader")
    khoso.ok("user", "add", "binh", "--role", "approver", "--authority", "toi-mat")
    khoso.ok("user", "add", "chi", "--role", "approver", "--authority", "mat")
    return {
        "public": khoso.json("ingest", public)["aip"],
        "secret": khoso.json("ingest", secret, "--classification", "toi-mat",
                             "--classified-on", "2026-01-15")["aip"],
    }


def test_reader_gets_a_marked_copy_of_a_public_record(khoso, records, tmp_path: Path) -> None:
    copy = khoso.json("access", records["public"], "--user", "an", "--out", tmp_path)
    assert copy["copy_number"] == 1
    dip = Path(copy["dip"])
    pdf = next(dip.rglob("*.pdf"))
    pages = _pdf_text(pdf)
    # TT 05/2025 Điều 40: "BẢN SAO" at the top right of the first page only.
    assert len(pages) == 2 and "BẢN SAO" in pages[0] and "BẢN SAO" not in pages[1]
    txt = next(dip.rglob("Tờ trình.txt"))
    source = next((tmp_path / "in" / "Công khai").rglob("Tờ trình.txt"))
    assert txt.read_bytes() == source.read_bytes()
    assert (txt.parent / "Tờ trình.txt.marking.json").is_file()
    again = khoso.json("access", records["public"], "--user", "an", "--out", tmp_path)
    assert again["copy_number"] == 2


def test_classified_record_without_grant_is_refused_with_reason(khoso, records,
                                                                tmp_path: Path) -> None:
    out = tmp_path / "copies"
    out.mkdir()
    error = khoso.json("access", records["secret"], "--user", "an", "--out", out, code=3)
    assert error["error"]["code"] == 3
    assert "access.grant-required" in error["error"]["message"]
    assert "Tối mật" in error["error"]["message"]
    assert list(out.iterdir()) == []
    events = khoso.json("aip", "show", records["secret"])["events"]
    refused = [e for e in events if e["type"] == "access refused"]
    assert refused and refused[-1]["detail"]["user"] == "an"


def test_approver_without_authority_over_the_level_cannot_grant(khoso, records) -> None:
    error = khoso.json("grant", records["secret"], "--user", "an", "--by", "chi", code=3)
    assert "grant.authority" in error["error"]["message"]
    error = khoso.json("grant", records["secret"], "--user", "an", "--by", "an", code=3)
    assert "grant.approver-role" in error["error"]["message"]


def test_granted_copy_is_marked_on_every_page_with_the_level(khoso, records,
                                                             tmp_path: Path) -> None:
    khoso.ok("grant", records["secret"], "--user", "an", "--by", "binh",
             "--purpose", "nghiên cứu", "--until", "2099-12-31")
    copy = khoso.json("access", records["secret"], "--user", "an", "--out", tmp_path,
                      "--purpose", "nghiên cứu")
    pages = _pdf_text(next(Path(copy["dip"]).rglob("*.pdf")))
    assert all("TỐI MẬT" in p and "BẢN SAO" in p for p in pages)
    assert "Bản sao số 1" in pages[0]
    assert "Bản sao bí mật nhà nước" in pages[-1]
    fonts = subprocess.run(["pdffonts", str(next(Path(copy["dip"]).rglob("*.pdf")))],
                           check=True, capture_output=True, text=True).stdout
    assert "DejaVuSans" in fonts
    dejavu_rows = [line for line in fonts.splitlines() if "DejaVuSans" in line]
    assert all(" yes " in row for row in dejavu_rows)  # embedded
    events = khoso.json("aip", "show", records["secret"])["events"]
    dissemination = [e for e in events if e["type"] == "dissemination"]
    assert dissemination[-1]["detail"]["copy_number"] == 1


def test_expired_grant_refuses(khoso, records, tmp_path: Path) -> None:
    khoso.ok("grant", records["secret"], "--user", "an", "--by", "binh", "--until", "2099-01-01")
    repo = open_repository(str(khoso.home))
    try:
        from datetime import UTC, datetime

        from repository.catalog.models import Grant

        with repo.catalog.session() as session:
            for grant in session.scalars(select(Grant)):
                grant.until = datetime(2020, 1, 1, tzinfo=UTC)
    finally:
        repo.close()
    error = khoso.json("access", records["secret"], "--user", "an", "--out", tmp_path, code=3)
    assert "access.grant-lapsed" in error["error"]["message"]
    assert "expired 2020-01-01" in error["error"]["message"]


def test_declassify_lowers_records_whose_protection_ended(khoso, tmp_path: Path) -> None:
    old, _ = make_sample_transfer(tmp_path / "in", "Mật cũ", "Hồ sơ mật 2010")
    recent, _ = make_sample_transfer(tmp_path / "in", "Mật mới", "Hồ sơ mật 2025")
    old_aip = khoso.json("ingest", old, "--classification", "mat",
                         "--classified-on", "2010-03-01")["aip"]
    new_aip = khoso.json("ingest", recent, "--classification", "confidential",
                         "--classified-on", "2025-03-01")["aip"]
    assert khoso.json("aip", "show", old_aip)["protect_until"] == "2020-03-01"

    result = khoso.json("declassify")

    assert [d["aip"] for d in result["declassified"]] == [old_aip]
    shown = khoso.json("aip", "show", old_aip)
    assert shown["classification"] == "unclassified"
    assert shown["events"][-1]["type"] == "declassification"
    assert khoso.json("aip", "show", new_aip)["classification"] == "confidential"
    khoso.ok("user", "add", "an", "--role", "reader")
    khoso.json("access", old_aip, "--user", "an", "--out", tmp_path)
    assert khoso.json("declassify")["declassified"] == []
