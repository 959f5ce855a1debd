"""Visible markings on PDF dissemination copies, drawn with an embedded Unicode font.

reportlab draws the text on an overlay page with DejaVu Sans embedded (subset), and pikepdf
lays that overlay over each page of the copy, so ``pdftotext`` reads "TỐI MẬT" and "BẢN SAO"
back. The overlay follows each page's crop box and rotation, so the marks sit upright in the
top margin whatever the page geometry.
"""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pikepdf
from reportlab.lib.colors import Color
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from repository.errors import ConfigError, InvalidInput

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
RED = Color(0.8, 0, 0)
BLACK = Color(0, 0, 0)


@dataclass(frozen=True)
class Marks:
    """What each page gets. Text is normalised to NFC so it extracts as typed."""

    every_page_label: str | None = None      # e.g. "TỐI MẬT" (the level's stamp)
    every_page_copy: str | None = "BẢN SAO"  # top right of every page
    first_page: str | None = None            # e.g. "Bản sao số 3"
    last_page: str | None = None             # e.g. "Bản sao bí mật nhà nước"


@lru_cache(maxsize=1)
def _fonts() -> tuple[str, str]:
    for folder in FONT_DIRS:
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            pdfmetrics.registerFont(TTFont("KhosoSans", str(regular)))
            pdfmetrics.registerFont(TTFont("KhosoSans-Bold", str(bold)))
            return "KhosoSans", "KhosoSans-Bold"
    raise ConfigError(reason="DejaVu fonts not found (install Debian package fonts-dejavu-core);"
                             " markings need a font with Vietnamese glyphs")


def _nfc(text: str | None) -> str | None:
    return unicodedata.normalize("NFC", text) if text else None


# Canvas transforms from the viewer's upright frame to page space, per /Rotate (clockwise).
_UPRIGHT = {
    0: lambda w, h: (1, 0, 0, 1, 0, 0),
    90: lambda w, h: (0, 1, -1, 0, w, 0),
    180: lambda w, h: (-1, 0, 0, -1, w, h),
    270: lambda w, h: (0, -1, 1, 0, 0, h),
}


def _overlay(width: float, height: float, rotate: int,
             lines: list[tuple[str, str, Color, float, str]]) -> pikepdf.Pdf:
    regular, bold = _fonts()
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(width, height), pageCompression=1,
                      initialFontName=regular)
    c.transform(*_UPRIGHT[rotate](width, height))
    vw, vh = (height, width) if rotate in (90, 270) else (width, height)
    margin = 18.0
    y = {"left": vh - margin - 10, "center": vh - margin - 10, "right": vh - margin - 10}
    for text, where, colour, size, weight in lines:
        c.setFillColor(colour)
        c.setFont(bold if weight == "bold" else regular, size)
        if where == "center":
            c.drawCentredString(vw / 2, y[where], text)
        elif where == "right":
            c.drawRightString(vw - margin, y[where], text)
        else:
            c.drawString(margin, y[where], text)
        y[where] -= size + 4
    c.showPage()
    c.save()
    buf.seek(0)
    return pikepdf.open(buf)


def mark_pdf(source: Path, target: Path, marks: Marks) -> int:
    """Write a marked copy of ``source`` to ``target``; returns the number of pages marked."""
    try:
        pdf = pikepdf.open(source)
    except (pikepdf.PdfError, pikepdf.PasswordError) as exc:
        raise InvalidInput(reason=f"{source.name}: cannot open PDF to mark it: {exc}") from exc
    with pdf:
        count = len(pdf.pages)
        for i, page in enumerate(pdf.pages):
            lines: list[tuple[str, str, Color, float, str]] = []
            if marks.every_page_label:
                lines.append((_nfc(marks.every_page_label), "center", RED, 14, "bold"))
            if marks.every_page_copy:
                lines.append((_nfc(marks.every_page_copy), "right", RED, 11, "bold"))
            if i == 0 and marks.first_page:
                lines.append((_nfc(marks.first_page), "left", RED, 10, "regular"))
            if i == count - 1 and marks.last_page:
                lines.append((_nfc(marks.last_page), "left", RED, 10, "regular"))
            _stamp(pdf, page, lines)
        pdf.save(target)
    return count


def _stamp(pdf: pikepdf.Pdf, page: pikepdf.Page,
           lines: list[tuple[str, str, Color, float, str]]) -> None:
    x0, y0, x1, y1 = (float(v) for v in page.cropbox)
    rotate = int(page.obj.get("/Rotate", 0)) % 360
    rotate = rotate if rotate in _UPRIGHT else 0
    overlay = _overlay(x1 - x0, y1 - y0, rotate, lines)
    form = pdf.copy_foreign(overlay.pages[0].as_form_xobject())
    page.add_overlay(form, pikepdf.Rectangle(x0, y0, x1, y1))
