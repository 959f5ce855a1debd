"""``khoso validate``: check a bag or package without ingesting it."""

from __future__ import annotations

from pathlib import Path

from repository.errors import InvalidInput


def validate(path: Path, profile: str | None) -> dict:
    from ingest.bag import validate_bag

    if not path.exists():
        raise InvalidInput(reason=f"{path}: no such file or folder")
    report = validate_bag(path, profile=profile)
    return {"valid": report.valid, "version": report.version,
            "errors": [{"path": p.path, "message": p.message, "code": p.code}
                       for p in report.errors],
            "warnings": [{"path": p.path, "message": p.message, "code": p.code}
                         for p in report.warnings]}
