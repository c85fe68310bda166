"""Choose fusion settings on the DEV splits: collect signals once, re-rank under a grid.

The product default is the setting with the best mean dev nDCG@10 over the evaluation sets;
the test split is only for the reported figure (``/work/shared/eval/README.md``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any

from bench.evaluation.retrieval import CollectedRun, score
from kb.search.ranking import BM25, SearchConfig


def weight_grid(models: Sequence[str], step: float = 0.1) -> Iterator[dict[str, float]]:
    """BM25 and model weights on a simplex grid (they sum to 1; BM25 may be 0)."""
    ticks = round(1 / step)
    names = [BM25, *models]
    for combo in itertools.product(range(ticks + 1), repeat=len(names)):
        if sum(combo) == ticks and any(combo[1:]):
            yield {name: round(c * step, 4) for name, c in zip(names, combo, strict=True)}


def candidate_configs(base: SearchConfig, step: float = 0.1) -> Iterator[SearchConfig]:
    """Convex combinations (z-score, min-max, DBSF) over the weight grid, and RRF variants."""
    for normalisation in ("zscore", "minmax", "dbsf"):
        for weights in weight_grid(base.models, step):
            yield replace(base, method="convex", normalisation=normalisation, weights=weights)
    for k in (10, 60):
        for weights in weight_grid(base.models, 0.25):
            yield replace(base, method="rrf", rrf_k=float(k), weights=weights)


def sweep(runs: Sequence[CollectedRun], configs: Iterable[SearchConfig]) -> list[dict[str, Any]]:
    """Hybrid dev nDCG@10 per set and their mean for every config, best mean first."""
    rows = []
    for config in configs:
        per_set = {
            run.dataset: score(run, config, ("hybrid",))["hybrid"]["ndcg@10"] for run in runs
        }
        rows.append(
            {
                "method": config.method,
                "normalisation": config.normalisation if config.method == "convex" else None,
                "rrf_k": config.rrf_k if config.method == "rrf" else None,
                "weights": {s: config.weight(s) for s in (BM25, *config.models)},
                "ndcg@10": per_set,
                "mean": round(sum(per_set.values()) / len(per_set), 4),
            }
        )
    return sorted(rows, key=lambda r: -r["mean"])
