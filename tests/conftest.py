"""Shared fixtures: a temporary instance with its own database, a fake embedder and one that
counts what it embeds, users.

``db_url`` runs storage tests against SQLite always, and against PostgreSQL too when
``TANDEM_TEST_POSTGRES_URL`` is set (scripts/postgres.sh starts a loopback server for CI).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from kb.config import Settings, load_settings
from kb.db import create_schema, make_engine, make_session_factory
from kb.embedding import FakeEmbedder

POSTGRES_ADMIN_URL = os.environ.get("TANDEM_TEST_POSTGRES_URL")
DB_KINDS = ["sqlite"] + (["postgres"] if POSTGRES_ADMIN_URL else [])


def _postgres_database() -> Iterator[str]:
    """A fresh database on the test server, dropped afterwards."""
    name = f"tandem_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=DB_KINDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "postgres":
        yield from _postgres_database()
    else:
        yield f"sqlite:///{tmp_path / 'tandem.sqlite3'}"


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return load_settings(
        {},
        {
            "instance_dir": tmp_path / "instance",
            "database_url": db_url,
            "search_models": ("fake",),
            "import_models": ("fake",),
        },
    )


@pytest.fixture
def engine(settings: Settings):
    engine = make_engine(settings.database_url)
    create_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as s:
        yield s


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder(dim=64)


@pytest.fixture
def embedders(fake_embedder: FakeEmbedder) -> dict[str, FakeEmbedder]:
    """Embedders by configuration name, as the runtime passes them to services."""
    return {"fake": fake_embedder}


@pytest.fixture(scope="session")
def eval_dir() -> Path:
    """The shared evaluation data (``TANDEM_EVAL_DIR``, default beside the repository)."""
    return load_settings(os.environ).eval_dir


class CountingEmbedder:
    """Wraps an embedder and remembers every passage text it was asked to embed."""

    def __init__(self, inner: FakeEmbedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.passages: list[str] = []
        self.calls = 0

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_queries(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        self.passages.extend(texts)
        return self.inner.embed_passages(texts)


@pytest.fixture
def counting(fake_embedder: FakeEmbedder) -> CountingEmbedder:
    return CountingEmbedder(fake_embedder)


@pytest.fixture
def counting_embedders(counting: CountingEmbedder) -> dict[str, CountingEmbedder]:
    return {"fake": counting}
