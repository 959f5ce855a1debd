"""Build TT 05/2025/TT-BNV SIPs the way the reference package lays them out (for tests).

METS.xml, metadata/descriptive/EAD.xml, representations/rep1/{METS.xml, data/…,
metadata/descriptive/EAD_doc_….xml}, schemas/, documentation/; SHA-256 in upper-case hex;
OBJID ``uuid-{UUID}``. Each METS is written from what is on disk, so checksums are right.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from lxml import etree

from ingest.mets import CSIP, METS, XLINK

OBJID = "uuid-0B1E5D8A-3C1F-4B7E-9A55-5E0F1C2D3A4B"
DATA = {"H49.64.33.2001.160.1.pdf": b"%PDF-1.4\n% khoso test record one\n",
        "Tờ trình số 2.txt": "Tờ trình về việc lưu trữ\n".encode()}
NS = {"mets": METS, "csip": CSIP, "xlink": XLINK}
Tweak = Callable[[etree._Element], None]


def _el(parent: etree._Element, tag: str, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, f"{{{METS}}}{tag}")
    for key, value in attrs.items():
        ns, _, local = key.rpartition("__")
        el.set(f"{{{NS[ns]}}}{local}" if ns else local, value)
    return el


def _digest(data: bytes, algorithm: str) -> str:
    return hashlib.new(algorithm.replace("-", "").lower(), data).hexdigest().upper()


class SipBuilder:
    """Writes the package, then each METS from what is on disk (so checksums are right)."""

    def __init__(self, root: Path, algorithm: str = "SHA-256") -> None:
        self.root, self.algorithm = root, algorithm

    def write(self, rel: str, data: bytes) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def _mets(self, objid: str, cit: str | None) -> etree._Element:
        mets = etree.Element(f"{{{METS}}}mets", nsmap={None: METS, "csip": CSIP, "xlink": XLINK})
        for key, value in (("OBJID", objid), ("LABEL", "Hồ sơ thử nghiệm"), ("TYPE", "Mixed"),
                           ("PROFILE", "https://earksip.dilcis.eu/profile/E-ARK-SIP.xml")):
            mets.set(key, value)
        if cit:
            mets.set(f"{{{CSIP}}}CONTENTINFORMATIONTYPE", cit)
        hdr = _el(mets, "metsHdr", CREATEDATE="2026-06-12T11:45:37.707+07:00",
                  csip__OAISPACKAGETYPE="SIP")
        agent = _el(hdr, "agent", ROLE="CREATOR", TYPE="OTHER", OTHERTYPE="SOFTWARE")
        _el(agent, "name").text = "khoso test builder"
        _el(agent, "note", csip__NOTETYPE="SOFTWARE VERSION").text = "1.0"
        return mets

    def _ref_attrs(self, base: str, rel: str, mime: str) -> dict[str, str]:
        data = (self.root / base / rel).read_bytes()
        return {"MIMETYPE": mime, "SIZE": str(len(data)), "CREATED": "2026-06-12T11:45:37",
                "CHECKSUM": _digest(data, self.algorithm), "CHECKSUMTYPE": self.algorithm}

    def _md_ref(self, mets: etree._Element, base: str, rel: str, n: int) -> str:
        sec = _el(mets, "dmdSec", ID=f"dmd-{n}", CREATED="2026-06-12T11:45:37")
        _el(sec, "mdRef", LOCTYPE="URL", MDTYPE="EAD", xlink__type="simple",
            xlink__href=quote(rel), **self._ref_attrs(base, rel, "text/xml"))
        return sec.get("ID") or ""

    def _group(self, sec: etree._Element, base: str, use: str, gid: str,
               files: list[tuple[str, str]], **extra: str) -> None:
        grp = _el(sec, "fileGrp", USE=use, ID=gid, **extra)
        for i, (rel, mime) in enumerate(files, 1):
            f = _el(grp, "file", ID=f"{gid}-file-{i}", **self._ref_attrs(base, rel, mime))
            _el(f, "FLocat", LOCTYPE="URL", xlink__type="simple", xlink__href=quote(rel))

    def representation(self, rep: str = "rep1", tweak: Tweak | None = None) -> None:
        base = f"representations/{rep}/"
        mets = self._mets(rep, "MIXED")
        eads = sorted(p.relative_to(self.root / base).as_posix()
                      for p in (self.root / base / "metadata").rglob("*.xml"))
        dmd = [self._md_ref(mets, base, rel, n) for n, rel in enumerate(eads, 1)]
        data = sorted(p.relative_to(self.root / base).as_posix()
                      for p in (self.root / base / "data").rglob("*") if p.is_file())
        if data:  # an empty fileSec is not valid METS (it needs a fileGrp)
            sec = _el(mets, "fileSec", ID="fileSec-rep")
            self._group(sec, base, "Data", "grp-data",
                        [(d, "application/octet-stream") for d in data])
        self._struct_map(mets, rep, dmd, [("Data", "grp-data")] if data else [])
        self._save(mets, f"{base}METS.xml", tweak)

    def package(self, tweak: Tweak | None = None) -> Path:
        mets = self._mets(OBJID, None)
        dmd = [self._md_ref(mets, "", "metadata/descriptive/EAD.xml", 1)]
        sec = _el(mets, "fileSec", ID="fileSec-1")
        self._group(sec, "", "Documentation", "grp-doc", [("documentation/guide.txt",
                                                            "text/plain")])
        self._group(sec, "", "Schemas", "grp-schemas", [("schemas/mets.xsd", "application/xml")])
        self._group(sec, "", "Representations/rep1", "grp-rep1",
                    [("representations/rep1/METS.xml", "text/xml")],
                    csip__CONTENTINFORMATIONTYPE="MIXED")
        smap = self._struct_map(mets, OBJID, dmd, [("Documentation", "grp-doc"),
                                                   ("Schemas", "grp-schemas")])
        rep = _el(smap[0], "div", ID="div-rep1", LABEL="Representations/rep1")
        _el(rep, "mptr", LOCTYPE="URL", xlink__type="simple",
            xlink__href="representations/rep1/METS.xml", xlink__title="grp-rep1")
        self._save(mets, "METS.xml", tweak)
        return self.root

    def _struct_map(self, mets: etree._Element, label: str, dmd: list[str],
                    divs: list[tuple[str, str]]) -> etree._Element:
        smap = _el(mets, "structMap", ID="structMap-1", TYPE="PHYSICAL", LABEL="CSIP")
        top = _el(smap, "div", ID="div-top", LABEL=label)
        _el(top, "div", ID="div-metadata", LABEL="Metadata", DMDID=" ".join(dmd))
        for div_label, group in divs:
            div = _el(top, "div", ID=f"div-{group}", LABEL=div_label)
            _el(div, "fptr", FILEID=group)
        return smap

    def _save(self, mets: etree._Element, rel: str, tweak: Tweak | None) -> None:
        if tweak:
            tweak(mets)
        self.write(rel, etree.tostring(mets, xml_declaration=True, encoding="UTF-8",
                                       pretty_print=True))


def build_sip(parent: Path, *, data: dict[str, bytes] | None = None, algorithm: str = "SHA-256",
              package_tweak: Tweak | None = None, rep_tweak: Tweak | None = None) -> Path:
    b = SipBuilder(parent / OBJID, algorithm)
    b.write("metadata/descriptive/EAD.xml", b"<ead><archdesc level='file'/></ead>\n")
    b.write("schemas/mets.xsd", b"<xs:schema xmlns:xs='http://www.w3.org/2001/XMLSchema'/>\n")
    b.write("documentation/guide.txt", "Hướng dẫn\n".encode())
    for name, content in (DATA if data is None else data).items():
        b.write(f"representations/rep1/data/{name}", content)
    b.write("representations/rep1/metadata/descriptive/EAD_doc_H49.64.33.2001.160.1.xml",
            b"<ead><archdesc level='item'/></ead>\n")
    b.representation(tweak=rep_tweak)
    return b.package(tweak=package_tweak)


