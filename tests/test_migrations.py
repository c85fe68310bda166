"""Migrations build exactly the schema of kb.models, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData, Table, insert, inspect, text

from kb.db import alembic_config, create_schema, make_engine, upgrade_database
from kb.errors import ConfigError
from kb.models import Base


def _state(url: str) -> tuple[list, str | None]:
    """Differences between the database and the models, and its alembic revision."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection)
            return compare_metadata(context, Base.metadata), context.get_current_revision()
    finally:
        engine.dispose()


def _head() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_upgrade_empty_database_matches_models(db_url):
    upgrade_database(db_url)
    differences, revision = _state(db_url)
    assert differences == []
    assert revision == _head()
    engine = make_engine(db_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert tables == set(Base.metadata.tables) | {"alembic_version"}


def test_upgrade_twice_is_a_no_op(db_url):
    upgrade_database(db_url)
    upgrade_database(db_url)
    assert _state(db_url) == ([], _head())


def test_downgrade_to_base_and_back(db_url):
    upgrade_database(db_url)
    engine = make_engine(db_url)
    with engine.connect() as connection:
        config = alembic_config(db_url)
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
        connection.commit()
        assert set(inspect(connection).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    upgrade_database(db_url)
    assert _state(db_url) == ([], _head())


def test_database_made_by_create_schema_is_adopted(db_url):
    engine = make_engine(db_url)
    create_schema(engine)
    engine.dispose()
    upgrade_database(db_url)
    assert _state(db_url) == ([], _head())


def test_unversioned_database_that_differs_is_refused(db_url):
    engine = make_engine(db_url)
    create_schema(engine)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE feedback"))
    engine.dispose()
    with pytest.raises(ConfigError, match="no migration history"):
        upgrade_database(db_url)


def test_concurrent_upgrades_do_not_collide(tmp_path):
    """Web workers start together and each upgrades; a lock makes them take turns."""
    url = f"sqlite:///{tmp_path / 'race.sqlite3'}"
    with ThreadPoolExecutor(max_workers=3) as pool:
        for future in [pool.submit(upgrade_database, url) for _ in range(3)]:
            future.result()  # re-raises a worker's error
    assert _state(url) == ([], _head())


def _insert(connection: Connection, table: str, **values: object) -> None:
    """Insert a row into ``table`` as it is now, its other required columns filled in."""
    reflected = Table(table, MetaData(), autoload_with=connection)
    for column in reflected.columns:
        if column.name in values or column.nullable or column.server_default is not None:
            continue
        kind = column.type.python_type
        values[column.name] = {
            str: "",
            int: 0,
            bool: False,
            dt.datetime: dt.datetime(2026, 12, 1, 10),
            dt.date: dt.date(2026, 12, 1),
        }[kind]
    connection.execute(insert(reflected).values(**values))


def test_0016_indexes_the_upload_links_of_the_revisions_already_stored(db_url):
    """A revision saved before the reference table existed links to its uploads after the
    upgrade (each name once; a link inside a title is not one)."""
    name = "ab" * 16 + ".mp4"
    other = "cd" * 16 + ".webm"
    engine = make_engine(db_url)
    with engine.connect() as connection:
        config = alembic_config(db_url)
        config.attributes["connection"] = connection
        command.upgrade(config, "0015")
        _insert(connection, "person", id=1, name="Anna", email="anna@example.com")
        _insert(connection, "guide", id=1, slug="g", author_id=1, title="G", status="draft")
        _insert(
            connection, "guide_revision", id=1, guide_id=1, number=1, title="G", body_md="B.",
            videos=f"/guides/videos/{name} | Clip\n/guides/videos/{name}\n"
            f"https://youtu.be/x | see /guides/videos/{other}",
        )  # fmt: skip
        connection.commit()
        command.upgrade(config, "head")
        connection.commit()
        rows = connection.execute(text("SELECT revision_id, name FROM video_reference")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [(1, name)]
