"""Alembic environment: the engine comes from khoso (repository.catalog.db), not an ini file."""

from alembic import context

from repository.catalog.models import Base

target_metadata = Base.metadata
engine = context.config.attributes["engine"]

with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    context.run_migrations()
