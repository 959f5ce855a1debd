"""The folder layout of an E-ARK information package: CSIP 2.x structure rules CSIPSTR1-16.

    reps = check_structure(root, found)     # representation folder names, problems in found

Levels as the CSIP states them (MUST → error, SHOULD → warning, MAY → info), the same reading
as the E-ARK reference validator (eark-validator's ``structure.py``): no METS.xml of exactly
that name in the package root is an error (CSIPSTR4); a missing ``metadata``,
``representations``, representation ``data``/``metadata``/``METS.xml``, ``schemas`` or
``documentation`` folder is a warning; extra folders are info (CSIPSTR14). TT 05/2025/TT-BNV
lays a SIP out as ``METS.xml``, ``metadata/descriptive/EAD.xml``, ``representations/rep1/
{METS.xml,data/…}``, ``schemas/``, optional ``documentation/``.

Folders are listed without following links; links and special files are reported by the walk
in :func:`ingest.transfer.read_transfer`, never entered here.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ingest.mets import Findings
from ingest.safety import shown

METS_NAME = "METS.xml"
ROOT_FOLDERS = frozenset({"metadata", "representations", "schemas", "documentation"})
REP_FOLDERS = frozenset({"data", "metadata", "schemas", "documentation"})


def listing(folder: Path) -> tuple[set[str], set[str]]:
    """Regular files and real folders directly in ``folder`` (links are neither)."""
    files: set[str] = set()
    dirs: set[str] = set()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return files, dirs
    for entry in entries:
        try:
            mode = entry.stat(follow_symlinks=False).st_mode
        except OSError:
            continue
        if stat.S_ISREG(mode):
            files.add(os.fsdecode(entry.name))
        elif stat.S_ISDIR(mode):
            dirs.add(os.fsdecode(entry.name))
    return files, dirs


def check_package_path(root: Path, found: Findings) -> bool:
    """CSIPSTR1: an unpacked package is one folder. False (with an error) when it is not."""
    try:
        mode = root.lstat().st_mode
    except FileNotFoundError:
        found.error("package-not-found", f"{root}: no such file or folder", path=str(root),
                    rule="CSIPSTR1")
        return False
    if not stat.S_ISDIR(mode):
        what = "a link" if stat.S_ISLNK(mode) else "a file"
        found.error("package-not-a-directory", f"{root} is {what}, not a package folder; an "
                    "information package is a single root folder (unpack archives first)",
                    path=str(root), rule="CSIPSTR1")
        return False
    return True


def check_structure(root: Path, found: Findings) -> list[str]:
    files, dirs = listing(root)
    if METS_NAME not in files:
        _mets_missing(root, files, found)
    if "metadata" not in dirs:
        found.warn("metadata-folder-missing", f"{root.name}/ has no 'metadata' folder for "
                   "package-level metadata (TT 05/2025: metadata/descriptive/EAD.xml)",
                   path="metadata", rule="CSIPSTR5")
    for extra in sorted(dirs - ROOT_FOLDERS):
        found.info("extra-folder", f"{shown(extra)}/: additional folder in the package root",
                   path=shown(extra), rule="CSIPSTR14")
    reps = _representations(root, dirs, found)
    _supplementary(root, dirs, reps, found)
    return reps


def _mets_missing(root: Path, files: set[str], found: Findings) -> None:
    near = sorted(f for f in files if "mets" in f.casefold() or f.casefold().endswith(".xml"))
    hint = (f"; found {', '.join(repr(shown(n)) for n in near)}: the name must be exactly "
            "'METS.xml'") if near else ""
    found.error("mets-missing", f"{root.name}/ has no file named METS.xml in its root{hint}",
                path=METS_NAME, rule="CSIPSTR4")


def _representations(root: Path, dirs: set[str], found: Findings) -> list[str]:
    if "representations" not in dirs:
        found.warn("representations-folder-missing", f"{root.name}/ has no 'representations' "
                   "folder (TT 05/2025: representations/rep1/data/…)", path="representations",
                   rule="CSIPSTR9")
        return []
    files, reps = listing(root / "representations")
    for name in sorted(files):
        found.warn("representations-stray-file", f"representations/{shown(name)} is a file; "
                   "the representations folder holds one folder per representation",
                   path=f"representations/{shown(name)}", rule="CSIPSTR10")
    if not reps:
        found.warn("representations-folder-empty", "representations/ holds no representation "
                   "folder", path="representations", rule="CSIPSTR10")
    for rep in sorted(reps):
        _representation(root, rep, found)
    return sorted(reps)


def _representation(root: Path, rep: str, found: Findings) -> None:
    where = f"representations/{shown(rep)}"
    files, dirs = listing(root / "representations" / rep)
    if "data" not in dirs:
        found.warn("representation-data-missing", f"{where}/ has no folder named exactly "
                   "'data' for the representation's content", path=where, rule="CSIPSTR11")
    if METS_NAME not in files:
        found.warn("representation-mets-missing", f"{where}/ has no METS.xml describing the "
                   "representation", path=where, rule="CSIPSTR12")
    if "metadata" not in dirs:
        found.warn("representation-metadata-missing", f"{where}/ has no 'metadata' folder",
                   path=where, rule="CSIPSTR13")
    for extra in sorted(dirs - REP_FOLDERS):
        found.info("extra-folder", f"{where}/{shown(extra)}/: additional folder in a "
                   "representation", path=f"{where}/{shown(extra)}", rule="CSIPSTR14")


def _supplementary(root: Path, dirs: set[str], reps: list[str], found: Findings) -> None:
    # CSIPSTR15/16: schemas and documentation in the package root and/or a representation.
    rep_dirs = [listing(root / "representations" / rep)[1] for rep in reps]
    for folder, rule, what in (("schemas", "CSIPSTR15", "the XML schemas of its metadata"),
                               ("documentation", "CSIPSTR16", "supplementary documentation")):
        if folder not in dirs and not any(folder in d for d in rep_dirs):
            found.warn(f"{folder}-folder-missing", f"{root.name}/ has no '{folder}' folder "
                       f"(in the root or a representation) for {what}", path=folder,
                       rule=rule)
