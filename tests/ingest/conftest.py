"""Ingest fixtures: a copy of the small test library, an embedder that counts, DB snapshots."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from kb.embedding import FakeEmbedder
from kb.models import Base

FIXTURES = Path(__file__).parent / "fixtures"


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
