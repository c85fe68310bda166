"""FAISS backends against a numpy brute-force reference, through adds, removals and filters."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest

from kb.search.indexes.vectors import (
    BACKENDS,
    ExactBackend,
    HnswBackend,
    VectorBackend,
    brute_force,
    make_backend,
)


def unit_rows(rng: np.random.Generator, n: int, dim: int = 16) -> np.ndarray:
    x = rng.normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def reference(live: dict[int, np.ndarray], query: np.ndarray, k: int, allowed=None):  # noqa: ANN001, ANN201
    ids = [c for c in live if allowed is None or c in allowed]
    scores = {c: float(live[c] @ query) for c in ids}
    return sorted(scores, key=lambda c: -scores[c])[:k], scores


@pytest.mark.parametrize("backend", [ExactBackend, HnswBackend])
def test_backend_matches_brute_force_through_changes(backend: type[VectorBackend]) -> None:
    rng = np.random.default_rng(1)
    index = backend(16)
    live: dict[int, np.ndarray] = {}
    for _ in range(6):
        ids = [int(i) for i in rng.choice(400, size=60, replace=False)]
        vectors = unit_rows(rng, len(ids))
        index.add(ids, vectors)
        live.update(zip(ids, vectors, strict=True))
        gone = [int(i) for i in rng.choice(400, size=25, replace=False)]
        index.remove(gone)
        for c in gone:
            live.pop(c, None)
        assert len(index) == len(live)
        for query in unit_rows(rng, 5):
            want, scores = reference(live, query, 10)
            got = index.search(query, 10)
            assert all(c in live for c, _ in got)  # removed chunks never come back
            overlap = len({c for c, _ in got} & set(want)) / len(want)
            assert overlap == 1.0 if backend is ExactBackend else overlap >= 0.9
            assert all(abs(s - scores[c]) < 1e-5 for c, s in got)
            allowed = set(rng.choice(list(live), size=7, replace=False).tolist()) | {9999}
            want_allowed, _ = reference(live, query, 5, allowed)
            assert [c for c, _ in index.search(query, 5, allowed)] == want_allowed


def test_search_edge_cases() -> None:
    index = ExactBackend(4)
    assert index.search(np.ones(4), 5) == []
    index.add([7], np.array([[1, 0, 0, 0]], np.float32))
    assert index.search(np.array([1, 0, 0, 0]), 0) == []
    assert index.search(np.array([1, 0, 0, 0]), 5, allowed=[8]) == []
    assert index.search(np.array([1, 0, 0, 0]), 5) == [(7, pytest.approx(1.0))]
    index.add([7], np.array([[0, 1, 0, 0]], np.float32))  # replace, not duplicate
    assert len(index) == 1
    assert index.search(np.array([1, 0, 0, 0]), 5)[0][1] == pytest.approx(0.0)


def test_backend_choice_by_size() -> None:
    assert isinstance(make_backend(8, 10, hnsw_threshold=100), ExactBackend)
    assert isinstance(make_backend(8, 100, hnsw_threshold=100), HnswBackend)


def test_brute_force_order() -> None:
    vectors = np.array([[0.1, 0], [0.9, 0], [0.5, 0]], np.float32)
    assert brute_force(np.array([1.0, 0.0]), [10, 11, 12], vectors, 2) == [
        (11, pytest.approx(0.9)),
        (12, pytest.approx(0.5)),
    ]
    assert brute_force(np.array([1.0, 0.0]), [], np.zeros((0, 2)), 2) == []


def stored_copy(index: VectorBackend, tmp_path: Path) -> VectorBackend:
    """The backend as a snapshot keeps it: FAISS's own file, labels, constructor arguments."""
    faiss.write_index(index.index, str(tmp_path / "index.faiss"))
    chunk_of, dead = index.labels()
    return BACKENDS[index.kind].restore(
        index.dim, index.params(), faiss.read_index(str(tmp_path / "index.faiss")),
        chunk_of.copy(), dead.copy(),
    )  # fmt: skip


@pytest.mark.parametrize("backend", [ExactBackend, HnswBackend])
def test_a_restored_backend_answers_as_the_original(
    backend: type[VectorBackend], tmp_path: Path
) -> None:
    rng = np.random.default_rng(5)
    index = backend(16)
    index.add(list(range(300)), unit_rows(rng, 300))
    index.remove(range(0, 300, 7))  # tombstones travel too
    copy = stored_copy(index, tmp_path)
    assert type(copy.index) is type(index.index) and len(copy) == len(index)
    if isinstance(index, HnswBackend):
        assert copy.index.hnsw.efConstruction == index.ef_construction == 200
    for query in unit_rows(rng, 10):
        assert copy.search(query, 10) == index.search(query, 10)
        assert copy.search(query, 5, allowed={1, 2, 3, 8, 9}) == index.search(
            query, 5, allowed={1, 2, 3, 8, 9}
        )
    assert type(copy) is type(index) and copy.params() == index.params()
    copy.add([1000], unit_rows(rng, 1))  # and it can still change
    assert 1000 in copy and 1000 not in index
    copy.remove(range(300))  # down to the compaction, which rebuilds from FAISS's vectors
    assert len(copy) == 1 and copy.search(unit_rows(rng, 1)[0], 5)[0][0] == 1000


def test_a_stored_index_that_does_not_match_its_labels_is_refused() -> None:
    index = ExactBackend(8)
    index.add([1, 2, 3], unit_rows(np.random.default_rng(2), 3, dim=8))
    chunk_of, dead = index.labels()
    with pytest.raises(ValueError, match="does not match"):
        ExactBackend.restore(8, {}, index.index, chunk_of[:2], dead)
    with pytest.raises(ValueError, match="does not match"):
        ExactBackend.restore(16, {}, index.index, chunk_of, dead)


def test_hnsw_searches_wider_from_a_large_library(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    index = HnswBackend(8, m=8, ef_construction=40)
    index.large_from = 100  # the product's is 500,000 (recall at 1M, results/BENCH.md)
    index.add(list(range(1, 100)), rng.normal(size=(99, 8)).astype(np.float32))
    assert index.search_ef() == 256
    index.add([100], rng.normal(size=(1, 8)).astype(np.float32))
    assert index.search_ef() == 1024
    index.remove([100])
    assert index.search_ef() == 256
    # The rule is the class's: a restored copy follows the product's threshold.
    copy = stored_copy(index, tmp_path)
    assert copy.large_from == HnswBackend.large_from and copy.search_ef() == 256


@pytest.mark.parametrize("backend", [ExactBackend, HnswBackend])
def test_one_thread_search_answers_as_the_default_threads(backend: type[VectorBackend]) -> None:
    """A query searches on SEARCH_THREADS OpenMP threads (the search page at 10,000 guides):
    same chunks, order and scores as FAISS on its default threads, which are restored."""
    rng = np.random.default_rng(5)
    index = backend(32)
    index.add(list(range(6000)), unit_rows(rng, 6000, 32))
    index.remove(list(range(0, 6000, 7)))  # dead labels: the search goes through a selector
    default = faiss.omp_get_max_threads()
    for query in unit_rows(rng, 8, 32):
        got = index.search(query, 50)
        assert faiss.omp_get_max_threads() == default
        dead = faiss.IDSelectorBatch(np.asarray(sorted(index._dead), np.int64))
        selector = faiss.IDSelectorNot(dead)  # as the backend builds it
        q = query.reshape(1, 32)
        scores, labels = index.index.search(q, 50, params=index._params(selector, 50))
        want = [
            (int(index._chunk_of[lb]), float(s))
            for s, lb in zip(scores[0], labels[0], strict=True)
            if lb >= 0
        ]
        assert [c for c, _ in got] == [c for c, _ in want]
        assert np.allclose([s for _, s in got], [s for _, s in want])
