"""CSIP rules on a METS document's sections: dmdSec/amdSec mdRefs, fileSec, structMap.

Each check appends to the document's findings and returns what :mod:`ingest.eark` needs to
resolve: :class:`~ingest.mets_model.Ref` values and the structMap's ``mptr`` pointers.
"""

from __future__ import annotations

from lxml import etree

from ingest.mets_model import (
    MD_REF_RULES,
    MD_STATUS,
    MIME,
    PACKAGE,
    Doc,
    Mptr,
    Ref,
    c,
    check_cit,
    check_date,
    m,
    name_of,
    x,
)


def check_md_sections(root: etree._Element, doc: Doc) -> list[Ref]:
    refs: list[Ref] = []
    for sec in root.findall(m("dmdSec")):
        if not sec.get("ID"):
            doc.error("attribute-missing", sec, "dmdSec has no @ID", "CSIP18", field="ID")
        check_date(sec, "CREATED", doc, "CSIP19", required=True)
        if sec.get("STATUS") and sec.get("STATUS") not in MD_STATUS:
            doc.warn("status-not-in-vocabulary", sec, f"dmdSec/@STATUS {sec.get('STATUS')!r} "
                     "is not CURRENT or SUPERSEDED", "CSIP20")
        refs += _md_refs(sec, "dmdSec", doc)
    amd = root.findall(m("amdSec"))
    if len(amd) > 1:
        doc.warn("amdsec-not-single", amd[1], "more than one amdSec; all administrative "
                 "metadata belongs in a single amdSec", "CSIP31")
    id_rules = {"digiprovMD": "CSIP33", "rightsMD": "CSIP46", "techMD": "METS schema",
                "sourceMD": "METS schema"}
    for sec in amd:
        for section, rule in id_rules.items():
            for sub in sec.findall(m(section)):
                if not sub.get("ID"):
                    doc.error("attribute-missing", sub, f"{section} has no @ID", rule,
                              field="ID")
                refs += _md_refs(sub, section, doc)
    return refs


def _md_refs(sec: etree._Element, section: str, doc: Doc) -> list[Ref]:
    rules = MD_REF_RULES.get(section, ("METS schema",) * 9)
    refs = []
    for el in sec.findall(m("mdRef")):
        href = _locator(el, doc, rules[:3])
        if not el.get("MDTYPE"):
            doc.error("attribute-missing", el, "mdRef has no @MDTYPE", rules[3], field="MDTYPE")
        mimetype = _mimetype(el, doc, rules[4], required=section in MD_REF_RULES)
        size = _size(el, doc, rules[5])
        check_date(el, "CREATED", doc, rules[6], required=section in MD_REF_RULES)
        checksum, kind = _checksum(el, doc, rules[7:9], required=section in MD_REF_RULES)
        if href is not None:
            refs.append(Ref(section, f"mdRef in {name_of(sec)} (line {el.sourceline})", href,
                            checksum, kind, size, mimetype, el.get("MDTYPE")))
    return refs


def _locator(el: etree._Element, doc: Doc, rules: tuple[str, ...]) -> str | None:
    what = name_of(el)
    if el.get("LOCTYPE") != "URL":
        doc.error("locator-type-invalid", el, f"{what}/@LOCTYPE is {el.get('LOCTYPE')!r}, not "
                  "'URL'", rules[0], field="LOCTYPE")
    if el.get(x("type")) != "simple":
        doc.error("link-type-invalid", el, f"{what}/@xlink:type is {el.get(x('type'))!r}, not "
                  "'simple'", rules[1], field="xlink:type")
    href = el.get(x("href"))
    if not href:
        doc.error("href-missing", el, f"{what} has no xlink:href; the file cannot be found",
                  rules[2], field="xlink:href")
        return None
    return href


def _mimetype(el: etree._Element, doc: Doc, rule: str, required: bool = True) -> str | None:
    value = el.get("MIMETYPE")
    if value is None:
        if required:
            doc.error("attribute-missing", el, f"{name_of(el)} has no @MIMETYPE", rule,
                      field="MIMETYPE")
    elif not MIME.match(value):
        doc.warn("mimetype-not-iana", el, f"{name_of(el)}/@MIMETYPE {value!r} is not an IANA "
                 "media type (type/subtype)", rule, field="MIMETYPE")
    return value


def _size(el: etree._Element, doc: Doc, rule: str) -> int | None:
    value = el.get("SIZE")
    if value is None:
        doc.error("attribute-missing", el, f"{name_of(el)} has no @SIZE", rule, field="SIZE")
        return None
    if not value.strip().isdigit():
        doc.error("size-invalid", el, f"{name_of(el)}/@SIZE {value!r} is not a byte count", rule,
                  field="SIZE")
        return None
    return int(value)


def _checksum(el: etree._Element, doc: Doc, rules: tuple[str, ...],
              required: bool = True) -> tuple[str | None, str | None]:
    checksum, kind = el.get("CHECKSUM"), el.get("CHECKSUMTYPE")
    if checksum is None:
        if required:
            doc.error("checksum-missing", el, f"{name_of(el)} has no @CHECKSUM: its integrity "
                      "cannot be verified", rules[0], field="CHECKSUM")
        else:
            doc.warn("checksum-missing", el, f"{name_of(el)} has no @CHECKSUM: its integrity "
                     "cannot be verified", rules[0], field="CHECKSUM")
    elif kind is None:
        doc.error("attribute-missing", el, f"{name_of(el)} has @CHECKSUM but no @CHECKSUMTYPE",
                  rules[1], field="CHECKSUMTYPE")
    return checksum, kind


def check_file_sec(root: etree._Element,
                   doc: Doc) -> tuple[list[Ref], list[str], dict[str, set[str]]]:
    """Refs of every file, the top-level fileGrp USE values, and each top-level group's ID
    mapped to the IDs inside it (so a structMap fptr to a file counts for its group)."""
    refs: list[Ref] = []
    uses: list[str] = []
    groups: dict[str, set[str]] = {}
    secs = root.findall(m("fileSec"))
    if len(secs) > 1:
        doc.warn("filesec-not-single", secs[1], "more than one fileSec", "CSIP58")
    for sec in secs:
        if not sec.get("ID"):
            doc.error("attribute-missing", sec, "fileSec has no @ID", "CSIP59", field="ID")
        for grp in sec.findall(m("fileGrp")):
            use = grp.get("USE")
            if not use:
                doc.error("attribute-missing", grp, f"{name_of(grp)} has no @USE", "CSIP64",
                          field="USE")
            else:
                uses.append(use)
            if not grp.get("ID"):
                doc.error("attribute-missing", grp, "fileGrp has no @ID", "CSIP65", field="ID")
            if use and (use == "Representations" or use.startswith("Representations/")):
                _check_representations_group(grp, doc)
            files = list(grp.iter(m("file")))
            if not files:
                doc.error("filegrp-empty", grp, f"{name_of(grp)} holds no file", "CSIP66")
            inner = {e.get("ID") or "" for e in grp.iter(m("fileGrp"), m("file"))}
            groups[grp.get("ID") or f"(no ID, line {grp.sourceline})"] = inner
            refs += [r for f in files if (r := _file(f, use or "", doc)) is not None]
    return refs, uses, groups


def _check_representations_group(grp: etree._Element, doc: Doc) -> None:
    if doc.role != PACKAGE:
        return
    if grp.get(c("CONTENTINFORMATIONTYPE")) is None:
        # CSIP 2.0.4 states SHOULD for CSIP62 (2.1 made it MUST): a warning.
        doc.warn("content-information-type-missing", grp, f"{name_of(grp)} (USE="
                 f"{grp.get('USE')!r}) has no csip:CONTENTINFORMATIONTYPE", "CSIP62")
    else:
        check_cit(grp, doc, "fileGrp", ("CSIP62", "CSIP63"))


def _file(el: etree._Element, use: str, doc: Doc) -> Ref | None:
    if not el.get("ID"):
        doc.error("attribute-missing", el, "file has no @ID", "CSIP67", field="ID")
    mimetype = _mimetype(el, doc, "CSIP68")
    size = _size(el, doc, "CSIP69")
    check_date(el, "CREATED", doc, "CSIP70", required=True)
    checksum, kind = _checksum(el, doc, ("CSIP71", "CSIP72"))
    if el.get("OWNERID") is not None:
        doc.info("file-ownerid", el, f"{name_of(el)} has an OWNERID ({el.get('OWNERID')!r})",
                 "CSIP73")
    locs = el.findall(m("FLocat"))
    if len(locs) != 1:
        doc.error("flocat-not-single", el, f"{name_of(el)} has {len(locs)} FLocat elements; "
                  "exactly one must locate the file", "CSIP76")
        if not locs:
            return None
    href = _locator(locs[0], doc, ("CSIP77", "CSIP78", "CSIP79"))
    if href is None:
        return None
    return Ref("fileSec", f"{name_of(el)} in fileGrp USE={use!r} (line {el.sourceline})", href,
               checksum, kind, size, mimetype)


def check_struct_map(root: etree._Element, doc: Doc, objid: str | None, ids: set[str],
                     groups: dict[str, set[str]]) -> list[Mptr]:
    maps = root.findall(m("structMap"))
    csip = [s for s in maps if s.get("LABEL") == "CSIP"]
    if not maps:
        doc.error("structmap-missing", root, "mets/structMap is missing", "CSIP80")
        return []
    if not csip:
        doc.error("structmap-csip-missing", maps[0], "no structMap has LABEL='CSIP'",
                  "CSIP80, CSIP82")
        return []
    if len(csip) > 1:
        doc.error("structmap-csip-not-single", csip[1], "more than one structMap has "
                  "LABEL='CSIP'", "CSIP80")
    smap = csip[0]
    if smap.get("TYPE") != "PHYSICAL":
        doc.error("structmap-type-invalid", smap, f"structMap/@TYPE is {smap.get('TYPE')!r}, "
                  "not 'PHYSICAL'", "CSIP81")
    if not smap.get("ID"):
        doc.error("attribute-missing", smap, "structMap has no @ID", "CSIP83", field="ID")
    divs = smap.findall(m("div"))
    if len(divs) != 1:
        doc.error("structmap-div-not-single", smap, f"structMap has {len(divs)} top divisions; "
                  "it must have exactly one", "CSIP84")
        if not divs:
            return []
    top = divs[0]
    if not top.get("ID"):
        doc.error("attribute-missing", top, "the top structMap div has no @ID", "CSIP85",
                  field="ID")
    if objid and top.get("LABEL") != objid:
        # CSIP86 is MUST, but the DILCIS corpus's valid packages break it: a warning.
        doc.warn("div-label-not-objid", top, f"top div LABEL {top.get('LABEL')!r} differs from "
                 f"mets/@OBJID {objid!r}", "CSIP86")
    _check_divisions(top, doc, root)
    _check_fptrs(smap, doc, ids, groups)
    return _mptrs(top, doc, groups)


def _check_divisions(top: etree._Element, doc: Doc, root: etree._Element) -> None:
    children = top.findall(m("div"))
    metadata = [d for d in children if d.get("LABEL") == "Metadata"]
    if len(metadata) != 1:
        doc.error("metadata-div-not-single", top, f"{len(metadata)} divisions labelled "
                  "'Metadata' under the top div; there must be exactly one", "CSIP88, CSIP90")
    if len([d for d in children if d.get("LABEL") == "Documentation"]) > 1:
        doc.error("documentation-div-not-single", top, "more than one 'Documentation' "
                  "division", "CSIP93")
    rules = {"Metadata": "CSIP89", "Documentation": "CSIP94", "Schemas": "CSIP98",
             "Representations": "CSIP102"}
    for div in children:
        if not div.get("ID"):
            doc.error("attribute-missing", div, f"division {div.get('LABEL')!r} has no @ID",
                      rules.get(div.get("LABEL") or "", "CSIP106"), field="ID")
    if metadata:
        _check_metadata_refs(metadata[0], doc, root)


def _check_metadata_refs(div: etree._Element, doc: Doc, root: etree._Element) -> None:
    dmd = set((div.get("DMDID") or "").split())
    missing = [s.get("ID") for s in root.findall(m("dmdSec")) if s.get("ID") not in dmd]
    if missing:
        doc.warn("dmdsec-not-in-structmap", div, f"the Metadata division's DMDID does not list "
                 f"dmdSec {', '.join(map(str, missing))}", "CSIP92")
    adm = set((div.get("ADMID") or "").split())
    for sec in root.findall(m("amdSec")):
        subs = [s.get("ID") for s in sec if isinstance(s.tag, str) and s.get("ID")]
        unlisted = [s for s in subs if s not in adm]
        if sec.get("ID") not in adm and unlisted:
            doc.warn("amdsec-not-in-structmap", div, "the Metadata division's ADMID does not "
                     f"list the administrative metadata {', '.join(unlisted)}", "CSIP91")


def _check_fptrs(smap: etree._Element, doc: Doc, ids: set[str],
                 groups: dict[str, set[str]]) -> None:
    for fptr in smap.iter(m("fptr")):
        target = fptr.get("FILEID")
        if not target:
            doc.error("attribute-missing", fptr, "fptr has no @FILEID",
                      "CSIP116, CSIP118, CSIP119", field="FILEID")
        elif target not in ids:
            doc.error("idref-broken", fptr, f"fptr FILEID {target!r} names no file group",
                      "CSIP116, CSIP118, CSIP119")
    pointed = {f.get("FILEID") for f in smap.iter(m("fptr"))}
    pointed |= {p.get(x("title")) for p in smap.iter(m("mptr"))}
    for group, inner in groups.items():
        if group not in pointed and not inner & pointed:
            doc.error("filegrp-not-in-structmap", smap, f"file group {group!r} is not "
                      "referenced from the CSIP structMap (fptr/@FILEID or mptr/@xlink:title)",
                      "CSIP96, CSIP100, CSIP104")


def _mptrs(top: etree._Element, doc: Doc, groups: dict[str, set[str]]) -> list[Mptr]:
    found: list[Mptr] = []
    for div in top.findall(m("div")):
        for mptr in div.iter(m("mptr")):
            href = _locator(mptr, doc, ("CSIP112", "CSIP111", "CSIP110"))
            title = mptr.get(x("title"))
            if not title:
                doc.error("attribute-missing", mptr, "mptr has no xlink:title naming its file "
                          "group", "CSIP108", field="xlink:title")
            elif title not in groups:
                doc.error("idref-broken", mptr, f"mptr xlink:title {title!r} names no file "
                          "group", "CSIP108")
            if href is not None:
                found.append(Mptr(href, f"mptr (line {mptr.sourceline})"))
    return found
