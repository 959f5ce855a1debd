"""``khoso storage fsck``: what crashes leave behind is found, and removed only after the grace
period; nothing the catalog owns is ever touched (both catalogs)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.storage.conftest import (  # noqa: F401  (fixtures)
    AKID,
    SECRET,
    _no_ambient_aws,
    rclone_s3,
    s3_admin,
    s3_bucket,
)
from tests.storage.journey import (
    allow_ingest_without_scanner,
    files_under,
    location_roots,
    many_files,
    violations,
)

DAY = 24 * 3600


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


@pytest.fixture
def leftovers(khoso, tmp_path: Path) -> dict[str, Path]:  # type: ignore[no-untyped-def]
    """One stored AIP, plus what killed runs leave: orphans old and young, a temporary file,
    a foreign object, and a staging folder with no live run."""
    allow_ingest_without_scanner(khoso.home)
    aip = khoso.json("ingest", many_files(tmp_path / "in", 3))["aip"]
    root = location_roots(khoso.home)["local"]
    made = {
        "old": root / "urn_uuid_DEAD0000-0000-4000-8000-000000000001" / "data" / "x.txt",
        "young": root / "urn_uuid_DEAD0000-0000-4000-8000-000000000002" / "bagit.txt",
        "tmp": root / ".khoso-tmp" / "0123456789abcdef",
        "foreign": root / "README-operator.txt",
        "staging": khoso.home / "staging" / "urn_uuid_DEAD0000-0000-4000-8000-000000000003",
    }
    for name, path in made.items():
        target = path / "aip" / "data.txt" if name == "staging" else path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(f"left by a killed run: {name}".encode())
    for name in ("old", "tmp", "foreign"):
        _age(made[name], 3 * DAY)
    made["owned"] = next(p for p in (root / aip.replace(":", "_")).rglob("*") if p.is_file())
    _age(made["owned"], 30 * DAY)
    return made


def test_fsck_lists_without_touching_anything(khoso, leftovers: dict[str, Path]) -> None:
    before = files_under(khoso.home)
    result = khoso.json("storage", "fsck")
    (local,) = result["locations"]
    assert {o["key"].split("/")[0][-1] for o in local["orphans"]} == {"1", "2"}
    assert [p["ref"] for p in local["partial"]] == [".khoso-tmp/0123456789abcdef"]
    assert local["foreign"] == ["README-operator.txt"]
    assert [s["name"] for s in result["staging"]] == [leftovers["staging"].name]
    assert result["removed"] == 0
    after = {k for k in files_under(khoso.home) if not k.startswith("staging/.locks/")}
    assert after == {k for k in before if not k.startswith("staging/.locks/")}


def test_fsck_fix_removes_only_what_is_older_than_the_grace(khoso,
                                                           leftovers: dict[str, Path]) -> None:
    result = khoso.json("storage", "fsck", "--fix", "--grace", "48")
    (local,) = result["locations"]
    assert local["removed"] == 2  # the old orphan and the old temporary file
    assert not leftovers["old"].exists() and not leftovers["old"].parent.exists()
    assert not leftovers["tmp"].exists() and not leftovers["staging"].exists()
    assert leftovers["young"].exists() and leftovers["foreign"].exists()
    assert leftovers["owned"].exists()
    assert violations(khoso.home) == []
    again = khoso.json("storage", "fsck", "--fix", "--grace", "0")
    assert again["orphans"] == 1 and again["removed"] == 1  # the young one, now past grace 0
    assert not leftovers["young"].exists() and leftovers["foreign"].exists()
    assert violations(khoso.home) == []
    assert khoso.json("audit")["problems"] == []


def test_a_copy_with_no_catalog_row_is_an_orphan_even_beside_a_catalogued_one(
        khoso, tmp_path: Path) -> None:
    allow_ingest_without_scanner(khoso.home)
    aip = khoso.json("ingest", many_files(tmp_path / "in", 2))["aip"]
    khoso.ok("storage", "add", "offsite", (tmp_path / "offsite").as_uri())
    roots = location_roots(khoso.home)
    # A replicate killed before its catalog transaction: objects in offsite, no replica row.
    for rel, data in files_under(roots["local"]).items():
        (roots["offsite"] / rel).parent.mkdir(parents=True, exist_ok=True)
        (roots["offsite"] / rel).write_bytes(data)
    result = khoso.json("storage", "fsck", "--location", "offsite", "--fix", "--grace", "0")
    (offsite,) = result["locations"]
    assert offsite["owned"] == 0 and offsite["removed"] == offsite["objects"] > 0
    assert files_under(roots["offsite"]) == {}
    assert files_under(roots["local"]) != {}
    assert [r["location"] for r in khoso.json("aip", "show", aip)["replicas"]] == ["local"]
    assert khoso.json("storage", "fsck", "--location", "nowhere", code=2)["error"]["kind"] == \
        "not-found"


@pytest.mark.s3
def test_fsck_aborts_an_unfinished_multipart_upload(khoso, rclone_s3, s3_admin,  # noqa: F811
                                                   s3_bucket: str) -> None:  # noqa: F811
    khoso.ok("storage", "add", "s3", f"s3://{s3_bucket}/k?endpoint_url={rclone_s3.endpoint}",
             "--option", f"aws_access_key_id={AKID}", "--option",
             f"aws_secret_access_key={SECRET}")
    key = "k/urn_uuid_DEAD0000-0000-4000-8000-000000000009/data/big.bin"
    upload = s3_admin.create_multipart_upload(Bucket=s3_bucket, Key=key)["UploadId"]
    s3_admin.put_object(Bucket=s3_bucket, Key="k/urn_uuid_DEAD0000-0000-4000-8000-00000000000A/x",
                        Body=b"orphan")
    listed = khoso.json("storage", "fsck", "--location", "s3")["locations"][0]
    assert [p["ref"] for p in listed["partial"]] == [f"{key[2:]}?uploadId={upload}"]
    assert len(listed["orphans"]) == 1
    fixed = khoso.json("storage", "fsck", "--location", "s3", "--fix", "--grace", "0")
    assert fixed["locations"][0]["removed"] == 2
    assert s3_admin.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
    assert s3_admin.list_objects_v2(Bucket=s3_bucket).get("Contents", []) == []


def test_objects_of_live_runs_are_kept_whatever_the_grace(khoso, leftovers: dict[str, Path],
                                                          tmp_path: Path) -> None:
    from repository.staging import guarded, run_lock

    staging = khoso.home / "staging"
    live = "urn:uuid:DEAD0000-0000-4000-8000-000000000001"  # the "old" orphan's AIP
    with guarded(staging, live), run_lock(staging, "replicate", shared=True):
        (local,) = khoso.json("storage", "fsck", "--fix", "--grace", "0")["locations"]
        kept = {o["key"].split("/")[0]: o.get("kept") for o in local["orphans"]}
        assert kept[live.replace(":", "_")] == "a run that is writing this AIP is still live"
        assert leftovers["old"].exists()
        # The "young" orphan's AIP is not catalogued, so no replicate can be writing it.
        assert not leftovers["young"].exists()
    # A catalogued AIP's object with no copy row here, while a replicate runs: kept.
    aip = khoso.json("aip", "list")["aips"][0]["aip"]
    khoso.ok("storage", "add", "offsite", (tmp_path / "offsite").as_uri())
    stray = tmp_path / "offsite" / aip.replace(":", "_") / "bagit.txt"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"a copy in progress")
    with run_lock(staging, "replicate", shared=True):
        khoso.json("storage", "fsck", "--fix", "--grace", "0")
        assert stray.exists()
    khoso.json("storage", "fsck", "--fix", "--grace", "0")
    assert not stray.exists() and not leftovers["old"].exists()
