"""S3 Object Lock retention on write-once locations, against moto's server (rclone has no
object lock, INFRA.md): every object khoso writes gets retention, a locked version cannot be
deleted or shortened, and a bucket without lock is refused for such a location."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from repository.errors import BackendUnavailable
from storage.registry import open_backend
from tests.storage.conftest import admin_client

pytestmark = pytest.mark.s3
CREDS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@pytest.fixture
def moto_admin(moto_endpoint: str) -> Any:
    return admin_client(moto_endpoint, "testing", "testing")


def _bucket(admin: Any, lock: bool) -> str:
    name = f"khoso-worm-{uuid.uuid4().hex[:12]}"
    admin.create_bucket(Bucket=name, ObjectLockEnabledForBucket=lock)
    return name


def test_objects_on_a_locked_location_get_retention(moto_endpoint: str, moto_admin: Any) -> None:
    bucket = _bucket(moto_admin, lock=True)
    url = f"s3://{bucket}/k?endpoint_url={moto_endpoint}"
    backend = open_backend("worm", url, {**CREDS, "object_lock_days": "30",
                                         "object_lock_mode": "COMPLIANCE",
                                         "multipart_threshold": str(6 << 20),
                                         "multipart_chunksize": str(5 << 20)})
    backend.check()
    assert backend.capabilities.object_lock
    backend.put("urn_uuid_A/data/small.txt", io.BytesIO(b"small"))
    backend.put("urn_uuid_A/data/large.bin", io.BytesIO(b"x" * (11 << 20)))  # multipart
    soon = datetime.now(UTC) + timedelta(days=29)
    for key in ("k/urn_uuid_A/data/small.txt", "k/urn_uuid_A/data/large.bin"):
        head = moto_admin.head_object(Bucket=bucket, Key=key)
        assert head["ObjectLockMode"] == "COMPLIANCE"
        assert head["ObjectLockRetainUntilDate"] > soon
        with pytest.raises(ClientError) as refused:
            moto_admin.delete_object(Bucket=bucket, Key=key, VersionId=head["VersionId"])
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
    # Through khoso, a delete only hides the object behind a marker; the version stays.
    backend.delete("urn_uuid_A/data/small.txt")
    versions = moto_admin.list_object_versions(Bucket=bucket, Prefix="k/urn_uuid_A/data/small")
    assert [v["Size"] for v in versions["Versions"]] == [5]


def test_retention_is_refused_on_a_bucket_without_object_lock(moto_endpoint: str,
                                                             moto_admin: Any) -> None:
    bucket = _bucket(moto_admin, lock=False)
    backend = open_backend("worm", f"s3://{bucket}/k?endpoint_url={moto_endpoint}",
                           {**CREDS, "object_lock_days": "30"})
    with pytest.raises(BackendUnavailable, match="object_lock_days needs S3 Object Lock"):
        backend.check()


def test_bad_lock_options_are_refused(moto_endpoint: str) -> None:
    with pytest.raises(BackendUnavailable, match="object_lock_mode"):
        open_backend("w", f"s3://b/k?endpoint_url={moto_endpoint}",
                     {**CREDS, "object_lock_mode": "FOREVER"})
    with pytest.raises(BackendUnavailable, match="object_lock_days"):
        open_backend("w", f"s3://b/k?endpoint_url={moto_endpoint}",
                     {**CREDS, "object_lock_days": "-1"})


def test_an_s3_write_once_location_is_added_only_with_retention(
        khoso, moto_endpoint: str, moto_admin: Any) -> None:  # type: ignore[no-untyped-def]
    bucket = _bucket(moto_admin, lock=True)
    url = f"s3://{bucket}/k?endpoint_url={moto_endpoint}"
    creds = [f"--option=aws_access_key_id={CREDS['aws_access_key_id']}",
             f"--option=aws_secret_access_key={CREDS['aws_secret_access_key']}"]
    error = khoso.json("storage", "add", "worm", url, "--option", "write_once=true", *creds,
                       code=2)["error"]
    assert "object_lock_days" in error["message"]
    added = khoso.json("storage", "add", "worm", url, "--option", "write_once=true",
                       "--option", "object_lock_days=3650", *creds)
    assert added["attributes"]["write_once"] is True
    assert added["options"]["object_lock_days"] == "3650"
