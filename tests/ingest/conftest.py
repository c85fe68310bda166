"""Ingest fixtures: a copy of the small test library and DB snapshots (the counting embedder
is in tests/conftest.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from kb.models import Base

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """A writable copy of tests/ingest/fixtures/library."""
    target = tmp_path / "library"
    shutil.copytree(FIXTURES / "library", target)
    return target


def _snapshot(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as session:
        return {
            table.name: session.scalar(select(func.count()).select_from(table))
            for table in Base.metadata.sorted_tables
        }


@pytest.fixture
def snapshot(sessions: sessionmaker[Session]):
    """Row counts of every table: equal snapshots mean nothing was written."""
    return lambda: _snapshot(sessions)
