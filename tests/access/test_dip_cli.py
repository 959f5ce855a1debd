"""E-ARK DIPs through `khoso access` on both catalogs: the request in EAD.xml, METS and the
manifest over the marked files, zip or folder, the copy register and its CSV export."""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from pathlib import Path

from lxml import etree

from tests.helpers.pdf import pdf_pages
from tests.helpers.storage import object_path

EAD = "{urn:isbn:1-931666-22-9}"
METS = "{http://www.loc.gov/METS/}"
XLINK = "{http://www.w3.org/1999/xlink}"
CSIP = "{https://DILCIS.eu/XML/METS/CSIPExtensionMETS}"


def _request_fields(ead: bytes) -> dict[str, str]:
    root = etree.fromstring(ead)
    return {p.get("altrender"): p.text or "" for p in root.iter(f"{EAD}p")}


def test_dip_folder_describes_the_request_and_lists_every_file_with_its_digest(
        khoso, records, tmp_path: Path) -> None:
    khoso.ok("grant", records["secret"], "--user", "an", "--by", "binh")
    made = khoso.json("access", records["secret"], "--user", "an", "--out", tmp_path / "out",
                      "--purpose", "Nghiên cứu lịch sử địa phương", "--purpose-code", "02",
                      "--request-id", "YC-2026-0042", "--description", "Đơn ngày 20/11")
    dip = Path(made["dip"])
    fields = _request_fields((dip / "metadata/descriptive/EAD.xml").read_bytes())
    assert fields["requestID"] == "YC-2026-0042"
    assert fields["purpose"] == "02"
    assert fields["purposeContent"] == "Nghiên cứu lịch sử địa phương"
    assert fields["description"] == "Đơn ngày 20/11"
    assert len(fields["requestDate"]) == 10 and fields["requestDate"][2] == "/"  # DD/MM/YYYY
    assert fields["x_aip"] == records["secret"] and fields["x_approver"] == "binh"

    mets = etree.parse(str(dip / "METS.xml")).getroot()
    assert mets.get("OBJID") == "YC-2026-0042" and mets.get(f"{CSIP}OAISPACKAGETYPE") == "DIP"
    listed = {}
    for f in mets.iter(f"{METS}file"):
        href = f.find(f"{METS}FLocat").get(f"{XLINK}href")
        listed[href] = f.get("CHECKSUM")
    on_disk = sorted(p.relative_to(dip).as_posix() for p in
                     (dip / "representations").rglob("*") if p.is_file())
    from urllib.parse import unquote
    assert sorted(unquote(h) for h in listed) == on_disk
    for href, digest in listed.items():
        assert hashlib.sha256((dip / unquote(href)).read_bytes()).hexdigest().upper() == digest
    for line in (dip / "manifest-sha256.txt").read_text(encoding="utf-8").splitlines():
        digest, rel = line.split("  ", 1)
        assert hashlib.sha256((dip / rel).read_bytes()).hexdigest() == digest

    # Non-PDF files travel unchanged beside a marking sidecar; the PDF is marked.
    csv_copy = next(dip.rglob("Danh sách cán bộ.csv"))
    source = next((tmp_path / "in" / "Tối mật").rglob("Danh sách cán bộ.csv"))
    assert csv_copy.read_bytes() == source.read_bytes()
    sidecar = csv_copy.with_name(csv_copy.name + ".marking.json").read_text(encoding="utf-8")
    assert '"copy_number": 1' in sidecar and "TỐI MẬT" in sidecar
    pages = pdf_pages(next(dip.rglob("*.pdf")))
    assert all("TỐI MẬT" in page for page in pages) and "Bản sao số 1" in pages[0]


def test_zip_dip_holds_the_same_package_and_its_digest_is_registered(
        khoso, records, tmp_path: Path) -> None:
    made = khoso.json("access", records["public"], "--user", "an", "--out", tmp_path,
                      "--zip")
    archive = Path(made["dip"])
    assert archive.suffix == ".zip" and made["zip"] is True
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == made["package_sha256"]
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        top = archive.stem
        assert f"{top}/METS.xml" in names and f"{top}/metadata/descriptive/EAD.xml" in names
        pdf_name = next(n for n in names if n.endswith(".pdf"))
        (tmp_path / "x.pdf").write_bytes(zf.read(pdf_name))
    pages = pdf_pages(tmp_path / "x.pdf")
    assert "BẢN SAO" in pages[0] and all("BẢN SAO" not in p for p in pages[1:])
    assert not any(p.name.startswith(".DIP") for p in tmp_path.iterdir())  # no leftovers
    register = khoso.json("copies", "list")["copies"]
    assert register[-1]["package_sha256"] == made["package_sha256"]


def test_copy_numbers_count_up_per_record_and_the_register_exports_as_csv(
        khoso, records, tmp_path: Path) -> None:
    khoso.ok("grant", records["secret"], "--user", "an", "--by", "binh", "--purpose", "NC")
    numbers = [khoso.json("access", records["public"], "--user", "an", "--out", tmp_path,
                          "--zip")["copy_number"] for _ in range(2)]
    numbers.append(khoso.json("access", records["secret"], "--user", "an", "--out", tmp_path,
                              "--zip", "--purpose", "đề tài")["copy_number"])
    assert numbers == [1, 2, 1]
    out = tmp_path / "so-sao-chup.csv"
    assert khoso.json("copies", "export", "--out", out)["copies"] == 3
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: spreadsheets read Vietnamese correctly
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][:6] == ["STT", "Ngày sao", "Mã hồ sơ lưu trữ (AIP)", "Trích yếu", "Độ mật",
                           "Bản sao số"]
    secret_rows = [r for r in rows[1:] if r[2] == records["secret"]]
    assert len(secret_rows) == 1
    head = rows[0]
    row = dict(zip(head, secret_rows[0], strict=True))
    assert row["Độ mật"] == "secret" and row["Bản sao số"] == "1"
    assert row["Người nhận"] == "an" and row["Đơn vị"] == "Phòng Đọc"
    assert row["Người cho phép sao"] == "binh" and row["Nội dung mục đích"] == "đề tài"
    assert row["Tình trạng"] == "made"
    only = khoso.json("copies", "export", "--out", tmp_path / "one.csv", "--aip",
                      records["secret"])
    assert only["copies"] == 1


def test_a_copy_that_fails_is_destroyed_and_registered_as_spoiled(
        khoso, records, tmp_path: Path) -> None:
    stored = object_path(khoso.home, records["public"], "local", "Tờ trình.txt")
    stored.write_bytes(b"bit rot")
    out = tmp_path / "out"
    error = khoso.json("access", records["public"], "--user", "an", "--out", out, code=1)
    assert "no copy verifies" in error["error"]["message"]
    assert list(out.iterdir()) == []  # nothing half-made is left
    register = khoso.json("copies", "list")["copies"]
    assert [(c["copy_number"], c["status"]) for c in register] == [(1, "spoiled")]
    events = khoso.json("aip", "show", records["public"])["events"]
    failed = [e for e in events if e["type"] == "dissemination" and e["outcome"] == "failure"]
    assert failed and "spoiled" in failed[-1]["detail"]["outcome"]


def test_unknown_purpose_code_is_a_usage_error(khoso, records, tmp_path: Path) -> None:
    error = khoso.json("access", records["public"], "--user", "an", "--out", tmp_path,
                       "--purpose-code", "09", code=2)
    assert "09" in error["error"]["message"] and "Annex V" in error["error"]["message"]
    assert khoso.json("copies", "list")["copies"] == []


def test_policy_switches_make_pdfa_copies_without_the_originals_metadata(
        khoso, records, tmp_path: Path) -> None:
    import pikepdf

    from repository import pdfa
    from tests.helpers.require import missing

    if not pdfa.available():
        missing("Ghostscript with its sRGB profile (Debian ghostscript)")
    policy = khoso.home / "policies" / "access.yaml"
    text = policy.read_text(encoding="utf-8")
    assert "strip_metadata: false" in text and "pdfa: false" in text
    policy.write_text(text.replace("strip_metadata: false", "strip_metadata: true")
                      .replace("pdfa: false", "pdfa: true"), encoding="utf-8")
    made = khoso.json("access", records["public"], "--user", "an", "--out", tmp_path)
    entry = next(f for f in made["files"] if f.get("marked"))
    assert entry["pdfa"] is True and entry["metadata_stripped"] is True
    copy = next(Path(made["dip"]).rglob("*.pdf"))
    assert pdfa.check_pdfa(copy) is None
    with pikepdf.open(copy) as pdf:
        assert "/Author" not in pdf.docinfo  # reportlab's "anonymous" author is gone
        assert "anonymous" not in str(pdf.open_metadata())
    assert "BẢN SAO" in pdf_pages(copy)[0]
