"""Visible markings on PDF dissemination copies, drawn with an embedded Unicode font.

reportlab draws the text on an overlay page with DejaVu Sans embedded (subset), and pikepdf
lays that overlay over each page of the copy, so ``pdftotext`` reads "TỐI MẬT" and "BẢN SAO"
back. What goes where is policy (``policies/access.yaml`` ``dissemination.marking``): each
stamp names its pages (all, first, last) and one of six anchors (top/bottom × left/centre/
right). The overlay follows each page's crop box and /Rotate, so "top right" is the top right
a reader sees, whatever the page geometry. Several stamps at one anchor stack in the order
listed, reading downwards.
"""

from __future__ import annotations

import io
import string
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pikepdf
from reportlab.lib.colors import Color
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from repository.errors import ConfigError, InvalidInput

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
COLOURS = {"red": Color(0.8, 0, 0), "black": Color(0, 0, 0)}  # TT 24/2020 Điều 3: red ink
MARGIN = 18.0
LEADING = 3.0


@dataclass(frozen=True)
class Stamp:
    """One line of text on some pages. Text is normalised to NFC so it extracts as typed."""

    text: str
    pages: str = "all"          # all | first | last
    position: str = "top-right"  # top-/bottom- + left | center | right
    size: float = 10
    colour: str = "red"
    bold: bool = False


class _Blank(dict):  # type: ignore[type-arg]
    def __missing__(self, key: str) -> str:
        return ""


def stamps_for(specs: Iterable[Any], values: Mapping[str, object]) -> list[Stamp]:
    """Policy mark specs (``MarkSpec``) with their placeholders filled; empty lines dropped."""
    out: list[Stamp] = []
    filled = _Blank({k: "" if v is None else str(v) for k, v in values.items()})
    for spec in specs:
        text = string.Formatter().vformat(spec.text, (), filled).strip()
        if text:
            out.append(Stamp(text, spec.pages, spec.position, spec.size, spec.colour, spec.bold))
    return out


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


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _baselines(stamps: list[Stamp], vh: float) -> list[float]:
    """Baseline of each stamp: top anchors stack down from the top margin, bottom anchors end
    at the bottom margin; either way the lines read in the order listed."""
    ys: list[float] = [0.0] * len(stamps)
    anchors = {s.position for s in stamps}
    for anchor in anchors:
        idx = [i for i, s in enumerate(stamps) if s.position == anchor]
        if anchor.startswith("top"):
            y = vh - MARGIN
            for i in idx:
                y -= stamps[i].size
                ys[i] = y
                y -= LEADING
        else:
            y = MARGIN
            for i in reversed(idx):
                ys[i] = y + stamps[i].size * 0.25  # room for descenders
                y += stamps[i].size + LEADING
    return ys


def _overlay(vw: float, vh: float, stamps: list[Stamp]) -> pikepdf.Pdf:
    """One page the size the reader sees (width × height after /Rotate), marks upright."""
    regular, bold = _fonts()
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(vw, vh), pageCompression=1, initialFontName=regular)
    for stamp, y in zip(stamps, _baselines(stamps, vh), strict=True):
        c.setFillColor(COLOURS.get(stamp.colour, COLOURS["red"]))
        c.setFont(bold if stamp.bold else regular, stamp.size)
        text = _nfc(stamp.text)
        if stamp.position.endswith("center"):
            c.drawCentredString(vw / 2, y, text)
        elif stamp.position.endswith("right"):
            c.drawRightString(vw - MARGIN, y, text)
        else:
            c.drawString(MARGIN, y, text)
    c.showPage()
    c.save()
    buf.seek(0)
    return pikepdf.open(buf)


def _on_page(stamp: Stamp, index: int, count: int) -> bool:
    return (stamp.pages == "all" or (stamp.pages == "first" and index == 0)
            or (stamp.pages == "last" and index == count - 1))


def mark_pdf(source: Path, target: Path, stamps: list[Stamp], *,
             strip_metadata: bool = False) -> int:
    """Write a marked copy of ``source`` to ``target``; returns the number of pages."""
    try:
        pdf = pikepdf.open(source)
    except (pikepdf.PdfError, pikepdf.PasswordError) as exc:
        raise InvalidInput(reason=f"{source.name}: cannot open PDF to mark it: {exc}") from exc
    with pdf:
        count = len(pdf.pages)
        for i, page in enumerate(pdf.pages):
            mine = [s for s in stamps if _on_page(s, i, count)]
            if mine:
                _stamp(pdf, page, mine)
        if strip_metadata:
            strip_document_metadata(pdf)
        pdf.save(target)
    return count


def strip_document_metadata(pdf: pikepdf.Pdf) -> None:
    """Drop the document info dictionary and every XMP stream (catalog and pages)."""
    if "/Info" in pdf.trailer:
        del pdf.trailer["/Info"]
    if "/Metadata" in pdf.Root:
        del pdf.Root["/Metadata"]
    for page in pdf.pages:
        if "/Metadata" in page.obj:
            del page.obj["/Metadata"]


def _stamp(pdf: pikepdf.Pdf, page: pikepdf.Page, stamps: list[Stamp]) -> None:
    x0, y0, x1, y1 = (float(v) for v in page.cropbox)
    rotate = int(page.obj.get("/Rotate", 0)) % 360
    # qpdf's placement (pikepdf add_overlay) turns the form to match the page's /Rotate, so
    # the overlay is drawn upright in the reader's frame: width and height swap at 90/270.
    vw, vh = (y1 - y0, x1 - x0) if rotate in (90, 270) else (x1 - x0, y1 - y0)
    overlay = _overlay(vw, vh, stamps)
    form = pdf.copy_foreign(overlay.pages[0].as_form_xobject())
    page.add_overlay(form, pikepdf.Rectangle(x0, y0, x1, y1))
