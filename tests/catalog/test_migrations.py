"""Alembic migrations on both catalogs: applied by open, idempotent, at head."""

from __future__ import annotations

from sqlalchemy import inspect

from repository.catalog.db import current_revision, head_revision, open_catalog


def test_open_applies_every_migration_once(database_url: str) -> None:
    catalog = open_catalog(database_url)
    try:
        assert current_revision(catalog.engine) == head_revision()
        tables = set(inspect(catalog.engine).get_table_names())
        assert {"aips", "aip_files", "replicas", "locations", "events", "chain_head", "users",
                "grants", "copies", "problems"} <= tables
    finally:
        catalog.dispose()
    again = open_catalog(database_url)  # a second open finds nothing to do
    try:
        assert current_revision(again.engine) == head_revision()
    finally:
        again.dispose()


def test_sqlite_catalog_uses_wal(tmp_path) -> None:  # type: ignore[no-untyped-def]
    catalog = open_catalog(f"sqlite:///{tmp_path / 'c.sqlite'}")
    try:
        with catalog.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        catalog.dispose()
