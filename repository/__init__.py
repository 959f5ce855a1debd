"""khoso: the repository core (catalog, OAIS services, configuration, CLI and HTTP API)."""

__version__ = "0.1.0"
