from __future__ import annotations

import numpy as np
import pytest

from bench.search import (
    SearchBenchConfig,
    bench_vectors,
    best_operating_point,
    exact_top,
    recall_at,
)
from bench.timing import percentiles


def test_percentiles_match_numpy():
    values = list(np.random.default_rng(0).uniform(0, 100, 999))
    stats = percentiles(values)
    assert stats["n"] == 999
    for name, q in (("p50", 50), ("p95", 95), ("p99", 99)):
        assert stats[name] == pytest.approx(np.percentile(values, q), abs=0.01)
    assert stats["p50"] <= stats["p95"] <= stats["p99"] <= stats["max"]
    assert percentiles([]) == {"n": 0}


def test_exact_top_and_recall_against_brute_force():
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(300, 16)).astype(np.float32)
    queries = rng.normal(size=(7, 16)).astype(np.float32)
    top = exact_top(vectors, queries, 5)
    brute = np.argsort(-(queries @ vectors.T), axis=1)[:, :5]
    assert np.array_equal(np.sort(top, axis=1), np.sort(brute, axis=1))
    assert recall_at(top, brute) == 1.0
    half = top.copy()
    half[:, 3:] = -1
    assert recall_at(half, brute) == pytest.approx(0.6)


def test_exact_top_among_leaves_out_rows_not_held():
    rng = np.random.default_rng(2)
    vectors = rng.normal(size=(500, 8)).astype(np.float32)
    queries = rng.normal(size=(6, 8)).astype(np.float32)
    held = rng.random(500) < 0.7
    from bench.search import exact_top_among

    top = exact_top_among(vectors, queries, held, k=5, block=64)
    rows = np.flatnonzero(held)
    brute = rows[np.argsort(-(queries @ vectors[rows].T), axis=1)[:, :5]]
    assert np.array_equal(top, brute)
    assert np.array_equal(
        exact_top_among(vectors, queries, np.ones(500, bool), k=5), exact_top(vectors, queries, 5)
    )


def test_best_operating_point_is_cheapest_setting_reaching_the_target():
    sweep = {
        "16": {"latency_ms": {"p50": 1.0}, "recall@10": 0.90},
        "64": {"latency_ms": {"p50": 3.0}, "recall@10": 0.96},
        "128": {"latency_ms": {"p50": 6.0}, "recall@10": 0.99},
    }
    assert best_operating_point(sweep)[0] == "64"
    assert best_operating_point(sweep, target=0.999)[0] == "128"  # none reaches: the best
    assert best_operating_point({}) is None


def test_bench_vectors_reports_exact_and_approximate_search(material):
    from bench.data import synthetic_vectors

    vectors = synthetic_vectors(material, 3000, seed=0)
    config = SearchBenchConfig(nprobes=(4, 64), hnsw_max=3000, flat_queries_max=3)
    out = bench_vectors(vectors, material.query_vectors, config)
    assert out["flat"]["recall@10"] == 1.0
    assert out["flat"]["latency_ms"]["n"] == 3
    assert out["ivf"]["nlist"] > 0
    sweep = out["ivf"]["nprobe"]
    assert set(sweep) == {"4", "64"}
    assert all(0.0 <= v["recall@10"] <= 1.0 for v in sweep.values())
    assert sweep["64"]["recall@10"] >= sweep["4"]["recall@10"]
    assert out["hnsw"]["efSearch"]["256"]["recall@10"] >= 0.9


def test_full_path_times_the_product_bm25_leg_and_whoosh(material, tmp_path):
    from bench.data import synthetic_vectors
    from bench.search import tandem_full_path

    full = tandem_full_path("fake:32")
    vectors = synthetic_vectors(material, 300, seed=0)
    out = full(
        material,
        vectors,
        300,
        material.queries,
        tmp_path,
        whoosh_queries=2,
        query_vectors=material.query_vectors,
    )
    assert out["bm25_product"]["latency_ms"]["n"] == len(material.queries)
    assert out["bm25"]["latency_ms"]["n"] == 2  # the slow "before" on fewer queries
    assert out["bm25_product"]["phrase_queries"] == 0
    assert out["bm25"]["build_s"] >= 0 and out["whoosh_build_s"] >= 0
    assert out["latency_ms"]["n"] > 0
    assert out["worker_start_s"] >= 0 and out["engine_start_s"] >= 0
    assert out["bm25_product"]["snapshot_load_s"] >= 0 and out["bm25_product"]["snapshot_mb"] > 0
    # The engine's own index at 300 chunks is exact: its recall against exact search is 1.
    (index,) = out["product_index"].values()
    assert index["backend"] == "ExactBackend" and index["recall@10"] == 1.0
    slowest = out["slowest_queries"]
    assert len(slowest) == min(5, len(material.queries))
    firsts = [s["first_ms"] for s in slowest]
    assert firsts == sorted(firsts, reverse=True)
    assert all(len(s["again_ms"]) == 3 and s["profile_cumulative_ms"] for s in slowest)
    assert set(out["gc_during_queries"]) == {"gen0", "gen1", "gen2"}
    assert not (tmp_path / "instance-300").exists()  # not kept unless asked


def test_full_path_can_keep_its_instance(material, tmp_path):
    from bench.data import synthetic_vectors
    from bench.search import tandem_full_path

    vectors = synthetic_vectors(material, 200, seed=0)
    out = tandem_full_path("fake:32")(
        material, vectors, 200, material.queries[:4], tmp_path, keep=True
    )
    kept = tmp_path / "instance-200"
    assert out["instance_kept"] == str(kept) and (kept / "tandem.sqlite3").exists()
    assert "product_index" not in out  # no query vectors given


def test_product_index_recall_of_an_hnsw_index_with_an_ef_sweep(material):
    from types import SimpleNamespace

    from bench.data import synthetic_vectors
    from bench.search import product_index_recall
    from kb.search.indexes.vectors import HnswBackend

    vectors = synthetic_vectors(material, 2000, seed=0)
    backend = HnswBackend(vectors.shape[1], m=8, ef_construction=40, ef_search=64)
    backend.add(list(range(1, 1001)), vectors[:1000])  # half the library is held
    engine = SimpleNamespace(vectors=SimpleNamespace(backends={"m": backend, "none": None}))
    (out,) = product_index_recall(engine, vectors, material.query_vectors, (8, 512)).values()
    assert out["backend"] == "HnswBackend" and out["chunks"] == 1000 and out["efSearch"] == 64
    sweep = out["efSearch_sweep"]
    assert sweep["512"]["recall@10"] >= out["recall@10"] >= sweep["8"]["recall@10"]
    assert sweep["512"]["recall@10"] >= 0.95
    assert backend.ef_search == 64 and backend.search_ef() == 64  # set back


def test_summary_sets_the_full_path_against_its_parts():
    from bench.search import summarise

    lat = lambda p50, p95: {"p50": p50, "p95": p95, "p99": p95}  # noqa: E731
    entry = {
        "size": 1000,
        "vectors": {"flat": {"latency_ms": lat(5, 6)}, "ivf": {"nprobe": {}}},
        "bm25_product": {"latency_ms": lat(2, 4)},
        "full": {
            "latency_ms": lat(12, 30),
            "product_index": {
                "m": {"backend": "HnswBackend", "latency_ms": lat(1, 2), "recall@10": 0.97}
            },
        },
    }
    (row,) = summarise({"query_embedding": {"latency_ms": lat(7, 9)}, "sizes": [entry]})
    assert row["product_index"] == "HnswBackend" and row["product_index_recall@10"] == 0.97
    assert row["full_over_parts_p50"] == 1.2 and row["full_over_parts_p95"] == 2.0


def test_product_sparse_alone(material):
    from bench.search import bench_product_sparse

    out = bench_product_sparse(material, 500, material.queries, SearchBenchConfig())
    assert out["latency_ms"]["n"] == len(material.queries)
    assert out["postings"] > 0 and out["build_s"] >= 0
