"""The E-ARK documents inside an AIP: METS.xml, EAD.xml (descriptive), PREMIS.xml.

Layout (E-ARK CSIP 2.x as TT 05/2025/TT-BNV Annex I prescribes), inside the bag's ``data/``::

    METS.xml
    metadata/descriptive/EAD.xml
    metadata/preservation/PREMIS.xml
    representations/rep1/data/<the transfer's files>

Checksums are SHA-256 in upper-case hex (TT 05/2025, as the reference package has them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from lxml import etree

METS_NS = "http://www.loc.gov/METS/"
XLINK_NS = "http://www.w3.org/1999/xlink"
CSIP_NS = "https://DILCIS.eu/XML/METS/CSIPExtensionMETS"
PREMIS_NS = "http://www.loc.gov/premis/v3"
EAD_NS = "urn:isbn:1-931666-22-9"
CSIP_PROFILE = "https://earkcsip.dilcis.eu/profile/E-ARK-CSIP.xml"

REP_DATA = "representations/rep1/data"
EAD_PATH = "metadata/descriptive/EAD.xml"
PREMIS_PATH = "metadata/preservation/PREMIS.xml"


@dataclass(frozen=True)
class PackageFile:
    path: str  # relative to the package root (the bag's data/)
    size: int
    sha256: str
    mime: str | None = None
    puid: str | None = None


def _el(parent: etree._Element, ns: str, tag: str, text: str | None = None,
        **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, f"{{{ns}}}{tag}", {k: v for k, v in attrs.items() if v})
    if text is not None:
        el.text = text
    return el


def _bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def ead_xml(aip_id: str, description: dict[str, str]) -> bytes:
    root = etree.Element(f"{{{EAD_NS}}}ead", nsmap={None: EAD_NS})
    header = _el(root, EAD_NS, "eadheader")
    _el(header, EAD_NS, "eadid", aip_id)
    title = description.get("title", "")
    _el(_el(_el(header, EAD_NS, "filedesc"), EAD_NS, "titlestmt"), EAD_NS, "titleproper", title)
    arch = _el(root, EAD_NS, "archdesc", level="file")
    did = _el(arch, EAD_NS, "did")
    _el(did, EAD_NS, "unittitle", title)
    if description.get("fileCode"):
        _el(did, EAD_NS, "unitid", description["fileCode"])
    odd = _el(arch, EAD_NS, "odd")
    for key in sorted(description):
        _el(odd, EAD_NS, "p", description[key], altrender=key)
    return _bytes(root)


def premis_xml(objects: list[PackageFile], events: list[dict[str, str]], agent: str) -> bytes:
    root = etree.Element(f"{{{PREMIS_NS}}}premis", nsmap={None: PREMIS_NS}, version="3.0")
    for obj in objects:
        o = _el(root, PREMIS_NS, "object")
        o.set("{http://www.w3.org/2001/XMLSchema-instance}type", "file")
        ident = _el(o, PREMIS_NS, "objectIdentifier")
        _el(ident, PREMIS_NS, "objectIdentifierType", "local")
        _el(ident, PREMIS_NS, "objectIdentifierValue", obj.path)
        chars = _el(o, PREMIS_NS, "objectCharacteristics")
        fixity = _el(chars, PREMIS_NS, "fixity")
        _el(fixity, PREMIS_NS, "messageDigestAlgorithm", "SHA-256")
        _el(fixity, PREMIS_NS, "messageDigest", obj.sha256.upper())
        _el(chars, PREMIS_NS, "size", str(obj.size))
        fmt = _el(chars, PREMIS_NS, "format")
        desig = _el(fmt, PREMIS_NS, "formatDesignation")
        _el(desig, PREMIS_NS, "formatName", obj.mime or "application/octet-stream")
        if obj.puid:
            reg = _el(fmt, PREMIS_NS, "formatRegistry")
            _el(reg, PREMIS_NS, "formatRegistryName", "PRONOM")
            _el(reg, PREMIS_NS, "formatRegistryKey", obj.puid)
    for i, ev in enumerate(events, 1):
        e = _el(root, PREMIS_NS, "event")
        ident = _el(e, PREMIS_NS, "eventIdentifier")
        _el(ident, PREMIS_NS, "eventIdentifierType", "local")
        _el(ident, PREMIS_NS, "eventIdentifierValue", f"ingest-{i}")
        _el(e, PREMIS_NS, "eventType", ev["type"])
        _el(e, PREMIS_NS, "eventDateTime", ev["at"])
        if ev.get("detail"):
            _el(_el(e, PREMIS_NS, "eventDetailInformation"), PREMIS_NS, "eventDetail",
                ev["detail"])
        _el(_el(e, PREMIS_NS, "eventOutcomeInformation"), PREMIS_NS, "eventOutcome",
            ev.get("outcome", "success"))
        link = _el(e, PREMIS_NS, "linkingAgentIdentifier")
        _el(link, PREMIS_NS, "linkingAgentIdentifierType", "software")
        _el(link, PREMIS_NS, "linkingAgentIdentifierValue", agent)
    return _bytes(root)


def mets_xml(aip_id: str, label: str, created: datetime, agent: str,
             metadata: list[PackageFile], payload: list[PackageFile],
             version: str = "") -> bytes:
    """The package METS, meeting the CSIP 2.0.4 MUST rules khoso's validator checks
    (ingest/eark.py): software agent with its version note (CSIP15/16), @CREATED on
    metadata sections, references and files (CSIP19/28/42/70), @ID on the structMap and
    every division (CSIP83/85/89/106)."""
    stamp = created.isoformat(timespec="milliseconds")
    root = etree.Element(f"{{{METS_NS}}}mets", nsmap={
        "mets": METS_NS, "xlink": XLINK_NS, "csip": CSIP_NS}, OBJID=aip_id, TYPE="Mixed",
        LABEL=label, PROFILE=CSIP_PROFILE)
    root.set(f"{{{CSIP_NS}}}OAISPACKAGETYPE", "AIP")
    root.set(f"{{{CSIP_NS}}}CONTENTINFORMATIONTYPE", "MIXED")
    hdr = _el(root, METS_NS, "metsHdr", CREATEDATE=stamp, RECORDSTATUS="NEW")
    hdr.set(f"{{{CSIP_NS}}}OAISPACKAGETYPE", "AIP")
    ag = _el(hdr, METS_NS, "agent", ROLE="CREATOR", TYPE="OTHER", OTHERTYPE="SOFTWARE")
    _el(ag, METS_NS, "name", agent.split(" (")[0])
    note = _el(ag, METS_NS, "note", version or agent)
    note.set(f"{{{CSIP_NS}}}NOTETYPE", "SOFTWARE VERSION")
    ids: dict[str, str] = {}
    for md in metadata:
        section = "dmdSec" if md.path == EAD_PATH else "amdSec"
        ident = f"{section}-{len(ids) + 1}"
        ids[md.path] = ident
        sec = _el(root, METS_NS, section, ID=ident)
        if section == "amdSec":
            sec = _el(sec, METS_NS, "digiprovMD", ID=f"digiprov-{len(ids)}", CREATED=stamp)
        else:
            sec.set("CREATED", stamp)
        ref = _el(sec, METS_NS, "mdRef", LOCTYPE="URL", MDTYPE="EAD" if section == "dmdSec"
                  else "PREMIS", MIMETYPE="text/xml", SIZE=str(md.size), CREATED=stamp,
                  CHECKSUM=md.sha256.upper(), CHECKSUMTYPE="SHA-256")
        ref.set(f"{{{XLINK_NS}}}type", "simple")
        ref.set(f"{{{XLINK_NS}}}href", quote(md.path))
    file_sec = _el(root, METS_NS, "fileSec", ID="fileSec-1")
    groups: dict[str, etree._Element] = {}
    for i, f in enumerate(payload, 1):
        use = _file_group(f.path)
        if use not in groups:
            groups[use] = _el(file_sec, METS_NS, "fileGrp", ID=f"fileGrp-{len(groups) + 1}",
                              USE=use)
            if use.startswith("Representations/"):
                groups[use].set(f"{{{CSIP_NS}}}CONTENTINFORMATIONTYPE", "MIXED")
        fe = _el(groups[use], METS_NS, "file", ID=f"file-{i}", SIZE=str(f.size),
                 MIMETYPE=f.mime or "application/octet-stream", CREATED=stamp,
                 CHECKSUM=f.sha256.upper(), CHECKSUMTYPE="SHA-256")
        loc = _el(fe, METS_NS, "FLocat", LOCTYPE="URL")
        loc.set(f"{{{XLINK_NS}}}type", "simple")
        loc.set(f"{{{XLINK_NS}}}href", quote(f.path.encode("utf-8", "surrogateescape")))
    smap = _el(root, METS_NS, "structMap", ID="structMap-1", TYPE="PHYSICAL", LABEL="CSIP")
    top = _el(smap, METS_NS, "div", ID="div-1", LABEL=aip_id)
    _el(top, METS_NS, "div", ID="div-metadata", LABEL="Metadata",
        DMDID=" ".join(v for k, v in ids.items() if k == EAD_PATH),
        ADMID=" ".join(v for k, v in ids.items() if k != EAD_PATH))
    for n, (use, grp) in enumerate(groups.items(), 1):
        div = _el(top, METS_NS, "div", ID=f"div-group-{n}", LABEL=use)
        _el(div, METS_NS, "fptr", FILEID=grp.get("ID"))
    return _bytes(root)


def _file_group(path: str) -> str:
    """E-ARK CSIP: content files are grouped per representation; anything else is Other."""
    parts = path.split("/")
    if len(parts) > 3 and parts[0] == "representations" and parts[2] == "data":
        return f"Representations/{parts[1]}"
    return "Other"
