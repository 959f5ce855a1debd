"""Every case of the shared BagIt corpora gets the outcome its ``expected.tsv`` gives.

The expectations are read from ``expected.tsv`` at collection time, never re-typed here. How an
expectation text becomes a verdict on a :class:`~ingest.bag.BagReport`:

* ``valid``, ``valid bag, ...``: the report is valid. As in the upstream conformance harness
  (exit code only), a valid bag may carry warnings: a ``./`` manifest prefix is in the suite's
  ``valid/`` and ``warning/`` folders alike.
* ``valid+warning``, ``valid + warning``: valid with at least one warning.
* ``invalid...``, ``not an RFC 8493 bag``: not valid; ``+ warning`` also needs a warning and
  ``(unsupported algorithm)`` the ``unsupported-algorithm`` code. ``linux-only`` and
  ``windows-only`` rows are invalid here on every OS: khoso refuses home, drive-letter and UNC
  paths everywhere because its copies travel to other systems.
* ``valid (holey)``: khoso never downloads ``fetch.txt`` items, so a bag with holes is
  incomplete: not valid, and every error concerns fetch.txt (the rest of the bag is sound).
* ``conforms``: no ``profile-*`` error and a valid bag; ``conforms (profile only)``: no
  ``profile-*`` error; ``nonconforming``: a ``profile-nonconforming`` error.
* fragments: ``accept`` means the matching reader reports no error, ``reject...`` at least one
  (``(path traversal)``: a ``path-escape``). ``reject on download`` is rejected on reading,
  since khoso never downloads. ``n/a`` profiles must load without error.
"""

from __future__ import annotations

import csv
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from ingest.bag import BagReport, load_profile, open_serialized_bag, validate_bag
from ingest.bagit_parsers import (
    Parsed,
    read_bag_info,
    read_bagit_txt,
    read_fetch,
    read_manifest,
)
from repository.errors import Problem


def _shared() -> Path:
    beside = Path(__file__).resolve().parents[3] / "shared"
    if beside.is_dir():
        return beside
    return Path(os.environ.get("KHOSO_SHARED", str(beside)))


CORPORA = _shared() / "corpora"
CONFORMANCE = CORPORA / "bagit-conformance"
IMPLEMENTATIONS = CORPORA / "bagit-implementations"
FETCH_CODES = frozenset({"fetch-not-allowed", "fetch-entry-not-in-manifest"})


def _rows(corpus: Path) -> list[dict[str, str]]:
    table = corpus / "expected.tsv"
    if not table.is_file():
        return []
    with table.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


CONFORMANCE_ROWS = _rows(CONFORMANCE)
IMPLEMENTATION_ROWS = _rows(IMPLEMENTATIONS)


def _codes(problems: list[Problem]) -> set[str]:
    return {p.code for p in problems}


def _summary(report: BagReport) -> str:
    return (f"valid={report.valid}\n  errors: {[(p.code, p.message) for p in report.errors]}"
            f"\n  warnings: {[(p.code, p.message) for p in report.warnings]}")


@dataclass(frozen=True)
class Verdict:
    valid: bool
    warned: bool = False
    needs: str | None = None
    only: frozenset[str] | None = None

    def check(self, report: BagReport) -> None:
        assert report.valid is self.valid, _summary(report)
        assert report.valid is not bool(report.errors), _summary(report)
        if self.warned:
            assert report.warnings, _summary(report)
        if self.needs:
            assert self.needs in _codes(report.errors), _summary(report)
        if self.only is not None:
            assert _codes(report.errors) <= self.only, _summary(report)


def verdict(expected: str) -> Verdict:
    text = expected.strip().lower()
    if text == "valid (holey)":
        return Verdict(False, only=FETCH_CODES)
    if text.startswith("valid") or text == "warning":
        return Verdict(True, warned="warning" in text)
    if text.startswith(("invalid", "not an rfc 8493 bag")):
        needs = "unsupported-algorithm" if "unsupported algorithm" in text else None
        return Verdict(False, warned="+ warning" in text, needs=needs)
    raise ValueError(f"expected.tsv has an expectation this test cannot read: {expected!r}")


def test_both_corpora_are_present() -> None:
    assert len(CONFORMANCE_ROWS) >= 60, f"no conformance corpus under {CONFORMANCE}"
    assert len(IMPLEMENTATION_ROWS) >= 40, f"no implementations corpus under {IMPLEMENTATIONS}"


@pytest.mark.parametrize("row", CONFORMANCE_ROWS, ids=[r["path"] for r in CONFORMANCE_ROWS])
def test_conformance_bag_gets_expected_verdict(row: dict[str, str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    bag = CONFORMANCE / row["path"]
    # Upstream's harness runs the validator from the category folder with a relative bag path.
    monkeypatch.chdir(bag.parent)
    verdict(row["expected"]).check(validate_bag(Path(bag.name)))


@pytest.mark.parametrize("row", IMPLEMENTATION_ROWS, ids=[r["path"] for r in IMPLEMENTATION_ROWS])
def test_implementation_case_gets_expected_outcome(row: dict[str, str], tmp_path: Path) -> None:
    kind, expected = row["kind"], row["expected"]
    target = IMPLEMENTATIONS / row["path"]
    if kind == "bag":
        verdict(expected).check(validate_bag(target))
    elif kind == "serialized bag":
        _check_serialized(target, expected, tmp_path)
    elif kind.startswith("bag vs "):
        _check_profile_case(target, kind.removeprefix("bag vs ").strip(), expected)
    elif kind.startswith("manifest fragment (replace "):
        _check_replaced_manifest(target, kind, expected, tmp_path)
    elif kind == "bagit profile":
        loaded = load_profile(target)
        assert loaded.value is not None and not loaded.errors, loaded.errors
    else:
        _check_fragment(kind, target.read_bytes(), expected)


def _check_serialized(archive: Path, expected: str, workdir: Path) -> None:
    unpacked = open_serialized_bag(archive, workdir)
    verdict(expected).check(validate_bag(unpacked.root))
    if "nonstandard serialization" in expected:
        assert "serialization-no-base-directory" in _codes(unpacked.warnings)


def _profile_beside(bag: Path, name: str) -> Path:
    """The profile file named in the kind column, nearest to the bag (see the MANIFEST)."""
    for folder in bag.parents:
        found = sorted([*folder.glob(name), *folder.glob(f"*/{name}")])
        if found:
            return found[0]
        if folder == IMPLEMENTATIONS:
            break
    raise FileNotFoundError(f"no {name} near {bag}")


def _check_profile_case(bag: Path, profile_name: str, expected: str) -> None:
    report = validate_bag(bag, profile=_profile_beside(bag, profile_name))
    profile_codes = {c for c in _codes(report.errors) if c.startswith("profile-")}
    if expected.startswith("nonconforming"):
        assert "profile-nonconforming" in profile_codes, _summary(report)
        return
    assert expected.startswith("conforms"), expected
    assert not profile_codes, _summary(report)
    if "profile only" not in expected:
        assert report.valid, _summary(report)


def _check_replaced_manifest(fragment: Path, kind: str, expected: str, tmp_path: Path) -> None:
    """Copy the named bag of the fragment's own source folder and swap in the fragment."""
    replaced = kind.removeprefix("manifest fragment (replace ").rstrip(")").strip()
    bag_rel, manifest_name = replaced.rsplit("/", 1)
    source = IMPLEMENTATIONS / fragment.relative_to(IMPLEMENTATIONS).parts[0] / bag_rel
    bag = tmp_path / "bag"
    shutil.copytree(source, bag)
    (bag / manifest_name).write_bytes(fragment.read_bytes())
    verdict(expected).check(validate_bag(bag))


def _check_fragment(kind: str, data: bytes, expected: str) -> None:
    readers = {
        "manifest fragment": lambda: read_manifest(data, name="manifest-fragment.txt"),
        "fetch fragment": lambda: read_fetch(data),
        "bag-info fragment": lambda: read_bag_info(data),
        "bagit.txt fragment": lambda: read_bagit_txt(data),
    }
    parsed: Parsed[object] = readers[kind]()
    if expected.startswith("accept"):
        assert not parsed.errors, parsed.errors
        return
    assert expected.startswith("reject"), expected
    assert parsed.errors, f"{kind} accepted although expected {expected!r}: {parsed}"
    if "path traversal" in expected:
        assert "path-escape" in _codes(parsed.errors), parsed.errors
