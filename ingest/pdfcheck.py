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
19005-1/-2/-3 ("1:" and "2:" below name the clause in each part). ``pdfa_ok`` is None when
the file claims nothing; True means "no problem found", never "conforms".
"""

from __future__ import annotations

import mmap
import re
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pikepdf
from pikepdf.models.metadata import decode_pdf_date

# Decoding every stream warns once that pikepdf cannot decode JBIG2; that is a limit of the
# syntax check (images are not validated), not a finding about the file.
warnings.filterwarnings("ignore", message="pikepdf is missing some specialized decoders")

Data = bytes | mmap.mmap
# What pikepdf raises on malformed input while a document is walked (found by fuzzing the
# corpora: qpdf errors; TypeError, ValueError, IndexError for objects of the wrong kind).
MALFORMED = (pikepdf.PikepdfError, TypeError, ValueError, IndexError)
STANDARD_14 = {"Times-Roman", "Times-Bold", "Times-Italic", "Times-BoldItalic", "Helvetica",
               "Helvetica-Bold", "Helvetica-Oblique", "Helvetica-BoldOblique", "Courier",
               "Courier-Bold", "Courier-Oblique", "Courier-BoldOblique", "Symbol",
               "ZapfDingbats"}
FONT_SUBTYPES = {"/Type0", "/Type1", "/MMType1", "/Type3", "/TrueType", "/CIDFontType0",
                 "/CIDFontType2"}
# Operand counts of the fixed-arity operators (ISO 32000-1 Annex A); -1: variable.
ARITY = {"b": 0, "B": 0, "b*": 0, "B*": 0, "BDC": 2, "BMC": 1, "BT": 0, "BX": 0, "c": 6,
         "cm": 6, "CS": 1, "cs": 1, "d": 2, "d0": 2, "d1": 6, "Do": 1, "DP": 2, "EMC": 0,
         "ET": 0, "EX": 0, "f": 0, "F": 0, "f*": 0, "G": 1, "g": 1, "gs": 1, "h": 0, "i": 1,
         "j": 1, "J": 1, "K": 4, "k": 4, "l": 2, "m": 2, "M": 1, "MP": 1, "n": 0, "q": 0,
         "Q": 0, "re": 4, "RG": 3, "rg": 3, "ri": 1, "s": 0, "S": 0, "sh": 1, "T*": 0,
         "Tc": 1, "Td": 2, "TD": 2, "Tf": 2, "Tj": 1, "TJ": 1, "TL": 1, "Tm": 6, "Tr": 1,
         "Ts": 1, "Tw": 1, "Tz": 1, "v": 4, "w": 1, "W": 0, "W*": 0, "y": 4, "'": 1, '"': 3,
         "SC": -1, "SCN": -1, "sc": -1, "scn": -1, "INLINE IMAGE": -1}
TEXT_SHOWING = {"Tj", "TJ", "'", '"'}
DEVICE_SPACES = {"/DeviceRGB": "RGB", "/DeviceCMYK": "CMYK", "/DeviceGray": "Gray"}
DEVICE_OPS = {"rg": "RGB", "RG": "RGB", "k": "CMYK", "K": "CMYK", "g": "Gray", "G": "Gray"}
# "N G obj" with more than one white-space character between its parts (19005 6.1.8/6.1.9)
OBJECT_HEADER_SPACING = re.compile(
    rb"(?:^|[\r\n])\d+(?:[ \t\r\n]{2,}\d+[ \t\r\n]+|[ \t\r\n]\d+[ \t\r\n]{2,})obj\b")
PDF_VERSIONS = {f"%PDF-1.{minor}".encode() for minor in range(8)} | {b"%PDF-2.0"}
COLOUR_OPERATORS = {*DEVICE_OPS, "cs", "CS", "ri"}
# Parsing holds a whole decoded content stream (and its instructions) in memory.
CONTENT_LIMIT = 64 << 20
STREAM_LIMIT = 256 << 20  # one decoded stream (a 600 dpi colour A4 page is ~100 MiB)
# Content checks cost ~1 µs an operator after parsing; a budget bounds a huge document.
OPERATOR_BUDGET = 2_000_000
INTENTS = {"/RelativeColorimetric", "/AbsoluteColorimetric", "/Perceptual", "/Saturation"}
VALID_CONFORMANCE = {"1": {"A", "B"}, "2": {"A", "B", "U"}, "3": {"A", "B", "U"},
                     "4": {"", "E", "F"}}
# 1: 6.6.1, 2: 6.5.1 (JavaScript is reported on its own)
FORBIDDEN_ACTIONS = {"/Launch", "/Sound", "/Movie", "/ResetForm", "/ImportData", "/Hide",
                     "/SetOCGState", "/Rendition", "/Trans", "/GoTo3DView"}
NAMED_ACTIONS_OK = {"/NextPage", "/PrevPage", "/FirstPage", "/LastPage"}
# 1: 6.5.2 (PDF 1.4 types only), 2: 6.3.1
FORBIDDEN_ANNOTS = {"1": {"/Sound", "/Movie", "/FileAttachment", "/Screen", "/3D",
                          "/Watermark", "/Redact", "/Projection", "/RichMedia"},
                    "2": {"/Sound", "/Movie", "/Screen", "/3D", "/RichMedia"}}
# (1: ISO 19005-1 6.1.12 / PDF 1.4 Appendix C, 2: 19005-2 6.1.13 / ISO 32000-1 Annex C)
LIMITS = {"1": {"int": 2**31 - 1, "real": 32767, "string": 65535, "name": 127,
                "array": 8191, "dict": 4095, "q": 28},
          "2": {"int": 2**31 - 1, "real": 3.403e38, "string": 32767, "name": 127,
                "q": 28}}
INFO_TO_XMP = {"/Title": "dc:title", "/Author": "dc:creator", "/Subject": "dc:description",
               "/Keywords": "pdf:Keywords", "/Creator": "xmp:CreatorTool",
               "/Producer": "pdf:Producer", "/CreationDate": "xmp:CreateDate",
               "/ModDate": "xmp:ModifyDate"}


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


@dataclass
class _Facts:
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


def check_pdf(path: Path) -> PdfReport:
    path = Path(path)
    with path.open("rb") as fh:
        size = fh.seek(0, 2)
        data: Data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
    try:
        file_warnings = _file_structure(data)
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
    claim = _pdfa_claim(pdf)
    # The PDF/A implementation limits hold inside content streams too; measuring every
    # operand is slow, so it is done only when a PDF/A claim makes it matter.
    facts = _Facts(measure_operands=claim is not None)
    fonts: list[tuple[int, pikepdf.Dictionary]] = []
    try:
        for obj in pdf.objects:
            _scan(obj, facts, depth=0)
        fonts = list(_fonts(pdf))
        found += _font_dictionaries(fonts) + _content_streams(pdf, facts)
    except MALFORMED as exc:  # damage qpdf did not repair
        found.append(f"structure: cannot be walked: {exc}".replace(str(path), path.name))
    try:
        found += [w.replace(str(path), path.name) for w in _qpdf_findings(pdf)]
    except MALFORMED as exc:
        found.append(f"syntax check stopped: {exc}".replace(str(path), path.name))
    # Without a claim the problems still say what stands between the file and PDF/A-2.
    try:
        problems = _pdfa_problems(pdf, claim, facts, fonts, data)
    except MALFORMED as exc:
        problems = [f"PDF/A check stopped on a malformed object: {exc}"]
    return PdfReport(True, None, found, pdf.is_encrypted, facts.javascript,
                     len(facts.embedded), claim, None if claim is None else not problems,
                     problems)


def _qpdf_findings(pdf: pikepdf.Pdf) -> list[str]:
    """qpdf --check without its linearization step, which only concerns fast web view and,
    on a damaged hint stream, allocates without bound (a fuzzed 9 KB veraPDF file took 23 GB
    inside ``check_pdf_syntax``). Content streams were parsed by ``_content_streams`` already;
    their qpdf warnings are among those collected here."""
    if not hasattr(pdf, "_decode_all_streams_and_discard"):  # another pikepdf: public API
        return pdf.check_pdf_syntax()
    pdf._check_document_structures()
    found = [] if len(pdf.pages) else ["ERROR: file does not contain any pages"]
    # qpdf holds each decoded stream in memory in turn: measure first, so a decompression
    # bomb is named instead of exhausting memory.
    bomb = next((obj for obj in pdf.objects
                 if _inflated_size(obj, STREAM_LIMIT) > STREAM_LIMIT), None)
    if bomb is not None:
        found.append(f"stream {bomb.objgen[0]} {bomb.objgen[1]} inflates beyond "
                     f"{STREAM_LIMIT >> 20} MiB; streams were not decoded")
    else:
        pdf._decode_all_streams_and_discard()
    return [*("WARNING: " + w for w in pdf.get_warnings()), *found]


# --- file level: header, EOF marker, classic xref table and trailer ---------------------------

def _file_structure(data: Data) -> list[str]:
    found: list[str] = []
    header = re.match(rb"%PDF-(\d)\.(\d)", data[:16])
    if header is None:
        where = data[:1024].find(b"%PDF-")
        found.append("header: file does not start with %PDF-" + (
            f" (found at byte {where})" if where > 0 else "") + " (ISO 32000-1 7.5.2)")
    elif header[0] not in PDF_VERSIONS:
        found.append(f"header: unknown PDF version {header[0].decode()} (ISO 32000-1 7.5.2)")
    if b"%%EOF" not in data[-1024:]:
        found.append("trailer: no %%EOF marker in the last 1024 bytes (ISO 32000-1 7.5.5)")
    return found + _xref_table(data)


def _startxref(data: Data) -> int | None:
    starts = list(re.finditer(rb"startxref\s+(\d+)", bytes(data[-1024:])))
    return int(starts[-1][1]) if starts else None


def _xref_table(data: Data) -> list[str]:
    offset = _startxref(data)
    if offset is None:
        return ["trailer: no startxref (ISO 32000-1 7.5.5)"]
    if re.match(rb"\s*\d+\s+\d+\s+obj", data[offset:offset + 32]):
        return []  # a cross-reference stream (PDF 1.5+): qpdf checks those
    found = []
    if data[offset:offset + 4] != b"xref":
        # Keep looking near the offset, so the table's own defects are still reported.
        low = max(0, offset - 1024)
        near = [low + m.start() for m in re.finditer(rb"(?<!start)xref\s",
                                                     bytes(data[low:offset + 1024]))]
        if not near:
            return [f"xref: no xref table at or near startxref {offset} (ISO 32000-1 7.5.4)"]
        table = min(near, key=lambda at: abs(at - offset))
        found.append(f"xref: startxref {offset} does not point at the xref table, which is "
                     f"at byte {table} (ISO 32000-1 7.5.5)")
        offset = table
    return found + _xref_entries(data, offset + 4)


def _xref_entries(data: Data, pos: int) -> list[str]:
    found: list[str] = []
    head = re.compile(rb"\s*(\d+) (\d+)[ \t]*(?:\r\n|\r|\n)")
    entry = re.compile(rb"(\d{10}) (\d{5}) ([nf])(?: \r| \n|\r\n)")
    header = re.compile(rb"\s*(\d+)\s+(\d+)\s+obj")
    listed, misplaced = 0, 0
    while (sub := head.match(data, pos)) is not None:
        first, count = int(sub[1]), int(sub[2])
        pos = sub.end()
        for number in range(first, first + count):
            row = entry.match(data, pos)
            if row is None:
                return [*found, f"xref: entry for object {number} is not a 20-byte entry "
                        "(ISO 32000-1 7.5.4)"]
            pos, listed = row.end(), max(listed, number + 1)
            at = int(row[1])
            obj = header.match(data, at, at + 40)
            if row[3] == b"n" and (obj is None or (int(obj[1]), int(obj[2])) != (
                    number, int(row[2]))):
                misplaced += 1
                if misplaced <= 5:  # a shifted file misplaces every entry: name a few
                    found.append(f"xref: entry {number} {int(row[2])} points at byte {at}, "
                                 "where that object does not start (ISO 32000-1 7.5.4)")
    if misplaced > 5:
        found.append(f"xref: {misplaced - 5} more entries point where their object does not "
                     "start (ISO 32000-1 7.5.4)")
    trailer = re.match(rb"\s*trailer\s*<<(.{0,1024}?)>>", data[pos:pos + 1100], re.S)
    if trailer is None:
        return [*found, "xref: table is not followed by a trailer dictionary "
                "(ISO 32000-1 7.5.5)"]
    size = re.search(rb"/Size\s+(\d+)", trailer[1])
    if size is None or int(size[1]) < listed:
        found.append(f"trailer: /Size {int(size[1]) if size else 'missing'} but the xref "
                     f"table lists objects up to {listed - 1} (ISO 32000-1 7.3.6, 7.5.5)")
    return found


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


def _fonts(pdf: pikepdf.Pdf) -> Iterator[tuple[int, pikepdf.Dictionary]]:
    """Every font a page can use (page, form XObject, pattern, Type3 and annotation
    appearance resources), each once, with the number of the first page that uses it."""
    seen: set[tuple[int, int]] = set()
    for number, page in enumerate(pdf.pages, start=1):
        appearances = [s.get("/Resources") for s in _appearance_streams(page.obj)]
        for res in [_inherited(page.obj, "/Resources"), *appearances]:
            for font in _resource_fonts(res, seen, 0):
                yield number, font


def _inherited(node: pikepdf.Object, key: str) -> pikepdf.Object | None:
    for _ in range(32):  # ISO 32000-1 7.7.3.4: /Resources may sit on an ancestor
        if not isinstance(node, pikepdf.Dictionary):
            return None
        if key in node:
            return node.get(key)
        node = node.get("/Parent")
    return None


def _appearance_streams(page: pikepdf.Object) -> list[pikepdf.Stream]:
    found: list[pikepdf.Stream] = []
    annots = page.get("/Annots")
    for annot in annots if isinstance(annots, pikepdf.Array) else []:
        appearance = annot.get("/AP") if isinstance(annot, pikepdf.Dictionary) else None
        for state in appearance.values() if isinstance(appearance, pikepdf.Dictionary) else []:
            found += ([state] if isinstance(state, pikepdf.Stream) else
                      [s for s in state.values() if isinstance(s, pikepdf.Stream)]
                      if isinstance(state, pikepdf.Dictionary) else [])
    return found


def _resource_fonts(res: pikepdf.Object | None, seen: set[tuple[int, int]],
                    depth: int) -> Iterator[pikepdf.Dictionary]:
    if depth > 12 or not isinstance(res, pikepdf.Dictionary) or _visited(res, seen):
        return
    fonts = res.get("/Font")
    for font in fonts.values() if isinstance(fonts, pikepdf.Dictionary) else []:
        if isinstance(font, pikepdf.Dictionary) and not _visited(font, seen):
            yield font
            if font.get("/Subtype") == "/Type3":  # its glyph procedures have resources
                yield from _resource_fonts(font.get("/Resources"), seen, depth + 1)
    for key in ("/XObject", "/Pattern"):  # form XObjects and tiling patterns
        children = res.get(key)
        for child in children.values() if isinstance(children, pikepdf.Dictionary) else []:
            if isinstance(child, pikepdf.Stream) and not _visited(child, seen):
                yield from _resource_fonts(child.get("/Resources"), seen, depth + 1)


def _visited(obj: pikepdf.Object, seen: set[tuple[int, int]]) -> bool:
    if not obj.is_indirect:
        return False
    if obj.objgen in seen:
        return True
    seen.add(obj.objgen)
    return False


def _font_dictionaries(fonts: list[tuple[int, pikepdf.Dictionary]]) -> list[str]:
    found = []
    for page, font in fonts:
        name = _font_name(font)
        if font.get("/Type") != "/Font":
            found.append(f"font {name} (page {page}): /Type is not /Font (ISO 32000-1 9.6.2.1)")
        if font.get("/Subtype") not in FONT_SUBTYPES:
            found.append(f"font {name} (page {page}): unknown /Subtype "
                         f"{_text(font.get('/Subtype'))} (ISO 32000-1 9.6.1)")
        elif (font.get("/Subtype") in ("/Type1", "/TrueType") and name not in STANDARD_14
              and "/FontDescriptor" not in font):
            found.append(f"font {name} (page {page}): not a standard 14 font and no "
                         "/FontDescriptor (ISO 32000-1 9.6.2.1)")
    return found


def _text(obj: Any) -> str:
    """str() of a PDF object, even when a hostile name or operator is not valid UTF-8."""
    try:
        return str(obj)
    except UnicodeError:
        return bytes(obj).decode("latin-1")


def _font_name(font: pikepdf.Dictionary) -> str:
    return _text(font.get("/BaseFont", "?")).lstrip("/")


def _content_streams(pdf: pikepdf.Pdf, facts: _Facts) -> list[str]:
    found: list[str] = []
    painted: set[tuple[int, int]] = set()
    for number, page in enumerate(pdf.pages, start=1):
        resources = _inherited(page.obj, "/Resources")
        found += _operators(page.obj, resources, f"content (page {number})", facts, painted)
        for stream in _appearance_streams(page.obj):  # viewers paint these too
            found += _operators(stream, stream.get("/Resources"), f"annotation (page {number})",
                                facts, painted)
    return found[:50]


def _operators(holder: Any, resources: Any, where: str, facts: _Facts,
               painted: set[tuple[int, int]], depth: int = 0) -> list[str]:
    """Check one content stream and follow the form XObjects it paints. Only pages get the
    text-object checks: a form inherits the text state of whatever paints it."""
    if _inflates_beyond(holder, CONTENT_LIMIT):
        return [f"{where}: content stream inflates beyond {CONTENT_LIMIT >> 20} MiB; "
                "not parsed"]
    try:
        ops = pikepdf.parse_content_stream(holder)
    except MALFORMED as exc:
        return [f"{where}: cannot be parsed: {exc}"]
    found: list[str] = []
    in_text, font_set, nesting = False, False, 0
    spaces, is_form = _colour_spaces(resources), where.startswith("form")
    facts.operators += len(ops)
    if facts.operators > OPERATOR_BUDGET:
        return [f"{where}: not checked, the document has over {OPERATOR_BUDGET} operators"]
    for instruction in ops:  # attribute access: unpacking an instruction is 10x slower
        op, count = _text(instruction.operator), len(instruction.operands)
        if facts.measure_operands and op != "INLINE IMAGE":
            for value in instruction.operands:
                _measure(value, facts)
        if op in COLOUR_OPERATORS:
            _colour_operator(op, instruction.operands, spaces, facts)
        elif op == "Do" and count and depth < 12:
            found += _paint(_text(instruction.operands[0]), resources, facts, painted, depth)
        elif op in ("q", "Q"):
            nesting += 1 if op == "q" else -1
            facts.measure("q", nesting)
        arity = ARITY.get(op)
        if arity is None:
            found.append(f"{where}: {op} is not a PDF operator (ISO 32000-1 Annex A)")
        elif arity >= 0 and count != arity:
            found.append(f"{where}: {op} takes {arity} operand(s), got {count} "
                         "(ISO 32000-1 Annex A)")
        if is_form:
            continue
        if (op == "BT" and in_text) or (op == "ET" and not in_text):
            found.append(f"{where}: {op} out of order (ISO 32000-1 9.4.1)")
        in_text = op == "BT" or (in_text and op != "ET")
        font_set = font_set or op == "Tf"
        if op in TEXT_SHOWING and not (in_text and font_set):
            found.append(f"{where}: {op} outside a text object or before any Tf "
                         "(ISO 32000-1 9.4.1, 9.3.1)")
    if in_text:
        found.append(f"{where}: BT without ET (ISO 32000-1 9.4.1)")
    return found


def _inflates_beyond(holder: Any, limit: int) -> bool:
    """Whether a page's or form's content inflates beyond ``limit`` bytes: parsing holds the
    whole decoded stream in memory, so a 200 KB "bomb" of spaces costs 440 MB there."""
    contents = holder if isinstance(holder, pikepdf.Stream) else holder.get("/Contents")
    parts = contents if isinstance(contents, pikepdf.Array) else [contents]
    total = 0
    for part in parts:
        total += _inflated_size(part, limit - total)
        if total > limit:
            return True
    return False


def _inflated_size(stream: Any, limit: int) -> int:
    """Bytes a Flate stream inflates to, counted in 1 MiB steps and no further than just
    past ``limit``. Other filters expand far less and count as 0; damaged data stops the
    count (qpdf reports it when it decodes the stream)."""
    if not isinstance(stream, pikepdf.Stream):
        return 0
    filters = stream.get("/Filter")
    first = filters[0] if isinstance(filters, pikepdf.Array) and len(filters) else filters
    if _text(first) != "/FlateDecode":
        return 0
    inflater, pending, total = zlib.decompressobj(), stream.read_raw_bytes(), 0
    while pending and not inflater.eof and total <= limit:
        try:
            total += len(inflater.decompress(pending, 1 << 20))
        except zlib.error:
            break
        pending = inflater.unconsumed_tail
    return total


def _paint(name: str, resources: Any, facts: _Facts, painted: set[tuple[int, int]],
           depth: int) -> list[str]:
    xobjects = resources.get("/XObject") if isinstance(resources, pikepdf.Dictionary) else None
    xobj = xobjects.get(name) if isinstance(xobjects, pikepdf.Dictionary) else None
    if not isinstance(xobj, pikepdf.Stream) or _visited(xobj, painted):
        return []
    subtype = xobj.get("/Subtype")
    if subtype == "/Image":
        _space_used(xobj.get("/ColorSpace"), _colour_spaces(resources), facts)
    elif subtype == "/PS":
        facts.findings.add("paints a PostScript XObject (1: 6.2.7, 2: 6.2.9.3)")
    elif subtype == "/Form":
        if "/Ref" in xobj:
            facts.findings.add("paints a reference XObject (1: 6.2.6, 2: 6.2.9.2)")
        # a form without its own resources uses those of whatever paints it
        return _operators(xobj, xobj.get("/Resources", resources), f"form {name}", facts,
                          painted, depth + 1)
    return []


def _colour_operator(op: str, operands: Any, spaces: Any, facts: _Facts) -> None:
    if op in DEVICE_OPS:
        if f"/Default{DEVICE_OPS[op]}" not in spaces:  # a Default space remaps device colour
            facts.device_colour.add(DEVICE_OPS[op])
    elif op in ("cs", "CS") and operands:
        _space_used(operands[0], spaces, facts)
    elif op == "ri" and operands and _text(operands[0]) not in INTENTS:
        facts.findings.add(f"rendering intent {_text(operands[0])} is not one of the four "
                           "standard ones (1: 6.2.9, 2: 6.2.6)")


def _colour_spaces(resources: Any) -> Any:
    """The /ColorSpace resource dictionary, or an empty one."""
    spaces = resources.get("/ColorSpace") if isinstance(resources, pikepdf.Dictionary) else None
    return spaces if isinstance(spaces, pikepdf.Dictionary) else {}


def _space_used(space: Any, spaces: Any, facts: _Facts) -> None:
    """Record device-dependent colour actually used, unless a Default space remaps it."""
    if isinstance(space, pikepdf.Name) and _text(space) in spaces:
        space = spaces[_text(space)]  # a named resource such as /CS0
    names = [space]
    if isinstance(space, pikepdf.Array) and len(space):
        names = list(space)[:2] if _text(space[0]) in ("/Indexed", "/Pattern") else [space[0]]
    for one in names:
        device = DEVICE_SPACES.get(_text(one)) if isinstance(one, pikepdf.Name) else None
        if device and f"/Default{device}" not in spaces:
            facts.device_colour.add(device)


# --- features: JavaScript, embedded files, forbidden keys, colour, limits ---------------------

def _scan(obj: Any, facts: _Facts, depth: int) -> None:
    """Look at one object and its direct (not indirect) children; indirect ones are visited
    from the object list, so each object is looked at once and cycles cannot recur."""
    _measure(obj, facts)
    if depth > 32:
        return
    if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
        _scan_dictionary(obj, facts)
        children = list(obj.values())
    elif isinstance(obj, pikepdf.Array):
        facts.measure("array", len(obj))
        children = list(obj)
    else:
        return
    for child in children:
        if not (isinstance(child, pikepdf.Object) and child.is_indirect):
            _scan(child, facts, depth + 1)


def _measure(value: Any, facts: _Facts) -> None:
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


def _scan_dictionary(obj: pikepdf.Object, facts: _Facts) -> None:
    facts.measure("dict", len(obj.keys()))
    for key in obj.keys():  # noqa: SIM118 - a pikepdf Dictionary iterates differently
        facts.measure("name", len(key[1:].encode("utf-8", "surrogateescape")))
    action = obj.get("/S")
    if action == "/JavaScript" or "/JS" in obj:
        facts.javascript = True  # Names/JavaScript, OpenAction, AA, link actions alike
    elif action in FORBIDDEN_ACTIONS or (action == "/Named"
                                         and obj.get("/N") not in NAMED_ACTIONS_OK):
        facts.findings.add(f"action {_text(action)} is not allowed (1: 6.6.1, 2: 6.5.1)")
    if "/AA" in obj:
        facts.findings.add("additional-actions (/AA) dictionary present (1: 6.6.2, 2: 6.5.2)")
    ef = obj.get("/EF")
    if isinstance(ef, pikepdf.Dictionary):  # a file specification's embedded streams
        facts.embedded |= {v.objgen for v in ef.values() if isinstance(v, pikepdf.Stream)}
    if isinstance(obj, pikepdf.Stream):
        if "/LZWDecode" in _text(obj.get("/Filter", "")):
            facts.findings.add("uses the LZWDecode filter (1: 6.1.10, 2: 6.1.7.2)")
        if any(k in obj for k in ("/F", "/FFilter", "/FDecodeParms")):
            facts.findings.add("stream data kept in an external file (1: 6.1.7, 2: 6.1.7.1)")
    _scan_graphics(obj, facts)
    if "/Rect" in obj and "/Subtype" in obj:  # an annotation
        _scan_annotation(obj, facts)


def _scan_graphics(obj: pikepdf.Object, facts: _Facts) -> None:
    subtype = obj.get("/Subtype")
    if subtype == "/Image" and (obj.get("/Interpolate") is True or "/Alternates" in obj):
        facts.findings.add("image with /Interpolate true or /Alternates (1: 6.2.4, 2: 6.2.8)")
    if subtype == "/Image" and obj.get("/Intent", "/Perceptual") not in INTENTS:
        facts.findings.add("image with a non-standard rendering intent (1: 6.2.9, 2: 6.2.8)")
    if "/OPI" in obj or obj.get("/Subtype2") == "/PS":
        facts.findings.add("OPI entry or PostScript form (1: 6.2.4, 6.2.5; 2: 6.2.8, 6.2.9)")
    if "/TR" in obj or obj.get("/TR2", "/Default") != "/Default":
        facts.findings.add("graphics state with a transfer function (1: 6.2.8, 2: 6.2.5)")
    if obj.get("/RI", "/Perceptual") not in INTENTS:
        facts.findings.add("graphics state with a non-standard rendering intent "
                           "(1: 6.2.9, 2: 6.2.6)")
    group = obj.get("/Group")
    if (obj.get("/SMask") not in (None, "/None") or obj.get("/CA", 1) != 1
            or obj.get("/ca", 1) != 1
            or obj.get("/BM", "/Normal") not in ("/Normal", "/Compatible")
            or (isinstance(group, pikepdf.Dictionary) and group.get("/S") == "/Transparency")):
        facts.transparency = True


def _scan_annotation(annot: pikepdf.Object, facts: _Facts) -> None:
    subtype = _text(annot.get("/Subtype"))
    facts.annot_subtypes.add(subtype)
    flags = annot.get("/F", 0)
    if subtype != "/Popup" and (not isinstance(flags, int) or not flags & 4 or flags & 35):
        # Print set; Invisible (1), Hidden (2) and NoView (32) clear
        facts.findings.add(f"annotation {subtype} is hidden or not printed "
                           "(1: 6.5.3, 2: 6.3.2)")


# --- PDF/A heuristic --------------------------------------------------------------------------

def _pdfa_claim(pdf: pikepdf.Pdf) -> str | None:
    try:
        meta = pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False)
        part, level = meta.get("pdfaid:part") or "", meta.get("pdfaid:conformance") or ""
    except Exception:  # malformed XMP is "no readable claim", not a crash
        return None
    return (str(part) + str(level)) or None


def _pdfa_problems(pdf: pikepdf.Pdf, claim: str | None, facts: _Facts,
                   fonts: list[tuple[int, pikepdf.Dictionary]], data: Data) -> list[str]:
    part, level = (claim or "2")[:1], (claim or "2B")[1:]
    problems = []
    if claim is None:
        problems.append("no PDF/A claim (pdfaid:part) in the XMP metadata (1: 6.7.11, "
                        "2: 6.6.4)")
    elif part not in VALID_CONFORMANCE or level not in VALID_CONFORMANCE[part]:
        problems.append(f"XMP claim {claim!r} is not a PDF/A part and conformance level "
                        "(1: 6.7.11, 2: 6.6.4)")
    rules = "1" if part == "1" else "2"  # parts 2 and 3 share their clause numbers
    problems += _file_rules(pdf, data)
    problems += _colour_rules(pdf, facts)
    problems += [f"font {_font_name(font)} (page {page}) is not embedded "
                 "(1: 6.3.4, 2: 6.2.11.4.1)" for page, font in fonts if not _font_embedded(font)]
    if rules == "1":
        problems += [f"subset font {_font_name(f)} has no /CharSet or /CIDSet (1: 6.3.5)"
                     for _, f in fonts if _subset_without_set(f)]
    if facts.javascript:
        problems.append("contains JavaScript (1: 6.6.1, 2: 6.5.1)")
    problems += sorted(facts.findings)
    problems += _document_rules(pdf, facts, part)
    problems += [f"{kind} of {facts.largest[kind]:g} exceeds the implementation limit "
                 f"{limit:g} (1: 6.1.12, 2: 6.1.13)" for kind, limit in LIMITS[rules].items()
                 if facts.largest.get(kind, 0) > limit]
    problems += _info_mismatches(pdf) if rules == "1" else []
    return problems


def _file_rules(pdf: pikepdf.Pdf, data: Data) -> list[str]:
    found = []
    if not re.match(rb"%PDF-\d\.\d(\r\n|\r|\n)%[\x80-\xff]{4}", data[:32]):
        found.append("header is not followed by a comment of 4 bytes above 127 "
                     "(1: 6.1.2, 2: 6.1.2)")
    if "/ID" not in pdf.trailer:
        found.append("trailer has no /ID (1: 6.1.3, 2: 6.1.3)")
    if pdf.is_encrypted:
        found.append("file is encrypted (1: 6.1.3, 2: 6.1.3)")
    end = data.rfind(b"%%EOF")
    if end >= 0 and (len(data) - end > 7
                     or data[end + 5:end + 7] not in (b"", b"\n", b"\r", b"\r\n")):
        found.append("data follows the last %%EOF marker (1: 6.1.3, 2: 6.1.3)")
    if OBJECT_HEADER_SPACING.search(data, 0, 64 << 20):  # bounded, and no copy of the mmap
        found.append("an object header does not use single spaces (1: 6.1.8, 2: 6.1.9)")
    return found


def _colour_rules(pdf: pikepdf.Pdf, facts: _Facts) -> list[str]:
    listed = pdf.Root.get("/OutputIntents")
    intents = [oi for oi in (listed if isinstance(listed, pikepdf.Array) else [])
               if isinstance(oi, pikepdf.Dictionary) and oi.get("/S") == "/GTS_PDFA1"]
    profiles = {oi.DestOutputProfile.objgen for oi in intents
                if isinstance(oi.get("/DestOutputProfile"), pikepdf.Stream)}
    if not intents:
        # An output intent is needed only once device-dependent colour is used.
        return [f"uses Device{space} without a PDF/A output intent (1: 6.2.3.3, 2: 6.2.4.3)"
                for space in sorted(facts.device_colour)]
    found = []
    if not all(isinstance(oi.get("/DestOutputProfile"), pikepdf.Stream) for oi in intents):
        found.append("PDF/A output intent has no /DestOutputProfile (1: 6.2.2, 2: 6.2.3)")
    if len(profiles) > 1:
        found.append("output intents use different profiles (2: 6.2.3)")
    profile = intents[0].get("/DestOutputProfile")
    channels = profile.get("/N") if isinstance(profile, pikepdf.Stream) else None
    for space, wanted in (("RGB", 3), ("CMYK", 4)):
        if space in facts.device_colour and channels not in (None, wanted):
            found.append(f"uses Device{space} but the output intent profile has {channels} "
                         "channel(s) (1: 6.2.3.3, 2: 6.2.4.3)")
    return found


def _document_rules(pdf: pikepdf.Pdf, facts: _Facts, part: str) -> list[str]:
    found = []
    forbidden = facts.annot_subtypes & FORBIDDEN_ANNOTS["1" if part == "1" else "2"]
    found += [f"annotation type {s} is not allowed (1: 6.5.2, 2: 6.3.1)"
              for s in sorted(forbidden)]
    form = pdf.Root.get("/AcroForm")
    if isinstance(form, pikepdf.Dictionary) and form.get("/NeedAppearances") is True:
        found.append("interactive form sets /NeedAppearances true (1: 6.9, 2: 6.4.1)")
    perms = pdf.Root.get("/Perms")
    if part != "1" and isinstance(perms, pikepdf.Dictionary) and set(perms.keys()) - {
            "/UR3", "/DocMDP"}:
        found.append("/Perms holds entries other than UR3 and DocMDP (2: 6.1.12)")
    if part == "1":
        found += ["has embedded files (1: 6.1.11)"] if facts.embedded else []
        found += ["uses transparency (1: 6.4)"] if facts.transparency else []
        found += ["has optional content (1: 6.1.13)"] if "/OCProperties" in pdf.Root else []
    return found


def _info_mismatches(pdf: pikepdf.Pdf) -> list[str]:
    """Info dictionary entries must match their XMP counterparts (1: 6.7.3)."""
    try:
        meta = pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False)
        info = pdf.docinfo
    except Exception:  # unreadable XMP or Info: nothing to compare
        return []
    found = []
    for key, prop in INFO_TO_XMP.items():
        value = info.get(key)
        if value is None or _text(value) == "":
            continue
        xmp = meta.get(prop)
        if not _same(_text(value), xmp, key in ("/CreationDate", "/ModDate")):
            found.append(f"Info {key} does not match XMP {prop} (1: 6.7.3)")
    return found


def _same(info: str, xmp: Any, is_date: bool) -> bool:
    if xmp is None:
        return False
    if isinstance(xmp, list | set):
        xmp = ", ".join(str(x) for x in xmp)  # dc:creator is a sequence
    if not is_date:
        return info == str(xmp)
    try:
        return decode_pdf_date(info) == datetime.fromisoformat(str(xmp).replace("Z", "+00:00"))
    except (ValueError, TypeError, OverflowError):  # unparsable, or naive vs aware
        return False


def _program_holder(font: pikepdf.Dictionary) -> pikepdf.Dictionary:
    """The dictionary whose descriptor carries the font program (a Type0's descendant)."""
    kids = font.get("/DescendantFonts")
    if font.get("/Subtype") == "/Type0" and isinstance(kids, pikepdf.Array) and len(kids):
        return kids[0]
    return font


def _subset_without_set(font: pikepdf.Dictionary) -> bool:
    target = _program_holder(font)
    descriptor = target.get("/FontDescriptor")
    if not re.match(r"[A-Z]{6}\+", _font_name(target)) or not isinstance(
            descriptor, pikepdf.Dictionary):
        return False
    subtype = _text(target.get("/Subtype", ""))
    if subtype.startswith("/CIDFont"):
        return "/CIDSet" not in descriptor
    return subtype in ("/Type1", "/MMType1") and "/CharSet" not in descriptor


def _font_embedded(font: pikepdf.Dictionary) -> bool:
    if font.get("/Subtype") == "/Type3":
        return True  # its glyphs are content streams inside the file
    font = _program_holder(font)
    descriptor = font.get("/FontDescriptor")
    return isinstance(descriptor, pikepdf.Dictionary) and any(
        k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))
