"""A file:// location's listing is what audits and fsck see as its objects."""

from __future__ import annotations

import io
from pathlib import Path

from storage.fs import TMP_DIR, FileBackend


def test_listing_shows_every_object_and_nothing_outside_the_location(tmp_path: Path) -> None:
    root = tmp_path / "loc"
    backend = FileBackend("loc", root.as_uri())
    backend.put("aip_1/data/Tài liệu/a.txt", io.BytesIO(b"abc"))
    (root / TMP_DIR).mkdir(exist_ok=True)
    (root / TMP_DIR / "partial").write_bytes(b"half")  # a killed write: listed elsewhere
    (root / "aip_1" / "data" / "planted.bin").write_bytes(b"12345")  # nobody's object
    (root / "aip_1" / "dangling").symlink_to(tmp_path / "gone")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"not ours")
    (root / "aip_1" / "escape").symlink_to(outside, target_is_directory=True)
    listed = {o.key: o.size for o in backend.list("aip_1/")}
    assert listed["aip_1/data/Tài liệu/a.txt"] == 3
    assert listed["aip_1/data/planted.bin"] == 5
    assert "aip_1/dangling" in listed  # still an unexpected object, though it points nowhere
    assert "aip_1/escape" in listed  # the planted link itself, never what it points to
    assert not any("secret" in key or TMP_DIR in key for key in listed)
    assert {o.key for o in backend.list("aip_1/data/Tà")} == {"aip_1/data/Tài liệu/a.txt"}
    assert list(backend.list("aip_2/")) == []
