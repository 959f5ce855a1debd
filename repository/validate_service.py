"""``khoso validate``: check a bag or an E-ARK package (folder or archive) without ingesting.

Archives are unpacked with the same defences as ingest (ingest/unpack.py) into a temporary
folder that is always removed. A folder with ``bagit.txt`` is a BagIt bag; one with a
``METS.xml`` (and no ``bagit.txt``) is an E-ARK information package.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from ingest.unpack import FOLDER, UNKNOWN, detect, opened
from policies.loader import load_policies
from repository.errors import InvalidInput, Problem


def _doc(valid: bool, kind: str, version: str | None, errors: list[Problem],
         warnings: list[Problem]) -> dict:
    def row(p: Problem) -> dict:
        return {"path": p.path, "message": p.message, "code": p.code}

    return {"valid": valid, "kind": kind, "version": version,
            "errors": [row(p) for p in errors], "warnings": [row(p) for p in warnings]}


def package_kind(root: Path) -> str:
    if (root / "bagit.txt").is_file():
        return "bagit"
    if any(p.name.lower() == "mets.xml" for p in root.iterdir() if p.is_file()):
        return "e-ark"
    return "bagit"  # judged as a bag: the validator names what is missing


def validate(path: Path, profile: str | None, policies_dir: Path | None = None) -> dict:
    if not path.exists():
        raise InvalidInput(reason=f"{path}: no such file or folder")
    kind = detect(path)
    if kind == UNKNOWN:
        raise InvalidInput(reason=f"{path}: not a folder, ZIP or tar archive (by content)",
                           details=[Problem("unknown-container", f"{path}: not a folder, "
                                            "ZIP or tar archive", path=str(path))])
    limits = load_policies(policies_dir).intake.limits
    with tempfile.TemporaryDirectory(prefix="khoso-validate-") as tmp, \
            opened(path, Path(tmp) / "unpacked", limits) as root:
        # A bag zipped without a top folder has its tag files at the archive root.
        if kind != FOLDER and not (root / "bagit.txt").exists() and \
                (root.parent / "bagit.txt").exists():
            root = root.parent
        return _validate_root(root, profile)


def _validate_root(root: Path, profile: str | None) -> dict:
    if package_kind(root) == "e-ark":
        from ingest.eark import validate_eark

        report = validate_eark(root)
        return _doc(report.valid, "e-ark", report.profile, report.errors, report.warnings)
    from ingest.bag import validate_bag

    bag = validate_bag(root, profile=profile)
    if not bag.valid or not (root / "data" / "METS.xml").is_file():
        return _doc(bag.valid, "bagit", bag.version, bag.errors, bag.warnings)
    # A bag whose payload is an E-ARK package (khoso's AIPs): check the package too, named
    # after the bag's External-Identifier (TT 05/2025: folder = OBJID with ':' as '_').
    from ingest.eark import validate_eark

    package = validate_eark(root / "data", package_name=_external_id(root))
    return _doc(package.valid, "bagit+e-ark", bag.version, [*bag.errors, *package.errors],
                [*bag.warnings, *package.warnings])


def _external_id(root: Path) -> str | None:
    from ingest.bagit_parsers import read_bag_info

    info = root / "bag-info.txt"
    if not info.is_file():
        return None
    pairs = read_bag_info(info.read_bytes()).value or ()
    return next((v for k, v in pairs if k == "External-Identifier"), None)
