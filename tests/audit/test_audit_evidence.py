"""What an audit leaves behind (both catalogs): one fixity event per copy and run that lists
only the files that failed, an `audit_runs` row with the run's totals, and copy states."""

from __future__ import annotations

from sqlalchemy import select

from repository.catalog.models import AuditRun
from tests.helpers.storage import flip_byte, location_root


def test_one_event_per_copy_and_run_with_entries_only_for_failures(khoso, holding) -> None:  # type: ignore[no-untyped-def]
    aip = holding[0]
    files = khoso.json("aip", "show", aip)["files"]
    damaged = files[1]
    flip_byte(location_root(khoso.home, "offsite") / aip.replace(":", "_") / damaged["path"])

    result = khoso.json("audit", "--workers", "2", code=1)

    assert result["checked"] == 2 * 2 * len(files)
    assert result["problems"] == [{"aip": aip, "path": damaged["path"], "location": "offsite",
                                   "problem": "corrupt"}]
    fixity = [e for e in khoso.json("aip", "show", aip)["events"] if e["type"] == "fixity check"]
    assert len(fixity) == 2
    by_location = {e["detail"]["location"]: e for e in fixity}
    assert by_location["local"]["outcome"] == "success"
    assert by_location["local"]["detail"]["failures"] == []
    assert by_location["local"]["detail"]["files"] == len(files)
    assert by_location["offsite"]["outcome"] == "failure"
    assert by_location["offsite"]["detail"]["failures"] == [
        {"path": damaged["path"], "problem": "corrupt"}]
    assert {e["detail"]["run"] for e in fixity} == {result["run"]}


def test_audit_run_row_records_totals_and_coverage(khoso, holding, repo) -> None:  # type: ignore[no-untyped-def]
    aip = holding[1]
    first = khoso.json("audit", "--aip", aip)
    assert first["replicas"] == 2
    (location_root(khoso.home, "local") / aip.replace(":", "_")).rename(
        location_root(khoso.home, "local") / "moved")
    second = khoso.json("audit", code=1)
    assert {p["problem"] for p in second["problems"]} == {"missing"}
    with repo.catalog.session() as session:
        runs = list(session.scalars(select(AuditRun).order_by(AuditRun.id)))
    assert [(r.kind, r.copies, r.problems, r.failed_copies) for r in runs] == [
        ("manual", 2, 0, 0), ("manual", 4, 3, 1)]
    assert all(r.finished_at is not None for r in runs)
    assert runs[0].files == 6 and runs[1].files == 12
    assert runs[1].coverage == 0.75  # three of four copies verified within the window
    shown = khoso.json("aip", "show", aip)
    assert {r["location"]: r["status"] for r in shown["replicas"]} == {
        "local": "damaged", "offsite": "verified"}
