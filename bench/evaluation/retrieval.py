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
from kb.search.centring import TAIL_DIM, LanguageMeans, query_with_tail, with_tail
from kb.search.indexes.fulltext import FullTextIndex, TextHit
from kb.search.indexes.sparse import Access, SparseIndex, serves
from kb.search.indexes.vectors import make_backend
from kb.search.query import parse_query
from kb.search.ranking import BM25, SearchConfig, above_floor, rank
from kb.search.records import ChunkRecord

MODES = ("hybrid", "bm25", "vector")
RESULTS_KEPT = 100  # documents per query handed to the metrics (Recall@100)


@dataclass
class QuerySignals:
    """What each signal found for one query: passage index -> score."""

    qid: str
    language: str
    signals: dict[str, dict[int, float]] = field(default_factory=dict)
    # Documents with a passage holding every word of the query (BM25's verdict): the product
    # shows them whatever the result floor says (kb.search.ranking.above_floor).
    word_matches: set[str] = field(default_factory=set)


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
    passage_languages: list[str] = field(default_factory=list)


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
    """Index, embed and retrieve: BM25 and every configured model's top ``config.depth``.

    Each document is analysed in its own language (``metadata.language``) when the corpus
    gives one, as the product analyses each guide in the language it was written in; the
    others in ``language`` (default: the corpus's majority by the script heuristic). Each
    query's language is guessed from its text, as the product guesses it.
    """
    beir = load_beir(folder, split)
    language = language or corpus_language(beir)
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, not {language!r}")
    passages = corpus_passages(beir)
    records = [
        ChunkRecord(i, p.doc_id, "guide", p.language or language, p.title, p.text)
        for i, p in enumerate(passages)
    ]
    bm25 = ProductBM25(records, config)
    qids = list(beir.queries)
    texts = [beir.queries[q] for q in qids]
    runs = [QuerySignals(q, guess_language(t)) for q, t in zip(qids, texts, strict=True)]
    settings = load_settings(os.environ)
    cache = EmbeddingCache(cache_path or settings.embedding_cache_path)
    for spec in config.models:
        # The product never stores a model's vectors for chunks in a language it does not speak.
        spoken = [i for i, r in enumerate(records) if config.speaks(spec, r.index_language)]
        if not spoken:
            continue
        embedder = CachedEmbedder(create_embedder(spec, settings), cache, progress=progress)
        matrix = embedder.embed_passages([passages[i].embedding_text for i in spoken])
        spoken_languages = [records[i].index_language for i in spoken]
        # As the product's vector index: per-language means and passages with their tail.
        centring = LanguageMeans(matrix.shape[1])
        centring.add(matrix, spoken_languages)
        means = centring.means() if config.centre_languages else {}
        backend = make_backend(matrix.shape[1] + TAIL_DIM, len(spoken), config.hnsw_threshold)
        backend.add(spoken, with_tail(matrix, spoken_languages))
        query_vectors = embedder.embed_queries(texts)
        for run, vector in zip(runs, query_vectors, strict=True):
            if config.speaks(spec, run.language):
                query = query_with_tail(vector, means)
                run.signals[spec] = dict(backend.search(query, config.depth))
    for run, text in _progress(zip(runs, texts, strict=True), progress, "bm25", len(runs)):
        hits = bm25.search(text)
        run.signals[BM25] = {h.chunk_id: h.score for h in hits}
        run.word_matches = {passages[h.chunk_id].doc_id for h in hits if h.all_words}
    bm25.close()
    passage_languages = [r.index_language for r in records]
    return CollectedRun(
        beir.name, split, "+".join(sorted(set(passage_languages))), [p.doc_id for p in passages],
        beir.qrels, runs, len(beir.docs), config.models, passage_languages,
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
    language_of = run.passage_languages.__getitem__ if run.passage_languages else None
    results: dict[str, dict[str, Any]] = {}
    for mode in modes:
        rankings: dict[str, list[str]] = {}
        for query in run.queries:
            weights = mode_weights(mode, config, query.language)
            signals = {n: s for n, s in query.signals.items() if n in weights}
            ranked = rank(signals, weights, config, doc_of, language_of, query.language)
            similarity = config.similarity_signal(signals)
            if similarity is not None:  # what the product shows: results above the floor
                # (and, with BM25 in the mix, the documents holding every word of the query)
                words = query.word_matches if BM25 in signals else ()
                ranked = above_floor(ranked, similarity, doc_of, config.result_floor, words)
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
