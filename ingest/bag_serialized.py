"""Serialized bags (RFC 8493 §4): one bag in a ZIP or tar archive, unpacked to a directory.

    unpacked = open_serialized_bag(archive, workdir)  # then validate_bag(unpacked.root)

``ingest.unpack`` recognises the format (ZIP, tar, gzip- or bzip2-compressed tar) from the
content; the archive's name only names the base directory of a bag that has none.

Problem codes: serialization-invalid, serialization-unsafe-member,
serialization-no-base-directory.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from ingest.bagit_parsers import Findings
from ingest.unpack import unpack
from policies.model import IntakeLimits
from repository.errors import InvalidInput, Problem, TransferRejected

_ARCHIVE_SUFFIXES = (".tar.gz", ".tar.bz2", ".tar.xz", ".tgz", ".tar", ".zip")


@dataclass(frozen=True)
class UnpackedBag:
    root: Path
    warnings: list[Problem]


def open_serialized_bag(path: Path, workdir: Path) -> UnpackedBag:
    """Unpack a .zip or .tar(.gz) bag into ``workdir`` and return its base directory.

    Unpacking is :func:`ingest.unpack.unpack` (every member checked before anything is
    written: escaping names, links, devices, duplicates and the bomb limits); its refusals
    come back as ``serialization-unsafe-member`` (RFC 8493 §4), the cause in ``extra``.
    RFC 8493 §4 wants one base directory; an archive with the bag files at its root (as
    Archivematica writes them) becomes a directory named after the archive, with a warning.
    The base directory must not exist yet in ``workdir`` (``FileExistsError``).
    """
    path, workdir = Path(path), Path(workdir)
    found = Findings()
    staging = workdir / f".{path.name}.unpacking"
    try:
        unpack(path, staging, IntakeLimits())
    except TransferRejected as exc:
        raise InvalidInput(reason=f"{path.name} holds unsafe entries; nothing was unpacked",
                           details=[Problem("serialization-unsafe-member", p.message,
                                            path=p.path, rule="RFC 8493 §4",
                                            extra={"cause": p.code}) for p in exc.details]
                           ) from exc
    try:
        shutil.rmtree(staging / "__MACOSX", ignore_errors=True)
        source, base = _base_directory(path, staging, workdir, found)
        if base.exists():
            raise FileExistsError(f"{base} already exists")
        source.rename(base)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return UnpackedBag(base, found.warnings)


def _base_directory(path: Path, staging: Path, workdir: Path,
                    found: Findings) -> tuple[Path, Path]:
    """(folder to move, where it goes) for the one bag the archive must hold."""
    tops = list(staging.iterdir()) if staging.exists() else []
    if (staging / "bagit.txt").is_file():
        found.warn("serialization-no-base-directory", f"{path.name} holds the bag files at its "
                   "root instead of in one base directory; unpacked as "
                   f"{_stem(path.name)}/", path=path.name, rule="RFC 8493 §4")
        return staging, workdir / _stem(path.name)
    if len(tops) == 1 and tops[0].is_dir():
        return tops[0], workdir / tops[0].name
    raise InvalidInput(reason=f"{path.name} does not hold exactly one bag", details=[Problem(
        "serialization-invalid", f"{path.name} has {len(tops)} top-level entries and no "
        "bagit.txt at its root; a serialized bag holds one base directory", path=path.name,
        rule="RFC 8493 §4")])


def _stem(name: str) -> str:
    for suffix in _ARCHIVE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name
