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


def test_upgrade_keeps_rows_of_an_older_catalog(database_url: str) -> None:
    from alembic import command
    from sqlalchemy import text

    from repository.catalog.db import alembic_config, make_engine

    engine = make_engine(database_url)
    try:
        command.upgrade(alembic_config(engine), "0001")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO users (id, name, role, created_at) "
                              "VALUES (1, 'an', 'reader', CURRENT_TIMESTAMP)"))
            conn.execute(text(
                "INSERT INTO aips (id, version, title, source, classification, access_mode, "
                "file_count, byte_count, key_prefix, tagmanifest_sha256, created_at) VALUES "
                "('urn:uuid:A', 1, 't', 's', 'unclassified', '01', 0, 0, 'p', '', "
                "CURRENT_TIMESTAMP)"))
            conn.execute(text(
                "INSERT INTO copies (aip_id, user_id, copy_number, made_at, purpose, dip_path, "
                "classification) VALUES ('urn:uuid:A', 1, 1, CURRENT_TIMESTAMP, '', '/x', "
                "'unclassified')"))
    finally:
        engine.dispose()
    catalog = open_catalog(database_url)  # migrates the rest of the way
    try:
        assert current_revision(catalog.engine) == head_revision()
        with catalog.engine.connect() as conn:
            assert conn.execute(text("SELECT copy_form FROM copies")).scalar() == "sao y"
    finally:
        catalog.dispose()


def test_the_head_constant_names_the_newest_migration() -> None:
    from repository.catalog.db import HEAD

    assert head_revision() == HEAD


def test_a_catalog_from_a_newer_khoso_is_refused_by_name_and_left_alone(
        database_url: str) -> None:
    import pytest
    from sqlalchemy import text

    from repository.catalog.db import make_engine
    from repository.errors import ConfigError

    open_catalog(database_url).dispose()
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0099_future'"))
        with pytest.raises(ConfigError) as info:
            open_catalog(database_url)
        message = str(info.value)
        assert "'0099_future'" in message and "newer khoso" in message
        with engine.connect() as conn:  # nothing was migrated or stamped
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() \
                == "0099_future"
    finally:
        engine.dispose()
