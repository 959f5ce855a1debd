"""Reach into a file:// location the way bit rot or an operator would."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from repository.context import open_repository


def object_path(home: Path, aip: str, location: str, logical_suffix: str) -> Path:
    """The on-disk path of the stored object whose logical path ends with ``logical_suffix``."""
    repo = open_repository(str(home))
    try:
        show = {f["path"] for f in _files(repo, aip)}
        matches = [p for p in show if p.endswith(logical_suffix)]
        assert len(matches) == 1, f"{logical_suffix!r} matches {matches}"
        from sqlalchemy import select

        from repository.catalog.models import AipFile, Location

        with repo.catalog.session() as session:
            key = session.scalar(select(AipFile.storage_key).where(
                AipFile.aip_id == aip, AipFile.path == matches[0]))
            url = session.scalar(select(Location.url).where(Location.name == location))
        return Path(unquote(urlparse(url).path)) / key
    finally:
        repo.close()


def location_root(home: Path, location: str) -> Path:
    repo = open_repository(str(home))
    try:
        from sqlalchemy import select

        from repository.catalog.models import Location

        with repo.catalog.session() as session:
            url = session.scalar(select(Location.url).where(Location.name == location))
        return Path(unquote(urlparse(url).path))
    finally:
        repo.close()


def _files(repo, aip: str) -> list[dict]:  # type: ignore[no-untyped-def]
    from repository.aips import show_aip

    return show_aip(repo, aip)["files"]


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and ".khoso-tmp" not in p.parts)


def staging_leftovers(home: Path) -> list[Path]:
    """Files an ingest left in staging (the lock folder's empty locks do not count)."""
    staging = home / "staging"
    return sorted(p for p in staging.rglob("*")
                  if p.is_file() and ".locks" not in p.relative_to(staging).parts)
