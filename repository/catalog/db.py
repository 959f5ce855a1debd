"""Open the catalog: engine (SQLite in WAL mode, or PostgreSQL), migrations, sessions."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from repository.errors import ConfigError, KhosoError

if TYPE_CHECKING:
    from alembic.config import Config

T = TypeVar("T")

# The newest migration. Every command compares the catalog with it by one query instead of
# loading Alembic and every migration script (about 0.3 s per command); Alembic is imported
# only when there is something to migrate. tests/catalog/test_migrations.py keeps this equal
# to the scripts' head, so a new migration cannot be forgotten here.
HEAD = "0007_sessions"


class CatalogUnavailable(KhosoError):
    message = ("catalog {catalog} unavailable: the connection was lost {attempts} times "
               "({reason}); nothing was recorded; check the database and run the command again")
    exit_code = 2
    code = "catalog-unavailable"

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60})
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own BEGIN handling defers locks; take the write lock at BEGIN instead so
        # two writers queue on busy_timeout rather than failing mid-transaction.
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    dbapi_conn.isolation_level = None  # let the "begin" listener issue BEGIN IMMEDIATE
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=60000")
    cur.close()


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    """The head according to the migration scripts themselves (slow: imports Alembic)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(create_engine("sqlite://")))
    head = script.get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _stored_revision(engine: Engine) -> str | None:
    """The catalog's revision by one plain query; None when it has no version table yet."""
    with engine.connect() as conn:  # an unreachable catalog fails here, as it should
        try:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise
            return None  # no alembic_version table: a new catalog


def upgrade(engine: Engine) -> None:
    """Apply every pending migration (khoso init, and any command on an older catalog)."""
    try:
        from alembic import command

        command.upgrade(alembic_config(engine), "head")
    except OperationalError as exc:
        raise ConfigError(reason=f"cannot migrate the catalog: {exc.orig}") from exc


def _refuse_unknown(engine: Engine, stored: str | None, where: str) -> None:
    """A catalog at a revision none of our migrations knows was written by a newer khoso:
    refuse it by name (Alembic would stop with "Can't locate revision"), change nothing."""
    if stored is None:
        return
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    try:
        ScriptDirectory.from_config(alembic_config(engine)).get_revision(stored)
    except CommandError as exc:
        raise ConfigError(reason=(
            f"catalog {where} is at revision {stored!r}, which this khoso does not know "
            f"(its newest is {HEAD!r}): a newer khoso wrote it; run that version, never an "
            "older one, on this home (nothing was changed)")) from exc


class Catalog:
    """The catalog connection of one command or request."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def ensure_current(self) -> None:
        try:
            stored = _stored_revision(self.engine)
            if stored != HEAD:
                _refuse_unknown(self.engine, stored, self.safe_url)
                upgrade(self.engine)
        except OperationalError as exc:
            raise ConfigError(reason=f"catalog {self.safe_url} unreachable: {exc.orig}") from exc

    @property
    def safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed when the block ends, rolled back on any exception."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def run(self, work: Callable[[Session], T], *, attempts: int = 3) -> T:
        """Run ``work`` in one transaction; when the connection is lost (a dropped PostgreSQL
        connection, a restarted server) run it again from the start, with backoff. ``work``
        must build everything it adds inside the call, so a retry records nothing twice."""
        for attempt in range(1, attempts + 1):
            try:
                with self.session() as session:
                    return work(session)
            except DBAPIError as exc:
                if not exc.connection_invalidated:
                    raise
                if attempt == attempts:
                    raise CatalogUnavailable(catalog=self.safe_url, attempts=attempts,
                                             reason=str(exc.orig).strip()) from exc
                time.sleep(0.2 * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    def dispose(self) -> None:
        self.engine.dispose()


def open_catalog(url: str, *, migrate: bool = True) -> Catalog:
    catalog = Catalog(url)
    if migrate:
        try:
            catalog.ensure_current()
        except SQLAlchemyError as exc:
            raise ConfigError(reason=f"catalog {catalog.safe_url}: {exc}") from exc
    return catalog
