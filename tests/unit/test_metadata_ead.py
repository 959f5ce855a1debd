"""The TT 05/2025 EAD.xml of an E-ARK SIP: dossier and per-item files, problems named by file,
line and element, and a parser that fetches nothing and expands nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ingest.ead import parse_ead_package, read_ead, read_ead_package
from ingest.metadata import read_metadata
from policies.metadata_profile import Strictness, load_metadata_policy
from repository.errors import InvalidInput, Problem

DATA = Path(__file__).parents[1] / "data" / "metadata"
SIP = DATA / "sip"
ITEM1 = "representations/rep1/metadata/descriptive/EAD_DOC_H49.64.33.2001.160.1.xml"
ITEM2 = "representations/rep1/metadata/descriptive/EAD_DOC_H49.64.33.2001.160.2.xml"


def located(problems: list[Problem]) -> list[tuple]:
    return [(p.code, p.field, p.path, p.extra.get("line"), p.extra.get("element"))
            for p in problems]


def test_sip_hoso_reads_dossier_and_items() -> None:
    desc = read_ead_package(SIP / "valid-sip-hoso")
    assert desc.fields["fileCode"] == "H49.64.33.2001.160"
    assert desc.fields["paperFileCode"] == "H49.K2-G3-H15.160"
    assert "inforSign" not in desc.fields  # an empty element is an absent field
    assert [i["docCode"] for i in desc.items] == ["H49.64.33.2001.160.0000001",
                                                  "H49.64.33.2001.160.0000002"]
    assert desc.items[1]["subject"] == "Tờ khai đăng ký kết hôn số 2"  # namespaced root
    assert [(o.path, o.profile) for o in desc.origins] == [
        ("metadata/descriptive/EAD.xml", "dossier"), (ITEM1, "item"), (ITEM2, "item")]
    assert desc.origins[0].field_lines["title"] == 4
    assert desc.warnings == ()


def test_read_ead_from_the_dossier_file_reads_the_whole_package() -> None:
    desc = read_ead(SIP / "valid-sip-hoso" / "metadata" / "descriptive" / "EAD.xml")
    assert len(desc.items) == 2 and desc.source == str(SIP / "valid-sip-hoso")


def test_sip_tailieu_header_is_checked_as_a_batch() -> None:
    desc = read_ead_package(SIP / "valid-sip-tailieu")
    assert [o.profile for o in desc.origins] == ["batch", "item"]
    assert desc.fields["source"] == "0"


def test_item_problem_names_file_line_and_element() -> None:
    with pytest.raises(InvalidInput) as info:
        read_ead_package(SIP / "metadata-code")
    assert located(info.value.details) == [
        ("metadata-code", "typeName", ITEM2, 6, "simpledc/typeName")]
    assert "Công văn" in info.value.details[0].message


def test_reference_package_docCode_fault_is_an_error_or_by_policy_a_warning() -> None:
    # The TT 05/2025 reference SIP writes year 1994 into every docCode of a 2001 dossier.
    with pytest.raises(InvalidInput) as info:
        read_ead_package(SIP / "metadata-identifier-mismatch")
    assert located(info.value.details) == [
        ("metadata-identifier-mismatch", "docCode", ITEM1, 4, "simpledc/docCode"),
        ("metadata-identifier-mismatch", "docCode", ITEM2, 4, "simpledc/docCode")]
    base = load_metadata_policy()
    lenient = base.model_copy(update={"strictness": Strictness(identifier_mismatch="warning")})
    desc = read_ead_package(SIP / "metadata-identifier-mismatch", policy=lenient)
    assert [p.code for p in desc.warnings] == ["metadata-identifier-mismatch"] * 2


@pytest.mark.parametrize(("name", "expected"), [
    ("metadata-duplicate-field.xml", [("metadata-duplicate-field", "maintenance", 6)]),
    ("metadata-syntax.xml", [("metadata-syntax", None, 4)]),
    ("metadata-doctype.xml", [("metadata-doctype", None, 1)]),
])
def test_bad_ead_file(name: str, expected: list[tuple]) -> None:
    with pytest.raises(InvalidInput) as info:
        read_metadata(DATA / "ead" / name)
    assert [(p.code, p.field, p.extra.get("line")) for p in info.value.details] == expected


def test_external_entity_is_never_read() -> None:
    with pytest.raises(InvalidInput) as info:
        read_metadata(DATA / "ead" / "metadata-doctype.xml")
    assert "root:" not in str(info.value.as_document())  # nothing of /etc/passwd


def test_entity_expansion_bomb_is_refused(tmp_path: Path) -> None:
    entities = ['<!ENTITY l0 "lol">'] + [
        f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10)]
    path = tmp_path / "EAD.xml"
    path.write_text(f'<?xml version="1.0"?><!DOCTYPE simpledc [{"".join(entities)}]>'
                    "<simpledc><title>&l9;</title></simpledc>", encoding="utf-8")
    with pytest.raises(InvalidInput) as info:
        read_metadata(path)
    assert info.value.details[0].code in ("metadata-doctype", "metadata-syntax")
    assert "lollol" not in str(info.value.as_document())


def test_foreign_ead_keeps_its_title_and_checks_nothing() -> None:
    desc = read_metadata(DATA / "ead" / "metadata-not-tt05.xml")
    assert desc.fields == {"title": "Kommunstyrelsens protokoll 1971–1980"}
    assert [(p.code, p.extra["line"]) for p in desc.warnings] == [("metadata-not-tt05", 2)]


def test_khoso_aip_ead_reads_back(tmp_path: Path) -> None:
    from ingest.package_xml import ead_xml

    fields = read_metadata(DATA / "valid-dossier.json").fields
    path = tmp_path / "EAD.xml"
    path.write_bytes(ead_xml("urn:uuid:0F203B84-6641-4CDA-9F52-DAAE55FEF6B1", fields))
    assert read_metadata(path).fields == fields


def test_linked_and_foreign_files_are_not_items(tmp_path: Path) -> None:
    root = tmp_path / "sip"
    shutil.copytree(SIP / "valid-sip-hoso", root)
    descriptive = root / "representations" / "rep1" / "metadata" / "descriptive"
    (descriptive / "EAD_DOC_outside.xml").symlink_to(SIP / "metadata-code" / ITEM2)
    (descriptive / "notes.xml").write_text("<simpledc/>", encoding="utf-8")
    assert len(parse_ead_package(root).items) == 2


def test_package_without_ead_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_ead_package(tmp_path)
    assert info.value.details[0].code == "metadata-missing"
    assert "metadata/descriptive/EAD.xml" in str(info.value)
