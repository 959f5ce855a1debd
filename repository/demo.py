"""``khoso demo``: the whole OAIS journey on a generated Vietnamese transfer.

It runs the same services the commands run, in a throwaway home: ingest (one public and one
"Tối mật" dossier), two verified copies, an audit, damage injected into one copy, the audit
finding it, repair, a dissemination copy made and one refused, the event log verified and an
HTML report written.
"""

from __future__ import annotations

import json
import tempfile
from datetime import date
from pathlib import Path

from repository.access import make_copy
from repository.audit import audit
from repository.config import load_settings
from repository.context import open_repository
from repository.errors import PolicyRefused
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


def make_sample_transfer(root: Path, name: str, title: str) -> tuple[Path, Path]:
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
        "mode": "01", "language": "01", "startDate": "05/01/2026", "endDate": "30/06/2026",
        "organName": "Ủy ban nhân dân tỉnh Hà Nam",
    }, ensure_ascii=False), encoding="utf-8")
    return folder, metadata


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


def run_demo(home: str | None = None) -> dict:
    base = Path(home) if home else Path(tempfile.mkdtemp(prefix="khoso-demo-"))
    settings = load_settings(base / "home")
    init_home(settings)
    repo = open_repository(settings=settings)
    out: list[str] = [f"khoso demo home: {settings.home}"]
    try:
        add_location(repo, "offsite", (base / "offsite-storage").as_uri(), {})
        transfers = base / "transfers"
        public, public_md = make_sample_transfer(
            transfers, "Hồ sơ 01 - Kế hoạch lưu trữ", "Kế hoạch lưu trữ tài liệu điện tử 2026")
        secret, secret_md = make_sample_transfer(
            transfers, "Hồ sơ 02 - Tài liệu mật", "Báo cáo tình hình bảo vệ bí mật nhà nước")
        pub = ingest(repo, IngestOptions(public, public_md))
        sec = ingest(repo, IngestOptions(secret, secret_md, "toi-mat", date(2026, 1, 15)))
        for r in (pub, sec):
            out.append(f"ingested {r['aip']} ({r['classification']}): {r['files']} files, "
                       f"copies verified in {', '.join(x['location'] for x in r['replicas'])}")
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
    return {"home": str(settings.home), "public_aip": pub["aip"], "secret_aip": sec["aip"],
            "report": str(settings.home / "report.html"), "summary": out}
