"""The open repository of one command or request: settings, catalog and policies."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from repository.catalog.db import Catalog, open_catalog
from repository.catalog.models import Location
from repository.config import Settings, load_settings
from storage.backend import Backend
from storage.registry import open_backend

if TYPE_CHECKING:
    from policies.loader import Policies


class Repository:
    """Settings, catalog and policies of one home.

    The policies are read and validated on first use, not when the repository opens:
    pydantic, the policy models and the YAML cost ~0.1 s of start-up, which a command that
    never consults them (``storage list``, ``aip show``, ``log verify``) need not pay. A
    command that does asks :func:`open_repository` for them (``policies=True``): a broken
    file then fails it before the catalog is opened or migrated, with the same error naming
    the file, key and rule.
    """

    def __init__(self, settings: Settings, catalog: Catalog,
                 policies: Policies | None = None) -> None:
        self.settings = settings
        self.catalog = catalog
        self._policies = policies
        self._policies_lock = threading.Lock()

    @property
    def policies(self) -> Policies:
        with self._policies_lock:
            if self._policies is None:
                from policies.loader import load_policies

                self._policies = load_policies(self.settings.policies_dir)
            return self._policies

    @property
    def agent(self) -> str:
        return self.settings.agent

    def backend(self, location: Location) -> Backend:
        return open_backend(location.name, location.url, dict(location.options or {}))

    def close(self) -> None:
        self.catalog.dispose()


def open_repository(home: str | None = None, settings: Settings | None = None, *,
                    policies: bool = False) -> Repository:
    """The home's repository. ``policies=True`` validates the policy files first, before the
    catalog is opened (and perhaps migrated): a broken file then changes nothing."""
    settings = settings or load_settings(home)
    settings.require_initialised()
    loaded = None
    if policies:
        from policies.loader import load_policies

        loaded = load_policies(settings.policies_dir)
    return Repository(settings, open_catalog(settings.database_url), loaded)
