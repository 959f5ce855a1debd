"""``khoso demo``: the whole OAIS journey on a generated Vietnamese transfer.

It runs the same services the commands run, in a throwaway home: ingest (one public and one
"Tối mật" dossier), two verified copies, an audit, damage injected into one copy, the audit
finding it, repair, a dissemination copy made and one refused, the event log verified and an
HTML report written.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from datetime import date
from pathlib import Path

from ingest.clamd_local import EICAR, PrivateClamd, clamd_binary, start_clamd
from repository.access import make_copy
from repository.audit import audit
from repository.config import Settings, load_settings
from repository.context import open_repository
from repository.errors import PolicyRefused, TransferRejected
from repository.home import init_home
from repository.ingest_service import IngestOptions, ingest
from repository.locations import add_location
from repository.repair import repair
from repository.reports import build_report, render
from repository.users import add_user, grant

SAMPLE_TEXT = ("ỦY BAN NHÂN DÂN TỈNH HÀ NAM\nCỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\n"
               "Độc lập - Tự do - Hạnh phúc\n\nQUYẾT ĐỊNH\nVề việc phê duyệt kế hoạch "
               "lưu trữ tài liệu điện tử năm 2026")


def make_sample_pdf(path: Path, title: str, pages: int = 2) -> None:
    from reportlab.pdfgen import canvas

    from repository.marking import _fonts

    regular, _bold = _fonts()
    c = canvas.Canvas(str(path), initialFontName=regular)
    for page in range(1, pages + 1):
        c.setFont(regular, 12)
        y = 760
        for line in [title, *SAMPLE_TEXT.splitlines(), f"Trang {page}/{pages}"]:
            c.drawString(72, y, line)
            y -= 18
        c.showPage()
    c.save()


def make_sample_transfer(root: Path, name: str, title: str,
                         mode: str = "01") -> tuple[Path, Path]:
    folder = root / name
    (folder / "Văn bản đi").mkdir(parents=True)
    make_sample_pdf(folder / "Văn bản đi" / "Quyết định số 15-QĐ-UBND.pdf", title)
    (folder / "Tờ trình.txt").write_text(SAMPLE_TEXT + "\n", encoding="utf-8")
    (folder / "Danh sách cán bộ.csv").write_text(
        "Họ và tên,Chức vụ,Đơn vị\nNguyễn Văn An,Trưởng phòng,Phòng Lưu trữ\n"
        "Trần Thị Bình,Chuyên viên,Văn phòng\n", encoding="utf-8")
    metadata = root / f"{name}.json"
    metadata.write_text(json.dumps({
        "fileCode": "000.00.00.H49.2026.01", "title": title, "maintenance": "01",
        "mode": mode, "language": "01", "startDate": "05/01/2026", "endDate": "30/06/2026",
        "totalDoc": 3, "numberOfPage": 4, "riskRecovery": 0,
        "organName": "Ủy ban nhân dân tỉnh Hà Nam",
    }, ensure_ascii=False), encoding="utf-8")
    return folder, metadata


def _infected_transfer(repo, transfers: Path) -> str:  # type: ignore[no-untyped-def]
    folder, md = make_sample_transfer(transfers, "Hồ sơ 03 - Có virus", "Hồ sơ kèm tệp nhiễm")
    (folder / "đính kèm.com").write_bytes(EICAR)
    try:
        ingest(repo, IngestOptions(folder, md))
    except TransferRejected as rejected:
        return (f"transfer with the EICAR test file rejected (exit 1), file kept in "
                f"{repo.settings.quarantine}: {rejected.details[0].message}")
    return "UNEXPECTED: an infected transfer was accepted"


def _damage(repo, aip_id: str, location: str) -> str:  # type: ignore[no-untyped-def]
    """Flip one byte of the PDF in one copy, as bit rot would."""
    from sqlalchemy import select

    from repository.catalog.models import AipFile, Location

    with repo.catalog.session() as session:
        loc = session.scalar(select(Location).where(Location.name == location))
        f = session.scalar(select(AipFile).where(AipFile.aip_id == aip_id,
                                                 AipFile.path.like("%.pdf")))
    root = Path(loc.url.removeprefix("file://"))
    target = root / f.storage_key
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    return f.path


def _virus_scanner(base: Path, settings: Settings, out: list[str]) -> PrivateClamd | None:
    """Use KHOSO_CLAMD_SOCKET if given, else a private clamd with the EICAR test signatures;
    with no ClamAV at all, the demo home's policy allows ingest without a scanner (said so)."""
    if settings.clamd_socket:
        return None
    if clamd_binary() is not None:
        daemon = start_clamd(base / "clamd")
        out.append(f"virus scanner: private clamd (EICAR test signatures) at {daemon.socket_path}")
        return daemon
    policy = settings.policies_dir / "intake.yaml"
    policy.write_text(policy.read_text(encoding="utf-8").replace(
        "allow_without_scanner: false", "allow_without_scanner: true"), encoding="utf-8")
    out.append("WARNING: ClamAV is not installed; this demo home ingests without a virus scan")
    return None


def run_demo(home: str | None = None) -> dict:
    base = Path(home) if home else Path(tempfile.mkdtemp(prefix="khoso-demo-"))
    settings = load_settings(base / "home")
    init_home(settings)
    out: list[str] = [f"khoso demo home: {settings.home}"]
    daemon = _virus_scanner(base, settings, out)
    if daemon is not None:
        settings = replace(settings, clamd_socket=daemon.socket_path)
    repo = open_repository(settings=settings)
    try:
        add_location(repo, "offsite", (base / "offsite-storage").as_uri(), {})
        transfers = base / "transfers"
        public, public_md = make_sample_transfer(
            transfers, "Hồ sơ 01 - Kế hoạch lưu trữ", "Kế hoạch lưu trữ tài liệu điện tử 2026")
        secret, secret_md = make_sample_transfer(
            transfers, "Hồ sơ 02 - Tài liệu mật", "Báo cáo tình hình bảo vệ bí mật nhà nước",
            mode="03")
        pub = ingest(repo, IngestOptions(public, public_md))
        sec = ingest(repo, IngestOptions(secret, secret_md, "toi-mat", date(2026, 1, 15)))
        for r in (pub, sec):
            out.append(f"ingested {r['aip']} ({r['classification']}): {r['files']} files, "
                       f"copies verified in {', '.join(x['location'] for x in r['replicas'])}")
        if daemon is not None:
            out.append(_infected_transfer(repo, transfers))
        first = audit(repo)
        out.append(f"audit: {first['checked']} files checked, {len(first['problems'])} problems")
        damaged = _damage(repo, pub["aip"], "offsite")
        second = audit(repo)
        out.append(f"damage injected into offsite copy of {damaged}: audit found "
                   f"{[p['problem'] for p in second['problems']]}")
        fixed = repair(repo)
        out.append(f"repair: {len(fixed['repaired'])} repaired, "
                   f"{len(fixed['unrecoverable'])} unrecoverable")
        third = audit(repo)
        out.append(f"audit after repair: {len(third['problems'])} problems")
        add_user(repo, "nguyen.van.an", "reader", "Phòng Nghiên cứu", None)
        add_user(repo, "tran.thi.binh", "approver", "Lãnh đạo Sở", "toi-mat")
        copies = base / "copies"
        copies.mkdir(exist_ok=True)
        made = make_copy(repo, pub["aip"], "nguyen.van.an", copies, "nghiên cứu")
        out.append(f"copy {made['copy_number']} of the public dossier: {made['dip']}")
        try:
            make_copy(repo, sec["aip"], "nguyen.van.an", copies, "nghiên cứu")
            out.append("UNEXPECTED: classified copy made without a grant")
        except PolicyRefused as refused:
            out.append(f"refused (exit 3): {refused}")
        grant(repo, sec["aip"], "nguyen.van.an", "tran.thi.binh", None, "phục vụ công tác")
        marked = make_copy(repo, sec["aip"], "nguyen.van.an", copies, "phục vụ công tác")
        out.append(f"after a grant by tran.thi.binh: copy {marked['copy_number']} marked "
                   f"TỐI MẬT / BẢN SAO in {marked['dip']}")
        report = build_report(repo)
        html = settings.home / "report.html"
        html.write_text(render(report, "html"), encoding="utf-8")
        out.append(f"event log: {'intact' if report['event_log']['intact'] else 'BROKEN'} "
                   f"({report['event_log']['events']} events)")
        out.append(f"report: {html}")
        out.append(f"try: khoso --home {settings.home} aip list")
    finally:
        repo.close()
        if daemon is not None:
            daemon.stop()
    return {"home": str(settings.home), "public_aip": pub["aip"], "secret_aip": sec["aip"],
            "report": str(settings.home / "report.html"), "summary": out}
