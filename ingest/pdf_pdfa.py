"""The PDF/A heuristic: the claim in the XMP metadata, and the problems that stand between
the file and the part it claims (PDF/A-2 when it claims none), from the facts the walks
recorded and cheap file- and dictionary-level rules of ISO 19005-1/-2/-3 ("1:" and "2:" name
the clause in each part; parts 2 and 3 share their clause numbers). No problem found never
means "conforms": there is no veraPDF here.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pikepdf
from pikepdf.models.metadata import decode_pdf_date

from ingest.pdf_facts import Facts, text_of
from ingest.pdf_fonts import font_embedded, font_name, subset_without_set
from ingest.pdf_structure import Data

# "N G obj" with more than one white-space character between its parts (19005 6.1.8/6.1.9)
OBJECT_HEADER_SPACING = re.compile(
    rb"(?:^|[\r\n])\d+(?:[ \t\r\n]{2,}\d+[ \t\r\n]+|[ \t\r\n]\d+[ \t\r\n]{2,})obj\b")
VALID_CONFORMANCE = {"1": {"A", "B"}, "2": {"A", "B", "U"}, "3": {"A", "B", "U"},
                     "4": {"", "E", "F"}}
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


def pdfa_claim(pdf: pikepdf.Pdf) -> str | None:
    try:
        meta = pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False)
        part, level = meta.get("pdfaid:part") or "", meta.get("pdfaid:conformance") or ""
    except Exception:  # malformed XMP is "no readable claim", not a crash
        return None
    return (str(part) + str(level)) or None


def pdfa_problems(pdf: pikepdf.Pdf, claim: str | None, facts: Facts,
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
    problems += [f"font {font_name(font)} (page {page}) is not embedded "
                 "(1: 6.3.4, 2: 6.2.11.4.1)" for page, font in fonts if not font_embedded(font)]
    if rules == "1":
        problems += [f"subset font {font_name(f)} has no /CharSet or /CIDSet (1: 6.3.5)"
                     for _, f in fonts if subset_without_set(f)]
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


def _colour_rules(pdf: pikepdf.Pdf, facts: Facts) -> list[str]:
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


def _document_rules(pdf: pikepdf.Pdf, facts: Facts, part: str) -> list[str]:
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
        if value is None or text_of(value) == "":
            continue
        xmp = meta.get(prop)
        if not _same(text_of(value), xmp, key in ("/CreationDate", "/ModDate")):
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
