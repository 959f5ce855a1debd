"""E-ARK validation and SIP reading on packages built here, each damaged in one named way.

``build_sip`` writes a TT 05/2025/TT-BNV SIP_hoso the way the reference package lays it out
(METS.xml, metadata/descriptive/EAD.xml, representations/rep1/{METS.xml, data/…,
metadata/descriptive/EAD_doc_….xml}, schemas/, documentation/), SHA-256 in upper-case hex,
OBJID ``uuid-{UUID}``. Tests then break one thing and assert the problem code a user sees.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from ingest import package_xml
from ingest.eark import open_eark_archive, read_eark_sip, validate_eark
from ingest.eark_refs import resolve_href
from ingest.mets import CSIP, XLINK
from repository.errors import InvalidInput, TransferRejected
from tests.helpers.eark import DATA, NS, OBJID, Tweak, build_sip


def _codes(problems: list) -> set[str]:  # type: ignore[type-arg]
    return {p.code for p in problems}


def _first(mets: etree._Element, xpath: str) -> etree._Element:
    found = mets.xpath(xpath, namespaces=NS)
    assert found, xpath
    return found[0]


@pytest.fixture
def sip(tmp_path: Path) -> Path:
    return build_sip(tmp_path)


def test_tt05_sip_is_valid_and_every_file_is_listed_with_its_sha256(sip: Path) -> None:
    report = validate_eark(sip)
    assert report.valid, report.errors
    assert not report.warnings, [w.message for w in report.warnings]
    assert (report.objid, report.package_type, report.representations) == (OBJID, "SIP",
                                                                          ["rep1"])
    on_disk = {p.relative_to(sip).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
               for p in sip.rglob("*") if p.is_file()}
    assert {f.path: f.sha256 for f in report.files} == on_disk
    assert report.descriptive == ["metadata/descriptive/EAD.xml", "representations/rep1/"
                                  "metadata/descriptive/EAD_doc_H49.64.33.2001.160.1.xml"]


def test_read_eark_sip_gives_data_files_ead_and_objid(sip: Path) -> None:
    contents = read_eark_sip(sip, report=validate_eark(sip))
    assert contents.objid == OBJID
    got = {(f.representation, f.path): f.source.read_bytes() for f in contents.data_files}
    assert got == {("rep1", name): data for name, data in DATA.items()}
    assert all(f.sha256 == hashlib.sha256(f.source.read_bytes()).hexdigest()
               for f in contents.data_files)
    assert [p.relative_to(sip).as_posix() for p in contents.ead] == [
        "metadata/descriptive/EAD.xml",
        "representations/rep1/metadata/descriptive/EAD_doc_H49.64.33.2001.160.1.xml"]


def test_changed_data_file_is_a_checksum_mismatch_naming_file_and_mets(sip: Path) -> None:
    target = sip / "representations/rep1/data/H49.64.33.2001.160.1.pdf"
    target.write_bytes(target.read_bytes().replace(b"one", b"two"))  # same size
    report = validate_eark(sip)
    assert [(e.code, e.path) for e in report.errors] == [
        ("checksum-mismatch", "representations/rep1/data/H49.64.33.2001.160.1.pdf")]
    assert "representations/rep1/METS.xml" in report.errors[0].message
    assert "SHA-256" in report.errors[0].message


def test_changed_metadata_file_fails_its_mdref_checksum_and_size(sip: Path) -> None:
    (sip / "metadata/descriptive/EAD.xml").write_bytes(b"<ead/>\n")
    report = validate_eark(sip)
    assert {(e.code, e.path, e.rule) for e in report.errors} == {
        ("size-mismatch", "metadata/descriptive/EAD.xml", "CSIP27"),
        ("checksum-mismatch", "metadata/descriptive/EAD.xml", "CSIP29")}


def test_read_eark_sip_rejects_with_every_problem_listed(sip: Path) -> None:
    (sip / "representations/rep1/data/Tờ trình số 2.txt").write_bytes(b"changed")
    (sip / "documentation/guide.txt").unlink()
    with pytest.raises(TransferRejected) as raised:
        read_eark_sip(sip)
    assert {(p.code, p.path) for p in raised.value.details} >= {
        ("checksum-mismatch", "representations/rep1/data/Tờ trình số 2.txt"),
        ("size-mismatch", "representations/rep1/data/Tờ trình số 2.txt"),
        ("reference-missing", "METS.xml")}


def test_md5_checksums_are_verified_and_warned_as_not_tt05(tmp_path: Path) -> None:
    sip = build_sip(tmp_path, algorithm="MD5")
    report = validate_eark(sip)
    assert report.valid, report.errors
    assert "checksum-not-sha256" in _codes(report.warnings)
    (sip / "schemas/mets.xsd").write_bytes(b"<xs:schema xmlns:xs='urn:x'/>\n")
    assert "checksum-mismatch" in _codes(validate_eark(sip).errors)


def test_checksum_type_khoso_cannot_compute_is_an_error(tmp_path: Path) -> None:
    def whirlpool(mets: etree._Element) -> None:
        _first(mets, "//mets:file[1]").set("CHECKSUMTYPE", "WHIRLPOOL")

    report = validate_eark(build_sip(tmp_path, package_tweak=whirlpool))
    assert "checksum-type-unsupported" in _codes(report.errors)


@pytest.mark.parametrize(("href", "code"), [
    ("../outside.txt", "reference-escapes-package"),
    ("representations/../../outside.txt", "reference-escapes-package"),
    ("%2E%2E/outside.txt", "reference-escapes-package"),
    ("/etc/passwd", "reference-absolute"),
    ("file:///etc/passwd", "reference-external"),
    ("https://example.org/record.pdf", "reference-external"),
    ("documentation\\guide.txt", "reference-not-portable"),
    ("C:/guide.txt", "reference-not-portable"),
    ("documentation/nothere.txt", "reference-missing"),
])
def test_reference_outside_the_package_is_refused_and_never_read(tmp_path: Path, href: str,
                                                                 code: str) -> None:
    (tmp_path / "outside.txt").write_bytes(b"secret outside the package\n")

    def point(mets: etree._Element) -> None:
        _first(mets, "//mets:fileGrp[@USE='Documentation']/mets:file/mets:FLocat").set(
            f"{{{XLINK}}}href", href)

    sip = build_sip(tmp_path, package_tweak=point)
    report = validate_eark(sip)
    assert code in _codes(report.errors), report.errors
    assert all("outside.txt" not in f.path for f in report.files)


_HREF_PARTS = st.sampled_from(["..", ".", "", "a", "%2E%2E", "%2e.", "%2F", "data", "/", "\\",
                                "file:", "C:", "%00", "Tờ", "%E1%BB%9D", "~", "%"])


@settings(max_examples=400, derandomize=True, deadline=None)
@given(st.lists(_HREF_PARTS, min_size=1, max_size=8).map("/".join),
       st.sampled_from(["", "representations/rep1/"]))
def test_any_href_resolves_inside_the_package_or_is_refused(href: str, base: str) -> None:
    resolved = resolve_href(href, base)
    if resolved.path is None:
        assert resolved.code and resolved.code.startswith("reference-")
        return
    parts = resolved.path.split("/")
    assert not resolved.path.startswith("/") and ".." not in parts and "." not in parts
    assert "" not in parts and not any(ord(ch) < 32 for ch in resolved.path)


def test_percent_encoded_vietnamese_name_resolves(sip: Path) -> None:
    mets = (sip / "representations/rep1/METS.xml").read_text(encoding="utf-8")
    assert "T%E1%BB%9D%20tr%C3%ACnh" in mets  # the builder percent-encodes hrefs
    assert validate_eark(sip).valid


def test_reference_differing_only_in_case_is_verified_with_a_warning(tmp_path: Path) -> None:
    def upper(mets: etree._Element) -> None:
        _first(mets, "//mets:fileGrp[@USE='Schemas']/mets:file/mets:FLocat").set(
            f"{{{XLINK}}}href", "schemas/METS.xsd")

    sip = build_sip(tmp_path, package_tweak=upper)
    report = validate_eark(sip)
    assert report.valid and "reference-case-mismatch" in _codes(report.warnings)
    (sip / "schemas/mets.xsd").write_bytes(b"<changed/>")
    assert "checksum-mismatch" in _codes(validate_eark(sip).errors)


@pytest.mark.parametrize(("tweak", "code", "rule"), [
    (lambda m: m.attrib.pop("OBJID"), "objid-missing", "CSIP1"),
    (lambda m: m.set("OBJID", ""), "objid-empty", "CSIP1"),
    (lambda m: m.attrib.pop("TYPE"), "type-missing", "CSIP2"),
    (lambda m: m.set("TYPE", "Photos"), "type-not-in-vocabulary", "CSIP2"),
    (lambda m: m.set("TYPE", "OTHER"), "othertype-missing", "CSIP2, CSIP3"),
    (lambda m: m.attrib.pop("PROFILE"), "profile-missing", "CSIP6"),
    (lambda m: m.remove(_first(m, "mets:metsHdr")), "metshdr-missing", "CSIP117"),
    (lambda m: _first(m, "mets:metsHdr").attrib.pop("CREATEDATE"), "createdate-missing",
     "CSIP7"),
    (lambda m: _first(m, "mets:metsHdr").set("CREATEDATE", "12/06/2026"), "createdate-invalid",
     "CSIP7"),
    (lambda m: _first(m, "mets:metsHdr").set("CREATEDATE", "2999-01-01T00:00:00Z"),
     "createdate-in-future", "CSIP7"),
    (lambda m: _first(m, "mets:metsHdr").set(f"{{{CSIP}}}OAISPACKAGETYPE", "SUBMISSION"),
     "package-type-invalid", "CSIP9"),
    (lambda m: _first(m, "mets:metsHdr/mets:agent").set("ROLE", "EDITOR"),
     "software-agent-missing", "CSIP11, CSIP12, CSIP13"),
    (lambda m: _first(m, "//mets:agent").remove(_first(m, "//mets:agent/mets:note")),
     "agent-version-missing", "CSIP15, CSIP16"),
    (lambda m: _first(m, "//mets:file").attrib.pop("CHECKSUM"), "checksum-missing", "CSIP71"),
    (lambda m: _first(m, "//mets:file").attrib.pop("CREATED"), "attribute-missing", "CSIP70"),
    (lambda m: _first(m, "//mets:FLocat").set("LOCTYPE", "HANDLE"), "locator-type-invalid",
     "CSIP77"),
    (lambda m: _first(m, "//mets:mdRef").attrib.pop("MDTYPE"), "attribute-missing", "CSIP25"),
    (lambda m: m.remove(_first(m, "mets:structMap")), "structmap-missing", "CSIP80"),
    (lambda m: _first(m, "//mets:fptr").set("FILEID", "no-such-group"), "idref-broken",
     "CSIP116, CSIP118, CSIP119"),
])
def test_broken_csip_rule_is_an_error_citing_it(tmp_path: Path, tweak: Tweak, code: str,
                                                rule: str) -> None:
    report = validate_eark(build_sip(tmp_path, package_tweak=tweak))
    assert (code, rule) in {(e.code, e.rule) for e in report.errors}, report.errors


def test_representation_mets_without_content_information_type_is_an_error(
        tmp_path: Path) -> None:
    def drop(mets: etree._Element) -> None:
        mets.attrib.pop(f"{{{CSIP}}}CONTENTINFORMATIONTYPE")

    report = validate_eark(build_sip(tmp_path, rep_tweak=drop))
    assert [(e.code, e.path, e.rule) for e in report.errors] == [
        ("content-information-type-missing", "representations/rep1/METS.xml", "CSIP4")]


def test_objid_not_matching_folder_is_a_warning(tmp_path: Path) -> None:
    sip = build_sip(tmp_path)
    renamed = sip.rename(tmp_path / "goi-1")
    report = validate_eark(renamed)
    assert report.valid and "objid-not-package-name" in _codes(report.warnings)
    assert "objid-not-package-name" not in _codes(validate_eark(renamed,
                                                                package_name=OBJID).warnings)


def test_misnamed_mets_is_an_error_naming_what_was_found(sip: Path) -> None:
    (sip / "METS.xml").rename(sip / "Mets.xml")
    report = validate_eark(sip)
    missing = [e for e in report.errors if e.code == "mets-missing"]
    assert missing and "'Mets.xml'" in missing[0].message and missing[0].rule == "CSIPSTR4"


def test_unlisted_data_file_is_a_warning_and_still_ingested(sip: Path) -> None:
    (sip / "representations/rep1/data/extra.txt").write_bytes(b"not in METS\n")
    report = validate_eark(sip)
    assert report.valid
    assert ("file-not-referenced", "representations/rep1/data/extra.txt") in {
        (w.code, w.path) for w in report.warnings}
    assert "extra.txt" in {f.path for f in read_eark_sip(sip).data_files}


# Billion laughs: each entity is ten of the previous one; &h; would be 10**8 characters.
_LAUGHS = b'<!ENTITY a "aaaaaaaaaa">' + b"".join(
    b'<!ENTITY %c "%s">' % (c, b"&%c;" % (c - 1) * 10) for c in range(ord("b"), ord("h") + 1))


@pytest.mark.parametrize(("doctype", "use"), [
    (b'<!DOCTYPE mets [<!ENTITY x SYSTEM "file:///etc/passwd">]>', b"&x;"),
    (b"<!DOCTYPE mets [" + _LAUGHS + b"]>", b"&h;"),
    (b'<!DOCTYPE mets SYSTEM "http://127.0.0.1:9/mets.dtd">', b""),
], ids=["external-entity", "billion-laughs", "remote-dtd"])
def test_doctype_and_entities_are_refused_without_expansion(sip: Path, doctype: bytes,
                                                            use: bytes) -> None:
    mets = sip / "METS.xml"
    text = mets.read_bytes()
    start = text.index(b"<mets")
    mets.write_bytes(text[:start] + doctype + b"\n" + text[start:].replace(
        b'LABEL="', b'LABEL="' + use, 1))
    report = validate_eark(sip)
    assert [(e.code, e.path) for e in report.errors] == [("xml-doctype-not-allowed",
                                                          "METS.xml")]
    assert "root:" not in " ".join(p.message for p in report.warnings + report.infos)


def test_link_in_package_is_refused(sip: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere.txt").write_bytes(b"outside")
    os.symlink(tmp_path / "elsewhere.txt", sip / "representations/rep1/data/link.txt")
    report = validate_eark(sip)
    assert "link-not-allowed" in _codes(report.errors)
    assert all(not f.path.endswith("link.txt") for f in report.files)


def test_names_equal_after_nfc_are_refused(tmp_path: Path) -> None:
    name = "Tờ trình.txt"
    data = {unicodedata.normalize("NFC", name): b"nfc\n",
            unicodedata.normalize("NFD", name): b"nfd\n"}
    report = validate_eark(build_sip(tmp_path, data=data))
    assert "name-normalization-collision" in _codes(report.errors)


def test_empty_representation_is_not_a_sip(tmp_path: Path) -> None:
    with pytest.raises(TransferRejected) as raised:
        read_eark_sip(build_sip(tmp_path, data={}))
    assert "sip-no-data" in _codes(raised.value.details)


def _zip(folder: Path, archive: Path, extra: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(archive, "w") as z:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                z.write(p, p.relative_to(folder.parent).as_posix())
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return archive


def test_zipped_sip_unpacks_to_its_package_folder_and_validates(sip: Path,
                                                                tmp_path: Path) -> None:
    archive = _zip(sip, tmp_path / "1-sip.zip")
    root = open_eark_archive(archive, tmp_path / "work")
    assert root.name == OBJID
    assert validate_eark(root).valid


def test_zip_with_traversal_is_refused_and_writes_nothing_outside(sip: Path,
                                                                  tmp_path: Path) -> None:
    archive = _zip(sip, tmp_path / "evil.zip", {"../escaped.txt": b"x"})
    with pytest.raises(TransferRejected):
        open_eark_archive(archive, tmp_path / "work")
    assert not (tmp_path / "escaped.txt").exists()


def test_zip_with_two_top_folders_is_not_one_package(sip: Path, tmp_path: Path) -> None:
    archive = _zip(sip, tmp_path / "two.zip", {"other/readme.txt": b"x"})
    with pytest.raises(InvalidInput) as raised:
        open_eark_archive(archive, tmp_path / "work")
    assert [(p.code, p.rule) for p in raised.value.details] == [("package-root-ambiguous",
                                                                  "CSIPSTR1")]


def test_every_one_of_many_files_is_verified(tmp_path: Path) -> None:
    data = {f"f{i:04}.txt": f"{i}\n".encode() for i in range(600)}
    sip = build_sip(tmp_path, data=data)
    (sip / "representations/rep1/data/f0599.txt").write_bytes(b"995\n")  # same size, other bytes
    report = validate_eark(sip)
    assert [(e.code, e.path) for e in report.errors] == [
        ("checksum-mismatch", "representations/rep1/data/f0599.txt")]
    assert len([f for f in report.files if "/data/" in f.path]) == 600


def test_aip_payload_khoso_writes_is_a_valid_eark_package(tmp_path: Path) -> None:
    aip_id = "urn:uuid:0B1E5D8A-3C1F-4B7E-9A55-5E0F1C2D3A4B"
    root = tmp_path / aip_id.replace(":", "_")

    def put(rel: str, data: bytes) -> package_xml.PackageFile:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
        return package_xml.PackageFile(rel, len(data), hashlib.sha256(data).hexdigest(),
                                       "text/plain")

    content = [put(f"{package_xml.REP_DATA}/{name}", data) for name, data in DATA.items()]
    ead = put(package_xml.EAD_PATH, package_xml.ead_xml(aip_id, {"title": "Hồ sơ"}))
    premis = put(package_xml.PREMIS_PATH, package_xml.premis_xml(
        content, [{"type": "ingestion start", "at": "2026-06-12T04:45:37Z"}], "khoso"))
    (root / "METS.xml").write_bytes(package_xml.mets_xml(
        aip_id, "Hồ sơ", datetime.now(UTC), "khoso", [ead, premis], content))
    report = validate_eark(root)
    assert report.valid, [(e.code, e.rule) for e in report.errors]
