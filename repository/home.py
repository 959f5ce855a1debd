"""``khoso init``: create (or complete) a home. Running it again changes nothing."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime

import yaml
from sqlalchemy import select

from policies.loader import DEFAULTS_DIR, POLICY_FILES, load_policies
from repository import __version__, events
from repository.catalog.db import open_catalog
from repository.catalog.models import Location
from repository.config import Settings
from repository.errors import ConfigError
from repository.locations import add_location

DEFAULT_LOCATION = "local"


def init_home(settings: Settings) -> dict:
    home = settings.home
    created = not settings.marker.exists()
    try:
        for d in (home, settings.staging, settings.quarantine, settings.policies_dir,
                  settings.default_storage):
            d.mkdir(parents=True, exist_ok=True)
        settings.keys_dir.mkdir(mode=0o700, exist_ok=True)
        os.chmod(settings.keys_dir, 0o700)
        for name in (*POLICY_FILES, "metadata"):  # metadata.yaml: policies/metadata_profile.py
            target = settings.policies_dir / f"{name}.yaml"
            if not target.exists():
                shutil.copyfile(DEFAULTS_DIR / f"{name}.yaml", target)
        if created:
            settings.marker.write_text(yaml.safe_dump({
                "khoso": __version__, "created": datetime.now(UTC).isoformat()}),
                encoding="utf-8")
    except OSError as exc:
        raise ConfigError(reason=f"cannot create home {home}: {exc.strerror}") from exc
    policies = load_policies(settings.policies_dir)
    catalog = open_catalog(settings.database_url)
    try:
        with catalog.session() as session:
            has_local = session.scalar(select(Location).where(Location.name == DEFAULT_LOCATION))
        if has_local is None:
            from repository.context import Repository

            repo = Repository(settings, catalog, policies)
            add_location(repo, DEFAULT_LOCATION, settings.default_storage.as_uri(), {})
        if created:
            with catalog.session() as session:
                events.record(session, events.POLICY_ASSIGNMENT, events.SUCCESS, settings.agent,
                              detail={"action": "home created", "home": str(home)})
    finally:
        catalog.dispose()
    return {"home": str(home), "created": created, "catalog": catalog.safe_url}
