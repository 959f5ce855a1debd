"""Catalog at scale on PostgreSQL: choosing the next due audit batch, and the report.

Generates a catalog of ``--files`` files (default 1,000,000) in AIPs of ``--per-aip`` files,
each AIP with a copy in two locations, copies last checked over the past 100 days (a few
never, a few damaged with an open problem), a chained event log (one package-creation event
per AIP and one fixity event per copy) with a signed checkpoint at its head, and 90 days of
audit runs. Then times, on that catalog:

* ``plan_slice``: choosing and queueing today's slice (damaged, never checked, overdue, then
  the oldest), once on the generated catalog (1 % overdue: the mandatory copies alone fill
  the day's quota) and once with a 120-day window (few mandatory copies: the quota is filled
  with the least recently checked);
* ``claim``: a worker claiming its next batch (``FOR UPDATE SKIP LOCKED`` + lease);
* ``build_report`` and its HTML rendering.

Targets (issue 5): next due batch < 100 ms, report < 10 s. Medians of ``--repeat`` runs.
Without ``--database-url`` a throwaway PostgreSQL 15 cluster is started (INFRA.md).

    .venv/bin/python scripts/bench/catalog_scale.py [--files 1000000] [--per-aip 10]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from repository import events  # noqa: E402

NOW = datetime.now(UTC)


@contextlib.contextmanager
def database(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    from tests.helpers import postgres  # the suite's throwaway cluster, reused

    with postgres.cluster() as server:
        yield postgres.create_database(server, "khoso_bench")


def _copy(cur, table: str, columns: list[str], rows: Iterator[tuple]) -> None:  # type: ignore[no-untyped-def]
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def generate(conn, files: int, per_aip: int, loc_ids: list[int], seed: int = 5) -> dict:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    aips = files // per_aip
    ids = [f"urn:uuid:00000000-0000-4000-8000-{i:012d}" for i in range(aips)]
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM information_schema.columns c WHERE table_name IN "
                    "('aips','aip_files','replicas') AND is_nullable = 'NO' AND "
                    "column_default IS NULL AND column_name NOT IN ("
                    "'id','version','title','source','classification','access_mode',"
                    "'file_count','byte_count','key_prefix','tagmanifest_sha256','created_at',"
                    "'aip_id','path','storage_key','role','size','sha256','location_id',"
                    "'status','stored_at')")
        if cur.fetchone()[0]:
            raise SystemExit("the catalog gained NOT NULL columns this generator does not fill")
        _copy(cur, "aips", ["id", "version", "title", "source", "classification",
                            "access_mode", "file_count", "byte_count", "key_prefix",
                            "tagmanifest_sha256", "created_at"],
              ((a, 1, f"Hồ sơ {i}", "bench", "unclassified", "01", per_aip, per_aip * 50_000,
                a.replace(":", "_"), "", NOW - timedelta(days=400)) for i, a in enumerate(ids)))
        _copy(cur, "aip_files", ["aip_id", "path", "storage_key", "role", "size", "sha256",
                                 "classification"],
              ((a, f"data/representations/rep1/data/tệp {j}.pdf",
                f"{a.replace(':', '_')}/data/representations/rep1/data/tệp {j}.pdf",
                "payload", 50_000, f"{i * per_aip + j:064x}", "unclassified")
               for i, a in enumerate(ids) for j in range(per_aip)))
        replicas = []
        for a in ids:
            for loc in loc_ids:
                # Steady state of daily slices: checks spread over the 90-day window; a few
                # copies never checked, damaged, or overdue (a location that was offline).
                roll = rng.random()
                days = rng.uniform(90, 120) if roll > 0.99 else rng.uniform(0.5, 89.5)
                checked = None if roll < 0.003 else NOW - timedelta(days=days)
                status = "damaged" if 0.003 <= roll < 0.004 else "verified"
                replicas.append((a, loc, status, NOW - timedelta(days=400), checked,
                                 checked if status == "verified" else None))
        _copy(cur, "replicas", ["aip_id", "location_id", "status", "stored_at", "last_checked",
                                "last_verified"], iter(replicas))
        _copy(cur, "problems", ["aip_id", "location_id", "path", "kind", "found_at"],
              ((a, loc, "data/representations/rep1/data/tệp 0.pdf", "corrupt", checked)
               for a, loc, status, _, checked, _ in replicas if status == "damaged"))
        _copy(cur, "audit_runs", ["started_at", "finished_at", "kind", "copies", "files",
                                  "bytes", "problems", "failed_copies", "unexpected",
                                  "coverage"],
              ((NOW - timedelta(days=d), NOW - timedelta(days=d, hours=-2), "scheduled",
                len(replicas) // 90, len(replicas) // 90 * per_aip,
                len(replicas) // 90 * per_aip * 50_000, 1, 1, 0, 0.9 + d / 1000)
               for d in range(90, 0, -1)))
        count = _events(cur, ids, replicas)
    conn.commit()
    return {"aips": aips, "files": aips * per_aip, "replicas": len(replicas), "events": count}


def _events(cur, ids: list[str], replicas: list[tuple]) -> int:  # type: ignore[no-untyped-def]
    """A valid chain: one package-creation event per AIP, one fixity event per copy."""
    cur.execute("SELECT seq, hash FROM chain_head WHERE id = 1")
    seq, prev = cur.fetchone()
    rows = []
    todo = [(a, events.INFORMATION_PACKAGE_CREATION, {"files": 10}) for a in ids]
    todo += [(a, events.FIXITY_CHECK, {"location": str(loc), "files": 10, "failures": []})
             for a, loc, *_ in replicas]
    for aip, type_, detail in todo:
        seq += 1
        text = json.dumps(detail, sort_keys=True, ensure_ascii=False)
        digest = events.hashlib.sha256(events.canonical(
            seq, aip, type_, events.SUCCESS, NOW, "bench", text, prev)).hexdigest()
        rows.append((seq, aip, type_, events.SUCCESS, NOW, "bench", text, prev, digest))
        prev = digest
    _copy(cur, "events", ["seq", "aip_id", "type", "outcome", "at", "agent", "detail",
                          "prev_hash", "hash"], iter(rows))
    cur.execute("UPDATE chain_head SET seq = %s, hash = %s WHERE id = 1", (seq, prev))
    return len(rows)


def _with_window(repo, days: int):  # type: ignore[no-untyped-def]
    """The same catalog planned with another ``fixity.verify_every_days``."""
    from repository.context import open_repository

    policy = repo.settings.policies_dir / "schedules.yaml"
    text = policy.read_text(encoding="utf-8")
    policy.write_text(text.replace("verify_every_days: 90", f"verify_every_days: {days}"),
                      encoding="utf-8")
    try:
        return open_repository(settings=repo.settings)
    finally:
        policy.write_text(text, encoding="utf-8")


def timed(repeat: int, fn) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1_000_000)
    parser.add_argument("--per-aip", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database-url", help="an empty PostgreSQL database to fill")
    args = parser.parse_args()
    import psycopg
    from sqlalchemy import delete

    from repository.audit_queue import claim, plan_slice
    from repository.catalog.models import Location, QueuedCopy
    from repository.checkpoints import write_checkpoint
    from repository.config import load_settings
    from repository.context import open_repository
    from repository.home import init_home
    from repository.locations import add_location
    from repository.reports import build_report, render

    work = Path(tempfile.mkdtemp(prefix="khoso-bench-catalog-"))
    with database(args.database_url) as url:
        os.environ["KHOSO_DATABASE_URL"] = url
        settings = load_settings(work / "home")
        init_home(settings)
        repo = open_repository(settings=settings)
        add_location(repo, "offsite", (work / "offsite").as_uri(), {})
        with repo.catalog.session() as session:
            loc_ids = [loc.id for loc in session.query(Location).order_by(Location.id)]
        start = time.perf_counter()
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
            made = generate(conn, args.files, args.per_aip, loc_ids)
            conn.autocommit = True
            conn.execute("VACUUM ANALYZE")  # the steady state autovacuum keeps a catalog in
        made["generate_s"] = round(time.perf_counter() - start, 1)
        checkpoint_s, _ = timed(1, lambda: write_checkpoint(repo))
        print(f"generated {made} in {made['generate_s']} s", file=sys.stderr)

        def plan_once(planner) -> dict:  # type: ignore[no-untyped-def]
            with planner.catalog.session() as session:  # undo the previous repetition's slice
                session.execute(delete(QueuedCopy))
            begin = time.perf_counter()
            out = plan_slice(planner)
            out["seconds"] = time.perf_counter() - begin
            return out

        plans = [plan_once(repo) for _ in range(args.repeat)]
        claim_s, _ = timed(max(args.repeat, 20), lambda: claim(repo, "bench", 8))
        report_s, report = timed(args.repeat, lambda: build_report(repo))
        html_s, html = timed(args.repeat, lambda: render(report, "html"))
        wide = _with_window(repo, 120)
        fills = [plan_once(wide) for _ in range(args.repeat)]
        wide.close()
        repo.close()
    result = {
        **made, "checkpoint_s": round(checkpoint_s, 2),
        "slice_copies": plans[0]["queued"], "slice_mandatory": plans[0]["mandatory"],
        "plan_slice_ms": round(statistics.median(p["seconds"] for p in plans) * 1000, 1),
        "plan_slice_ms_all": [round(p["seconds"] * 1000, 1) for p in plans],
        "window_120d_slice_copies": fills[0]["queued"],
        "window_120d_mandatory": fills[0]["mandatory"],
        "window_120d_plan_slice_ms": round(
            statistics.median(p["seconds"] for p in fills) * 1000, 1),
        "claim_next_batch_ms": round(claim_s * 1000, 1), "target_batch_ms": 100,
        "report_s": round(report_s, 2), "report_html_s": round(html_s, 2),
        "report_html_bytes": len(io.StringIO(html).getvalue().encode()), "target_report_s": 10,
        "report_log_check": report["event_log"]["mode"],
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
