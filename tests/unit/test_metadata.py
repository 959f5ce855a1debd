"""Descriptive metadata (CSV, JSON) against the TT 05/2025 profiles: every problem is listed
with its code, field and row (CSV, 1-based with the header as row 1) or JSON pointer.

Each bad file in tests/data/metadata/ is named after the code it must produce."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from ingest.metadata import Description, read_metadata
from policies.metadata_profile import MetadataPolicy, Strictness, load_metadata_policy
from repository.errors import InvalidInput, Problem

DATA = Path(__file__).parents[1] / "data" / "metadata"


def where(p: Problem) -> int | str | None:
    return p.extra.get("row", p.extra.get("pointer", p.extra.get("line")))


def outcome(problems: list[Problem], severity: str = "error") -> list[tuple]:
    return [(p.code, p.field, where(p)) for p in problems
            if p.extra.get("severity", "error") == severity]


def rejected(name: str, **kwargs) -> InvalidInput:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput) as info:
        read_metadata(DATA / name, **kwargs)
    assert name in str(info.value)
    return info.value


# (file, every error it must produce: code, field, row or JSON pointer)
BAD = [
    ("metadata-required.csv", [
        ("metadata-required", "title", 2), ("metadata-required", "maintenance", 2),
        ("metadata-required", "riskRecoveryStatus", 2), ("metadata-required", "subject", 4)]),
    ("metadata-code.csv", [
        ("metadata-code", "maintenance", 2), ("metadata-code", "language", 2),
        ("metadata-code", "typeName", 3)]),
    ("metadata-boolean.csv", [
        ("metadata-boolean", "riskRecovery", 2), ("metadata-boolean", "process", 4)]),
    ("metadata-integer.csv", [
        ("metadata-integer", "totalDoc", 2), ("metadata-integer", "numberOfPage", 3)]),
    ("metadata-date.csv", [
        ("metadata-date", "startDate", 2), ("metadata-date", "issuedDate", 4)]),
    ("metadata-identifier.csv", [
        ("metadata-identifier", "fileCode", 2), ("metadata-identifier", "docCode", 3)]),
    ("metadata-total-doc.csv", [("metadata-total-doc", "totalDoc", 2)]),
    ("metadata-duplicate-field.csv", [("metadata-duplicate-field", "title", 1)]),
    ("metadata-length.json", [
        ("metadata-length", "keyword", "/keyword"),
        ("metadata-length", "codeNumber", "/items/0/codeNumber")]),
    ("metadata-date-order.json", [("metadata-date-order", "endDate", "/endDate")]),
    ("metadata-identifier-mismatch.json", [
        ("metadata-identifier-mismatch", "docId", "/items/1/docId"),
        ("metadata-identifier-mismatch", "docCode", "/items/1/docCode")]),
    ("metadata-duplicate-identifier.json", [
        ("metadata-duplicate-identifier", "docId", "/items/1/docId"),
        ("metadata-duplicate-identifier", "docCode", "/items/1/docCode")]),
    ("metadata-classification.json", [
        ("metadata-classification", "classification", "/items/1/classification"),
        ("metadata-classification", "classifiedOn", "/classifiedOn")]),
    ("metadata-classification-mode.json", [
        ("metadata-classification-mode", "mode", "/items/1/mode"),
        ("metadata-classification-mode", "mode", "/mode")]),
    ("metadata-invalid.json", [
        ("metadata-invalid", "description", "/description"),
        ("metadata-invalid", "items", "/items")]),
    # Cannot be read at all: one problem, naming the line or the byte.
    ("metadata-syntax.json", [("metadata-syntax", None, 4)]),
    ("metadata-encoding.csv", [("metadata-encoding", None, None)]),
]


@pytest.mark.parametrize(("name", "expected"), BAD, ids=[b[0] for b in BAD])
def test_bad_file_lists_every_problem(name: str, expected: list[tuple]) -> None:
    error = rejected(name)
    assert outcome(error.details) == expected
    assert name.split(".")[0] == expected[0][0]  # the file is named after its code
    for problem in error.details:
        assert problem.path and problem.path.endswith(name)
        assert problem.message.startswith(str(DATA / name))


def test_each_problem_names_the_rule_and_the_fix() -> None:
    details = rejected("metadata-code.csv").details
    assert [p.rule for p in details] == [
        "TT 05/2025 Annex III maintenance codes 01–07",
        "TT 05/2025 Annex III language codes 01–11",
        "TT 05/2025 Annex III EAD_doc typeName codes 01–32"]
    assert "write 01, not 1" in details[0].message  # the spreadsheet dropped the zero
    assert "'12'" in details[1].message and "'01'" not in details[1].message
    assert all(p.extra["severity"] == "error" for p in details)
    assert rejected("metadata-length.json").details[0].rule == \
        "TT 05/2025 Annex III keyword max 100"


def test_csv_and_json_of_the_same_dossier_read_alike() -> None:
    csv = read_metadata(DATA / "valid-dossier.csv")
    js = read_metadata(DATA / "valid-dossier.json")
    assert csv.fields == js.fields
    assert csv.items == js.items
    assert csv.fields["language"] == "01,02" and csv.fields["totalDoc"] == "2"
    assert len(csv.items) == 2 and csv.warnings == ()
    assert [o.row for o in csv.origins] == [2, 3, 4]
    assert [o.pointer for o in js.origins] == ["", "/items/0", "/items/1"]


@pytest.mark.parametrize(("name", "expected"), [
    ("metadata-unknown-field.csv", [("metadata-unknown-field", "ghiChuNoiBo", 2),
                                    ("metadata-unknown-field", "ghiChuNoiBo", 4)]),
    ("metadata-date-range.csv", [("metadata-date-range", "issuedDate", 4)]),
])
def test_warnings_do_not_reject(name: str, expected: list[tuple]) -> None:
    desc = read_metadata(DATA / name)
    assert outcome(list(desc.warnings), "warning") == expected


def test_policy_turns_a_warning_into_an_error() -> None:
    policy = _with(load_metadata_policy(), unknown_field="error")
    error = rejected("metadata-unknown-field.csv", policy=policy)
    assert outcome(error.details) == [("metadata-unknown-field", "ghiChuNoiBo", 2),
                                      ("metadata-unknown-field", "ghiChuNoiBo", 4)]


def test_missing_required_fields_may_be_warnings_by_policy() -> None:
    policy = _with(load_metadata_policy(), missing_required="warning")
    desc = read_metadata(DATA / "metadata-required.csv", policy=policy)
    assert [(p.field, where(p)) for p in desc.warnings] == [
        ("title", 2), ("maintenance", 2), ("riskRecoveryStatus", 2), ("subject", 4)]
    # Only missing fields are softened: a wrong code is still an error.
    assert outcome(rejected("metadata-code.csv", policy=policy).details)[0][0] == \
        "metadata-code"


def test_no_metadata_file_requires_nothing() -> None:
    assert read_metadata(None) == Description({})


def test_only_given_fields_are_required_of_a_file_without_items(tmp_path: Path) -> None:
    path = tmp_path / "hồ sơ.json"
    path.write_text('{"title": "Hồ sơ", "mode": "09"}', encoding="utf-8")
    error = rejected(str(path))
    fields = [(p.code, p.field) for p in error.details]
    assert ("metadata-code", "mode") in fields
    assert ("metadata-required", "fileCode") in fields
    assert not any(f == "docId" for _, f in fields)  # no items, so no item rules


def test_lengths_count_characters_after_nfc(tmp_path: Path) -> None:
    # "Ệ" in NFD is three code points; 1,000 of them are still 1,000 characters.
    title = unicodedata.normalize("NFD", "Ệ" * 1000)
    assert len(title) == 3000
    ok = _write(tmp_path / "ok.json", title)
    assert read_metadata(ok).fields["title"] == title  # kept as given, byte for byte
    long = _write(tmp_path / "long.json", "Ệ" * 1001)
    assert outcome(rejected(str(long)).details) == [("metadata-length", "title", "/title")]


def test_vietnamese_column_names_are_accepted(tmp_path: Path) -> None:
    text = (DATA / "valid-dossier.csv").read_text(encoding="utf-8")
    header, rest = text.split("\n", 1)
    header = header.replace("fileCode", "Mã hồ sơ").replace("totalDoc", "Tổng số tài liệu")
    path = tmp_path / "danh-muc.csv"
    path.write_text(f"{header}\n{rest}", encoding="utf-8")
    desc = read_metadata(path)
    assert desc.fields["fileCode"] == "000.00.00.H49.2026.01"
    assert desc.fields["totalDoc"] == "2"


def test_historical_archive_accepts_only_permanent_records(tmp_path: Path) -> None:
    policy = load_metadata_policy().model_copy(update={"historical_archive": True})
    assert read_metadata(DATA / "valid-dossier.csv", policy=policy).fields
    text = (DATA / "valid-dossier.csv").read_text(encoding="utf-8")
    path = tmp_path / "hs.csv"
    path.write_text(text.replace("Nam,01,01,", "Nam,04,01,", 1), encoding="utf-8")
    error = rejected(str(path), policy=policy)
    assert outcome(error.details) == [("metadata-code", "maintenance", 2)]
    assert "historical archive" in error.details[0].message


def test_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    policy = load_metadata_policy().model_copy(update={"max_file_bytes": 1024})
    path = tmp_path / "big.json"
    path.write_text('{"title": "' + "x" * 2000 + '"}', encoding="utf-8")
    assert outcome(rejected(str(path), policy=policy).details) == [
        ("metadata-too-large", None, None)]


def _with(policy: MetadataPolicy, **strict: str) -> MetadataPolicy:
    return policy.model_copy(update={"strictness": Strictness(**{
        **policy.strictness.model_dump(), **strict})})


def _write(path: Path, title: str) -> Path:
    import json

    data = json.loads((DATA / "valid-dossier.json").read_text(encoding="utf-8"))
    data["title"] = title
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path
