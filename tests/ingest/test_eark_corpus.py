"""Every E-ARK corpus package gets the outcome its testCase.xml or expected.tsv gives.

Expectations are read at collection time, never re-typed: the DILCIS ``testCase.xml`` files
(with lxml) give, per rule, its ``level`` and each package's ``isValid``; ``expected.tsv``
gives the eark-validator and commons-ip outcomes (see the corpus MANIFEST.md).

How an expectation becomes an assertion on :func:`ingest.eark.validate_eark`:

* DILCIS verdict: the package is valid when ``isValid="TRUE"`` or the broken rule's level is
  WARNING or INFO (breaking a SHOULD/MAY rule leaves a package valid).
* DILCIS rule: a package with ``isValid="FALSE"`` gets a problem citing the requirement id at
  the rule's level (ERROR → errors, WARNING → warnings, INFO → infos); a package with
  ``isValid="TRUE"`` for an ERROR rule gets no error citing it.
* expected.tsv: ``wellformed``/``not-wellformed``/``not-an-IP``/``wellformed-with-warning``
  are eark-validator's *structure* verdicts, so only CSIPSTR problems count, and the rule ids
  the description names (``CSIPSTR5 WARNING``) must be reported at that level; ``valid``,
  ``invalid``, ``valid-with-info`` on a lone METS file are verdicts on that document.

Two facts about the corpus shape how errors are read (each proven by a test, never skipped):

1. Git normalised line endings (CRLF → LF) in many upstream files after their METS checksums
   were taken. A size or checksum mismatch that disappears when LF is turned back into CRLF is
   set aside for the verdict; ``test_crlf_damaged_corpus_copy_is_rejected_and_restored_copy_
   accepted`` shows khoso does reject such a copy, and accepts it once restored.
2. Structure test cases (CSIPSTR10-16) ship a 0-byte METS.xml: only the folder layout is under
   test, so the verdict counts CSIPSTR problems, and the empty METS must still be an error.

Rows where khoso's verdict deliberately differs from upstream are ``xfail(strict=True)`` in
``XFAIL`` with the reason.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree

from ingest.eark import EarkReport, open_eark_archive, validate_eark
from ingest.mets import PACKAGE, Findings, read_mets
from ingest.unpack import FOLDER, UNKNOWN, detect
from repository.errors import InvalidInput, Problem


def _shared() -> Path:
    beside = Path(__file__).resolve().parents[3] / "shared"
    if beside.is_dir():
        return beside
    return Path(os.environ.get("KHOSO_SHARED", str(beside)))


CORPUS = _shared() / "corpora" / "eark-ip"
DILCIS = CORPUS / "dilcis-eark-ip-test-corpus" / "corpus"
FIXITY = frozenset({"size-mismatch", "checksum-mismatch"})
LEVELS = {"ERROR": "errors", "WARNING": "warnings", "INFO": "infos"}

XFAIL = {
    "dilcis-eark-ip-test-corpus/corpus/CSIP/CSIP2/valid/valid_minimal_mets_TYPE_value_vocabulary_1":
        "TYPE='1' is not in the DILCIS content category vocabulary (CSIP2 MUST); no "
        "testCase.xml references this package, only its valid/ folder calls it valid",
    "dilcis-eark-ip-test-corpus/corpus/template-ip/Valid_IP_example":
        "beyond CRLF normalisation, the template's METS.xml declares representations/rep1/"
        "METS.xml with xlink.xsd's MD5 and size, and that representation METS breaks CSIP70 "
        "(18 files without @CREATED), CSIP104 (its data file group is not in its structMap) "
        "and CSIP108 (an mptr title naming a file group of another document)",
    "eark-validator/tests/resources/xml/METS-ownerid.xml":
        "upstream ran only the fileSec rules on it; the document references none of its three "
        "file groups from the CSIP structMap (CSIP96/100/104 MUST)",
}
# CSIP1 rule 4's package is byte-identical to the valid minimal package (no representation
# METS at all); it still gets its CSIP1 warning, through rule 3: its OBJID is not its folder name.
RULE_XFAIL: dict[tuple[str, str, str], str] = {}


@dataclass(frozen=True)
class Case:
    requirement: str
    rule: str
    level: str
    package: str  # path in testCase.xml, relative to the test case folder
    is_valid: bool
    root: Path

    @property
    def key(self) -> str:
        return self.root.relative_to(CORPUS).as_posix().removesuffix("/package")


def _dilcis_cases() -> list[Case]:
    cases = []
    for xml in sorted(DILCIS.glob("*/*/testCase.xml")):
        doc = etree.parse(str(xml), etree.XMLParser(resolve_entities=False, no_network=True))
        requirement = doc.find("id").get("requirementId")
        for rule in doc.iterfind("rules/rule"):
            level = rule.find("error").get("level")
            for pkg in rule.iterfind("corpusPackages/package"):
                rel = pkg.findtext("path").strip()
                root = xml.parent / rel
                # MANIFEST: the structure tests keep the package root in <path>/package/.
                root = root / "package" if (root / "package").is_dir() else root
                cases.append(Case(requirement, rule.get("id"), level, rel,
                                  pkg.get("isValid") == "TRUE", root))
    return cases


def _tsv_rows() -> list[dict[str, str]]:
    table = CORPUS / "expected.tsv"
    if not table.is_file():
        return []
    with table.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    # DILCIS rows come from testCase.xml itself; keep the ones testCase.xml does not cover.
    return [r for r in rows if r["source_kind"] != "dilcis-testcase"
            or "not referenced" in r["testcase"]]


CASES = _dilcis_cases()
ROWS = _tsv_rows()


def _mark(key: str, reasons: dict[str, str]) -> list[pytest.MarkDecorator]:
    return [pytest.mark.xfail(strict=True, reason=reasons[key])] if key in reasons else []


def _crlf_explains(root: Path, problem: Problem) -> bool:
    """True when the mismatch vanishes once LF line ends are turned back into CRLF."""
    if problem.code not in FIXITY or problem.path is None:
        return False
    restored = re.sub(rb"(?<!\r)\n", b"\r\n", (root / problem.path).read_bytes())
    if problem.code == "size-mismatch":
        return len(restored) == problem.extra["expected"]
    digest = hashlib.new(problem.extra["algorithm"], restored).hexdigest()
    return digest == problem.extra["expected"].strip().lower()


def _verdict_errors(report: EarkReport, root: Path) -> list[Problem]:
    errors = [e for e in report.errors if not _crlf_explains(root, e)]
    mets = root / "METS.xml"
    if mets.is_file() and mets.stat().st_size == 0:
        assert "mets-empty" in {e.code for e in report.errors}, _summary(report)
        errors = _structural(errors)
    return errors


def _structural(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if (p.rule or "").startswith("CSIPSTR")]


def _cites(problem: Problem, requirement: str) -> bool:
    return requirement in re.split(r"[,\s]+", problem.rule or "")


def _summary(report: EarkReport | Findings) -> str:
    return "\n".join(f"  {level}: {[(p.code, p.rule, p.message) for p in getattr(report, level)]}"
                     for level in ("errors", "warnings", "infos"))


def test_corpus_is_present() -> None:
    assert len(CASES) >= 60, f"no DILCIS testCase.xml files under {DILCIS}"
    assert len(ROWS) >= 20, f"no expected.tsv under {CORPUS}"
    assert all(c.root.is_dir() for c in CASES), [c.root for c in CASES if not c.root.is_dir()]


@pytest.mark.parametrize("case", [pytest.param(c, marks=_mark(c.key, XFAIL)) for c in CASES],
                         ids=[f"{c.requirement}-r{c.rule}-{c.package}" for c in CASES])
def test_dilcis_package_gets_testcase_verdict(case: Case) -> None:
    report = validate_eark(case.root)
    expected_valid = case.is_valid or case.level in ("WARNING", "INFO")
    errors = _verdict_errors(report, case.root)
    assert (not errors) is expected_valid, _summary(report)


RULE_CASES = [c for c in CASES if not c.is_valid or c.level == "ERROR"]


@pytest.mark.parametrize(
    "case", [pytest.param(c, marks=_mark((c.requirement, c.rule, c.package), RULE_XFAIL))
             for c in RULE_CASES],
    ids=[f"{c.requirement}-r{c.rule}-{c.package}" for c in RULE_CASES])
def test_dilcis_rule_is_reported_at_its_level(case: Case) -> None:
    report = validate_eark(case.root)
    citing = [p for p in getattr(report, LEVELS[case.level]) if _cites(p, case.requirement)]
    if case.is_valid:
        assert not citing, _summary(report)
    else:
        assert citing, f"no {case.level} citing {case.requirement}\n{_summary(report)}"


def test_crlf_damaged_corpus_copy_is_rejected_and_restored_copy_accepted(
        tmp_path: Path) -> None:
    original = DILCIS / "CSIP" / "CSIP1" / "valid" / "minimal_IP_with_1_representation"
    report = validate_eark(original)
    assert not report.valid
    assert {e.code for e in report.errors} == FIXITY, _summary(report)
    assert all(_crlf_explains(original, e) for e in report.errors), _summary(report)
    copy = tmp_path / original.name
    shutil.copytree(original, copy)
    for path in {e.path for e in report.errors if e.path}:
        target = copy / path
        target.chmod(0o644)
        target.write_bytes(re.sub(rb"(?<!\r)\n", b"\r\n", target.read_bytes()))
    restored = validate_eark(copy)
    assert restored.valid, _summary(restored)
    assert "reference-case-mismatch" in {w.code for w in restored.warnings}


@pytest.mark.parametrize("row", [pytest.param(r, marks=_mark(r["path"], XFAIL)) for r in ROWS],
                         ids=[r["path"] for r in ROWS])
def test_tsv_row_gets_expected_outcome(row: dict[str, str], tmp_path: Path) -> None:
    path, expected = CORPUS / row["path"], row["expected"]
    if path.suffix == ".xml" and path.is_file():
        _check_mets_file(path, expected)
    elif expected in ("wellformed", "wellformed-with-warning", "not-wellformed", "not-an-IP"):
        _check_structure(path, expected, row["description"], tmp_path)
    elif expected == "parseable-shallow-sip":
        _check_shallow_sip(path, tmp_path)
    else:
        assert expected.startswith("valid"), f"expectation this test cannot read: {expected!r}"
        report = validate_eark(path)
        assert not _verdict_errors(report, path), _summary(report)


def _check_mets_file(path: Path, expected: str) -> None:
    found = Findings()
    read_mets(path.read_bytes(), path.name, role=PACKAGE, folder_name=None, found=found)
    assert (not found.errors) is expected.startswith("valid"), _summary(found)
    if expected == "valid-with-info":
        assert found.infos, _summary(found)


def _open(path: Path, workdir: Path) -> tuple[EarkReport | None, list[Problem]]:
    """The report on the package at ``path`` (an archive is unpacked), or the unpack errors."""
    if path.is_file() and detect(path) not in (FOLDER, UNKNOWN):
        try:
            path = open_eark_archive(path, workdir)
        except InvalidInput as exc:
            return None, exc.details
    report = validate_eark(path)
    return report, report.errors


def _check_structure(path: Path, expected: str, description: str, workdir: Path) -> None:
    report, errors = _open(path, workdir)
    structural = _structural(errors)
    shown = _summary(report) if report else str(errors)
    assert (not structural) is expected.startswith("wellformed"), shown
    for rule, level in re.findall(r"(CSIPSTR\d+) (ERROR|WARNING)", description):
        problems = structural if level == "ERROR" else (report.warnings if report else [])
        assert any(_cites(p, rule) for p in problems), f"no {level} citing {rule}\n{shown}"
    if "no structure messages" in description and report is not None:
        assert not _structural(report.warnings), shown


def _check_shallow_sip(path: Path, workdir: Path) -> None:
    report, _ = _open(path, workdir)
    assert report is not None and report.objid and report.representations == ["rep1"]
    external = [e for e in report.errors if e.code == "reference-external"]
    # A shallow SIP points at file:/mnt/… outside the package: refused, never opened.
    assert external and all("file:/" in e.message for e in external), _summary(report)
    assert not report.valid
