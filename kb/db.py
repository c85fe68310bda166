"""Engine and session factories. Nothing global: callers build and pass them."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.orm import Session, sessionmaker

from kb.errors import ConfigError
from kb.models import Base

if TYPE_CHECKING:
    from alembic.config import Config


def _enable_wal(cursor: sqlite3.Cursor, attempts: int = 50) -> None:
    """Switch the file to WAL (persistent, so usually a no-op).

    The switch needs the file to itself and does not wait on the busy timeout, so processes
    opening a new database together retry briefly instead of failing with "database is locked".
    """
    for _ in range(attempts):
        if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() in ("wal", "memory"):
            return
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                raise
            time.sleep(0.1)
    cursor.execute("PRAGMA journal_mode=WAL")


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and a generous busy timeout."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001
            cursor = dbapi_connection.cursor()
            _enable_wal(cursor)
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def create_schema(engine: Engine) -> None:
    """Create every table (tests and first start); migrations keep existing databases current."""
    Base.metadata.create_all(engine)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any constant works: it names "the Tandem schema migration" among PostgreSQL advisory locks.
_PG_MIGRATION_LOCK = 7_402_011


def alembic_config(url: str | None = None) -> Config:
    """Alembic configured in code (no alembic.ini): scripts in kb/migrations."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@contextmanager
def _database_lock(
    engine: Engine, connection: Connection, pg_key: int, suffix: str
) -> Iterator[None]:
    """Hold an exclusive lock shared by every process using this database: a PostgreSQL
    advisory lock ``pg_key``, or for a SQLite file an ``flock`` on the file ``<db>.<suffix>``
    (an in-memory or URI database needs none)."""
    if engine.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_lock({pg_key})")
        connection.commit()
        try:
            yield
        finally:
            connection.exec_driver_sql(f"SELECT pg_advisory_unlock({pg_key})")
            connection.commit()
        return
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    import fcntl

    with open(f"{database}.{suffix}", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _migration_lock(engine: Engine, connection: Connection) -> AbstractContextManager[None]:
    """One migrating process at a time (web workers start together)."""
    return _database_lock(engine, connection, _PG_MIGRATION_LOCK, "migrate-lock")


_PG_IMPORT_LOCK = 7_402_012


@contextmanager
def import_lock(engine: Engine) -> Iterator[None]:
    """One import at a time per database, across processes: a second import waits for the
    first, then finds its documents (unchanged) instead of colliding with them."""
    with (
        engine.connect() as connection,
        _database_lock(engine, connection, _PG_IMPORT_LOCK, "import-lock"),
    ):
        yield


def upgrade_database(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to the newest schema (``alembic upgrade head``).

    A database created by :func:`create_schema` (tables but no ``alembic_version``) is stamped
    as current when it matches the models exactly, and refused (ConfigError) when it does not.
    """
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                # Batch migrations rebuild tables; foreign keys must not cascade meanwhile.
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            with _migration_lock(engine, connection):
                config = alembic_config(url)
                config.attributes["connection"] = connection
                tables = set(inspect(connection).get_table_names())
                if tables & set(Base.metadata.tables) and "alembic_version" not in tables:
                    differences = compare_metadata(MigrationContext.configure(connection),
                                                   Base.metadata)  # fmt: skip
                    if differences:
                        raise ConfigError(
                            "the database has Tandem tables but no migration history, and they "
                            f"differ from the models ({len(differences)} differences, first: "
                            f"{differences[0]}); back it up and migrate it by hand"
                        )
                    command.stamp(config, "head")
                else:
                    command.upgrade(config, revision)
                connection.commit()
    finally:
        engine.dispose()
