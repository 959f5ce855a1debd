"""One E-ARK METS document: parse it safely, check it against CSIP, list what it vouches for.

    found = Findings()
    doc = read_mets(data, "METS.xml", role=PACKAGE, folder_name="uuid-…", found=found)

Nothing here opens a file the document points at: ``doc.refs`` (fileSec ``file`` elements and
``mdRef`` elements) and ``doc.mptrs`` are resolved and verified by :mod:`ingest.eark`.

Safety: the parser never touches the network, never loads a DTD and never expands an entity
(``resolve_entities=False``, ``no_network=True``, ``load_dtd=False``, ``huge_tree=False``);
a document with any DOCTYPE is refused outright, since E-ARK METS is schema-based and a DOCTYPE
only serves entity tricks (billion laughs, external entities).

Levels: the level the rule states in E-ARK CSIP v2.0.4 (the version TT 05/2025/TT-BNV extends;
MUST → error, SHOULD → warning, MAY → info) or, where the DILCIS test corpus has a testCase.xml
for the rule, the level stated there (CSIP2 rules 3-4: an empty or missing csip:OTHERTYPE for
TYPE="OTHER" is an ERROR). Deviations, each named where it is checked: CSIP86 (top div LABEL
equals OBJID) is a warning because the corpus's own valid packages break it; CSIP5/CSIP63
(OTHER content information type without the OTHER… attribute) are warnings, the profile
states MAY; a content information type or content category outside the DILCIS vocabularies
is a warning for the former (the vocabulary grows with every new CITS) and an error for the
latter (CSIP2's own test case); CSIP60/CSIP113 (Documentation and Schemas file groups) are
not required, because CSIPSTR15/16 make those folders optional.
"""

from __future__ import annotations

import re

from lxml import etree

from ingest.mets_model import (
    CONTENT_CATEGORIES,
    CSIP,
    METS,
    OAIS_PACKAGE_TYPES,
    PACKAGE,
    REPRESENTATION,
    XLINK,
    Doc,
    Findings,
    MetsDocument,
    Mptr,
    Ref,
    c,
    check_cit,
    check_date,
    in_future,
    m,
    parse_datetime,
)
from ingest.mets_schema import schema_errors
from ingest.mets_sections import check_file_sec, check_md_sections, check_struct_map

_NCNAME = re.compile(r"^[A-Za-z_][\w.\-]*$")
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_:]")

__all__ = ["CSIP", "METS", "PACKAGE", "REPRESENTATION", "XLINK", "Findings", "MetsDocument",
           "Mptr", "Ref", "parse_xml", "read_mets"]

def parse_xml(data: bytes, where: str, found: Findings) -> etree._Element | None:
    """The root element of a well-formed, DOCTYPE-free document, or None with an error."""
    if not data.strip():
        found.error("mets-empty", f"{where} is empty; it must be the METS document describing "
                    "the package (XML 1.0 §2.1: a document has one root element)", path=where,
                    rule="XML 1.0 §2.1")
        return None
    first = _FIRST_ELEMENT.search(data)
    if _DOCTYPE.search(data[:first.start()] if first else data):
        return _doctype(where, found)  # refused before libxml2 sees an entity declaration
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=False, dtd_validation=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        found.error("mets-not-well-formed", f"{where} is not well-formed XML: {exc}; fix or "
                    "re-export the METS document", path=where, rule="XML 1.0 §2.1")
        return None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:  # e.g. a UTF-16 document
        return _doctype(where, found)
    return root


def _doctype(where: str, found: Findings) -> None:
    found.error("xml-doctype-not-allowed", f"{where} declares a DOCTYPE; METS documents are "
                "read without DTDs or entities, remove it", path=where, rule="khoso XML safety")


def read_mets(data: bytes, where: str, *, role: str, folder_name: str | None,
              found: Findings) -> MetsDocument | None:
    """Check one METS document; None when it is not a METS document at all."""
    root = parse_xml(data, where, found)
    if root is None:
        return None
    doc = Doc(where, role, found)
    if root.tag != m("mets"):
        doc.error("mets-root-invalid", root, f"root element is {root.tag!r}, not METS's "
                  f"{{{METS}}}mets", "CSIP1000")
        return None
    for line, message in schema_errors(root):
        found.error("mets-schema-invalid", f"{where} line {line}: {message}", path=where,
                    rule="METS 1.12 schema (CSIP: METS files are valid METS)")
    ids = _check_ids(root, doc)
    objid, type_, profile = _check_root(root, doc, folder_name)
    package_type = _check_header(root, doc)
    if role == PACKAGE:
        _check_label(root, doc, package_type, profile)
    refs = check_md_sections(root, doc)
    file_refs, uses, groups = check_file_sec(root, doc)
    mptrs = check_struct_map(root, doc, objid, ids, groups)
    return MetsDocument(where, role, objid, type_, profile, package_type, tuple(uses),
                        tuple(refs + file_refs), tuple(mptrs))


def _check_ids(root: etree._Element, doc: Doc) -> set[str]:
    """METS @ID values are xs:ID: NCNames, unique in the document; IDREF(S) must resolve."""
    ids: set[str] = set()
    for el in root.iter(m("*")):
        value = el.get("ID")
        if value is None:
            continue
        if value in ids:
            doc.error("id-duplicate", el, f"ID {value!r} is used twice", "METS schema xs:ID")
        elif not _NCNAME.match(value):
            doc.error("id-invalid", el, f"ID {value!r} is not an XML name (xs:ID)",
                      "METS schema xs:ID")
        ids.add(value)
    for el in root.iter(m("*")):
        for attr in ("DMDID", "ADMID"):
            for token in (el.get(attr) or "").split():
                if token not in ids:
                    doc.error("idref-broken", el, f"{attr} {token!r} names no element of "
                              "this document", "METS schema xs:IDREFS")
    return ids


def _names_match(objid: str, folder: str) -> bool:
    # TT 05/2025: the package folder is named after the OBJID with ':' replaced by '_'.
    return folder in (objid, objid.replace(":", "_"))


def _vocab_key(text: str) -> str:
    return " ".join(text.casefold().replace("–", "-").replace("—", "-").split())


def _check_root(root: etree._Element, doc: Doc,
                folder_name: str | None) -> tuple[str | None, str | None, str | None]:
    objid = root.get("OBJID")
    if objid is None:
        doc.error("objid-missing", root, "mets/@OBJID is missing; every METS document must "
                  "carry the package (or representation) identifier", "CSIP1")
    elif not objid.strip():
        doc.error("objid-empty", root, "mets/@OBJID is empty", "CSIP1")
    elif folder_name is not None and not _names_match(objid, folder_name):
        what = "package" if doc.role == PACKAGE else "representation"
        doc.warn(f"objid-not-{what}-name", root, f"mets/@OBJID {objid!r} differs from the "
                 f"{what} folder name {folder_name!r} (TT 05/2025 names the folder after the "
                 "OBJID, ':' written '_')", "CSIP1")
    type_ = _check_type(root, doc)
    cit = root.get(c("CONTENTINFORMATIONTYPE"))
    if cit is None:
        if doc.role == REPRESENTATION:
            doc.error("content-information-type-missing", root, "representation METS has no "
                      "mets/@csip:CONTENTINFORMATIONTYPE; it is mandatory there", "CSIP4")
    else:
        check_cit(root, doc, "mets", ("CSIP4", "CSIP5"))
    profile = root.get("PROFILE")
    if not (profile or "").strip():
        doc.error("profile-missing", root, "mets/@PROFILE is missing or empty; it must give "
                  "the URL of the METS profile the package follows", "CSIP6")
        profile = None
    elif not re.match(r"^https?://[^/]*dilcis\.eu/", profile):
        doc.warn("profile-unknown", root, f"mets/@PROFILE {profile!r} is not an E-ARK profile "
                 "URL (https://…dilcis.eu/profile/…); checked as CSIP", "CSIP6")
    return objid, type_, profile


def _check_type(root: etree._Element, doc: Doc) -> str | None:
    type_ = root.get("TYPE")
    if type_ is None:
        doc.error("type-missing", root, "mets/@TYPE (content category) is missing", "CSIP2")
    elif _vocab_key(type_) not in CONTENT_CATEGORIES:
        doc.error("type-not-in-vocabulary", root, f"mets/@TYPE {type_!r} is not in the DILCIS "
                  "content category vocabulary; use 'Other' with csip:OTHERTYPE", "CSIP2")
    elif _vocab_key(type_) == "other" and not (root.get(c("OTHERTYPE")) or "").strip():
        doc.error("othertype-missing", root, "mets/@TYPE is OTHER but csip:OTHERTYPE is missing "
                  "or empty", "CSIP2, CSIP3")
    return type_


def _check_header(root: etree._Element, doc: Doc) -> str | None:
    hdr = root.find(m("metsHdr"))
    if hdr is None:
        doc.error("metshdr-missing", root, "mets/metsHdr is missing", "CSIP117")
        return None
    created = hdr.get("CREATEDATE")
    if created is None:
        doc.error("createdate-missing", hdr, "metsHdr/@CREATEDATE is missing", "CSIP7")
    elif (when := parse_datetime(created)) is None:
        doc.error("createdate-invalid", hdr, f"metsHdr/@CREATEDATE {created!r} is not an "
                  "xsd:dateTime", "CSIP7")
    elif in_future(when):
        doc.error("createdate-in-future", hdr, f"metsHdr/@CREATEDATE {created} is in the "
                  "future; a package cannot be created after it was received", "CSIP7")
    check_date(hdr, "LASTMODDATE", doc, "CSIP8")
    package_type = hdr.get(c("OAISPACKAGETYPE"))
    if package_type is None:
        doc.error("package-type-missing", hdr, "metsHdr/@csip:OAISPACKAGETYPE is missing",
                  "CSIP9")
    elif package_type not in OAIS_PACKAGE_TYPES:
        doc.error("package-type-invalid", hdr, f"metsHdr/@csip:OAISPACKAGETYPE {package_type!r}"
                  f" is not one of {', '.join(sorted(OAIS_PACKAGE_TYPES))}", "CSIP9")
        package_type = None
    _check_agent(hdr, doc)
    return package_type


def _check_agent(hdr: etree._Element, doc: Doc) -> None:
    agents = hdr.findall(m("agent"))
    software = [a for a in agents if (a.get("ROLE"), a.get("TYPE"), a.get("OTHERTYPE")) ==
                ("CREATOR", "OTHER", "SOFTWARE")]
    if not agents:
        doc.error("agent-missing", hdr, "metsHdr has no agent recording the software that made "
                  "the package", "CSIP10")
        return
    if not software:
        doc.error("software-agent-missing", hdr, "metsHdr has no agent with ROLE='CREATOR' "
                  "TYPE='OTHER' OTHERTYPE='SOFTWARE'", "CSIP11, CSIP12, CSIP13")
        return
    agent = software[0]
    name = agent.find(m("name"))
    if name is None or not (name.text or "").strip():
        doc.error("agent-name-missing", agent, "the software agent has no name", "CSIP14")
    if not any(n.get(c("NOTETYPE")) == "SOFTWARE VERSION" and (n.text or "").strip()
               for n in agent.findall(m("note"))):
        doc.error("agent-version-missing", agent, "the software agent has no note with "
                  "csip:NOTETYPE='SOFTWARE VERSION' giving its version", "CSIP15, CSIP16")


def _check_label(root: etree._Element, doc: Doc, package_type: str | None,
                 profile: str | None) -> None:
    # E-ARK SIP 2.0.4 SIP1: mets/@LABEL MAY give a short name; if present it has a value.
    if package_type != "SIP" and "earksip" not in (profile or ""):
        return
    label = root.get("LABEL")
    if label is None:
        doc.info("label-missing", root, "mets/@LABEL (a short name for the SIP) is absent",
                 "SIP1")
    elif not label.strip():
        doc.info("label-empty", root, "mets/@LABEL is present but empty", "SIP1")


