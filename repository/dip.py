"""The E-ARK DIP that carries a dissemination copy (TT 05/2025/TT-BNV Annex V).

Layout (a folder, or the same folder inside a zip)::

    DIP-<aip prefix>-copy<N>/
      METS.xml                          E-ARK CSIP METS, OAISPACKAGETYPE DIP, OBJID uuid-…;
                                        every file with its SHA-256 (upper-case hex)
      manifest-sha256.txt               the same digests for `sha256sum -c`
      metadata/descriptive/EAD.xml      the request (Annex V): requestID, requestDate,
                                        purpose (01/02/03), purposeContent, researchTopic,
                                        description, plus khoso's x_* fields (record, copy
                                        number, level, recipient, approver)
      representations/rep1/data/…       the marked copies; a file that cannot carry a
                                        visible mark has <name>.marking.json beside it

The DIP's EAD describes the request, not the records (Annex V), so it names the AIP it was
made from but repeats none of its descriptive metadata.
"""

from __future__ import annotations

import hashlib
import json
import uuid
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from lxml import etree

from ingest.package_xml import CSIP_NS, EAD_NS, EAD_PATH, REP_DATA, PackageFile, mets_xml
from storage.backend import CHUNK

MANIFEST = "manifest-sha256.txt"
# Times are kept in UTC and shown in Vietnam's time (UTC+07:00) on stamps and request dates.
VN = timezone(timedelta(hours=7), "ICT")


def vn_date(at: datetime) -> str:
    return at.astimezone(VN).strftime("%d/%m/%Y")  # TT 05/2025 dates: DD/MM/YYYY


@dataclass(frozen=True)
class Request:
    """What was asked for, by whom, and under which authority."""

    request_id: str
    at: datetime
    purpose_code: str
    purpose: str
    description: str
    aip: str
    copy_number: int
    classification: str
    label: str | None
    recipient: str
    unit: str
    approver: str
    copy_form: str


def new_request_id() -> str:
    # TT 05/2025 sketch for DIP identifiers: uuid-<UUID> (§6 identifiers.package_objid.dip).
    return f"uuid-{str(uuid.uuid4()).upper()}"


def dip_name(aip_id: str, number: int) -> str:
    return f"DIP-{aip_id.replace(':', '_')}-copy{number}"


def sidecar(target: Path, request: Request, marks: list[str]) -> Path:
    """The marking a file cannot carry visibly, beside it (NĐ 30/2020 Annex VI 6.k)."""
    path = target.with_name(target.name + ".marking.json")
    path.write_text(json.dumps({
        "classification": request.classification, "label": request.label,
        "copy_number": request.copy_number, "copy_form": request.copy_form,
        "request_id": request.request_id, "aip": request.aip, "marks": marks,
        "note": "this file cannot carry visible marks; it is a copy under the marks listed",
    }, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def request_ead(request: Request) -> bytes:
    root = etree.Element(f"{{{EAD_NS}}}ead", nsmap={None: EAD_NS})
    header = etree.SubElement(root, f"{{{EAD_NS}}}eadheader")
    etree.SubElement(header, f"{{{EAD_NS}}}eadid").text = request.request_id
    arch = etree.SubElement(root, f"{{{EAD_NS}}}archdesc", level="otherlevel",
                            otherlevel="request")
    did = etree.SubElement(arch, f"{{{EAD_NS}}}did")
    etree.SubElement(did, f"{{{EAD_NS}}}unitid").text = request.request_id
    odd = etree.SubElement(arch, f"{{{EAD_NS}}}odd")
    fields = {
        "requestID": request.request_id,
        "requestDate": vn_date(request.at),
        "purpose": request.purpose_code,
        "purposeContent": request.purpose[:500],
        "description": request.description[:2000],
        "x_aip": request.aip,
        "x_copyNumber": str(request.copy_number),
        "x_copyForm": request.copy_form,
        "x_classification": request.classification,
        "x_recipient": request.recipient,
        "x_unit": request.unit,
        "x_approver": request.approver,
        "x_requestTime": request.at.astimezone(UTC).isoformat(),
    }
    for key, value in fields.items():
        etree.SubElement(odd, f"{{{EAD_NS}}}p", altrender=key).text = value
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _digest(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _manifest_path(rel: str) -> str:
    # RFC 8493 §2.1.3's encoding, so names with newlines stay one line.
    return rel.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def finish(root: Path, request: Request, agent: str, mimes: dict[str, str]) -> None:
    """Write EAD.xml, METS.xml and the manifest over the files already under ``root``."""
    ead = root / EAD_PATH
    ead.parent.mkdir(parents=True, exist_ok=True)
    ead.write_bytes(request_ead(request))
    payload: list[PackageFile] = []
    for path in sorted((root / REP_DATA).rglob("*")):
        if path.is_file():
            rel = path.relative_to(root).as_posix()
            digest, size = _digest(path)
            payload.append(PackageFile(rel, size, digest, mimes.get(rel)))
    ead_digest, ead_size = _digest(ead)
    mets = mets_xml(request.request_id, f"Bản sao số {request.copy_number} của {request.aip}",
                    request.at, agent, [PackageFile(EAD_PATH, ead_size, ead_digest,
                                                    "text/xml")], payload)
    tree = etree.fromstring(mets)
    for el in (tree, *tree.iter("{http://www.loc.gov/METS/}metsHdr")):
        el.set(f"{{{CSIP_NS}}}OAISPACKAGETYPE", "DIP")
    (root / "METS.xml").write_bytes(etree.tostring(tree, xml_declaration=True,
                                                   encoding="UTF-8", pretty_print=True))
    lines = [f"{ead_digest}  {EAD_PATH}"] + [f"{f.sha256}  {_manifest_path(f.path)}"
                                             for f in payload]
    (root / MANIFEST).write_text("\n".join(lines) + "\n", encoding="utf-8")


def zip_dip(root: Path, target: Path) -> str:
    """Zip the DIP folder (entries under its name) and return the zip's SHA-256."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                zf.write(path, f"{target.stem}/{path.relative_to(root).as_posix()}")
    return _digest(target)[0]
