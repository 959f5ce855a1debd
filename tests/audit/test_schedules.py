"""Daily slices from policies/schedules.yaml and the claim queue workers share (both catalogs;
the two-process worker test needs PostgreSQL's SKIP LOCKED)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from policies.loader import load_policies
from repository import events
from repository.audit_queue import claim, plan_slice
from repository.catalog.models import Event, Location, QueuedCopy, Replica
from repository.context import Repository, open_repository
from repository.errors import ConfigError
from tests.helpers.holdings import set_checked, synthetic_holding


def _with_window(khoso, days: int) -> Repository:  # type: ignore[no-untyped-def]
    policy = khoso.home / "policies" / "schedules.yaml"
    policy.write_text(policy.read_text(encoding="utf-8").replace(
        "verify_every_days: 90", f"verify_every_days: {days}"), encoding="utf-8")
    return open_repository(str(khoso.home))


def _queued(repo: Repository) -> set[tuple[str, str]]:
    with repo.catalog.session() as session:
        return set(session.execute(select(Replica.aip_id, Location.name).join(Location)
                                   .join(QueuedCopy, QueuedCopy.replica_id == Replica.id))
                   .all())


def test_daily_slice_takes_damaged_never_and_overdue_first_then_the_oldest(khoso, repo) -> None:  # type: ignore[no-untyped-def]
    aips = synthetic_holding(repo, aips=6, files=1, size=512)
    repo = _with_window(khoso, 3)  # 12 copies / 3 days: 4 copies a day
    day = timedelta(days=1)
    ages = [day * (1 + i / 10) for i in range(12)]  # all checked before today, none overdue
    copies = [(a, loc) for a in aips for loc in ("local", "offsite")]
    for (aip, loc), age in zip(copies, ages, strict=True):
        set_checked(repo, aip, loc, ago=age)
    set_checked(repo, *copies[0], ago=day, status="damaged")
    set_checked(repo, *copies[1], ago=None)
    set_checked(repo, *copies[2], ago=day * 5)  # overdue
    oldest_other = copies[11]  # 2.1 days ago

    planned = plan_slice(repo)

    assert planned["quota"] == 4 and planned["mandatory"] == 3
    assert _queued(repo) == {copies[0], copies[1], copies[2], oldest_other}
    result = khoso.json("audit", "--due-only")
    assert result["replicas"] == 4 and result["problems"] == []
    assert result["slice"]["queued"] == 0  # the CLI found today's slice already queued
    # Checked today: today's quota is used up and planning again queues nothing.
    again = khoso.json("audit", "--due-only")
    assert again["slice"]["queued"] == 0 and again["replicas"] == 0
    shown = khoso.json("aip", "show", aips[0])
    assert {r["status"] for r in shown["replicas"]} == {"verified"}
    repo.close()


def test_copies_verified_at_ingest_are_not_due_the_same_day(khoso, holding) -> None:  # type: ignore[no-untyped-def]
    result = khoso.json("audit", "--due-only")
    assert result["replicas"] == 0 and result["slice"]["done_today"] == 4


def test_concurrent_claims_never_share_a_copy_and_leases_expire(khoso, repo) -> None:  # type: ignore[no-untyped-def]
    aips = synthetic_holding(repo, aips=6, files=1, size=256, checked_ago=timedelta(days=2))
    one_day = _with_window(khoso, 1)
    assert plan_slice(one_day)["queued"] == 12  # all overdue
    start = threading.Barrier(4)
    claims: dict[int, list[int]] = {}

    def worker(n: int) -> None:
        own = open_repository(str(khoso.home))  # its own connections, as another host would
        try:
            start.wait()
            claims[n] = claim(own, f"worker-{n}", 3)
        finally:
            own.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    taken = [i for ids in claims.values() for i in ids]
    assert len(taken) == len(set(taken)) == 12
    assert claim(one_day, "late", 5) == []  # everything is leased
    later = datetime.now(UTC) + timedelta(minutes=one_day.policies.schedules.fixity
                                          .lease_minutes + 1)
    assert len(claim(one_day, "after-crash", 20, now=later)) == 12  # leases ran out
    assert len(aips) == 6
    one_day.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_worker_processes_never_audit_the_same_copy(khoso, repo) -> None:  # type: ignore[no-untyped-def]
    aips = synthetic_holding(repo, aips=8, files=2, size=64 * 1024,
                             checked_ago=timedelta(days=2))
    one_day = _with_window(khoso, 1)
    assert plan_slice(one_day)["queued"] == 16
    with one_day.catalog.session() as session:
        before = session.scalar(select(func.max(Event.seq)))
    exe = str(Path(sys.executable).with_name("khoso"))
    procs = [subprocess.Popen([exe, "worker", "--once", "--batch", "1", "--json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=dict(os.environ)) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    audited = [[(c["aip"], c["location"]) for c in json.loads(out)["copies"]]
               for out, _ in outputs]
    together = audited[0] + audited[1]
    assert len(together) == len(set(together)) == 16
    with one_day.catalog.session() as session:
        fixity = session.execute(select(Event.aip_id, Event.detail).where(
            Event.seq > before, Event.type == events.FIXITY_CHECK)).all()
    per_copy = [(aip, json.loads(detail)["location"]) for aip, detail in fixity]
    assert sorted(per_copy) == sorted(together)  # one fixity event per copy, none twice
    assert {a for a, _ in per_copy} == set(aips)
    one_day.close()


def test_schedule_policy_is_validated_with_file_and_field(tmp_path: Path) -> None:
    home = tmp_path / "policies"
    home.mkdir()
    (home / "schedules.yaml").write_text("fixity:\n  verify_every_days: 2000\n",
                                         encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_policies(home)
    assert "schedules.yaml" in str(caught.value)
    assert "fixity.verify_every_days" in str(caught.value)
    assert "1095" in str(caught.value)  # TT 05/2025: within 3 years
    (home / "schedules.yaml").write_text("fixity:\n  daily_at: '25:61'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"fixity\.daily_at"):
        load_policies(home)
