"""Reading PDF copies back as a person's tools would: poppler's pdftotext (-bbox, -layout)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from tests.helpers.require import missing


@dataclass(frozen=True)
class Word:
    page: int
    text: str
    x_min: float
    y_min: float  # from the top of the page as a reader sees it (pdftotext -bbox)
    x_max: float
    y_max: float
    width: float
    height: float


def pdf_words(path: Path) -> list[Word]:
    """Every word with its box, as poppler's pdftotext -bbox reads it."""
    if shutil.which("pdftotext") is None:
        missing("pdftotext (Debian poppler-utils) is needed to read copies back")
    html = subprocess.run(["pdftotext", "-bbox", str(path), "-"], check=True,
                          capture_output=True).stdout
    root = etree.fromstring(html, etree.HTMLParser(encoding="utf-8"))
    words: list[Word] = []
    for number, page in enumerate(root.iter("page"), 1):
        w, h = float(page.get("width")), float(page.get("height"))
        for word in page.iter("word"):
            words.append(Word(number, word.text or "", float(word.get("xmin")),
                              float(word.get("ymin")), float(word.get("xmax")),
                              float(word.get("ymax")), w, h))
    return words


def phrase(words: list[Word], text: str, page: int) -> list[Word]:
    """The words of ``text`` on ``page`` where they appear in sequence, or []."""
    parts = text.split()
    on_page = [w for w in words if w.page == page]
    for i in range(len(on_page) - len(parts) + 1):
        if [w.text for w in on_page[i:i + len(parts)]] == parts:
            return on_page[i:i + len(parts)]
    return []


def pdf_pages(path: Path) -> list[str]:
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                         capture_output=True, text=True).stdout
    return [page for page in out.split("\f") if page.strip()]
