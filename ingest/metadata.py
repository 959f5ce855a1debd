"""Descriptive metadata given with ``--metadata FILE``: a JSON object or a CSV file.

CSV: a header row of field keys, then one row for the dossier (hồ sơ). JSON: an object of
field keys, optionally with ``"items": [...]`` for per-item (tài liệu) fields. Keys follow
TT 05/2025/TT-BNV Annex III (``fileCode``, ``title``, ``maintenance``, ``mode`` …).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from repository.errors import InvalidInput, Problem

MODES = {"01", "02", "03"}  # TT 05/2025 chế độ sử dụng: công khai, có điều kiện, mật


@dataclass(frozen=True)
class Description:
    fields: dict[str, str]
    items: list[dict[str, str]] = field(default_factory=list)
    source: str | None = None


def read_metadata(path: Path | None) -> Description:
    if path is None:
        return Description({})
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(reason=f"{path}: cannot read metadata file: {exc.strerror}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _bad(path, None, f"not UTF-8 (byte {exc.start})") from exc
    if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        desc = _from_json(path, text)
    else:
        desc = _from_csv(path, text)
    problems = check_description(path, desc)
    if problems:
        raise InvalidInput(reason=problems[0].message, details=problems)
    return desc


def _from_json(path: Path, text: str) -> Description:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _bad(path, f"line {exc.lineno}", f"not valid JSON: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise _bad(path, None, "must be a JSON object of field: value")
    items = data.pop("items", [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise _bad(path, "items", "must be a list of objects")
    fields = {str(k): _text(v) for k, v in data.items()}
    return Description(fields, [{str(k): _text(v) for k, v in i.items()} for i in items],
                       str(path))


def _from_csv(path: Path, text: str) -> Description:
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows:
        raise _bad(path, "row 2", "CSV needs a header row and one dossier row")
    fields = {k.strip(): (v or "").strip() for k, v in rows[0].items() if k}
    items = [{k.strip(): (v or "").strip() for k, v in r.items() if k} for r in rows[1:]]
    return Description(fields, items, str(path))


def check_description(path: Path, desc: Description) -> list[Problem]:
    problems: list[Problem] = []
    mode = desc.fields.get("mode")
    if mode and mode not in MODES:
        problems.append(Problem("metadata-code", f"{path}: field mode: {mode!r} is not one of "
                                "01 (public), 02 (conditional), 03 (classified)", path=str(path),
                                field="mode", rule="TT 05/2025 Annex III mode"))
    title = desc.fields.get("title", "")
    if len(title) > 1000:
        problems.append(Problem("metadata-length", f"{path}: field title: {len(title)} "
                                "characters (at most 1000)", path=str(path), field="title",
                                rule="TT 05/2025 Annex III title"))
    return problems


def _text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _bad(path: Path, where: str | None, what: str) -> InvalidInput:
    text = f"{path}: {where + ': ' if where else ''}{what}"
    return InvalidInput(reason=text, details=[Problem("metadata-invalid", text, path=str(path),
                                                      field=where)])
