"""Validate an E-ARK information package (CSIP 2.x; TT 05/2025/TT-BNV SIP/AIP/DIP) and read a SIP.

    report = validate_eark(folder)              # EarkReport: valid, errors, warnings, …
    sip = read_eark_sip(folder)                 # SipContents, or TransferRejected (every problem)
    folder = open_eark_archive(zip_or_tar, workdir)   # unpack safely, return the package root

``validate_eark`` never writes to the package and never follows a link. In order:

1. The walk (:func:`ingest.transfer.read_transfer`): links, devices and FIFOs, names that are
   not UTF-8 or hold control characters, and names equal after NFC or case folding are errors.
2. The folder layout (:mod:`ingest.eark_structure`, CSIPSTR1-16).
3. The package ``METS.xml`` and every representation METS (found in ``representations/*/`` or
   through the package METS's ``mptr``), each parsed safely and checked against the CSIP METS
   rules (:mod:`ingest.mets`).
4. Every ``file``/``FLocat`` and ``mdRef`` is resolved (:mod:`ingest.eark_refs`) and its SIZE
   and CHECKSUM verified with its CHECKSUMTYPE; a mismatch is an error naming the file. Every
   file of the package is hashed once (SHA-256 plus whatever algorithms its references declare).
   With ``defer_representations=True`` (ingest) files under ``representations/`` are not
   read: their SIZE is compared with the walk's and their checksums are handed over in
   ``report.deferred`` for the caller to verify while it copies them (their ``sha256`` in
   ``report.files`` is then None). A package found invalid otherwise is rejected without being
   copied, so those files are verified here after all and every problem is listed.
5. Package-level rules that need the whole picture: representation file groups (CSIP114),
   representation METS pointers (CSIP105), descriptive/preservation metadata folders
   (CSIPSTR6/7), files no METS vouches for (CSIP58), and TT 05/2025: SHA-256 checksums,
   ``metadata/descriptive/EAD.xml``, an AIP's ``metadata/preservation/PREMIS.xml`` (warnings).

``report.valid`` is true when ``errors`` is empty. Every problem has a stable kebab-case code,
the package-relative ``path`` and the ``rule`` (CSIP/SIP rule id, XML or TT 05/2025 clause).

Problem codes. Walk: link-not-allowed, special-file-not-allowed, name-not-utf8,
name-control-character, name-normalization-collision, name-case-collision, file-unreadable.
Structure: package-not-found, package-not-a-directory, package-root-ambiguous, mets-missing,
metadata-folder-missing, representations-folder-missing, representations-folder-empty,
representations-stray-file, representation-data-missing, representation-mets-missing,
representation-metadata-missing, schemas-folder-missing, documentation-folder-missing,
extra-folder (info), descriptive-metadata-misplaced, preservation-metadata-misplaced.
METS documents: mets-empty, mets-not-well-formed, mets-too-large, xml-doctype-not-allowed,
mets-root-invalid, id-duplicate, id-invalid, idref-broken, objid-missing, objid-empty,
objid-not-package-name, objid-not-representation-name, objid-not-tt05-form (info),
type-missing, type-not-in-vocabulary, othertype-missing, content-information-type-missing,
content-information-type-unknown, other-content-information-type-missing, profile-missing,
profile-unknown, metshdr-missing, createdate-missing, createdate-invalid,
createdate-in-future, date-invalid, package-type-missing, package-type-invalid,
agent-missing, software-agent-missing, agent-name-missing, agent-version-missing,
label-missing/label-empty (info), attribute-missing, status-not-in-vocabulary,
amdsec-not-single, filesec-not-single, locator-type-invalid, link-type-invalid,
href-missing, mimetype-not-iana, size-invalid, checksum-missing, filegrp-empty,
flocat-not-single, file-ownerid (info), structmap-missing, structmap-csip-missing,
structmap-csip-not-single, structmap-type-invalid, structmap-div-not-single,
div-label-not-objid, metadata-div-not-single, documentation-div-not-single, mptr-missing,
dmdsec-not-in-structmap, amdsec-not-in-structmap, filegrp-not-in-structmap,
representations-filegrp-missing, representation-mets-not-referenced.
References and fixity: reference-external, reference-not-portable,
reference-encoding-invalid, reference-absolute, reference-invalid,
reference-escapes-package, reference-missing, reference-normalization-mismatch,
reference-case-mismatch, mptr-target-missing, size-mismatch, checksum-mismatch,
checksum-type-unsupported, checksum-type-nonstandard, checksum-not-sha256,
file-not-referenced, tt05-ead-missing, tt05-premis-missing. read_eark_sip: sip-no-data.
"""

from __future__ import annotations

import posixpath
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ingest.eark_refs import (
    DeferredChecksums,
    FileIndex,
    ReferenceCheck,
    checksum_algorithm,
    locate,
)
from ingest.eark_structure import METS_NAME, check_package_path, check_structure, listing
from ingest.mets import PACKAGE, REPRESENTATION, Findings, MetsDocument, Ref, read_mets
from ingest.safety import open_regular, shown
from ingest.transfer import TransferFile, read_transfer
from ingest.unpack import unpack
from policies.model import IntakeLimits
from repository.errors import InvalidInput, Problem, TransferRejected

MAX_METS_BYTES = 256 * 2**20  # a METS for a million files is ~500 MB; refuse beyond 256 MiB
MAX_LISTED = 50  # per-file warnings of one kind before they are summarised
EAD_PATH = "metadata/descriptive/EAD.xml"
PREMIS_PATH = "metadata/preservation/PREMIS.xml"
_TT05_OBJID = re.compile(r"^(uuid-|urn:uuid:|urn:[^:]+:uuid)[-:]?[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4})"
                         r"{3}-[0-9A-Fa-f]{12}$")


@dataclass(frozen=True)
class EarkFile:
    path: str  # relative to the package root
    size: int
    sha256: str | None  # lower-case hex, computed from the bytes; None when deferred
    mimetype: str | None  # as the METS declares it
    mdtype: str | None = None  # MDTYPE when an mdRef points at the file


@dataclass(frozen=True)
class EarkReport:
    valid: bool
    errors: list[Problem]
    warnings: list[Problem]
    objid: str | None
    profile: str | None
    package_type: str | None  # SIP, AIP, DIP (AIU, AIC) from metsHdr/@csip:OAISPACKAGETYPE
    files: list[EarkFile]
    descriptive: list[str]  # descriptive metadata (dmdSec mdRef targets), package level first
    infos: list[Problem] = field(default_factory=list)
    representations: list[str] = field(default_factory=list)
    root: Path | None = None
    # validate_eark(defer_representations=True): package path -> what it must verify to.
    deferred: dict[str, DeferredChecksums] = field(default_factory=dict)


@dataclass(frozen=True)
class SipFile:
    representation: str
    path: str  # relative to representations/<representation>/data
    source: Path
    size: int
    sha256: str | None  # None when the report deferred verification
    mimetype: str | None


@dataclass(frozen=True)
class SipContents:
    root: Path
    objid: str
    package_type: str | None
    data_files: list[SipFile]
    ead: list[Path]  # descriptive EAD documents, the package's metadata/descriptive/EAD.xml first
    report: EarkReport

    @property
    def descriptive(self) -> list[Path]:
        """The EAD documents (``ead``), under the name ingest/intake.py reads."""
        return self.ead


def validate_eark(path: Path, *, package_name: str | None = None,
                  workers: int = 2, defer_representations: bool = False) -> EarkReport:
    """Check the unpacked package folder at ``path``.

    ``package_name`` replaces the folder name where CSIP1 compares it with the OBJID (for a
    package held inside a bag's ``data/``). ``defer_representations``: do not read the files
    under ``representations/``; return what they must verify to in ``deferred``.
    """
    root = Path(path)
    found = Findings()
    if not check_package_path(root, found):
        return _report(found, root, None, [], [], [])
    transfer = read_transfer(root)
    found.errors += [p for p in transfer.problems if p.code != "transfer-empty"]
    files = {f.rel_path: f for f in transfer.files}
    index = FileIndex(list(files))
    reps = check_structure(root, found)
    docs, pointed = _read_documents(files, index, reps, package_name or root.name, found)
    verified = ReferenceCheck(files, index, found)
    for doc in docs:
        verified.add_document(doc)
    digests = verified.run(workers, _under_representations if defer_representations else None)
    package = docs[0] if docs and docs[0].role == PACKAGE else None
    _package_rules(package, docs, reps, pointed, verified, found)
    _tt05_rules(package, files, verified, found)
    _unreferenced(files, verified, found)
    if verified.deferred and found.errors:
        verified.verify_deferred(workers)  # rejected before any copy: list every problem now
    descriptive = list(dict.fromkeys(p for doc in docs
                                     for _, p in verified.targets(doc, ["dmdSec"])))
    return _report(found, root, package, reps, _earkfiles(files, digests, verified), descriptive,
                   verified.deferred)


def _under_representations(path: str) -> bool:
    return path.startswith("representations/")


def _read_documents(files: dict[str, TransferFile], index: FileIndex, reps: list[str],
                    name: str, found: Findings) -> tuple[list[MetsDocument], set[str]]:
    """Every METS document, the package's first; and the paths its mptrs point at."""
    pending: list[tuple[str, str, str]] = []
    if METS_NAME in files:
        pending.append((METS_NAME, PACKAGE, name))
    pending += [(p, REPRESENTATION, rep) for rep in reps
                if (p := f"representations/{rep}/{METS_NAME}") in files]
    docs: list[MetsDocument] = []
    pointed: set[str] = set()
    seen: set[str] = set()
    while pending:
        where, role, folder = pending.pop(0)
        if where in seen:
            continue
        seen.add(where)
        doc = _read_one(files[where], where, role, folder, found)
        if doc is None:
            continue
        docs.append(doc)
        if role == PACKAGE:
            targets = _mptr_targets(doc, index, found)
            pointed.update(t[0] for t in targets)
            pending += targets
    return docs, pointed


def _read_one(tf: TransferFile, where: str, role: str, folder: str,
              found: Findings) -> MetsDocument | None:
    if tf.size > MAX_METS_BYTES:
        found.error("mets-too-large", f"{where} is {tf.size} bytes, more than khoso reads as "
                    f"METS ({MAX_METS_BYTES})", path=where, rule="khoso XML safety")
        return None
    try:
        with open_regular(tf.source) as handle:
            data = handle.read(MAX_METS_BYTES + 1)
    except OSError as exc:
        found.error("file-unreadable", f"{where}: cannot read: {exc}", path=where)
        return None
    return read_mets(data, where, role=role, folder_name=folder, found=found)


def _mptr_targets(doc: MetsDocument, index: FileIndex,
                  found: Findings) -> list[tuple[str, str, str]]:
    targets = []
    for mptr in doc.mptrs:
        hit = locate(mptr.href, "", index)
        if hit.path is None:
            found.error("mptr-target-missing" if hit.code == "reference-missing" else
                        hit.code or "reference-invalid", f"{doc.where}: {mptr.element} "
                        f"xlink:href {mptr.href!r} {hit.reason}", path=doc.where,
                        rule="CSIP110")
            continue
        folder = posixpath.basename(posixpath.dirname(hit.path))
        targets.append((hit.path, REPRESENTATION, folder))
    return targets


def _package_rules(package: MetsDocument | None, docs: list[MetsDocument], reps: list[str],
                   pointed: set[str], verified: ReferenceCheck, found: Findings) -> None:
    if package is not None and reps and not any(
            u == "Representations" or u.startswith("Representations/")
            for u in package.file_group_uses):
        found.error("representations-filegrp-missing", f"{METS_NAME}: the package has "
                    f"representations ({', '.join(reps)}) but no fileGrp with USE "
                    "'Representations' pointing at them", path=METS_NAME, rule="CSIP114")
    pointed = pointed | {p for d, _, p in verified.checks if d is package}
    for doc in docs:
        if doc.role == REPRESENTATION and package is not None and doc.where not in pointed:
            found.warn("representation-mets-not-referenced", f"{doc.where} is neither pointed "
                       f"at by an mptr nor listed in {METS_NAME}", path=doc.where,
                       rule="CSIP105")
        base = posixpath.dirname(doc.where)
        base = f"{base}/" if base else ""
        for section, folder, rule in (("dmdSec", "descriptive", "CSIPSTR7"),
                                      ("digiprovMD", "preservation", "CSIPSTR6")):
            for _, path in verified.targets(doc, [section]):
                if not path.startswith(f"{base}metadata/{folder}/"):
                    found.warn(f"{folder}-metadata-misplaced", f"{shown(path)}: {folder} "
                               f"metadata of {doc.where} belongs in {base}metadata/{folder}/",
                               path=shown(path), rule=rule)


def _tt05_rules(package: MetsDocument | None, files: dict[str, TransferFile],
                verified: ReferenceCheck, found: Findings) -> None:
    if package is not None and package.objid and not _TT05_OBJID.match(package.objid):
        found.info("objid-not-tt05-form", f"{METS_NAME}: OBJID {package.objid!r} is not in a "
                   "TT 05/2025 form (uuid-{UUID} for SIP/DIP, urn:uuid:{UUID} for AIP)",
                   path=METS_NAME, rule="TT 05/2025 §package ids")
    if EAD_PATH not in files:
        found.warn("tt05-ead-missing", f"no {EAD_PATH}: TT 05/2025 packages carry their "
                   "dossier description there", path=EAD_PATH, rule="TT 05/2025 §layout")
    if package is not None and package.package_type == "AIP" and PREMIS_PATH not in files:
        found.warn("tt05-premis-missing", f"no {PREMIS_PATH}: TT 05/2025 requires it in an AIP",
                   path=PREMIS_PATH, rule="TT 05/2025 §layout")
    by_doc: dict[str, list[str]] = {}
    for doc, ref, path in verified.checks:
        if ref.checksum_type and checksum_algorithm(ref.checksum_type)[0] != "sha256":
            by_doc.setdefault(doc.where, []).append(f"{shown(path)} ({ref.checksum_type})")
    for where, listed in by_doc.items():
        found.warn("checksum-not-sha256", f"{where}: {len(listed)} reference(s) declare a "
                   f"checksum other than SHA-256, which TT 05/2025 requires: "
                   f"{', '.join(listed[:5])}{' …' if len(listed) > 5 else ''}", path=where,
                   rule="TT 05/2025 SHA-256", extra={"files": listed})


def _unreferenced(files: dict[str, TransferFile], verified: ReferenceCheck,
                  found: Findings) -> None:
    vouched = {p for _, _, p in verified.checks} | verified.documents
    if METS_NAME in files:
        vouched.add(METS_NAME)
    loose = sorted(p for p in files if p not in vouched)
    for path in loose[:MAX_LISTED]:
        found.warn("file-not-referenced", f"{shown(path)} is not listed in any METS fileSec or "
                   "mdRef, so nothing vouches for its integrity", path=shown(path),
                   rule="CSIP58")
    if len(loose) > MAX_LISTED:
        found.warn("file-not-referenced", f"… and {len(loose) - MAX_LISTED} more files not "
                   "listed in any METS", rule="CSIP58", extra={"files": loose[MAX_LISTED:]})


def _earkfiles(files: dict[str, TransferFile], digests: dict[str, tuple[int, dict[str, str]]],
               verified: ReferenceCheck) -> list[EarkFile]:
    declared: dict[str, Ref] = {}
    for _, ref, path in verified.checks:
        declared.setdefault(path, ref)
    out = []
    for path in sorted(digests):
        size, sums = digests[path]
        ref = declared.get(path)
        out.append(EarkFile(path, size, sums.get("sha256"), ref.mimetype if ref else None,
                            ref.mdtype if ref else None))
    return out


def _report(found: Findings, root: Path, package: MetsDocument | None, reps: list[str],
            files: list[EarkFile], descriptive: list[str],
            deferred: dict[str, DeferredChecksums] | None = None) -> EarkReport:
    return EarkReport(valid=not found.errors, errors=found.errors, warnings=found.warnings,
                      objid=package.objid if package else None,
                      profile=package.profile if package else None,
                      package_type=package.package_type if package else None, files=files,
                      descriptive=descriptive, infos=found.infos, representations=reps,
                      root=root, deferred=deferred or {})


def read_eark_sip(path: Path, *, package_name: str | None = None,
                  report: EarkReport | None = None) -> SipContents:
    """The content and descriptive metadata of a valid package, for ingest.

    Pass the ``report`` of an earlier :func:`validate_eark` of the same folder to skip
    validating (and hashing) twice. Raises :class:`TransferRejected` listing every error when
    the package is not valid or holds no representation data.
    """
    root = Path(path)
    if report is None or report.root != root:
        report = validate_eark(root, package_name=package_name)
    if not report.valid:
        raise TransferRejected(source=str(root), count=len(report.errors), details=report.errors)
    data = []
    for f in report.files:
        parts = f.path.split("/")
        if len(parts) > 3 and parts[0] == "representations" and parts[2] == "data":
            data.append(SipFile(parts[1], "/".join(parts[3:]), root / f.path, f.size, f.sha256,
                                f.mimetype))
    if not data:
        problem = Problem("sip-no-data", f"{root.name}: no file under representations/*/data/; "
                          "a SIP must carry the records themselves", path="representations",
                          rule="CSIPSTR11")
        raise TransferRejected(source=str(root), count=1, details=[problem])
    return SipContents(root, report.objid or "", report.package_type, data,
                       [root / p for p in _ead_paths(report)], report)


def _ead_paths(report: EarkReport) -> list[str]:
    mdtypes = {f.path: f.mdtype for f in report.files}
    paths = [p for p in report.descriptive if (mdtypes.get(p) or "").upper() == "EAD"
             or re.match(r"(?i)^ead.*\.xml$", posixpath.basename(p))]
    if EAD_PATH in mdtypes and EAD_PATH not in paths:
        paths.append(EAD_PATH)
    return sorted(paths, key=lambda p: (p != EAD_PATH, p.count("/"), p))


def open_eark_archive(archive: Path, workdir: Path, limits: IntakeLimits | None = None) -> Path:
    """Unpack a ZIP or tar (recognised by content) into ``workdir``; return the package root.

    Unpacking is :func:`ingest.unpack.unpack` (links, escapes, duplicates and bomb limits
    refused with :class:`TransferRejected`). CSIPSTR1: the archive must hold exactly one
    top-level folder, the package root. The caller removes ``workdir``.
    """
    archive = Path(archive)
    dest = Path(workdir) / f"{archive.name}.unpacked"
    unpack(archive, dest, limits or IntakeLimits())
    files, dirs = listing(dest)
    dirs.discard("__MACOSX")
    if len(dirs) == 1 and not files:
        return dest / dirs.pop()
    shutil.rmtree(dest, ignore_errors=True)
    entries = sorted(files | dirs)
    raise InvalidInput(reason=f"{archive.name} does not unpack to one package folder", details=[
        Problem("package-root-ambiguous", f"{archive.name} unpacks to {len(entries)} top-level "
                f"entries ({', '.join(shown(e) for e in entries[:5])}); an archived package "
                "must hold exactly one root folder", path=archive.name, rule="CSIPSTR1")])


open_eark_zip = open_eark_archive  # the name the ingest wiring asked for; tar works too
