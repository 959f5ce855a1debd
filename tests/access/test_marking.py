"""Marks on PDF copies: where each one is, on which pages, read back with pdftotext -bbox."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pikepdf
import pytest
from reportlab.pdfgen import canvas

from policies.loader import load_policies
from repository import pdfa
from repository.marking import Stamp, _fonts, mark_pdf, stamps_for
from tests.helpers.pdf import pdf_pages, pdf_words, phrase
from tests.helpers.require import missing

POLICY = load_policies().access.dissemination.marking
VALUES = {"label": "TỐI MẬT", "number": 7, "form": "sao y", "date": "24/11/2026",
          "recipient": "an", "approver": "binh", "request": "uuid-X"}


def _pdf(path: Path, pages: int = 3, size: tuple[float, float] = (595, 842),
         rotate: int = 0, title: str | None = "Bí mật") -> Path:
    regular, _ = _fonts()
    c = canvas.Canvas(str(path), pagesize=size, initialFontName=regular)
    for n in range(pages):
        c.setFont(regular, 12)
        c.drawString(72, size[1] / 2, f"Nội dung trang {n + 1}")
        c.showPage()
    c.save()
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        for page in pdf.pages:
            if rotate:
                page.obj["/Rotate"] = rotate
        if title:
            pdf.docinfo["/Title"] = title
            pdf.docinfo["/Author"] = "Nguyễn Văn Soạn"
            with pdf.open_metadata() as meta:
                meta["dc:creator"] = ["Nguyễn Văn Soạn"]
        pdf.save(path)
    return path


def test_unclassified_copy_says_ban_sao_at_the_top_right_of_page_one_only(tmp_path: Path) -> None:
    out = tmp_path / "out.pdf"
    mark_pdf(_pdf(tmp_path / "in.pdf"), out, stamps_for(POLICY.unclassified, VALUES))
    words = pdf_words(out)
    mark = phrase(words, "BẢN SAO", 1)
    assert mark, "BẢN SAO missing on page 1"
    # TT 05/2025 Điều 40: top right of the first page.
    assert min(w.x_min for w in mark) > mark[0].width * 0.75
    assert max(w.y_max for w in mark) < mark[0].height * 0.06
    assert not phrase(words, "BẢN SAO", 2) and not phrase(words, "BẢN SAO", 3)


def test_classified_copy_carries_level_every_page_number_first_stamp_last(
        tmp_path: Path) -> None:
    out = tmp_path / "out.pdf"
    mark_pdf(_pdf(tmp_path / "in.pdf"), out, stamps_for(POLICY.classified, VALUES))
    words = pdf_words(out)
    for page in (1, 2, 3):
        label = phrase(words, "TỐI MẬT", page)
        assert label, f"level label missing on page {page}"
        centre = (label[0].x_min + label[-1].x_max) / 2
        assert abs(centre - label[0].width / 2) < 20 and label[0].y_max < 60
    number = phrase(words, "Bản sao số 7", 1)
    assert number and number[0].x_min > number[0].width / 2 and number[0].y_max < 60
    assert not phrase(words, "Bản sao số 7", 2)
    stamp = phrase(words, "Bản sao bí mật nhà nước", 3)
    assert stamp and stamp[0].y_min > stamp[0].height * 0.9  # bottom of the last page
    assert stamp[-1].x_max > stamp[0].width * 0.9
    assert not phrase(words, "Bản sao bí mật nhà nước", 1)
    assert phrase(words, "Nơi nhận: an - người cho phép sao: binh", 3)


def test_one_page_copy_carries_first_and_last_page_marks(tmp_path: Path) -> None:
    out = tmp_path / "out.pdf"
    mark_pdf(_pdf(tmp_path / "in.pdf", pages=1), out, stamps_for(POLICY.classified, VALUES))
    text = pdf_pages(out)[0]
    assert "Bản sao số 7" in text and "Bản sao bí mật nhà nước" in text and "TỐI MẬT" in text


@pytest.mark.parametrize("rotate", [90, 180, 270])
def test_marks_sit_top_right_as_the_reader_sees_a_rotated_page(tmp_path: Path,
                                                               rotate: int) -> None:
    out = tmp_path / "out.pdf"
    mark_pdf(_pdf(tmp_path / "in.pdf", pages=1, rotate=rotate), out,
             [Stamp("BẢN SAO", "first", "top-right", 10, "black", True)])
    mark = phrase(pdf_words(out), "BẢN SAO", 1)
    assert mark
    # pdftotext -bbox gives word boxes in the reader's frame but the page size unrotated.
    seen_w, seen_h = ((mark[0].height, mark[0].width) if rotate in (90, 270)
                      else (mark[0].width, mark[0].height))
    assert mark[0].x_min > seen_w * 0.8 and mark[-1].x_max < seen_w
    assert mark[0].y_max < seen_h * 0.06


def test_marks_use_an_embedded_unicode_font(tmp_path: Path) -> None:
    out = tmp_path / "out.pdf"
    mark_pdf(_pdf(tmp_path / "in.pdf", pages=1), out, stamps_for(POLICY.classified, VALUES))
    fonts = subprocess.run(["pdffonts", str(out)], check=True, capture_output=True,
                           text=True).stdout
    rows = [line for line in fonts.splitlines() if "DejaVuSans" in line]
    assert rows and all(line.split()[-5:-2] == ["yes", "yes", "yes"] for line in rows)


def test_policy_can_strip_the_originals_metadata(tmp_path: Path) -> None:
    source = _pdf(tmp_path / "in.pdf", pages=1)
    kept, stripped = tmp_path / "kept.pdf", tmp_path / "stripped.pdf"
    stamps = stamps_for(POLICY.classified, VALUES)
    mark_pdf(source, kept, stamps)
    mark_pdf(source, stripped, stamps, strip_metadata=True)
    with pikepdf.open(kept) as pdf:
        assert str(pdf.docinfo["/Author"]) == "Nguyễn Văn Soạn"
        assert "/Metadata" in pdf.Root
    with pikepdf.open(stripped) as pdf:
        assert "/Info" not in pdf.trailer or "/Author" not in pdf.docinfo
        assert "/Metadata" not in pdf.Root
    assert b"Nguy" not in stripped.read_bytes().replace(b"\x00", b"")
    assert "Bản sao số 7" in pdf_pages(stripped)[0]


def test_pdfa_normalisation_keeps_the_marks_readable(tmp_path: Path) -> None:
    if not pdfa.available():
        missing("Ghostscript with its sRGB profile (Debian ghostscript)")
    marked, normalised = tmp_path / "marked.pdf", tmp_path / "pdfa.pdf"
    mark_pdf(_pdf(tmp_path / "in.pdf", pages=2), marked, stamps_for(POLICY.classified, VALUES))
    assert pdfa.to_pdfa(marked, normalised) is None
    assert pdfa.check_pdfa(normalised) is None
    with pikepdf.open(normalised) as pdf:
        assert pdf.open_metadata()["pdfaid:part"] == "2"
        assert pdf.Root.OutputIntents[0].DestOutputProfile.read_bytes()
    pages = pdf_pages(normalised)
    assert all("TỐI MẬT" in p for p in pages) and "Bản sao số 7" in pages[0]


def test_pdfa_check_refuses_a_plain_pdf(tmp_path: Path) -> None:
    assert pdfa.check_pdfa(_pdf(tmp_path / "in.pdf", pages=1)) is not None
