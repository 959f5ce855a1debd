"""`khoso validate` on bags (folder and serialized), and on khoso's own AIPs."""

from __future__ import annotations

import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

from repository.cli.app import main
from repository.demo import make_sample_transfer
from tests.helpers.storage import location_root

CONFORMANCE = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "bagit-conformance"


def _validate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:
    import json

    capsys.readouterr()
    code = main(["validate", *map(str, args), "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_valid_and_invalid_bags(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = _validate(capsys, CONFORMANCE / "v1.0/valid/basicBag")
    assert code == 0 and doc["valid"] and doc["kind"] == "bagit"
    code, doc = _validate(capsys, CONFORMANCE / "v1.0/invalid/bagit-with-invalid-whitespace")
    assert code == 1 and not doc["valid"] and doc["errors"]


@pytest.mark.parametrize("fmt", ["zip", "tar.gz"])
def test_serialized_bag_is_unpacked_and_validated(tmp_path: Path, fmt: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    bag = tmp_path / "basic-bag"
    shutil.copytree(CONFORMANCE / "v1.0/valid/basicBag", bag)
    archive = tmp_path / f"bag.{fmt}"
    if fmt == "zip":
        with zipfile.ZipFile(archive, "w") as z:
            for p in sorted(bag.rglob("*")):
                z.write(p, p.relative_to(tmp_path).as_posix())
    else:
        with tarfile.open(archive, "w:gz") as t:
            t.add(bag, arcname="basic-bag")
    code, doc = _validate(capsys, archive)
    assert code == 0 and doc["valid"]
    (bag / "data" / "test1.txt").write_text("changed")
    archive.unlink()
    with tarfile.open(archive.with_suffix(".bin"), "w:gz") as t:
        t.add(bag, arcname="basic-bag")
    code, doc = _validate(capsys, archive.with_suffix(".bin"))
    assert code == 1 and any("test1.txt" in (e["path"] or e["message"]) for e in doc["errors"])


def test_khoso_aips_validate(khoso, tmp_path: Path) -> None:
    transfer, md = make_sample_transfer(tmp_path / "in", "Hồ sơ", "Kế hoạch")
    aip = khoso.json("ingest", transfer, "--metadata", md)["aip"]
    stored = location_root(khoso.home, "local") / aip.replace(":", "_")
    doc = khoso.json("validate", stored)
    assert doc["valid"] is True and doc["errors"] == []
    assert doc["kind"] == "bagit+e-ark"
    mets = stored / "data" / "METS.xml"
    mets.write_bytes(mets.read_bytes().replace(b"CHECKSUMTYPE", b"CHECKSUMTYPX", 1))
    broken = khoso.json("validate", stored, code=1)
    assert any("METS.xml" in (e["path"] or e["message"]) for e in broken["errors"])
