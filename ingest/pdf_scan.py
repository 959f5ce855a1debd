"""Every object of the file looked at once: JavaScript, embedded files, the actions, filters,
graphics and annotation entries ISO 19005 forbids ("1:" and "2:" name the clause in parts 1
and 2), transparency, and the largest values against the implementation limits.
"""

from __future__ import annotations

from typing import Any

import pikepdf

from ingest.pdf_content import INTENTS
from ingest.pdf_facts import Facts, measure_value, text_of

# 1: 6.6.1, 2: 6.5.1 (JavaScript is reported on its own)
FORBIDDEN_ACTIONS = {"/Launch", "/Sound", "/Movie", "/ResetForm", "/ImportData", "/Hide",
                     "/SetOCGState", "/Rendition", "/Trans", "/GoTo3DView"}
NAMED_ACTIONS_OK = {"/NextPage", "/PrevPage", "/FirstPage", "/LastPage"}


def scan_object(obj: Any, facts: Facts, depth: int) -> None:
    """Look at one object and its direct (not indirect) children; indirect ones are visited
    from the object list, so each object is looked at once and cycles cannot recur."""
    measure_value(obj, facts)
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
            scan_object(child, facts, depth + 1)


def _scan_dictionary(obj: pikepdf.Object, facts: Facts) -> None:
    facts.measure("dict", len(obj.keys()))
    for key in obj.keys():  # noqa: SIM118 - a pikepdf Dictionary iterates differently
        facts.measure("name", len(key[1:].encode("utf-8", "surrogateescape")))
    action = obj.get("/S")
    if action == "/JavaScript" or "/JS" in obj:
        facts.javascript = True  # Names/JavaScript, OpenAction, AA, link actions alike
    elif action in FORBIDDEN_ACTIONS or (action == "/Named"
                                         and obj.get("/N") not in NAMED_ACTIONS_OK):
        facts.findings.add(f"action {text_of(action)} is not allowed (1: 6.6.1, 2: 6.5.1)")
    if "/AA" in obj:
        facts.findings.add("additional-actions (/AA) dictionary present (1: 6.6.2, 2: 6.5.2)")
    ef = obj.get("/EF")
    if isinstance(ef, pikepdf.Dictionary):  # a file specification's embedded streams
        facts.embedded |= {v.objgen for v in ef.values() if isinstance(v, pikepdf.Stream)}
    if isinstance(obj, pikepdf.Stream):
        if "/LZWDecode" in text_of(obj.get("/Filter", "")):
            facts.findings.add("uses the LZWDecode filter (1: 6.1.10, 2: 6.1.7.2)")
        if any(k in obj for k in ("/F", "/FFilter", "/FDecodeParms")):
            facts.findings.add("stream data kept in an external file (1: 6.1.7, 2: 6.1.7.1)")
    _scan_graphics(obj, facts)
    if "/Rect" in obj and "/Subtype" in obj:  # an annotation
        _scan_annotation(obj, facts)


def _scan_graphics(obj: pikepdf.Object, facts: Facts) -> None:
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


def _scan_annotation(annot: pikepdf.Object, facts: Facts) -> None:
    subtype = text_of(annot.get("/Subtype"))
    facts.annot_subtypes.add(subtype)
    flags = annot.get("/F", 0)
    if subtype != "/Popup" and (not isinstance(flags, int) or not flags & 4 or flags & 35):
        # Print set; Invisible (1), Hidden (2) and NoView (32) clear
        facts.findings.add(f"annotation {subtype} is hidden or not printed "
                           "(1: 6.5.3, 2: 6.3.2)")
