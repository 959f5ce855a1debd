"""Storage locations: add (after proving the backend is reachable) and list."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from repository.catalog.models import Location
from repository.errors import UsageError
from repository.placement import ATTRIBUTES, default_attributes, parse_attributes
from storage.registry import open_backend, safe_url

if TYPE_CHECKING:
    from repository.context import Repository

KNOWN_OPTIONS = {"max_classification", "network", "media", "write_once", "offline", "site",
                 "endpoint_url", "region", "profile", "aws_access_key_id",
                 "aws_secret_access_key", "multipart_threshold", "multipart_chunksize",
                 "max_attempts", "object_lock_days", "object_lock_mode", "fast_path"}


def add_location(repo: Repository, name: str, url: str, options: dict[str, str]) -> dict:
    unknown = set(options) - KNOWN_OPTIONS
    if unknown:
        raise UsageError(reason=f"unknown storage option(s) {sorted(unknown)} "
                                f"(known: {', '.join(sorted(KNOWN_OPTIONS))})")
    max_level = repo.policies.level(options.get("max_classification", "top-secret")).key
    # Placement attributes are data for policies/replication.py, not backend options.
    opts = {k: v for k, v in options.items()
            if k != "max_classification" and k not in ATTRIBUTES}
    attrs = parse_attributes(url, {k: v for k, v in options.items() if k in ATTRIBUTES}, opts)
    open_backend(name, url, opts).check()
    with repo.catalog.session() as session:
        if session.scalar(select(Location).where(Location.name == name)) is not None:
            raise UsageError(reason=f"a storage location named {name!r} already exists")
        loc = Location(name=name, url=url, options=opts, max_classification=max_level,
                       attributes=attrs)
        session.add(loc)
    return describe(loc)


def list_locations(repo: Repository) -> list[dict]:
    with repo.catalog.session() as session:
        return [describe(loc) for loc in session.scalars(select(Location).order_by(Location.id))]


def describe(loc: Location) -> dict:
    hidden = {"aws_access_key_id", "aws_secret_access_key"}
    return {"name": loc.name, "url": safe_url(loc.url),
            "max_classification": loc.max_classification,
            "attributes": {**default_attributes(loc.url, loc.options), **(loc.attributes or {})},
            "options": {k: v for k, v in (loc.options or {}).items() if k not in hidden}}
