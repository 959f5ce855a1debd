"""Run the intake steps on a transfer and leave a finished AIP in staging.

Steps: recognise and unpack (archives), validate the package (bag, E-ARK SIP; all but the
content digests), name and path safety, copy + hash + virus scan in one pass, the package's
declared digests verified from that pass, format identification and PDF checks, then the
AIP's METS/EAD/PREMIS and BagIt tag files. Every problem is collected (not just the first);
any problem rejects the transfer with all of them listed and the transfer report attached.
Staging is removed whenever the pipeline does not hand a finished AIP back; infected files
are kept in quarantine as evidence.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest.aip import BagFile, Digested, StagedAip, add_files, copy_transfer, finish_bag
from ingest.checks import run_checks
from ingest.formats import FormatId, FormatPolicy, IdentificationPool, load_format_policy
from ingest.intake import Intake, open_intake
from ingest.metadata import Description
from ingest.quarantine import Evidence, EvidenceKeys, keep_evidence
from ingest.report import TransferReport
from ingest.virus import ScannerUnavailable, ScanResult, VirusScanner
from policies.model import IntakePolicy
from repository.errors import InvalidInput, Problem, TransferRejected
from repository.progress import NoProgress, Progress


@dataclass(frozen=True)
class IngestRequest:
    source: Path
    aip_id: str
    description: Description
    bag_info: dict[str, str]
    agent: str
    intake: IntakePolicy = field(default_factory=IntakePolicy)
    format_policy: FormatPolicy | None = None
    quarantine: Path | None = None
    profile: str | None = None
    clamd_socket: str | None = None  # overrides the intake policy's socket
    # For an E-ARK SIP's own EAD.xml: the home's metadata profile and the loaded policies.
    metadata_policy: Any = None
    policies: Any = None
    classification: str | None = None
    # The bag-info for the final description (the caller decides the level from it).
    bag_info_for: Callable[[Description], dict[str, str]] | None = None
    # Data keys for infected files kept from a classified transfer, given the package's
    # description when it could be read (ingest/quarantine.py); None keeps them as submitted.
    evidence_keys: Callable[[Description | None], EvidenceKeys | None] | None = None


@dataclass
class Built:
    staged: StagedAip
    report: TransferReport
    description: Description
    kind: str


def new_aip_id() -> str:
    # TT 05/2025: AIP OBJID urn:uuid:{UUID} with the UUID in upper case.
    return f"urn:uuid:{str(uuid.uuid4()).upper()}"


def build(request: IngestRequest, staging_root: Path,
          progress: Progress | None = None) -> Built:
    progress = progress or NoProgress()
    if not request.source.exists():
        raise InvalidInput(reason=f"{request.source}: no such file or folder")
    scanner = _scanner(request)
    staging = staging_root / request.aip_id.replace(":", "_")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    report = TransferReport(str(request.source), request.aip_id)
    if scanner is None:
        report.warn(Problem("virus-scan-skipped", "no virus scanner: policy "
                            "intake.virus_scan.allow_without_scanner is true", rule="intake"))
    try:
        with open_intake(request.source, staging / "unpacked", request.intake.limits,
                         request.profile) as intake:
            return _build_in(staging / "aip", intake, request, scanner, report, progress)
    except TransferRejected as exc:
        exc.report = report  # type: ignore[attr-defined]
        for problem in exc.details:
            report.reject(problem)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(staging / "unpacked", ignore_errors=True)


def _scanner(request: IngestRequest) -> VirusScanner | None:
    policy = request.intake.virus_scan
    scanner = VirusScanner(request.clamd_socket or policy.socket)
    if scanner.ping():
        return scanner
    if policy.allow_without_scanner:
        return None
    raise ScannerUnavailable(socket=scanner.socket_path, reason="no answer to PING "
                             "(policy intake.virus_scan.allow_without_scanner is false)")


def _reject(request: IngestRequest, problems: list[Problem]) -> TransferRejected:
    return TransferRejected(source=str(request.source), count=len(problems), details=problems)


def _build_in(root: Path, intake: Intake, request: IngestRequest, scanner: VirusScanner | None,
              report: TransferReport, progress: Progress) -> Built:
    report.kind = intake.kind
    report.record("package validation", intake.problems, intake.warnings,
                  f"{intake.kind}: {len(intake.transfer.files)} content files")
    report.record("names and paths", list(intake.transfer.problems), [],
                  "links, devices, NFC/NFD and case collisions, control characters")
    problems = [*intake.problems, *intake.transfer.problems]
    if problems:
        raise _reject(request, problems)
    root.mkdir(parents=True)
    started = _now()
    with IdentificationPool(len(intake.transfer.files)) as pool:
        pending: dict[str, Future[FormatId]] = {}

        def identify_when_copied(f: BagFile) -> None:
            pending[f.path] = pool.identify(f.local)  # overlaps identification with copying

        computed: dict[str, Digested | OSError] = {}
        with progress.task("copying, hashing, scanning", intake.transfer.total_bytes) as advance:
            content, scans = copy_transfer(
                intake.transfer, root, intake.content_prefix, advance, scanner,
                on_copied=identify_when_copied,
                hashers={rel: d.hashers for rel, d in intake.deferred.items()},
                on_digests=computed.__setitem__)
        infected = _scan_outcome(report, scans, scanner is not None)
        mismatched = _fixity_outcome(report, intake, computed)
        if infected:
            _quarantine(request, intake, infected, content, root)
            raise _reject(request, [*(p for s in infected if (p := s.problem())), *mismatched])
        if mismatched:
            raise _reject(request, mismatched)
        digests_at = _now()
        logical = {f.path: tf.rel_path
                   for f, tf in zip(content, intake.transfer.files, strict=True)}
        with progress.task("identifying formats, checking PDFs", None):
            checks = run_checks(content, logical, request.format_policy or load_format_policy(),
                                pool, pending)
    report.record("format identification", [p for p in checks.problems
                                            if p.code.startswith("format")],
                  [p for p in checks.warnings if p.code.startswith("format")],
                  f"{len(checks.formats)} files identified (PRONOM/FIDO + libmagic)")
    report.record("PDF checks", [], [p for p in checks.warnings if p.code.startswith("pdf")],
                  f"{len(checks.pdf)} PDF files checked with pikepdf")
    report.formats = {logical[p]: f.puid or f.mime for p, f in checks.formats.items()}
    if checks.problems:
        raise _reject(request, checks.problems)
    content = [replace(f, puid=checks.formats[f.path].puid, mime=checks.formats[f.path].mime)
               for f in content]
    description = _description(request, intake)
    if description.warnings:
        report.record("descriptive metadata", [], list(description.warnings),
                      f"TT 05/2025 profiles: {len(description.items)} item record(s)")
    extra = add_files(root, intake.submission_files)
    extra.append(_write_json(root, "data/metadata/preservation/checks.json", checks.as_dict()))
    premis_events = [
        {"type": "ingestion start", "at": started},
        {"type": "validation", "at": started, "detail": f"{intake.kind} package validation"},
        {"type": "virus check", "at": digests_at,
         "detail": "ClamAV" if scanner else "skipped by policy"},
        *([{"type": "fixity check", "at": digests_at,
            "detail": f"content verified against {intake.declared_by}"}]
          if intake.deferred else []),
        {"type": "message digest calculation", "at": digests_at, "detail": "SHA-256"},
        {"type": "format identification", "at": _now(), "detail": "PRONOM (FIDO) + libmagic"},
        {"type": "information package creation", "at": _now(), "detail": "BagIt 1.0 + E-ARK"},
    ]
    fields = dict(description.fields)
    fields.setdefault("title", request.source.name)
    bag_info = request.bag_info_for(description) if request.bag_info_for else dict(
        request.bag_info)
    for key, value in intake.bag_info.items():
        bag_info.setdefault(f"Submitted-{key}", value)
    staged = finish_bag(StagedAip(request.aip_id, root), [*content, *extra], fields, bag_info,
                        request.agent, premis_events)
    staged.check_events = _check_events(report)
    return Built(staged, report, description, intake.kind)


PREMIS_TYPES = {"package validation": "validation", "names and paths": "validation",
                "descriptive metadata": "validation", "package fixity": "fixity check",
                "virus check": "virus check", "format identification": "format identification",
                "PDF checks": "validation"}


def _check_events(report: TransferReport) -> list[dict]:
    """The checks as PREMIS events (format identification is recorded by the catalog side)."""
    out = []
    for check in report.checks:
        kind = PREMIS_TYPES[check["check"]]
        if kind == "format identification":
            continue
        out.append({"type": kind, "outcome": "warning" if check["warnings"] else "success",
                    "detail": {"check": check["check"], "detail": check["detail"],
                               "warnings": [w["message"] for w in check["warnings"]][:50]}})
    return out


def _scan_outcome(report: TransferReport, scans: list[ScanResult],
                  scanned: bool) -> list[ScanResult]:
    bad = [s for s in scans if not s.clean]
    report.record("virus check", [p for s in bad if (p := s.problem())], [],
                  f"{len(scans)} files scanned with ClamAV" if scanned else "skipped")
    return bad


def _fixity_outcome(report: TransferReport, intake: Intake,
                    computed: dict[str, Digested | OSError]) -> list[Problem]:
    """The digests a bag's manifests or a SIP's METS declare, compared with those computed
    while copying (the validator deferred them so each byte is read once)."""
    if not intake.deferred:
        return []
    problems: list[Problem] = []
    algorithms: set[str] = set()
    for rel, deferred in intake.deferred.items():
        outcome = computed.get(rel) or FileNotFoundError(2, "not found when copied")
        if isinstance(outcome, OSError):
            problems.append(deferred.unreadable(outcome))
            continue
        size, digests = outcome
        algorithms.update(deferred.hashers())
        problems += deferred.problems(size, digests)
    report.record("package fixity", problems, [],
                  f"{len(intake.deferred)} files checked against {intake.declared_by} while "
                  f"copying ({', '.join(sorted(algorithms)) or 'nothing declared'})")
    return problems


def _description(request: IngestRequest, intake: Intake) -> Description:
    if request.description.fields or intake.ead_path is None:
        return request.description
    from ingest.ead import read_ead

    return read_ead(intake.ead_path, policy=request.metadata_policy, policies=request.policies,
                    transfer_classification=request.classification)


def _quarantine(request: IngestRequest, intake: Intake, infected: list[ScanResult],
                content: list[BagFile], root: Path) -> None:
    """Keep infected files as evidence (TT 05/2025: each ingest includes a virus check),
    sealed when the transfer is classified (ingest/quarantine.py)."""
    if request.quarantine is None:
        return
    by_rel = {tf.rel_path: f for f, tf in zip(content, intake.transfer.files, strict=True)}
    found = [Evidence(scan.path, scan.signature, by_rel[scan.path].sha256,
                      by_rel[scan.path].local)
             for scan in infected if scan.signature and scan.path in by_rel]
    keys = (request.evidence_keys(_description_or_none(request, intake))
            if request.evidence_keys else None)
    keep_evidence(request.quarantine / request.aip_id.replace(":", "_"), request.source,
                  found, keys)


def _description_or_none(request: IngestRequest, intake: Intake) -> Description | None:
    """The package's own description when it can be read (an E-ARK SIP's EAD.xml may raise
    the level); None leaves the level to what was known before the scan."""
    try:
        return _description(request, intake)
    except Exception:  # any reason it cannot be read: the transfer is rejected anyway
        return None


def _write_json(root: Path, rel: str, data: dict):  # type: ignore[no-untyped-def]
    from ingest.aip import BagFile, hash_bytes

    raw = json.dumps(data, ensure_ascii=False, indent=1, default=str).encode("utf-8")
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw)
    return BagFile(rel, len(raw), hash_bytes(raw), "payload", path, mime="application/json")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
