"""Snapshots of the in-memory indexes: plain data, and rebuilt from the database whenever they
cannot be used as they are."""

from __future__ import annotations

import datetime as dt
import json
import pickle
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.orm import Session, sessionmaker

from kb.config import Settings
from kb.models import Person
from kb.search.hybrid import SearchEngine
from kb.search.indexes.snapshots import (
    Snapshot,
    pack_records,
    pack_strings,
    read_snapshot,
    snapshot_bytes,
    unpack_records,
    unpack_strings,
    write_snapshot,
)
from kb.search.indexes.sparse import SparseIndex
from kb.search.indexes.vectorstore import VectorStore
from kb.search.records import ChunkRecord

from ..helpers import Library, make_library

QUERIES = ["Excel", "prompts", "blog", "Copilot formuły", "budget Zyxelgate", "channels"]


@pytest.fixture
def library(sessions: sessionmaker[Session], embedders) -> Library:  # noqa: ANN001
    return make_library(sessions, embedders)


@pytest.fixture
def search(settings: Settings, sessions, embedders, library: Library) -> Iterator[SearchEngine]:  # noqa: ANN001
    engine = SearchEngine(settings, sessions, embedders)
    yield engine
    engine.close()


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How often each in-memory index is built from the database."""
    counts = {"sparse": 0, "vectors": 0}
    build, rebuild = SparseIndex.build.__func__, VectorStore.rebuild  # type: ignore[attr-defined]

    def counted_build(cls, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        counts["sparse"] += 1
        return build(cls, *args, **kwargs)

    def counted_rebuild(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        counts["vectors"] += 1
        return rebuild(self, *args, **kwargs)

    monkeypatch.setattr(SparseIndex, "build", classmethod(counted_build))
    monkeypatch.setattr(VectorStore, "rebuild", counted_rebuild)
    return counts


def results(engine: SearchEngine, user: Person | None) -> list[list[tuple[str, float]]]:
    return [[(h.doc_key, h.score) for h in engine.search(q, user, limit=50).hits]
            for q in QUERIES]  # fmt: skip


def snapshot_files(engine: SearchEngine) -> dict[str, list[Path]]:
    """Each in-memory store's header and the data files it names."""
    found = {}
    for store in (engine.sparse, engine.vectors):
        header = store.snapshot_path
        assert header is not None and header.exists()
        names = json.loads(header.read_text())["files"].values()
        found[store.name] = [header, *(header.with_name(n) for n in names)]
    return found


def damage(files: list[Path], how: str) -> None:
    header, *data = files
    if how == "corrupt data":
        for path in data:
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif how == "missing data":
        for path in data:
            path.unlink()
    elif how == "missing header":
        header.unlink()
    elif how == "corrupt header":
        header.write_text('{"format": "sparse", "vers')
    elif how == "wrong version":
        stored = json.loads(header.read_text())
        header.write_text(json.dumps({**stored, "version": stored["version"] + 1}))
    elif how == "other schema":
        stored = json.loads(header.read_text())
        header.write_text(json.dumps({**stored, "schema": stored["schema"] - 1}))


def test_a_worker_starts_from_the_snapshots_without_building(
    search: SearchEngine,
    settings: Settings,
    sessions,
    embedders,
    builds,
    library: Library,  # noqa: ANN001
) -> None:
    with sessions() as s:
        anna = s.get(Person, library.anna)
    want = results(search, anna)
    worker = SearchEngine(settings, sessions, embedders)
    try:
        assert builds == {"sparse": 0, "vectors": 0}
        assert results(worker, anna) == want
    finally:
        worker.close()


@pytest.mark.parametrize(
    "how",
    ["corrupt data", "missing data", "missing header", "corrupt header", "wrong version",
     "other schema"],
)  # fmt: skip
def test_an_unusable_snapshot_is_rebuilt_and_gives_the_same_results(
    search: SearchEngine, settings: Settings, sessions, embedders, builds, library: Library,  # noqa: ANN001
    how: str,
) -> None:  # fmt: skip
    with sessions() as s:
        anna = s.get(Person, library.anna)
    want = results(search, anna)
    for files in snapshot_files(search).values():
        damage(files, how)
    worker = SearchEngine(settings, sessions, embedders)
    try:
        assert builds == {"sparse": 1, "vectors": 1}
        assert results(worker, anna) == want
    finally:
        worker.close()
    later = SearchEngine(settings, sessions, embedders)  # the rebuilt snapshots are usable
    try:
        assert builds == {"sparse": 1, "vectors": 1}
        assert results(later, anna) == want
    finally:
        later.close()


def test_pickles_of_older_releases_are_ignored_and_replaced(
    search: SearchEngine,
    settings: Settings,
    sessions,
    embedders,
    builds,  # noqa: ANN001
) -> None:
    want = results(search, None)
    for files in snapshot_files(search).values():
        damage(files, "missing header")
    index_dir = settings.index_dir
    # What a worker of an older release left: never unpickled (this one would raise).
    old = [index_dir / "sparse-v1.1.pickle", index_dir / "vectors-v1.1-0123456789abcdef.pickle"]
    for path in old:
        path.write_bytes(pickle.dumps(RefusesToUnpickle()))
    worker = SearchEngine(settings, sessions, embedders)
    try:
        assert builds == {"sparse": 1, "vectors": 1}
        assert results(worker, None) == want
        assert not any(path.exists() for path in old)
        assert all(p.exists() for files in snapshot_files(worker).values() for p in files)
    finally:
        worker.close()


class RefusesToUnpickle:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (_refuse, ("an old pickle was read",))


def _refuse(message: str) -> None:
    raise AssertionError(message)


def test_writing_a_snapshot_keeps_only_its_own_files_and_lock_files(tmp_path: Path) -> None:
    header = tmp_path / "sparse.json"
    first = Snapshot({"format": "sparse", "version": 1}, {"a": np.arange(3)})
    write_snapshot(header, first, family="sparse")
    earlier = set(tmp_path.iterdir())
    (tmp_path / "sparse.lock").write_text("")
    (tmp_path / "sparse-v1.1.pickle").write_bytes(b"old")
    (tmp_path / "vectors-abc.json").write_text("{}")  # another index's snapshot
    write_snapshot(header, Snapshot({"format": "sparse", "version": 1}, {"a": np.arange(4)}),
                   family="sparse")  # fmt: skip
    names = {p.name for p in tmp_path.iterdir()}
    assert not (earlier - {header}) & set(tmp_path.iterdir())  # the earlier data went
    assert {"sparse.json", "sparse.lock", "vectors-abc.json"} <= names and len(names) == 4
    read = read_snapshot(header, {"format": "sparse", "version": 1})
    assert read is not None and read.arrays["a"].tolist() == [0, 1, 2, 3]
    assert read_snapshot(header, {"format": "sparse", "version": 2}) is None
    assert snapshot_bytes(header) == sum(
        p.stat().st_size for p in tmp_path.iterdir() if p.suffix in (".json", ".npz")
        and p.name.startswith("sparse")
    )  # fmt: skip


@pytest.mark.parametrize(
    "values", [[], [""], ["a", "", "żółw", "b"], ["two\nlines", "", "ёж"], ["\n"]]
)
def test_strings_travel_as_bytes(values: list[str]) -> None:
    arrays = pack_strings("s", values)
    assert all(a.dtype == np.uint8 or a.dtype == np.int64 for a in arrays.values())
    assert unpack_strings(arrays, "s") == values


def test_records_travel_as_columns() -> None:
    records = [
        ChunkRecord(1, "guide:1", "guide", "pl", "T", "text", ("ai", "Social media"), 5,
                    dt.date(2024, 4, 2), None),
        ChunkRecord(2, "note:7", "note", "ru", "", "", (), None, None, 3),
        ChunkRecord(3, "guide:1", "guide", "xx", "", "", ("ai",), 5, dt.date(1, 1, 1), None),
    ]  # fmt: skip
    arrays = pack_records("r", records)
    assert all(a.dtype != object for a in arrays.values())
    back = unpack_records(arrays, "r")
    assert back == [ChunkRecord(r.chunk_id, r.doc_key, r.doc_type, r.language, "", "", r.tags,
                                r.author_id, r.doc_date, r.pair_id) for r in records]  # fmt: skip
    assert unpack_records(pack_records("r", []), "r") == []
