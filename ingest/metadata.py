"""Descriptive metadata given with ``--metadata FILE`` (CSV, JSON or a TT 05/2025 EAD.xml).

CSV: a header row of field keys (``fileCode``, ``title`` … or their Vietnamese names from
``policies/metadata.yaml``: ``Mã hồ sơ``, ``Tiêu đề hồ sơ`` …), then one row for the dossier
(hồ sơ), then one row per item (tài liệu). A blank cell is an absent field. The delimiter may
be ``,``, ``;`` or a tab (Excel in a Vietnamese locale writes ``;``).

JSON: an object of dossier fields with ``"items": [{...}, ...]`` for the items. Numbers are
read as their decimal text, ``true``/``false`` as ``1``/``0``, a list of codes as ``01,02``.

XML: ``EAD.xml`` with a ``<simpledc>`` root, as in the TT 05/2025 SIP (see ``ingest/ead.py``).

Reading collects every problem; :func:`read_metadata` then validates against the profiles
(``ingest/metadata_check.py``) and raises :class:`InvalidInput` listing all errors at once.
Each problem names the file, the row (CSV, 1-based, the header is row 1), the JSON pointer or
the XML line and element, the field and the rule.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from policies.loader import Policies
from policies.metadata_profile import MetadataPolicy, load_metadata_policy
from repository.errors import InvalidInput, Problem

DOSSIER = "dossier"
FOREIGN = "none"  # profile of a description that is not TT 05/2025: nothing is checked
DATE = re.compile(r"^\d{2}/\d{2}/\d{4}$", re.ASCII)


@dataclass(frozen=True)
class Origin:
    """Where one record (the dossier or an item) was read from."""

    path: str
    record: str = DOSSIER  # "dossier" or "item N" (1-based)
    profile: str = DOSSIER  # the profile in policies/metadata.yaml that applies
    row: int | None = None  # CSV: line where the record starts
    pointer: str | None = None  # JSON pointer of the record
    element: str | None = None  # XML: the record's root element
    line: int | None = None  # XML: its line
    field_lines: Mapping[str, int] = field(default_factory=dict)  # XML: each field's line

    def locate(self, key: str | None) -> tuple[str, dict[str, Any]]:
        """Human text and the ``Problem.extra`` naming where ``key`` of this record is."""
        extra: dict[str, Any] = {"record": self.record}
        if self.row is not None:
            extra["row"] = self.row
            return f"{self.path}, row {self.row}", extra
        if self.pointer is not None:
            pointer = f"{self.pointer}/{key}" if key else (self.pointer or "/")
            extra["pointer"] = pointer
            return f"{self.path}, {pointer}", extra
        if self.element is not None:
            line = self.field_lines.get(key or "", self.line)
            element = f"{self.element}/{key}" if key in self.field_lines else self.element
            extra.update(line=line, element=element)
            return f"{self.path}, line {line} <{element}>", extra
        return self.path, extra

    def problem(self, code: str, key: str | None, what: str, rule: str | None) -> Problem:
        where, extra = self.locate(key)
        label = f" ({self.record})" if self.record != DOSSIER else ""
        text = f"{where}{label}: {key + ': ' if key else ''}{what}"
        return Problem(code, f"{text} [{rule}]" if rule else text, path=self.path, field=key,
                       rule=rule, extra=extra)


@dataclass(frozen=True)
class Description:
    """The dossier's fields, its items' fields, where each came from, and what reading found."""

    fields: dict[str, str]
    items: list[dict[str, str]] = field(default_factory=list)
    source: str | None = None
    origins: tuple[Origin, ...] = ()  # the dossier's, then one per item
    problems: tuple[Problem, ...] = ()  # found while reading (duplicate keys, bad cells)
    warnings: tuple[Problem, ...] = ()  # found by validation, not rejecting

    def origin(self, index: int) -> Origin:
        """Origin of record ``index`` (0 = dossier, n = item n)."""
        if index < len(self.origins):
            return self.origins[index]
        record = DOSSIER if index == 0 else f"item {index}"
        return Origin(self.source or "metadata", record, DOSSIER if index == 0 else "item")


def read_metadata(path: Path | None, *, policy: MetadataPolicy | None = None,
                  policies: Policies | None = None,
                  transfer_classification: str | None = None,
                  today: date | None = None) -> Description:
    """Read and validate ``--metadata FILE``; no file gives an empty description.

    ``policy`` is the :class:`MetadataPolicy` (default: the shipped ``metadata.yaml``),
    ``policies`` the loaded :class:`Policies` (for classification levels; default: shipped).
    Raises :class:`InvalidInput` listing every error; warnings are kept in the result.
    """
    if path is None:
        return Description({})
    from ingest.metadata_check import validated

    policy = policy or load_metadata_policy()
    return validated(parse_metadata(path, policy), policy, policies,
                     transfer_classification=transfer_classification, today=today)


def parse_metadata(path: Path, policy: MetadataPolicy | None = None) -> Description:
    """Read ``path`` (CSV, JSON or EAD.xml) without validating; syntax errors raise."""
    policy = policy or load_metadata_policy()
    raw = read_bytes(path, policy.max_file_bytes)
    if path.suffix.lower() == ".xml" or raw.lstrip()[:1] == b"<":
        from ingest.ead import parse_ead_bytes

        return parse_ead_bytes(raw, str(path))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise fatal(path, "metadata-encoding", f"not UTF-8 (byte {exc.start}); save it as "
                    "UTF-8 (Excel: 'CSV UTF-8')") from exc
    aliases = key_aliases(policy)
    if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        return _from_json(path, text, aliases)
    return _from_csv(path, text, aliases)


def read_bytes(path: Path, limit: int) -> bytes:
    try:
        size = path.stat().st_size
        if size > limit:
            raise fatal(path, "metadata-too-large", f"{size} bytes; metadata files larger than "
                        f"{limit} bytes are refused (policies/metadata.yaml max_file_bytes)")
        return path.read_bytes()
    except OSError as exc:
        raise fatal(path, "metadata-unreadable",
                    f"cannot read metadata file: {exc.strerror}") from exc


def fatal(path: Path | str, code: str, what: str, extra: dict[str, Any] | None = None,
          where: str | None = None) -> InvalidInput:
    text = f"{path}{', ' + where if where else ''}: {what}"
    return InvalidInput(reason=text, details=[Problem(code, text, path=str(path),
                                                      extra=extra or {})])


def normal_key(name: str) -> str:
    return unicodedata.normalize("NFC", name).strip().casefold()


def key_aliases(policy: MetadataPolicy) -> dict[str, str]:
    """Header names accepted for each key: the key itself (any case) and its Vietnamese name.
    A Vietnamese name two profiles use for different keys is not an alias."""
    seen: dict[str, set[str]] = {}
    for profile in policy.profiles.values():
        for rule in profile.fields:
            seen.setdefault(normal_key(rule.key), set()).add(rule.key)
            seen.setdefault(normal_key(rule.vi), set()).add(rule.key)
    return {name: next(iter(keys)) for name, keys in seen.items() if len(keys) == 1}


def _canonical(name: str, aliases: Mapping[str, str]) -> str:
    return aliases.get(normal_key(name), unicodedata.normalize("NFC", name).strip())


# ---------------------------------------------------------------- CSV


def _from_csv(path: Path, text: str, aliases: Mapping[str, str]) -> Description:
    reader = csv.reader(io.StringIO(text, newline=""), _dialect(text))
    problems: list[Problem] = []
    records: list[tuple[int, list[str]]] = []
    try:
        header = next(reader, None)
        start = reader.line_num + 1
        for cells in reader:
            if any(c.strip() for c in cells):
                records.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise fatal(path, "metadata-syntax", f"not valid CSV: {exc}",
                    {"row": reader.line_num}, f"row {reader.line_num}") from exc
    if not header or not records:
        raise fatal(path, "metadata-syntax", "a CSV needs a header row of field names and a "
                    "row for the dossier (hồ sơ)", {"row": 2}, "row 2")
    keys = [_canonical(h, aliases) for h in header]
    header_origin = Origin(str(path), "header", row=1)
    for i, key in enumerate(keys):
        if key and key in keys[:i]:
            problems.append(header_origin.problem(
                "metadata-duplicate-field", key, f"column {i + 1} repeats column "
                f"{keys.index(key) + 1}; keep one column per field", "CSV header"))
    descriptions, origins = [], []
    for n, (row, cells) in enumerate(records):
        origin = Origin(str(path), DOSSIER if n == 0 else f"item {n}",
                        DOSSIER if n == 0 else "item", row=row)
        if len(cells) > len(keys):
            problems.append(origin.problem(
                "metadata-syntax", None, f"{len(cells)} cells but the header names "
                f"{len(keys)} columns", "CSV header"))
        fields: dict[str, str] = {}
        for key, cell in zip(keys, cells, strict=False):
            value = cell.strip()
            if value and not key:
                problems.append(origin.problem("metadata-syntax", None, f"value {value!r} "
                                               "in a column without a name", "CSV header"))
            elif value and key not in fields:
                fields[key] = value
        descriptions.append(fields)
        origins.append(origin)
    return Description(descriptions[0], descriptions[1:], str(path), tuple(origins),
                       tuple(problems))


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    first = text.split("\n", 1)[0]
    try:
        return csv.Sniffer().sniff(first, delimiters=",;\t")
    except csv.Error:
        return csv.excel


# ---------------------------------------------------------------- JSON


def _from_json(path: Path, text: str, aliases: Mapping[str, str]) -> Description:
    try:
        data = json.loads(text, object_pairs_hook=_Pairs)
    except json.JSONDecodeError as exc:
        raise fatal(path, "metadata-syntax", f"not valid JSON: {exc.msg} (column {exc.colno})",
                    {"line": exc.lineno}, f"line {exc.lineno}") from exc
    if not isinstance(data, _Pairs):
        raise fatal(path, "metadata-invalid", "must be a JSON object of field: value")
    problems: list[Problem] = []
    dossier = Origin(str(path), pointer="")
    top = _json_fields(data, dossier, aliases, problems, skip="items")
    raw_items = data.get("items", [])
    if isinstance(raw_items, _Pairs) or not isinstance(raw_items, list):
        problems.append(dossier.problem("metadata-invalid", "items", "must be a list of "
                                        "objects, one per item (tài liệu)", "khoso JSON"))
        raw_items = []
    items, origins = [], [dossier]
    for n, raw in enumerate(raw_items, start=1):
        origin = Origin(str(path), f"item {n}", "item", pointer=f"/items/{n - 1}")
        if not isinstance(raw, _Pairs):
            problems.append(origin.problem("metadata-invalid", None, "must be an object of "
                                           "field: value", "khoso JSON"))
            raw = _Pairs()
        items.append(_json_fields(raw, origin, aliases, problems))
        origins.append(origin)
    return Description(top, items, str(path), tuple(origins), tuple(problems))


class _Pairs(list):  # type: ignore[type-arg]
    """A JSON object kept as its (key, value) pairs, so repeated keys are seen."""

    def get(self, key: str, default: Any = None) -> Any:
        return next((v for k, v in self if k == key), default)


def _json_fields(pairs: _Pairs, origin: Origin, aliases: Mapping[str, str],
                 problems: list[Problem], skip: str | None = None) -> dict[str, str]:
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name == skip:
            continue
        key = _canonical(name, aliases)
        if key in fields:
            problems.append(origin.problem("metadata-duplicate-field", key, "given twice; keep "
                                           "one value", "JSON object keys"))
            continue
        text = _json_text(value)
        if text is None:
            problems.append(origin.problem("metadata-invalid", key, "must be text, a number, "
                                           "true/false or a list of codes", "khoso JSON"))
        elif text.strip():
            fields[key] = text.strip()
    return fields


def _json_text(value: Any) -> str | None:
    if value is None:
        return ""
    if isinstance(value, _Pairs):
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | str):
        return str(value)
    if isinstance(value, float):
        return None  # 1.5 pages or 1e3 documents: no TT 05/2025 field is a fraction
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    return None


def parse_date(value: str) -> date | None:
    """A TT 05/2025 date (DD/MM/YYYY, a real calendar day), else None."""
    if not DATE.match(value):
        return None
    try:
        return datetime.strptime(value, "%d/%m/%Y").date()
    except ValueError:
        return None


def with_warnings(desc: Description, warnings: list[Problem]) -> Description:
    return replace(desc, warnings=tuple(warnings))
