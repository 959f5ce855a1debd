"""The open repository of one command or request: settings, catalog and policies."""

from __future__ import annotations

from dataclasses import dataclass

from policies.loader import Policies, load_policies
from repository.catalog.db import Catalog, open_catalog
from repository.catalog.models import Location
from repository.config import Settings, load_settings
from storage.backend import Backend
from storage.registry import open_backend


@dataclass
class Repository:
    settings: Settings
    catalog: Catalog
    policies: Policies

    @property
    def agent(self) -> str:
        return self.settings.agent

    def backend(self, location: Location) -> Backend:
        return open_backend(location.name, location.url, dict(location.options or {}))

    def close(self) -> None:
        self.catalog.dispose()


def open_repository(home: str | None = None, settings: Settings | None = None) -> Repository:
    settings = settings or load_settings(home)
    settings.require_initialised()
    policies = load_policies(settings.policies_dir)
    catalog = open_catalog(settings.database_url)
    return Repository(settings, catalog, policies)
