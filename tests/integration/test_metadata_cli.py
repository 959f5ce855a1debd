"""``khoso ingest --metadata`` on both catalogs: every metadata problem listed at once, nothing
stored when any is an error, the dossier's fields carried into the AIP's EAD.xml, and an item's
classification raising the whole dossier's."""

from __future__ import annotations

import json
from pathlib import Path

from ingest.metadata import read_metadata
from repository.demo import make_sample_transfer
from tests.helpers.storage import location_root, stored_files

DATA = Path(__file__).parents[1] / "data" / "metadata"


def test_bad_metadata_lists_every_problem_and_stores_nothing(khoso, tmp_path: Path) -> None:
    offsite = tmp_path / "offsite"
    khoso.ok("storage", "add", "offsite", offsite.as_uri())
    transfer, _ = make_sample_transfer(tmp_path / "in", "Hồ sơ 01", "Kế hoạch")
    bad = tmp_path / "bad.csv"
    bad.write_bytes((DATA / "metadata-required.csv").read_bytes())

    error = khoso.json("ingest", transfer, "--metadata", bad, code=1)["error"]

    assert error["kind"] == "invalid-input"
    assert "4 metadata problem(s)" in error["message"] and "bad.csv" in error["message"]
    assert [(d["code"], d["field"], d["extra"]["row"]) for d in error["details"]] == [
        ("metadata-required", "title", 2), ("metadata-required", "maintenance", 2),
        ("metadata-required", "riskRecoveryStatus", 2), ("metadata-required", "subject", 4)]
    assert all(d["path"] == str(bad) and d["rule"] for d in error["details"])
    assert khoso.json("aip", "list")["aips"] == []
    for root in (location_root(khoso.home, "local"), offsite):
        assert stored_files(root) == []
    assert not [p for p in (khoso.home / "staging").rglob("*") if p.is_file()]
    assert khoso.json("log", "verify")["intact"]


def test_valid_metadata_describes_the_aip(khoso, tmp_path: Path) -> None:
    transfer, _ = make_sample_transfer(tmp_path / "in", "Hồ sơ 01", "Kế hoạch")
    result = khoso.json("ingest", transfer, "--metadata", DATA / "valid-dossier.csv")

    stored = location_root(khoso.home, "local") / result["aip"].replace(":", "_")
    ead = read_metadata(stored / "data" / "metadata" / "descriptive" / "EAD.xml")
    given = read_metadata(DATA / "valid-dossier.csv").fields
    assert ead.fields == given  # every dossier field, as given, in the AIP
    assert khoso.json("aip", "list")["aips"][0]["classification"] == "unclassified"


def test_classified_item_makes_the_whole_dossier_classified(khoso, tmp_path: Path) -> None:
    data = json.loads((DATA / "valid-dossier.json").read_text(encoding="utf-8"))
    data["mode"] = "03"
    data["items"][1].update(mode="03", classification="toi-mat", classifiedOn="10/01/2026")
    metadata = tmp_path / "hồ sơ mật.json"
    metadata.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    transfer, _ = make_sample_transfer(tmp_path / "in", "Hồ sơ mật", "Báo cáo")

    aip = khoso.json("ingest", transfer, "--metadata", metadata)["aip"]

    listed = khoso.json("aip", "list")["aips"]
    assert [(a["aip"], a["classification"]) for a in listed] == [(aip, "secret")]
    shown = khoso.json("aip", "show", aip)
    assert shown["classification"] == "secret"
    policy = [e for e in shown["events"] if e["type"] == "policy assignment"]
    assert any("2026-01-10" in json.dumps(e["detail"]) for e in policy)
