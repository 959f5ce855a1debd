"""What the walks over one PDF share: the facts they record for the report and the PDF/A
check, what pikepdf raises on a malformed object, and the text of a hostile PDF object.

The walks are the object scan (:mod:`ingest.pdf_scan`) and the content stream check
(:mod:`ingest.pdf_content`); :mod:`ingest.pdf_pdfa` turns their facts into problems.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pikepdf

# What pikepdf raises on malformed input while a document is walked (found by fuzzing the
# corpora: qpdf errors; TypeError, ValueError, IndexError for objects of the wrong kind).
MALFORMED = (pikepdf.PikepdfError, TypeError, ValueError, IndexError)


@dataclass
class Facts:
    javascript: bool = False
    embedded: set[tuple[int, int]] = field(default_factory=set)
    device_colour: set[str] = field(default_factory=set)
    transparency: bool = False
    findings: set[str] = field(default_factory=set)  # PDF/A findings for every part
    annot_subtypes: set[str] = field(default_factory=set)
    largest: dict[str, float] = field(default_factory=dict)  # objects' implementation limits
    operators: int = 0
    measure_operands: bool = False

    def measure(self, kind: str, value: float) -> None:
        self.largest[kind] = max(self.largest.get(kind, 0), value)


def measure_value(value: Any, facts: Facts) -> None:
    """Record the size of a number, name or string for the implementation limits."""
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        facts.measure("int", abs(value))
    elif isinstance(value, Decimal):
        facts.measure("real", abs(float(value)))
    elif isinstance(value, pikepdf.Name):
        facts.measure("name", len(bytes(value)) - 1)
    elif isinstance(value, pikepdf.String):
        facts.measure("string", len(bytes(value)))


def text_of(obj: Any) -> str:
    """str() of a PDF object, even when a hostile name or operator is not valid UTF-8."""
    try:
        return str(obj)
    except UnicodeError:
        return bytes(obj).decode("latin-1")
