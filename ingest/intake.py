"""What a transfer is and where its content lies: a plain folder, a BagIt bag or an E-ARK SIP.

Archives are unpacked first (ingest/unpack.py). A bag is validated (ingest/bag.py) and
its ``data/`` folder is the content; its tag files are kept as submission documentation. An
E-ARK SIP is validated (ingest/eark.py) and its ``representations/`` folder is the content;
its METS and metadata are kept too.

Each content byte is read once: the validators check everything before any copying except
the digests of the content files, which they hand over (``Intake.deferred``, by content path)
for the pipeline to verify from the chunks it copies (ingest/aip.py ``copy_transfer``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ingest.transfer import Transfer, read_transfer
from ingest.unpack import opened
from policies.model import IntakeLimits
from repository.errors import Problem
from storage.fixity import Hasher

PLAIN, BAGIT, EARK = "folder", "bagit", "e-ark"


class Deferred(Protocol):
    """What one content file must hash to (ingest.bag.DeferredDigests,
    ingest.eark_refs.DeferredChecksums), judged with its validator's own problems."""

    def hashers(self) -> Mapping[str, Hasher]: ...
    def problems(self, size: int, digests: dict[str, str]) -> list[Problem]: ...
    def unreadable(self, error: OSError) -> Problem: ...


@dataclass
class Intake:
    kind: str
    package_root: Path
    transfer: Transfer          # the content files, relative to content_root
    content_prefix: str         # where content goes inside the AIP's data/
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    submission_files: list[tuple[str, Path]] = field(default_factory=list)
    bag_info: dict[str, str] = field(default_factory=dict)
    ead_path: Path | None = None
    objid: str | None = None
    # Digests still to verify, by path relative to the content root, and who declared them.
    deferred: dict[str, Deferred] = field(default_factory=dict)
    declared_by: str = ""


def kind_of(root: Path) -> str:
    if (root / "bagit.txt").is_file():
        return BAGIT
    if (root / "METS.xml").is_file() and (root / "representations").is_dir():
        return EARK
    return PLAIN


@contextmanager
def open_intake(source: Path, unpack_to: Path, limits: IntakeLimits,
                profile: str | None = None) -> Iterator[Intake]:
    with opened(source, unpack_to, limits) as root:
        if source.is_file() and kind_of(root) == PLAIN and kind_of(root.parent) != PLAIN \
                and root.parent == unpack_to:
            root = root.parent  # a serialized bag or SIP with no top folder
        kind = kind_of(root)
        if kind == BAGIT:
            yield _bag(root, profile)
        elif kind == EARK:
            yield _eark(root)
        else:
            yield Intake(PLAIN, root, read_transfer(root), "representations/rep1/data/")


def _bag(root: Path, profile: str | None) -> Intake:
    from ingest.bag import validate_bag

    report = validate_bag(root, profile=profile, defer_payload=True)
    intake = Intake(BAGIT, root, read_transfer(root / "data"), "representations/rep1/data/",
                    problems=list(report.errors), warnings=list(report.warnings),
                    deferred={p.removeprefix("data/"): d for p, d in report.deferred.items()},
                    declared_by="the bag's payload manifests")
    if report.valid:
        intake.problems += _changed_since_validation(
            {e.path for e in report.payload}, intake.transfer, "data/")
    for tag in sorted(p for p in root.iterdir() if p.is_file()):
        intake.submission_files.append((f"submission/{tag.name}", tag))
    intake.bag_info = _bag_info(root)
    return intake


def _changed_since_validation(walked: set[str], transfer: Transfer,
                              prefix: str) -> list[Problem]:
    """Content files that appeared or vanished between the validator's walk and the walk
    the copy follows: an appeared file has no verified digest, so it is refused."""
    copied = {prefix + f.rel_path for f in transfer.files}
    return [Problem("content-changed-during-intake",
                    f"{path} {what} while the package was being validated; submit it again "
                    "once nothing writes to it", path=path)
            for what, paths in (("appeared", copied - walked), ("vanished", walked - copied))
            for path in sorted(paths)]


def _bag_info(root: Path) -> dict[str, str]:
    from ingest.bagit_parsers import read_bag_info

    path = root / "bag-info.txt"
    if not path.is_file():
        return {}
    parsed = read_bag_info(path.read_bytes())
    info: dict[str, str] = {}
    for key, value in getattr(parsed, "value", None) or []:
        info.setdefault(key, value)
    return info


def _eark(root: Path) -> Intake:
    from ingest.eark import read_eark_sip, validate_eark

    report = validate_eark(root, defer_representations=True)
    intake = Intake(EARK, root, read_transfer(root / "representations"), "representations/",
                    problems=list(report.errors), warnings=list(report.warnings),
                    objid=report.objid,
                    deferred={p.removeprefix("representations/"): d
                              for p, d in report.deferred.items()},
                    declared_by="the METS checksums")
    if report.valid:
        intake.problems += _changed_since_validation(
            {f.path for f in report.files if f.path.startswith("representations/")},
            intake.transfer, "representations/")
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not rel.startswith("representations/"):
            intake.submission_files.append((f"submission/{rel}", path))
    if report.valid:
        sip = read_eark_sip(root, report=report)  # reuses the report: no hashing here
        intake.ead_path = sip.ead[0] if sip.ead else None
    return intake
