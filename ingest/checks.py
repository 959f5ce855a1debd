"""Checks on the staged content: format identification against policy, and PDF checks.

Both run over the staged copies (already in the page cache from the copy), in pools so both
cores work. Results become PREMIS events, the AIP's ``metadata/preservation/checks.json`` and
the transfer report.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import asdict, dataclass, field

from ingest.aip import BagFile
from ingest.formats import FormatId, FormatPolicy, IdentificationPool, assess
from ingest.pdfcheck import PdfReport, check_pdf
from repository.errors import Problem


@dataclass
class ContentChecks:
    formats: dict[str, FormatId] = field(default_factory=dict)   # bag path → format
    pdf: dict[str, PdfReport] = field(default_factory=dict)      # bag path → PDF report
    problems: list[Problem] = field(default_factory=list)        # reject the transfer
    warnings: list[Problem] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"formats": {p: asdict(f) for p, f in self.formats.items()},
                "pdf": {p: asdict(r) for p, r in self.pdf.items()}}


def run_checks(content: list[BagFile], logical: dict[str, str], policy: FormatPolicy,
               pool: IdentificationPool,
               pending: dict[str, Future[FormatId]] | None = None) -> ContentChecks:
    """``logical`` maps each staged bag path to the name the archivist knows; ``pending``
    holds identifications already submitted while copying (the rest are submitted now)."""
    pending = dict(pending or {})
    for f in content:
        if f.path not in pending:
            pending[f.path] = pool.identify(f.local)
    checks = ContentChecks()
    for f in content:
        fid = pending[f.path].result()
        checks.formats[f.path] = fid
        problem = assess(fid, policy, logical[f.path])
        if problem is not None:
            severity = problem.extra.get("severity")
            (checks.problems if severity == "error" else checks.warnings).append(problem)
    pdfs = {f.path: pool.run(check_pdf, f.local) for f in content
            if _is_pdf(checks.formats[f.path])}
    for path, future in pdfs.items():
        report = future.result()
        checks.pdf[path] = report
        checks.warnings.extend(_pdf_warnings(logical[path], report))
    return checks


def _is_pdf(fid: FormatId) -> bool:
    return fid.mime == "application/pdf"


def _pdf_warnings(name: str, report: PdfReport) -> list[Problem]:
    out: list[Problem] = []
    if not report.opens:
        out.append(Problem("pdf-unreadable", f"{name}: PDF does not open ({report.error})",
                           path=name))
        return out
    if report.encrypted:
        out.append(Problem("pdf-encrypted", f"{name}: PDF is encrypted; its content may not "
                           "be preservable without the password", path=name))
    if report.javascript:
        out.append(Problem("pdf-javascript", f"{name}: PDF contains JavaScript", path=name))
    if report.embedded_files:
        out.append(Problem("pdf-embedded-files", f"{name}: PDF embeds {report.embedded_files} "
                           "file(s) that are not checked separately", path=name))
    if report.syntax_warnings:
        out.append(Problem("pdf-syntax", f"{name}: PDF has {len(report.syntax_warnings)} "
                           f"syntax problem(s): {report.syntax_warnings[0]}", path=name))
    if report.pdfa_claim and report.pdfa_ok is False:
        out.append(Problem("pdfa-claim-unsupported", f"{name}: claims PDF/A-{report.pdfa_claim} "
                           f"but {'; '.join(report.pdfa_problems[:3])}", path=name))
    return out
