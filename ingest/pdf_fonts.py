"""The fonts a document uses: every font its pages reach, the font dictionary checks of
ISO 32000-1 9.6, and whether a font program is embedded (ISO 19005-1 6.3.4, 6.3.5; 19005-2
6.2.11.4.1).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pikepdf

from ingest.pdf_facts import text_of
from ingest.pdf_resources import appearance_streams, inherited, visited

STANDARD_14 = {"Times-Roman", "Times-Bold", "Times-Italic", "Times-BoldItalic", "Helvetica",
               "Helvetica-Bold", "Helvetica-Oblique", "Helvetica-BoldOblique", "Courier",
               "Courier-Bold", "Courier-Oblique", "Courier-BoldOblique", "Symbol",
               "ZapfDingbats"}
FONT_SUBTYPES = {"/Type0", "/Type1", "/MMType1", "/Type3", "/TrueType", "/CIDFontType0",
                 "/CIDFontType2"}


def page_fonts(pdf: pikepdf.Pdf) -> Iterator[tuple[int, pikepdf.Dictionary]]:
    """Every font a page can use (page, form XObject, pattern, Type3 and annotation
    appearance resources), each once, with the number of the first page that uses it."""
    seen: set[tuple[int, int]] = set()
    for number, page in enumerate(pdf.pages, start=1):
        appearances = [s.get("/Resources") for s in appearance_streams(page.obj)]
        for res in [inherited(page.obj, "/Resources"), *appearances]:
            for font in _resource_fonts(res, seen, 0):
                yield number, font


def _resource_fonts(res: pikepdf.Object | None, seen: set[tuple[int, int]],
                    depth: int) -> Iterator[pikepdf.Dictionary]:
    if depth > 12 or not isinstance(res, pikepdf.Dictionary) or visited(res, seen):
        return
    fonts = res.get("/Font")
    for font in fonts.values() if isinstance(fonts, pikepdf.Dictionary) else []:
        if isinstance(font, pikepdf.Dictionary) and not visited(font, seen):
            yield font
            if font.get("/Subtype") == "/Type3":  # its glyph procedures have resources
                yield from _resource_fonts(font.get("/Resources"), seen, depth + 1)
    for key in ("/XObject", "/Pattern"):  # form XObjects and tiling patterns
        children = res.get(key)
        for child in children.values() if isinstance(children, pikepdf.Dictionary) else []:
            if isinstance(child, pikepdf.Stream) and not visited(child, seen):
                yield from _resource_fonts(child.get("/Resources"), seen, depth + 1)


def font_dictionaries(fonts: list[tuple[int, pikepdf.Dictionary]]) -> list[str]:
    found = []
    for page, font in fonts:
        name = font_name(font)
        if font.get("/Type") != "/Font":
            found.append(f"font {name} (page {page}): /Type is not /Font (ISO 32000-1 9.6.2.1)")
        if font.get("/Subtype") not in FONT_SUBTYPES:
            found.append(f"font {name} (page {page}): unknown /Subtype "
                         f"{text_of(font.get('/Subtype'))} (ISO 32000-1 9.6.1)")
        elif (font.get("/Subtype") in ("/Type1", "/TrueType") and name not in STANDARD_14
              and "/FontDescriptor" not in font):
            found.append(f"font {name} (page {page}): not a standard 14 font and no "
                         "/FontDescriptor (ISO 32000-1 9.6.2.1)")
    return found


def font_name(font: pikepdf.Dictionary) -> str:
    return text_of(font.get("/BaseFont", "?")).lstrip("/")


def _program_holder(font: pikepdf.Dictionary) -> pikepdf.Dictionary:
    """The dictionary whose descriptor carries the font program (a Type0's descendant)."""
    kids = font.get("/DescendantFonts")
    if font.get("/Subtype") == "/Type0" and isinstance(kids, pikepdf.Array) and len(kids):
        return kids[0]
    return font


def subset_without_set(font: pikepdf.Dictionary) -> bool:
    target = _program_holder(font)
    descriptor = target.get("/FontDescriptor")
    if not re.match(r"[A-Z]{6}\+", font_name(target)) or not isinstance(
            descriptor, pikepdf.Dictionary):
        return False
    subtype = text_of(target.get("/Subtype", ""))
    if subtype.startswith("/CIDFont"):
        return "/CIDSet" not in descriptor
    return subtype in ("/Type1", "/MMType1") and "/CharSet" not in descriptor


def font_embedded(font: pikepdf.Dictionary) -> bool:
    if font.get("/Subtype") == "/Type3":
        return True  # its glyphs are content streams inside the file
    font = _program_holder(font)
    descriptor = font.get("/FontDescriptor")
    return isinstance(descriptor, pikepdf.Dictionary) and any(
        k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))
