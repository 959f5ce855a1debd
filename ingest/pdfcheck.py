"""What a PDF is: does it open, is it well-formed, what risky features does it carry, and
does its PDF/A claim survive a heuristic check.

qpdf (through pikepdf) silently repairs most damage, so "it opens" proves little: 38 of the 44
hand-built broken PDFs in format-samples open. ``syntax_warnings`` therefore joins qpdf's
own findings (``qpdf --check`` as pikepdf's ``check_pdf_syntax`` runs it, minus the
linearization step, see ``_qpdf_findings``) with checks of what qpdf repairs silently: the
header and ``%%EOF`` marker, the classic xref table and trailer /Size, the page tree, font
dictionaries and the operators of page content streams (ISO 32000-1 clause beside each).

There is no veraPDF here. The PDF/A check is a heuristic over what pikepdf can see: the XMP
claim, the output intent (required once device colour is used), embedded fonts, encryption,
JavaScript and other forbidden actions, and cheap file- and dictionary-level rules of ISO
19005-1/-2/-3 ("1:" and "2:" name the clause in each part). ``pdfa_ok`` is None when
the file claims nothing; True means "no problem found", never "conforms".

The checks live in modules of their own: the file structure in :mod:`ingest.pdf_structure`,
fonts in :mod:`ingest.pdf_fonts`, content streams in :mod:`ingest.pdf_content`, the object
scan in :mod:`ingest.pdf_scan` and the PDF/A rules in :mod:`ingest.pdf_pdfa`. This module
opens the file, checks the page tree, runs qpdf's own check and puts the report together.
"""

from __future__ import annotations

import mmap
import warnings
from dataclasses import dataclass
from pathlib import Path

import pikepdf

from ingest.pdf_content import CONTENT_LIMIT, content_streams, inflated_size
from ingest.pdf_facts import MALFORMED, Facts
from ingest.pdf_fonts import font_dictionaries, page_fonts
from ingest.pdf_pdfa import pdfa_claim, pdfa_problems
from ingest.pdf_scan import scan_object
from ingest.pdf_structure import Data, file_structure

__all__ = ["CONTENT_LIMIT", "STREAM_LIMIT", "PdfReport", "check_pdf"]

# Decoding every stream warns once that pikepdf cannot decode JBIG2; that is a limit of the
# syntax check (images are not validated), not a finding about the file.
warnings.filterwarnings("ignore", message="pikepdf is missing some specialized decoders")

STREAM_LIMIT = 256 << 20  # one decoded stream (a 600 dpi colour A4 page is ~100 MiB)


@dataclass(frozen=True)
class PdfReport:
    opens: bool
    error: str | None
    syntax_warnings: list[str]
    encrypted: bool
    javascript: bool
    embedded_files: int
    pdfa_claim: str | None  # e.g. "2B": pdfaid:part + pdfaid:conformance exactly as written
    pdfa_ok: bool | None
    pdfa_problems: list[str]


def check_pdf(path: Path) -> PdfReport:
    path = Path(path)
    with path.open("rb") as fh:
        size = fh.seek(0, 2)
        data: Data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
    try:
        file_warnings = file_structure(data)
        try:
            pdf = pikepdf.open(path)
        except pikepdf.PasswordError:
            return PdfReport(False, "encrypted: a password is needed to open it",
                             file_warnings, True, False, 0, None, None, [])
        except pikepdf.PikepdfError as exc:  # PdfError, and QpdfRuntimeError for bad trees
            return PdfReport(False, str(exc).replace(str(path), path.name), file_warnings,
                             False, False, 0, None, None, [])
        with pdf:
            return _report(pdf, path, data, file_warnings)
    finally:
        if isinstance(data, mmap.mmap):
            data.close()


def _report(pdf: pikepdf.Pdf, path: Path, data: Data, file_warnings: list[str]) -> PdfReport:
    found = file_warnings + _page_tree(pdf)  # before page access makes qpdf repair the tree
    claim = pdfa_claim(pdf)
    # The PDF/A implementation limits hold inside content streams too; measuring every
    # operand is slow, so it is done only when a PDF/A claim makes it matter.
    facts = Facts(measure_operands=claim is not None)
    fonts: list[tuple[int, pikepdf.Dictionary]] = []
    try:
        for obj in pdf.objects:
            scan_object(obj, facts, depth=0)
        fonts = list(page_fonts(pdf))
        found += font_dictionaries(fonts) + content_streams(pdf, facts)
    except MALFORMED as exc:  # damage qpdf did not repair
        found.append(f"structure: cannot be walked: {exc}".replace(str(path), path.name))
    try:
        found += [w.replace(str(path), path.name) for w in _qpdf_findings(pdf)]
    except MALFORMED as exc:
        found.append(f"syntax check stopped: {exc}".replace(str(path), path.name))
    # Without a claim the problems still say what stands between the file and PDF/A-2.
    try:
        problems = pdfa_problems(pdf, claim, facts, fonts, data)
    except MALFORMED as exc:
        problems = [f"PDF/A check stopped on a malformed object: {exc}"]
    return PdfReport(True, None, found, pdf.is_encrypted, facts.javascript,
                     len(facts.embedded), claim, None if claim is None else not problems,
                     problems)


def _qpdf_findings(pdf: pikepdf.Pdf) -> list[str]:
    """qpdf --check without its linearization step, which only concerns fast web view and,
    on a damaged hint stream, allocates without bound (a fuzzed 9 KB veraPDF file took 23 GB
    inside ``check_pdf_syntax``). Content streams were parsed by ``content_streams`` already;
    their qpdf warnings are among those collected here."""
    if not hasattr(pdf, "_decode_all_streams_and_discard"):  # another pikepdf: public API
        return pdf.check_pdf_syntax()
    pdf._check_document_structures()
    found = [] if len(pdf.pages) else ["ERROR: file does not contain any pages"]
    # qpdf holds each decoded stream in memory in turn: measure first, so a decompression
    # bomb is named instead of exhausting memory.
    bomb = next((obj for obj in pdf.objects
                 if inflated_size(obj, STREAM_LIMIT) > STREAM_LIMIT), None)
    if bomb is not None:
        found.append(f"stream {bomb.objgen[0]} {bomb.objgen[1]} inflates beyond "
                     f"{STREAM_LIMIT >> 20} MiB; streams were not decoded")
    else:
        pdf._decode_all_streams_and_discard()
    return [*("WARNING: " + w for w in pdf.get_warnings()), *found]


# --- document structure that qpdf repairs silently ------------------------------------------

def _page_tree(pdf: pikepdf.Pdf) -> list[str]:
    found: list[str] = []
    root = pdf.Root.get("/Pages")
    if pdf.Root.get("/Type") != "/Catalog":
        found.append("catalog: /Type is not /Catalog (ISO 32000-1 7.7.2)")
    if not isinstance(root, pikepdf.Dictionary):
        return [*found, "page tree: the catalog has no /Pages dictionary (ISO 32000-1 7.7.2)"]
    count = _count_pages(root, None, found, set(), inherited=set(), depth=0)
    if root.get("/Count") != count:
        found.append(f"page tree: /Count {root.get('/Count')} but {count} page(s) found "
                     "(ISO 32000-1 7.7.3.2)")
    return found


def _count_pages(node: pikepdf.Object, parent: pikepdf.Object | None, found: list[str],
                 seen: set[tuple[int, int]], inherited: set[str], depth: int) -> int:
    if depth > 64:  # real page trees are a few levels deep; this one is hostile
        found.append("page tree: deeper than 64 levels, not walked further")
        return 0
    if node.is_indirect and node.objgen in seen:
        found.append(f"page tree: object {node.objgen[0]} is reached twice (ISO 32000-1 7.7.3)")
        return 0
    seen.add(node.objgen)
    up = node.get("/Parent")
    if parent is not None and not (isinstance(up, pikepdf.Object)
                                   and up.objgen == parent.objgen):
        found.append(f"page tree: object {node.objgen[0]} has a /Parent other than the node "
                     "that lists it (ISO 32000-1 7.7.3)")
    inherited = inherited | {k for k in ("/MediaBox", "/Resources") if k in node}
    kids = node.get("/Kids")
    if node.get("/Type") == "/Pages" or (parent is None and kids is not None):
        if not isinstance(kids, pikepdf.Array):
            found.append(f"page tree: node {node.objgen[0]} has no /Kids (ISO 32000-1 7.7.3.2)")
            return 0
        return sum(_count_pages(k, node, found, seen, inherited, depth + 1) for k in kids
                   if isinstance(k, pikepdf.Dictionary))
    if node.get("/Type") != "/Page":
        found.append(f"page tree: leaf object {node.objgen[0]} is not /Type /Page "
                     "(ISO 32000-1 7.7.3.3)")
    for key in sorted({"/MediaBox", "/Resources"} - inherited):
        found.append(f"page: object {node.objgen[0]} has no {key}, not even inherited "
                     "(ISO 32000-1 7.7.3.3)")
    return 1
