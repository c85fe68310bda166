"""The engine drives every index through the one store interface."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from kb.config import Settings
from kb.models import Person
from kb.search.hybrid import SearchEngine
from kb.search.indexes.changelog import LogState, covers, newest_change
from kb.search.indexes.store import IndexStore
from kb.services import guides

from ..helpers import Library, make_library


@pytest.fixture
def library(sessions: sessionmaker[Session], embedders) -> Library:  # noqa: ANN001
    return make_library(sessions, embedders)


@pytest.fixture
def search(settings: Settings, sessions, embedders, library: Library) -> Iterator[SearchEngine]:  # noqa: ANN001
    engine = SearchEngine(settings, sessions, embedders)
    yield engine
    engine.close()


def publish(sessions: sessionmaker[Session], embedders, author_id: int, body: str) -> int:  # noqa: ANN001
    """Publish a guide; the newest change-log id afterwards."""
    with sessions() as s:
        author = s.get(Person, author_id)
        made = guides.create_guide(s, author, title="Store guide", body_md=body, language="en")
        guides.publish(s, made, author, embedders)
        s.commit()
        return newest_change(s)


class Recording(IndexStore):
    """A store that only records what the engine asks of it."""

    name = "recording"

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []
        self.position = LogState()

    def load(self) -> None:
        self.calls.append(("load", None))

    def catch_up(self, block: bool = True) -> int:
        self.calls.append(("catch_up", block))
        return 0

    def rebuild(self) -> None:
        self.calls.append(("rebuild", None))

    def state(self) -> LogState:
        return self.position

    def close(self) -> None:
        self.calls.append(("close", None))


def test_every_index_is_a_store_and_catches_up_through_it(
    search: SearchEngine,
    sessions,
    embedders,
    library: Library,  # noqa: ANN001
) -> None:
    assert all(isinstance(store, IndexStore) for store in search.stores)
    assert [store.name for store in search.stores] == ["whoosh", "vectors", "sparse"]
    with sessions() as s:
        assert all(covers(store.state(), newest_change(s)) for store in search.stores)
    newest = publish(sessions, embedders, library.anna, "Quokkaword in a store test.")
    assert not any(covers(store.state(), newest) for store in search.stores)
    assert search.catch_up() == 1
    assert all(covers(store.state(), newest) for store in search.stores)


def test_the_engine_asks_each_store_the_same_way(
    search: SearchEngine,
    sessions,
    embedders,
    library: Library,  # noqa: ANN001
) -> None:
    extra = Recording()
    search.stores = (*search.stores, extra)
    search.search("Excel", None)
    assert extra.calls == [("catch_up", False)]  # behind the log: caught up, never waiting
    with sessions() as s:
        extra.position = LogState(newest_change(s))
    extra.calls.clear()
    search.search("Excel", None)
    assert extra.calls == []  # current: the check before a search costs nothing more
    search.reindex()
    search.close()
    assert extra.calls == [("rebuild", None), ("close", None)]
