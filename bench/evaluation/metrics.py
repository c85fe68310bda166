"""Ranking metrics (trec_eval definitions, as BEIR reports them): nDCG@k and Recall@k."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def dcg(gains: Sequence[float]) -> float:
    """Discounted cumulative gain: gain at rank i (1-based) divided by log2(i + 1)."""
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def ndcg_at_k(ranking: Sequence[str], relevant: Mapping[str, int], k: int = 10) -> float:
    """nDCG@k with linear gains (the graded relevance itself), 0 when nothing is relevant."""
    ideal = dcg(sorted((r for r in relevant.values() if r > 0), reverse=True)[:k])
    if ideal == 0:
        return 0.0
    return dcg([max(relevant.get(doc, 0), 0) for doc in ranking[:k]]) / ideal


def recall_at_k(ranking: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """Share of the relevant documents found in the first ``k``."""
    wanted = {doc for doc, r in relevant.items() if r > 0}
    if not wanted:
        return 0.0
    return len(wanted.intersection(ranking[:k])) / len(wanted)


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def evaluate_rankings(
    rankings: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]]
) -> dict[str, float]:
    """Mean nDCG@10, Recall@10 and Recall@100 over every judged query (missing ranking = 0)."""
    queries = [q for q in qrels if any(r > 0 for r in qrels[q].values())]
    empty: Sequence[str] = ()
    return {
        "ndcg@10": mean([ndcg_at_k(rankings.get(q, empty), qrels[q], 10) for q in queries]),
        "recall@10": mean([recall_at_k(rankings.get(q, empty), qrels[q], 10) for q in queries]),
        "recall@100": mean([recall_at_k(rankings.get(q, empty), qrels[q], 100) for q in queries]),
        "queries": len(queries),
    }
