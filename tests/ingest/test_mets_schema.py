"""METS documents are checked against the METS 1.12 schema, offline (ingest/mets_schema.py)."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from ingest.eark import validate_eark
from ingest.mets_schema import schema_errors
from tests.helpers.eark import build_sip

METS = "{http://www.loc.gov/METS/}"


def _errors(report) -> list:  # type: ignore[no-untyped-def]
    return [p for p in report.errors if p.code == "mets-schema-invalid"]


def test_a_valid_sip_breaks_no_schema_rule(tmp_path: Path) -> None:
    assert _errors(validate_eark(build_sip(tmp_path))) == []


def test_an_element_the_schema_does_not_allow_is_named_with_its_line(tmp_path: Path) -> None:
    def stray(mets: etree._Element) -> None:  # metsHdr must come first: put one last too
        etree.SubElement(mets, f"{METS}metsHdr")

    [problem] = _errors(validate_eark(build_sip(tmp_path, package_tweak=stray)))
    assert problem.path == "METS.xml" and "line " in problem.message
    assert "metsHdr" in problem.message and "METS 1.12 schema" in (problem.rule or "")


def test_a_bad_attribute_value_in_a_representation_is_found(tmp_path: Path) -> None:
    def bad_size(mets: etree._Element) -> None:
        next(mets.iter(f"{METS}file")).set("SIZE", "many")

    found = _errors(validate_eark(build_sip(tmp_path, rep_tweak=bad_size)))
    assert [p.path for p in found] == ["representations/rep1/METS.xml"]
    assert "SIZE" in found[0].message


def test_the_xlink_schema_comes_from_khoso_never_from_the_network(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from ingest import mets_schema

    root = etree.fromstring(b'<mets xmlns="http://www.loc.gov/METS/"><structMap><div/>'
                            b"</structMap></mets>")
    monkeypatch.setattr(mets_schema, "_schema", None)  # compile again, in this test
    assert schema_errors(root) == []
    # Without the local file the schema cannot compile: nothing falls back to the URL.
    monkeypatch.setattr(mets_schema, "_schema", None)
    monkeypatch.setattr(mets_schema._LocalSchemas, "resolve", lambda *_args: None)
    with pytest.raises(etree.XMLSchemaParseError):
        schema_errors(root)
