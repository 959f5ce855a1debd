"""Read the descriptive metadata of a TT 05/2025 E-ARK SIP into a :class:`Description`.

Layout (TT 05/2025 Phụ lục III/IV; the reference package ``uuid-0F203B84-…``)::

    metadata/descriptive/EAD.xml                      the dossier: <simpledc> with 18 fields
    representations/rep1/metadata/descriptive/
        EAD_DOC_<docId>.xml  EAD_pic_<name>.xml  EAD_media_<name>.xml    one file per item

Every root is ``<simpledc>`` whose children are the fields, in any order (the schemas use
``xs:all``), in no namespace or any. A package ``EAD.xml`` with a ``<source>`` element is a
``SIP_tailieu`` batch header (Phụ lục IV) and is checked against the ``batch`` profile. An EAD
2002 ``<ead>`` root (khoso's own AIPs, other E-ARK packages) is read too: khoso writes its
fields as ``<odd><p altrender="key">``; of a foreign EAD only the title is taken.

The parser never fetches anything and never expands entities: a DOCTYPE is refused outright
(an archive's EAD needs none; it is how entity bombs and external-entity reads arrive).
"""

from __future__ import annotations

import re
from pathlib import Path

from lxml import etree

from ingest.metadata import DOSSIER, FOREIGN, Description, Origin, fatal, read_bytes
from policies.loader import Policies
from policies.metadata_profile import MetadataPolicy, load_metadata_policy
from repository.errors import Problem

EAD_PATH = "metadata/descriptive/EAD.xml"
ITEM_PROFILES = (("EAD_DOC_", "item"), ("EAD_PIC_", "item_pic"), ("EAD_MEDIA_", "item_media"))


def read_ead(ead_path: Path, *, policy: MetadataPolicy | None = None,
             policies: Policies | None = None,
             transfer_classification: str | None = None) -> Description:
    """Validated description from a package's ``metadata/descriptive/EAD.xml``: the whole
    package (dossier and items) when the file sits there, else that one file."""
    parts = ead_path.parts
    if len(parts) >= 3 and [p.lower() for p in parts[-3:]] == ["metadata", "descriptive",
                                                               "ead.xml"]:
        return read_ead_package(ead_path.parents[2], policy=policy, policies=policies,
                                transfer_classification=transfer_classification,
                                main=ead_path)
    from ingest.metadata import read_metadata

    return read_metadata(ead_path, policy=policy, policies=policies,
                         transfer_classification=transfer_classification)


def read_ead_package(root: Path, *, policy: MetadataPolicy | None = None,
                     policies: Policies | None = None,
                     transfer_classification: str | None = None,
                     main: Path | None = None) -> Description:
    """Parse and validate the EAD files of the package at ``root``; raises
    :class:`InvalidInput` listing every error, returns the description with its warnings."""
    from ingest.metadata_check import validated

    policy = policy or load_metadata_policy()
    return validated(parse_ead_package(root, policy, main), policy, policies,
                     transfer_classification=transfer_classification)


def parse_ead_package(root: Path, policy: MetadataPolicy | None = None,
                      main: Path | None = None) -> Description:
    """The package's dossier (``EAD.xml``, or ``main``) and items (``EAD_doc/pic/media_*.xml``),
    unchecked. Problem paths are relative to ``root``; the description's source is ``root``."""
    policy = policy or load_metadata_policy()
    main = main or root / EAD_PATH
    if not main.is_file() or main.is_symlink():
        raise fatal(root, "metadata-missing", f"no {EAD_PATH}: a TT 05/2025 package "
                    "describes its dossier there")
    fields, origin, problems = parse_record(read_bytes(main, policy.max_file_bytes),
                                            main.relative_to(root).as_posix(), DOSSIER)
    items: list[dict[str, str]] = []
    origins = [origin]
    for path, profile in _item_files(root):
        rel = path.relative_to(root).as_posix()
        record = f"item {len(items) + 1}"
        item, item_origin, found = parse_record(read_bytes(path, policy.max_file_bytes), rel,
                                                record, profile)
        items.append(item)
        origins.append(item_origin)
        problems.extend(found)
    return Description(fields, items, str(root), tuple(origins), tuple(problems))


def parse_ead_bytes(raw: bytes, name: str) -> Description:
    """One ``EAD.xml`` given with ``--metadata``: the dossier only."""
    fields, origin, problems = parse_record(raw, name, DOSSIER)
    return Description(fields, [], name, (origin,), tuple(problems))


def parse_record(raw: bytes, name: str, record: str,
                 profile: str | None = None) -> tuple[dict[str, str], Origin, list[Problem]]:
    """Fields of one ``<simpledc>`` (or ``<ead>``) document, where it is, what is wrong."""
    root = _parse(raw, name)
    local = etree.QName(root).localname
    if local == "ead":
        return _from_ead2002(root, name, record)
    if local != "simpledc":
        raise fatal(name, "metadata-invalid", f"root element <{local}> is neither <simpledc> "
                    "(TT 05/2025) nor <ead>", {"line": root.sourceline}, f"line "
                    f"{root.sourceline}")
    children = [c for c in root.iterchildren() if isinstance(c.tag, str)]
    names = {etree.QName(c).localname for c in children}
    if profile is None:  # the package EAD.xml: Phụ lục IV's batch header has <source>
        profile = "batch" if "source" in names else DOSSIER
    lines = {}
    for child in children:
        lines.setdefault(etree.QName(child).localname, child.sourceline or 0)
    origin = Origin(name, record, profile, element="simpledc", line=root.sourceline,
                    field_lines=lines)
    fields: dict[str, str] = {}
    problems: list[Problem] = []
    seen: set[str] = set()
    for child in children:
        key = etree.QName(child).localname
        line_origin = Origin(name, record, profile, element="simpledc",
                             line=child.sourceline, field_lines={key: child.sourceline or 0})
        if key in seen:
            problems.append(line_origin.problem("metadata-duplicate-field", key, "element "
                                                "given twice; keep one", "TT 05/2025 simpledc"))
            continue
        seen.add(key)
        if any(isinstance(c.tag, str) for c in child):
            problems.append(line_origin.problem("metadata-invalid", key, "must hold text, not "
                                                "elements", "TT 05/2025 simpledc"))
            continue
        value = (child.text or "").strip()
        if value:
            fields[key] = value
    return fields, origin, problems


def _parse(raw: bytes, name: str) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             dtd_validation=False, huge_tree=False, remove_comments=True,
                             remove_pis=True)
    try:
        tree = etree.ElementTree(etree.fromstring(raw, parser))
    except etree.XMLSyntaxError as exc:
        line = exc.lineno or 0
        raise fatal(name, "metadata-syntax", f"not well-formed XML: {exc.msg}",
                    {"line": line}, f"line {line}") from exc
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise fatal(name, "metadata-doctype", "has a DOCTYPE declaration; remove it (khoso "
                    "refuses DTDs and entities in metadata: they can read files or expand "
                    "without bound)", {"line": 1}, "line 1")
    return tree.getroot()


def _from_ead2002(root: etree._Element, name: str,
                  record: str) -> tuple[dict[str, str], Origin, list[Problem]]:
    fields: dict[str, str] = {}
    lines: dict[str, int] = {}
    for p in root.iterfind(".//{*}odd/{*}p[@altrender]"):
        key = p.get("altrender", "")
        if key and key not in fields and (p.text or "").strip():
            fields[key] = (p.text or "").strip()
            lines[key] = p.sourceline or 0
    profile = DOSSIER
    if not fields:  # not written by khoso: keep the title, check nothing
        profile = FOREIGN
        title = root.find(".//{*}archdesc/{*}did/{*}unittitle")
        if title is not None and "".join(title.itertext()).strip():
            fields["title"] = " ".join("".join(title.itertext()).split())
            lines["title"] = title.sourceline or 0
    return fields, Origin(name, record, profile, element="ead", line=root.sourceline,
                          field_lines=lines), []


def _item_files(root: Path) -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    reps = root / "representations"
    if not reps.is_dir():
        return found
    for rep in sorted((p for p in reps.iterdir() if p.is_dir() and not p.is_symlink()),
                      key=_natural):
        folder = rep / "metadata" / "descriptive"
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir(), key=_natural):
            if not path.is_file() or path.is_symlink() or path.suffix.lower() != ".xml":
                continue
            upper = path.name.upper()
            profile = next((p for prefix, p in ITEM_PROFILES if upper.startswith(prefix)), None)
            if profile:
                found.append((path, profile))
    return found


def _natural(path: Path) -> list[object]:
    # EAD_DOC_X.2.xml before EAD_DOC_X.10.xml: items in the order the agency numbered them.
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]
