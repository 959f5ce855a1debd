"""The shared vocabulary of khoso's METS checks: namespaces, CSIP vocabularies, findings, refs.

:mod:`ingest.mets` reads a document with these; :mod:`ingest.mets_sections` checks its
metadata sections, file section and structural map; :mod:`ingest.eark` resolves the refs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from lxml import etree

from repository.errors import Problem

METS = "http://www.loc.gov/METS/"
XLINK = "http://www.w3.org/1999/xlink"
CSIP = "https://DILCIS.eu/XML/METS/CSIPExtensionMETS"
PACKAGE, REPRESENTATION = "package", "representation"

# DILCIS CSIPVocabularyContentCategory.xml (2024 revision, a superset of the 2.0.4 list).
CONTENT_CATEGORIES = frozenset(t.casefold().replace("–", "-") for t in (
    "Textual works – Print", "Textual works – Digital", "Textual works – Electronic Serials",
    "Digital Musical Composition (score-based representations)", "Musical Scores - Print",
    "Musical Scores - Digital", "Photographs – Print", "Photographs – Digital",
    "Other Graphic Images – Print", "Other Graphic Images – Digital", "Microforms",
    "Audio – On Tangible Medium (digital or analog)", "Audio – Media-independent (digital)",
    "Motion Pictures – Digital and Physical Media", "Video – File-based and Physical Media",
    "Software", "Software and Video Games", "Email", "Datasets", "Geospatial Data",
    "Geographic Information System (GIS) - Vector Data", "GIS Raster and Georeferenced Images",
    "GIS Vector and Raster Combined", "Non-GIS Cartographic", "2D and 3D Computer Aided Design",
    "Design (schematics, architectural drawings) - Print",
    "Scanned 3D Objects (output from photogrammetry scanning)", "Databases", "Websites",
    "Web Archives", "Collection", "Event", "Image", "Interactive resource", "Moving image",
    "Sound", "Still image", "Text", "Physical object", "Service", "Mixed", "Other"))
# DILCIS CSIPVocabularyContentInformationType.xml.
CONTENT_INFORMATION_TYPES = frozenset(t.casefold() for t in (
    "ERMS", "SIARD1", "SIARD2", "SIARDDK", "GeoData", "citscarchival_v1_0", "citserms_v2_1",
    "citspremis_v1_0", "citsehpj_v1_0", "citsehcr_v1_0", "citssiard_v1_0",
    "citsgeospatial_v3_0", "MIXED", "OTHER"))
OAIS_PACKAGE_TYPES = frozenset({"SIP", "AIP", "DIP", "AIU", "AIC"})  # CSIP9 vocabulary
MD_STATUS = frozenset({"CURRENT", "SUPERSEDED"})  # CSIP20 vocabulary
# mdRef attributes in the order LOCTYPE, xlink:type, xlink:href, MDTYPE, MIMETYPE, SIZE,
# CREATED, CHECKSUM, CHECKSUMTYPE, and the CSIP rule for each, per metadata section.
MD_REF_RULES = {
    "dmdSec": tuple(f"CSIP{n}" for n in range(22, 31)),
    "digiprovMD": tuple(f"CSIP{n}" for n in range(36, 45)),
    "rightsMD": tuple(f"CSIP{n}" for n in range(49, 58)),
}
MIME = re.compile(r"^[A-Za-z0-9][\w!#$&^.+-]*/[A-Za-z0-9][\w!#$&^.+-]*(\s*;.*)?$")
_DATETIME = re.compile(r"^-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")


def m(tag: str) -> str:
    return f"{{{METS}}}{tag}"


def x(tag: str) -> str:
    return f"{{{XLINK}}}{tag}"


def c(tag: str) -> str:
    return f"{{{CSIP}}}{tag}"


@dataclass
class Findings:
    """Problems by level, appended to as checks run (shared by every check of one package)."""

    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    infos: list[Problem] = field(default_factory=list)

    def error(self, code: str, message: str, **where: Any) -> None:
        self.errors.append(Problem(code, message, **where))

    def warn(self, code: str, message: str, **where: Any) -> None:
        self.warnings.append(Problem(code, message, **where))

    def info(self, code: str, message: str, **where: Any) -> None:
        self.infos.append(Problem(code, message, **where))


@dataclass(frozen=True)
class Ref:
    """A file the document vouches for: a fileSec ``file`` or an ``mdRef``."""

    section: str  # fileSec, dmdSec, digiprovMD, rightsMD, techMD, sourceMD
    element: str  # how a person finds it: "file ID-1 (line 42)"
    href: str
    checksum: str | None
    checksum_type: str | None
    size: int | None
    mimetype: str | None
    mdtype: str | None = None


@dataclass(frozen=True)
class Mptr:
    href: str
    element: str


@dataclass(frozen=True)
class MetsDocument:
    where: str  # package-relative path of the METS file
    role: str
    objid: str | None
    type: str | None
    profile: str | None
    package_type: str | None
    file_group_uses: tuple[str, ...]
    refs: tuple[Ref, ...]
    mptrs: tuple[Mptr, ...]


class Doc:
    """Messages about one document: each names the file, line and element, and the rule."""

    def __init__(self, where: str, role: str, found: Findings) -> None:
        self.where, self.role, self.found = where, role, found

    def _at(self, el: etree._Element | None) -> str:
        return f"{self.where} line {el.sourceline}" if el is not None and el.sourceline \
            else self.where

    def error(self, code: str, el: etree._Element | None, text: str, rule: str,
              **extra: Any) -> None:
        self.found.error(code, f"{self._at(el)}: {text} ({rule})", path=self.where, rule=rule,
                         **extra)

    def warn(self, code: str, el: etree._Element | None, text: str, rule: str,
             **extra: Any) -> None:
        self.found.warn(code, f"{self._at(el)}: {text} ({rule})", path=self.where, rule=rule,
                        **extra)

    def info(self, code: str, el: etree._Element | None, text: str, rule: str) -> None:
        self.found.info(code, f"{self._at(el)}: {text} ({rule})", path=self.where, rule=rule)


def parse_datetime(text: str) -> datetime | None:
    """An xsd:dateTime as a datetime (fraction cut to microseconds), or None."""
    text = text.strip()
    if not _DATETIME.match(text):
        return None
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def in_future(when: datetime) -> bool:
    now = datetime.now(UTC)
    if when.tzinfo is None:  # a local time somewhere: at most UTC+14 ahead of UTC
        return when - timedelta(hours=14) > now.replace(tzinfo=None)
    return when > now + timedelta(minutes=5)


def check_date(el: etree._Element, attr: str, doc: Doc, rule: str,
               required: bool = False) -> None:
    value = el.get(attr)
    if value is None:
        if required:
            doc.error("attribute-missing", el, f"{name_of(el)} has no @{attr}", rule, field=attr)
    elif parse_datetime(value) is None:
        doc.error("date-invalid", el, f"{name_of(el)}/@{attr} {value!r} is not an xsd:dateTime",
                  rule, field=attr)


def name_of(el: etree._Element) -> str:
    tag = etree.QName(el).localname
    return f"{tag} {el.get('ID')}" if el.get("ID") else tag


def check_cit(el: etree._Element, doc: Doc, what: str, rules: tuple[str, str]) -> None:
    cit = el.get(c("CONTENTINFORMATIONTYPE")) or ""
    if cit.casefold() not in CONTENT_INFORMATION_TYPES:
        doc.warn("content-information-type-unknown", el, f"{what}/@csip:CONTENTINFORMATIONTYPE "
                 f"{cit!r} is not in the DILCIS vocabulary", rules[0])
    elif cit.casefold() == "other" and not el.get(c("OTHERCONTENTINFORMATIONTYPE")):
        # The profile states MAY for CSIP5/CSIP63 although its text says "must": a warning.
        doc.warn("other-content-information-type-missing", el, f"{what}/@csip:CONTENT"
                 "INFORMATIONTYPE is OTHER without csip:OTHERCONTENTINFORMATIONTYPE", rules[1])
