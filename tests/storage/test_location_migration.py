"""Migration 0004_storage: placement attributes leave the backend options (both catalogs)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import select, text

from repository.catalog.db import alembic_config, make_engine, open_catalog
from repository.catalog.models import Location


def test_attributes_move_out_of_backend_options(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        command.upgrade(alembic_config(engine), "0003_audit")
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO locations (id, name, url, options, max_classification, created_at) "
                "VALUES (1, 'tape', 'file:///mnt/tape', :o, 'secret', CURRENT_TIMESTAMP)"),
                {"o": '{"network": "isolated", "media": "tape", "write_once": "true", '
                      '"endpoint_url": "x"}'})
    finally:
        engine.dispose()
    catalog = open_catalog(database_url)
    try:
        with catalog.session() as session:
            loc = session.scalar(select(Location))
            assert loc is not None
            assert loc.options == {"endpoint_url": "x"}
            assert loc.attributes == {"network": "isolated", "media": "tape",
                                      "write_once": True}
    finally:
        catalog.dispose()
