"""Format identification of staged files, run in a pool so both cores work.

Delegates to :mod:`ingest.formats` (FIDO PRONOM + libmagic) when present; otherwise MIME
from libmagic alone.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Identified:
    puid: str | None
    mime: str | None
    basis: str


def identify_paths(paths: list[Path], workers: int = 2) -> list[Identified]:
    try:
        from ingest import formats
    except ImportError:
        formats = None  # type: ignore[assignment]
    if formats is not None and hasattr(formats, "identify_many"):
        return [Identified(f.puid, f.mime, f.basis)
                for f in formats.identify_many(paths, workers=workers)]
    import magic

    def one(path: Path) -> Identified:
        return Identified(None, magic.from_file(str(path), mime=True), "signature")

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, paths))
