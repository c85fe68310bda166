"""Retrieval quality of the product's search on a BEIR folder (``tandem eval``).

The corpus is chunked with the product's chunker, indexed with the product's analyzers (in
RAM) and searched by BM25 as the product searches (the sparse index for free words, Whoosh
for a query quoting a phrase: :class:`ProductBM25`), embedded through the on-disk embedding
cache, and every mode is ranked by the product's own ranking function
(``kb.search.ranking.rank``: fuse per passage, a document scores as its best passage). Only
the permission machinery is absent: everything here is public.

Signals (BM25 and vector top-``depth`` per query) are collected once and can be re-ranked
under many fusion settings (see ``bench.evaluation.tuning``).
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.evaluation.beir import BeirSet, corpus_passages, load_beir
from bench.evaluation.metrics import evaluate_rankings
from bench.timing import git_commit
from kb.chunking import MAX_CHARS, OVERLAP_SENTENCES
from kb.config import load_settings
from kb.embedding import CachedEmbedder, EmbeddingCache, create_embedder
from kb.search.analysis import LANGUAGES, guess_language
from kb.search.indexes.fulltext import FullTextIndex, TextHit
from kb.search.indexes.sparse import Access, SparseIndex, serves
from kb.search.indexes.vectors import make_backend
from kb.search.query import parse_query
from kb.search.ranking import BM25, SearchConfig, rank
from kb.search.records import ChunkRecord

MODES = ("hybrid", "bm25", "vector")
RESULTS_KEPT = 100  # documents per query handed to the metrics (Recall@100)


@dataclass
class QuerySignals:
    """What each signal found for one query: passage index -> score."""

    qid: str
    language: str
    signals: dict[str, dict[int, float]] = field(default_factory=dict)


@dataclass
class CollectedRun:
    """Signals of every query of one split, ready to be ranked under any fusion setting."""

    dataset: str
    split: str
    language: str
    doc_of: list[str]
    qrels: dict[str, dict[str, int]]
    queries: list[QuerySignals]
    documents: int
    models: tuple[str, ...]


def corpus_language(beir: BeirSet, sample: int = 200) -> str:
    """The script heuristic over the first ``sample`` documents, by majority."""
    votes = Counter(guess_language(f"{t} {x}") for t, x in list(beir.docs.values())[:sample])
    return votes.most_common(1)[0][0] if votes else "en"


def _progress(items: Iterable[Any], show: bool, desc: str, total: int) -> Iterable[Any]:
    if not show:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, total=total, unit="query", file=sys.stderr)


def collect(
    folder: str | Path,
    split: str,
    config: SearchConfig,
    language: str | None = None,
    progress: bool = False,
    cache_path: Path | None = None,
) -> CollectedRun:
    """Index, embed and retrieve: BM25 and every configured model's top ``config.depth``."""
    beir = load_beir(folder, split)
    language = language or corpus_language(beir)
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, not {language!r}")
    passages = corpus_passages(beir)
    records = [
        ChunkRecord(i, p.doc_id, "guide", language, p.title, p.text) for i, p in enumerate(passages)
    ]
    bm25 = ProductBM25(records, config)
    qids = list(beir.queries)
    texts = [beir.queries[q] for q in qids]
    runs = [QuerySignals(q, guess_language(t)) for q, t in zip(qids, texts, strict=True)]
    settings = load_settings(os.environ)
    cache = EmbeddingCache(cache_path or settings.embedding_cache_path)
    for spec in config.models:
        if not config.speaks(spec, language):
            continue  # the product never stores this model's vectors for such chunks
        embedder = CachedEmbedder(create_embedder(spec, settings), cache, progress=progress)
        matrix = embedder.embed_passages([p.embedding_text for p in passages])
        backend = make_backend(matrix.shape[1], len(passages), config.hnsw_threshold)
        backend.add(list(range(len(passages))), matrix)
        query_vectors = embedder.embed_queries(texts)
        for run, vector in zip(runs, query_vectors, strict=True):
            if config.speaks(spec, run.language):
                run.signals[spec] = dict(backend.search(vector, config.depth))
    for run, text in _progress(zip(runs, texts, strict=True), progress, "bm25", len(runs)):
        run.signals[BM25] = {h.chunk_id: h.score for h in bm25.search(text)}
    bm25.close()
    return CollectedRun(
        beir.name, split, language, [p.doc_id for p in passages], beir.qrels, runs,
        len(beir.docs), config.models,
    )  # fmt: skip


class ProductBM25:
    """BM25 over public records the way ``SearchEngine`` ranks them: the sparse index for free
    words, Whoosh (built on first need) for a query that quotes a phrase."""

    def __init__(self, records: Sequence[ChunkRecord], config: SearchConfig) -> None:
        self.records = records
        self.config = config
        self.sparse = SparseIndex.build(records, config.bm25)
        self.whoosh: FullTextIndex | None = None
        self.whoosh_queries = 0

    def search(self, text: str) -> list[TextHit]:
        parsed = parse_query(text)
        if serves(parsed):
            return self.sparse.search(parsed, self.config.depth, Access())
        if self.whoosh is None:
            self.whoosh = FullTextIndex.in_memory(self.config.bm25)
            self.whoosh.add(self.records)
        self.whoosh_queries += 1
        return self.whoosh.search(parsed, self.config.depth)

    def close(self) -> None:
        if self.whoosh is not None:
            self.whoosh.close()


def mode_weights(mode: str, config: SearchConfig, language: str) -> dict[str, float]:
    """Signals and weights of a mode: hybrid (all), bm25, vector (the models), vector:SPEC."""
    if mode == "bm25":
        return {BM25: 1.0}
    if mode == "hybrid":
        return config.signal_weights(language)
    if mode == "vector":
        return config.signal_weights(language, config.models)
    if mode.startswith("vector:") and mode[7:] in config.models:
        return {mode[7:]: 1.0}
    raise ValueError(f"unknown mode {mode!r}; use {', '.join(MODES)} or vector:MODEL")


def score(
    run: CollectedRun, config: SearchConfig, modes: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Metrics per mode, ranking the collected signals with the product's ranking."""
    doc_of = run.doc_of.__getitem__
    results: dict[str, dict[str, Any]] = {}
    for mode in modes:
        rankings: dict[str, list[str]] = {}
        for query in run.queries:
            weights = mode_weights(mode, config, query.language)
            signals = {n: s for n, s in query.signals.items() if n in weights}
            ranked = rank(signals, weights, config, doc_of)
            rankings[query.qid] = [doc for doc, _, _ in ranked[:RESULTS_KEPT]]
        results[mode] = {
            k: round(v, 4) if isinstance(v, float) else v
            for k, v in evaluate_rankings(rankings, run.qrels).items()
        }
    return results


def evaluate(
    folder: str | Path,
    split: str,
    modes: Sequence[str] = MODES,
    models: Sequence[str] | None = None,
    *,
    language: str | None = None,
    progress: bool = False,
    **config: Any,
) -> dict[str, Any]:
    """Evaluate the product's search on a BEIR folder; the dict ``tandem eval --json`` prints.

    ``models`` defaults to the product default; ``config`` overrides fusion settings
    (``weights``, ``method``, ``normalisation``, ``rrf_k``, ``depth``, ``model_languages``,
    ``bm25={"k1":…, "b":…}``).
    """
    started = time.perf_counter()
    models = tuple(models) if models else SearchConfig().models
    search_config = SearchConfig.from_mapping(models, config)
    run = collect(folder, split, search_config, language=language, progress=progress)
    return {
        "dataset": run.dataset,
        "split": split,
        "language": run.language,
        "documents": run.documents,
        "passages": len(run.doc_of),
        "config": {
            **search_config.to_dict(),
            "chunking": {"max_chars": MAX_CHARS, "overlap_sentences": OVERLAP_SENTENCES},
            "embedding_cache": str(load_settings(os.environ).embedding_cache_path),
        },
        "commit": git_commit(),
        "command": command_line(folder, split, modes, models),
        "overrides": config,
        "modes": score(run, search_config, modes),
        "took_s": round(time.perf_counter() - started, 1),
    }


def command_line(
    folder: str | Path, split: str, modes: Sequence[str], models: Sequence[str]
) -> str:
    """The ``tandem eval`` command that reproduces a result."""
    parts = ["tandem", "eval", str(folder), "--split", split]
    parts += [f"--mode {m}" for m in modes]
    parts += ["--models", ",".join(models), "--json"]
    return " ".join(parts)


def evaluate_many(
    folders: Sequence[str | Path], split: str, modes: Sequence[str] = MODES, **kwargs: Any
) -> dict[str, Any]:
    """Several sets and the mean nDCG@10 per mode (the figure defaults are chosen by)."""
    results = [evaluate(f, split, modes, **kwargs) for f in folders]
    means: Mapping[str, float] = {
        mode: round(sum(r["modes"][mode]["ndcg@10"] for r in results) / len(results), 4)
        for mode in modes
    }
    return {"split": split, "mean_ndcg@10": dict(means), "sets": results}
