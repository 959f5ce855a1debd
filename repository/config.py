"""Settings: one frozen value built from ``--home``/``KHOSO_HOME`` and ``KHOSO_*`` variables.

Home layout (created by ``khoso init``)::

    HOME/khoso.yaml          marker and settings written by init
    HOME/catalog.sqlite      the catalog (unless KHOSO_DATABASE_URL points elsewhere)
    HOME/policies/*.yaml     the home's policy overrides (defaults ship in ``policies/``)
    HOME/staging/            transfers being checked and packaged
    HOME/quarantine/         evidence kept from rejected transfers (infected files)
    HOME/keys/               key material (0700)
    HOME/storage/local/      the default local storage location
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from policies.yaml_text import safe_load
from repository.errors import ConfigError

HOME_MARKER = "khoso.yaml"


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    agent: str
    clamd_socket: str | None = None  # KHOSO_CLAMD_SOCKET overrides policies/intake.yaml

    @property
    def staging(self) -> Path:
        return self.home / "staging"

    @property
    def quarantine(self) -> Path:
        return self.home / "quarantine"

    @property
    def policies_dir(self) -> Path:
        return self.home / "policies"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    @property
    def default_storage(self) -> Path:
        return self.home / "storage" / "local"

    @property
    def marker(self) -> Path:
        return self.home / HOME_MARKER

    def require_initialised(self) -> None:
        if not self.marker.is_file():
            raise ConfigError(reason=f"{self.home} is not a khoso home (no {HOME_MARKER}); "
                                     "run 'khoso init' first or set KHOSO_HOME")

    def read_home_settings(self) -> dict:
        if not self.marker.is_file():
            return {}
        try:
            return safe_load(self.marker.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(reason=f"{self.marker}: {exc}") from exc


def load_settings(home: str | os.PathLike[str] | None = None) -> Settings:
    """Resolve the home (argument, then KHOSO_HOME) and the catalog URL."""
    raw = home or os.environ.get("KHOSO_HOME")
    if not raw:
        raise ConfigError(reason="no home given: pass --home DIR or set KHOSO_HOME")
    path = Path(raw).expanduser().resolve()
    url = os.environ.get("KHOSO_DATABASE_URL") or f"sqlite:///{path / 'catalog.sqlite'}"
    agent = os.environ.get("KHOSO_AGENT") or f"khoso/{_version()} ({_user()})"
    return Settings(home=path, database_url=url, agent=agent,
                    clamd_socket=os.environ.get("KHOSO_CLAMD_SOCKET") or None)


def _version() -> str:
    from repository import __version__

    return __version__


def _user() -> str:
    try:
        import getpass

        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry inside some containers
        return "unknown"
