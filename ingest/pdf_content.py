"""The operators of page content streams: operand counts (ISO 32000-1 Annex A), text objects
(9.4.1, 9.3.1), the form XObjects a page or annotation appearance paints, and the device
colour and rendering intents they use, which the PDF/A check needs. A stream that would
inflate beyond a limit is measured, not parsed.
"""

from __future__ import annotations

import zlib
from typing import Any

import pikepdf

from ingest.pdf_facts import MALFORMED, Facts, measure_value, text_of
from ingest.pdf_resources import appearance_streams, inherited, visited

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
COLOUR_OPERATORS = {*DEVICE_OPS, "cs", "CS", "ri"}
# Parsing holds a whole decoded content stream (and its instructions) in memory.
CONTENT_LIMIT = 64 << 20
# Content checks cost ~1 µs an operator after parsing; a budget bounds a huge document.
OPERATOR_BUDGET = 2_000_000
# The four standard rendering intents (ISO 32000-1 8.6.5.8)
INTENTS = {"/RelativeColorimetric", "/AbsoluteColorimetric", "/Perceptual", "/Saturation"}


def content_streams(pdf: pikepdf.Pdf, facts: Facts) -> list[str]:
    found: list[str] = []
    painted: set[tuple[int, int]] = set()
    for number, page in enumerate(pdf.pages, start=1):
        resources = inherited(page.obj, "/Resources")
        found += _operators(page.obj, resources, f"content (page {number})", facts, painted)
        for stream in appearance_streams(page.obj):  # viewers paint these too
            found += _operators(stream, stream.get("/Resources"), f"annotation (page {number})",
                                facts, painted)
    return found[:50]


def _operators(holder: Any, resources: Any, where: str, facts: Facts,
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
        op, count = text_of(instruction.operator), len(instruction.operands)
        if facts.measure_operands and op != "INLINE IMAGE":
            for value in instruction.operands:
                measure_value(value, facts)
        if op in COLOUR_OPERATORS:
            _colour_operator(op, instruction.operands, spaces, facts)
        elif op == "Do" and count and depth < 12:
            found += _paint(text_of(instruction.operands[0]), resources, facts, painted, depth)
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
        total += inflated_size(part, limit - total)
        if total > limit:
            return True
    return False


def inflated_size(stream: Any, limit: int) -> int:
    """Bytes a Flate stream inflates to, counted in 1 MiB steps and no further than just
    past ``limit``. Other filters expand far less and count as 0; damaged data stops the
    count (qpdf reports it when it decodes the stream)."""
    if not isinstance(stream, pikepdf.Stream):
        return 0
    filters = stream.get("/Filter")
    first = filters[0] if isinstance(filters, pikepdf.Array) and len(filters) else filters
    if text_of(first) != "/FlateDecode":
        return 0
    inflater, pending, total = zlib.decompressobj(), stream.read_raw_bytes(), 0
    while pending and not inflater.eof and total <= limit:
        try:
            total += len(inflater.decompress(pending, 1 << 20))
        except zlib.error:
            break
        pending = inflater.unconsumed_tail
    return total


def _paint(name: str, resources: Any, facts: Facts, painted: set[tuple[int, int]],
           depth: int) -> list[str]:
    xobjects = resources.get("/XObject") if isinstance(resources, pikepdf.Dictionary) else None
    xobj = xobjects.get(name) if isinstance(xobjects, pikepdf.Dictionary) else None
    if not isinstance(xobj, pikepdf.Stream) or visited(xobj, painted):
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


def _colour_operator(op: str, operands: Any, spaces: Any, facts: Facts) -> None:
    if op in DEVICE_OPS:
        if f"/Default{DEVICE_OPS[op]}" not in spaces:  # a Default space remaps device colour
            facts.device_colour.add(DEVICE_OPS[op])
    elif op in ("cs", "CS") and operands:
        _space_used(operands[0], spaces, facts)
    elif op == "ri" and operands and text_of(operands[0]) not in INTENTS:
        facts.findings.add(f"rendering intent {text_of(operands[0])} is not one of the four "
                           "standard ones (1: 6.2.9, 2: 6.2.6)")


def _colour_spaces(resources: Any) -> Any:
    """The /ColorSpace resource dictionary, or an empty one."""
    spaces = resources.get("/ColorSpace") if isinstance(resources, pikepdf.Dictionary) else None
    return spaces if isinstance(spaces, pikepdf.Dictionary) else {}


def _space_used(space: Any, spaces: Any, facts: Facts) -> None:
    """Record device-dependent colour actually used, unless a Default space remaps it."""
    if isinstance(space, pikepdf.Name) and text_of(space) in spaces:
        space = spaces[text_of(space)]  # a named resource such as /CS0
    names = [space]
    if isinstance(space, pikepdf.Array) and len(space):
        names = list(space)[:2] if text_of(space[0]) in ("/Indexed", "/Pattern") else [space[0]]
    for one in names:
        device = DEVICE_SPACES.get(text_of(one)) if isinstance(one, pikepdf.Name) else None
        if device and f"/Default{device}" not in spaces:
            facts.device_colour.add(device)
