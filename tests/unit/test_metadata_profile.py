"""policies/metadata.yaml (the TT 05/2025 profiles) and classification carried by metadata."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from ingest.metadata import Description, Origin, read_metadata
from ingest.metadata_classification import dossier_classification, highest_classification
from policies.loader import load_policies
from policies.metadata_profile import DEFAULT_PATH, load_metadata_policy
from repository.errors import ConfigError, InvalidInput

DATA = Path(__file__).parents[1] / "data" / "metadata"
TODAY = date(2026, 3, 1)


def test_shipped_profiles_follow_tt05() -> None:
    policy = load_metadata_policy()
    dossier = policy.profiles["dossier"]
    tt05 = [f.key for f in dossier.fields if not (f.rule or "").startswith(("khoso", "Law"))
            and f.key != "arcFileCode"]
    assert len(tt05) == 18  # the reference package's 18 fields (Annex III lists 16–18)
    assert {f.key for f in policy.profiles["item"].fields} >= {
        "docId", "docCode", "typeName", "issuedDate", "organName", "subject", "process"}
    assert len(policy.code_lists["typeName"].codes) == 32
    assert len(policy.code_lists["language"].codes) == 11
    assert list(policy.code_lists["maintenance"].codes) == [f"0{i}" for i in range(1, 8)]
    for profile in policy.profiles.values():
        assert all(f.confidence in ("P", "S", "U") for f in profile.fields)
        assert profile.source
    assert policy.strictness.missing_required == "error"


@pytest.mark.parametrize(("old", "new", "key", "problem"), [
    ("missing_required: error", "missing_required: maybe", "strictness.missing_required",
     "Input should be"),
    ("    regex: '^(?P<file_code>.+)\\.(?P<ordinal>\\d{7})$'", "    regex: '^(?P<x>.+)$'",
     "identifiers.doc_code", "file_code"),
    ("codes: typeName, max: 10,", "codes: typeNames, max: 10,", "(top)", "typeNames"),
    ("required_when: {field: riskRecovery, in: [\"1\"]},\n         confidence: S}",
     "required_when: {field: riskRecovry, in: [\"1\"]},\n         confidence: S}",
     "profiles.dossier", "riskRecovry"),
    ("historical_archive: false", "historical_archive: false\nhistorical: true", "historical",
     "Extra inputs"),
])
def test_bad_home_profile_is_named(tmp_path: Path, old: str, new: str, key: str,
                                   problem: str) -> None:
    shutil.copyfile(DEFAULT_PATH, tmp_path / "metadata.yaml")
    text = (tmp_path / "metadata.yaml").read_text(encoding="utf-8")
    assert old in text
    (tmp_path / "metadata.yaml").write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_metadata_policy(tmp_path)
    message = str(info.value)
    assert "metadata.yaml" in message and key in message and problem in message


def test_home_copy_replaces_the_defaults(tmp_path: Path) -> None:
    text = DEFAULT_PATH.read_text(encoding="utf-8").replace(
        "missing_required: error", "missing_required: warning")
    (tmp_path / "metadata.yaml").write_text(text, encoding="utf-8")
    assert load_metadata_policy(tmp_path).strictness.missing_required == "warning"
    assert load_metadata_policy(tmp_path.parent).strictness.missing_required == "error"


def _desc(dossier: dict[str, str], *items: dict[str, str]) -> Description:
    origins = (Origin("m.json", pointer=""),
               *(Origin("m.json", f"item {n}", "item", pointer=f"/items/{n - 1}")
                 for n in range(1, len(items) + 1)))
    return Description(dossier, list(items), "m.json", origins)


def test_highest_item_level_applies_to_the_whole_dossier() -> None:
    policies = load_policies()
    desc = _desc({}, {"classification": "mat", "classifiedOn": "01/02/2020"},
                 {"classification": "toi-mat", "classifiedOn": "10/01/2026"},
                 {"classification": "secret", "classifiedOn": "15/01/2026"},
                 {"classification": "unclassified"})
    # Two "Tối mật" items: the later date, so protection ends no earlier than either's.
    assert highest_classification(desc, policies) == ("secret", date(2026, 1, 15))
    level, on = dossier_classification(desc, policies, "mat", date(2025, 5, 5), TODAY)
    assert (level.key, on) == ("secret", date(2026, 1, 15))
    level, on = dossier_classification(desc, policies, "tuyet-mat", None, TODAY)
    assert (level.key, on) == ("top-secret", TODAY)  # given without a date: classified today


def test_unclassified_metadata_leaves_the_transfer_level() -> None:
    policies = load_policies()
    assert highest_classification(_desc({}), policies) == ("unclassified", None)
    level, on = dossier_classification(_desc({}), policies, None, None, TODAY)
    assert (level.key, on) == ("unclassified", None)
    level, on = dossier_classification(_desc({}), policies, "mat", date(2024, 1, 2), TODAY)
    assert (level.key, on) == ("confidential", date(2024, 1, 2))


def test_classified_transfer_needs_mode_03_in_its_dossier() -> None:
    with pytest.raises(InvalidInput) as info:
        read_metadata(DATA / "valid-dossier.csv", transfer_classification="toi-mat")
    problems = [(p.code, p.field, p.extra.get("row")) for p in info.value.details]
    assert problems == [("metadata-classification-mode", "mode", 2)]
    assert "--classification" in info.value.details[0].message


def test_classified_item_needs_its_date(tmp_path: Path) -> None:
    text = (DATA / "metadata-classification-mode.json").read_text(encoding="utf-8")
    path = tmp_path / "m.json"
    path.write_text(text.replace('"classifiedOn": "10/01/2026"', '"classifiedOn": ""')
                    .replace('"mode": "01"', '"mode": "03"'), encoding="utf-8")
    with pytest.raises(InvalidInput) as info:
        read_metadata(path)
    assert [(p.code, p.field, p.extra["pointer"]) for p in info.value.details] == [
        ("metadata-required", "classifiedOn", "/items/1/classifiedOn")]
