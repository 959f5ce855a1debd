"""Format identification against the shared format-samples corpus.

Expected outcomes come from ``format-samples/expected.tsv`` (see its MANIFEST.md). Where the
recorded baseline of a tool (``observed_fido_1.6.1_pronom_v109``, ``observed_file_mime``)
already disagrees with the curated truth, the row is a known miss of that tool: it is marked
xfail(strict=True) with the reason taken from the row, so a fix shows up as an XPASS.
"""

from __future__ import annotations

import csv
import re
import tempfile
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fido import CONFIG_DIR
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.formats import (
    FormatId,
    assess,
    identify,
    identify_many,
    load_format_policy,
)
from repository.errors import ConfigError

SHARED = Path(__file__).resolve().parents[3] / "shared"
CORPUS = SHARED / "corpora" / "format-samples"
ROWS: list[dict[str, str]] = list(csv.DictReader(
    (CORPUS / "expected.tsv").open(encoding="utf-8"), delimiter="\t"))
PUID_RE = re.compile(r"(?:x-)?fmt/\d+")

# Documented equivalences between expected_mime and what libmagic or PRONOM may say.
MIME_ALIASES = {
    "text/xml": "application/xml",  # one type, two registrations (RFC 7303)
    "text/rtf": "application/rtf",
    "audio/x-ms-wma": "video/x-ms-asf",  # WMA is an ASF stream; libmagic names the container
    "application/x-rdata": "application/gzip",  # expected.tsv: "gzip-compressed R data"
    "application/mp4": "video/mp4",
    "application/vnd.ms-asf": "video/x-ms-asf",  # PRONOM's name for the ASF container
    "inode/x-empty": "application/x-empty",
}
# Plain-text dialects: libmagic only sees "text" and PRONOM has no byte signature for them.
TEXT_LIKE = {"message/rfc822", "application/x-research-info-systems", "application/json"}
# Roles whose file is a real, intact instance of a format that has a PRONOM byte signature.
SIGNATURE_ROLES = {"sample", "validation-pass", "validation-fail", "pdf-feature",
                   "pdfa-sample", "encrypted", "skeleton", "broken-package", "edge"}


def family(mime: str | None) -> str:
    base = (mime or "").split(";")[0].split(" (")[0].strip().lower()
    base = MIME_ALIASES.get(base, base)
    return "text/*" if base.startswith("text/") or base in TEXT_LIKE else base


def _pronom_mimes() -> dict[str, set[str]]:
    root = ET.parse(Path(CONFIG_DIR) / "formats-v109.xml").getroot()
    return {f.findtext("puid") or "": {m.text or "" for m in f.findall("mime")}
            for f in root.findall("format")}


PRONOM_MIMES = _pronom_mimes()


def _param(row: dict[str, str], xfail_reason: str | None = None) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=xfail_reason)] if xfail_reason else []
    return pytest.param(row, id=row["path"], marks=marks)


def _what(row: dict[str, str]) -> str:
    return row["expected_validity_or_feature"] or row["note"] or row["role"]


def _mime_rows() -> list[Any]:
    params = []
    for row in ROWS:
        if not row["expected_mime"]:
            continue
        seen = row["observed_file_mime"]
        known_miss = family(seen) != family(row["expected_mime"])
        params.append(_param(row, f"libmagic baseline says {seen} for a "
                                  f"{row['expected_mime']} file: {_what(row)}"
                             if known_miss else None))
    return params


def _signature_rows() -> list[Any]:
    params = []
    for row in ROWS:
        if (row["role"] not in SIGNATURE_ROLES or family(row["expected_mime"]) == "text/*"
                or row["expected_validity_or_feature"].startswith("NOT well-formed")):
            continue  # text has no magic; a broken header or trailer defeats a signature
        baseline = row["observed_fido_1.6.1_pronom_v109"]
        known_miss = not baseline or "(extension)" in baseline
        params.append(_param(row, f"FIDO 1.6.1 baseline matched only by extension "
                                  f"({baseline.split(';')[0]}…): {_what(row)}"
                             if known_miss else None))
    return params


@pytest.fixture(scope="module")
def identified() -> dict[str, FormatId]:
    return {row["path"]: identify(CORPUS / row["path"]) for row in ROWS}


@pytest.mark.parametrize("row", _mime_rows())
def test_mime_family_matches_the_curated_format(row: dict[str, str],
                                                identified: dict[str, FormatId]) -> None:
    assert family(identified[row["path"]].mime) == family(row["expected_mime"])


@pytest.mark.parametrize("row", [_param(r) for r in ROWS if r["expected_puid_upstream"]])
def test_puid_matches_the_upstream_assertion(row: dict[str, str],
                                             identified: dict[str, FormatId]) -> None:
    expected = PUID_RE.findall(row["expected_puid_upstream"])[0]
    fid = identified[row["path"]]
    assert (fid.puid, fid.basis in ("signature", "container")) == (expected, True)


@pytest.mark.parametrize("row", _signature_rows())
def test_binary_formats_are_identified_from_their_bytes(
        row: dict[str, str], identified: dict[str, FormatId]) -> None:
    fid = identified[row["path"]]
    assert fid.basis in ("signature", "container")
    assert fid.puid is not None
    pronom = PRONOM_MIMES.get(fid.puid, set())
    if pronom:  # the PUID's own PRONOM MIME must be the same kind of thing
        assert family(row["expected_mime"]) in {family(m) for m in pronom}


@pytest.mark.parametrize("row", [_param(r) for r in ROWS
                                 if r["role"] == "unknown-format"])
def test_synthetic_unknown_formats_stay_unidentified(
        row: dict[str, str], identified: dict[str, FormatId]) -> None:
    fid = identified[row["path"]]
    assert fid.basis in ("none", "extension")
    assert fid.basis == "extension" or fid.puid is None


@pytest.mark.parametrize("row", [_param(r) for r in ROWS
                                 if r["role"] == "misleading-extension"])
def test_extension_only_matches_are_marked_as_such(
        row: dict[str, str], identified: dict[str, FormatId]) -> None:
    fid = identified[row["path"]]
    assert fid.basis == "extension"
    # text_file_six.pdf fits 29 PRONOM formats by name: no single PUID is claimed
    assert fid.puid is None or len(fid.candidates) == 1


@pytest.mark.parametrize("row", [_param(r) for r in ROWS if r["role"] == "empty-file"])
def test_empty_file_is_not_identified_by_its_name(
        row: dict[str, str], identified: dict[str, FormatId]) -> None:
    fid = identified[row["path"]]
    assert (fid.puid, fid.basis, fid.candidates) == (None, "none", ())


@pytest.mark.parametrize("row", [_param(r) for r in ROWS
                                 if r["observed_fido_1.6.1_pronom_v109"].startswith("fido-")])
def test_office_open_xml_gets_a_pronom_puid_from_its_container(
        row: dict[str, str], identified: dict[str, FormatId]) -> None:
    # FIDO alone reports its internal fido-fmt/189.* ids for these.
    fid = identified[row["path"]]
    assert fid.basis == "container"
    assert fid.puid is not None and PUID_RE.fullmatch(fid.puid)
    assert row["expected_mime"] in PRONOM_MIMES[fid.puid]


def test_pool_gives_the_same_answers_in_the_same_order(
        identified: dict[str, FormatId]) -> None:
    paths = [CORPUS / row["path"] for row in ROWS]
    assert identify_many(paths, workers=2) == [identified[row["path"]] for row in ROWS]


def test_identify_is_safe_to_call_from_threads(identified: dict[str, FormatId]) -> None:
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(identify, [CORPUS / row["path"] for row in ROWS]))
    assert results == [identified[row["path"]] for row in ROWS]


def test_unreadable_file_raises(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        identify(tmp_path / "missing.pdf")


CONTAINERS = [CORPUS / r["path"] for r in ROWS
              if r["path"].endswith((".docx", ".odt", ".doc")) and r["role"] == "sample"]


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(source=st.sampled_from(CONTAINERS),
       edits=st.lists(st.tuples(st.floats(0, 1), st.binary(min_size=1, max_size=16)),
                      min_size=1, max_size=20),
       keep=st.floats(0.05, 1))
def test_damaged_container_is_identified_without_an_exception(
        source: Path, edits: list[tuple[float, bytes]], keep: float) -> None:
    data = bytearray(source.read_bytes())
    for where, junk in edits:
        at = int(where * (len(data) - 1))
        data[at:at + len(junk)] = junk
    with tempfile.TemporaryDirectory() as folder:
        damaged = Path(folder) / source.name
        damaged.write_bytes(bytes(data[:max(1, int(keep * len(data)))]))
        fid = identify(damaged)
    assert fid.basis in ("container", "signature", "extension", "none")


# --- policy ---------------------------------------------------------------------------------

def test_every_policy_puid_exists_in_pronom() -> None:
    policy = load_format_policy()
    unknown = {p for f in policy.formats for p in f.puids} - PRONOM_MIMES.keys()
    assert not unknown
    assert policy.source.startswith("TT 05/2025")


@pytest.mark.parametrize("row", [_param(r) for r in ROWS if r["role"] in (
    "sample", "pdfa-sample") and family(r["expected_mime"]) in
    {"application/pdf", "image/jpeg", "image/png", "image/tiff",
     "application/vnd.oasis.opendocument.text"}])
def test_annex_formats_in_the_corpus_are_accepted(
        row: dict[str, str], identified: dict[str, FormatId]) -> None:
    assert assess(identified[row["path"]], load_format_policy()) is None


@pytest.mark.parametrize("row", [_param(r) for r in ROWS if r["role"] == "unknown-format" or (
    r["role"] == "encrypted" and r["expected_mime"] == "application/msword")])
def test_unknown_formats_and_password_protected_word_are_reported_as_warnings(
        row: dict[str, str], identified: dict[str, FormatId]) -> None:
    problem = assess(identified[row["path"]], load_format_policy(), path=row["path"])
    assert problem is not None
    assert (problem.code, problem.extra["severity"]) == ("format-not-accepted", "warning")
    assert problem.rule and problem.rule.startswith("TT 05/2025")


def test_reject_policy_turns_the_report_into_an_error(tmp_path: Path,
                                                      identified: dict[str, FormatId]) -> None:
    strict = tmp_path / "formats.yaml"
    strict.write_text(load_default_text().replace("on_other: warn", "on_other: reject"),
                      encoding="utf-8")
    unknown = next(r["path"] for r in ROWS if r["role"] == "unknown-format")
    problem = assess(identified[unknown], load_format_policy(strict))
    assert problem is not None and problem.extra["severity"] == "error"


def test_gif_87a_is_not_accepted_but_89a_is(tmp_path: Path,
                                            identified: dict[str, FormatId]) -> None:
    # The annex names GIF 89a only; 87a shares its MIME type, so the PUID decides.
    gif87 = tmp_path / "old.gif"
    gif87.write_bytes(b"GIF87a\x01\x00\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01"
                      b"\x00\x00\x02\x02D\x01\x00;")
    old = identify(gif87)
    assert (old.puid, old.basis, old.mime) == ("fmt/3", "signature", "image/gif")
    assert assess(old, load_format_policy()) is not None
    gif89 = next(p for p, f in identified.items() if f.puid == "fmt/4")
    assert assess(identified[gif89], load_format_policy()) is None


def test_extension_only_puid_is_not_trusted_by_the_policy() -> None:
    fake = FormatId("fmt/18", "Acrobat PDF 1.4", "application/octet-stream", "extension",
                    "1.4", ("fmt/18",))
    assert assess(fake, load_format_policy()) is not None


def test_broken_policy_file_names_itself(tmp_path: Path) -> None:
    bad = tmp_path / "formats.yaml"
    bad.write_text("source: x\non_other: shrug\nformats: []\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"formats\.yaml"):
        load_format_policy(bad)


def load_default_text() -> str:
    return (Path(__file__).resolve().parents[2] / "policies" / "formats.yaml").read_text(
        encoding="utf-8")
