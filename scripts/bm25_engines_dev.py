"""BM25 alone on the dev splits: the product's path (sparse index; Whoosh for quoted phrases)
against Whoosh for every query, with how often the two agree.

    .venv/bin/python scripts/bm25_engines_dev.py xquad-en xquad-ru poquad-pl [--out FILE]

Dev splits only (the test splits are for the final figures). No embedding model runs: only
the BM25 signal is collected. Prints (and writes with ``--out``) nDCG@10 / recall of both, the
number of queries with the same top 10, the largest relative score difference, the commit and
the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import kb.evaluation.retrieval as retrieval  # noqa: E402

from kb.search.ranking import BM25, SearchConfig  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"


def load_average() -> str:
    return Path("/proc/loadavg").read_text().strip()


def compare(folder: Path, config: SearchConfig) -> dict[str, Any]:
    started = time.perf_counter()
    product = retrieval.collect(folder, "dev", config)
    product_s = time.perf_counter() - started
    original = retrieval.serves
    retrieval.serves = lambda parsed: False  # every query to Whoosh
    try:
        started = time.perf_counter()
        whoosh = retrieval.collect(folder, "dev", config)
        whoosh_s = time.perf_counter() - started
    finally:
        retrieval.serves = original
    same_top10 = same_set = 0
    largest = 0.0
    for a, b in zip(product.queries, whoosh.queries, strict=True):
        sa, sb = a.signals[BM25], b.signals[BM25]
        top_a = sorted(sa, key=lambda k: (-sa[k], k))[:10]
        top_b = sorted(sb, key=lambda k: (-sb[k], k))[:10]
        same_top10 += top_a == top_b
        same_set += set(sa) == set(sb)
        for key in set(sa) & set(sb):
            largest = max(largest, abs(sa[key] - sb[key]) / max(abs(sb[key]), 1e-12))
    return {
        "queries": len(product.queries),
        "product_path": retrieval.score(product, config, (BM25,))[BM25],
        "whoosh_only": retrieval.score(whoosh, config, (BM25,))[BM25],
        "same_top10_queries": same_top10,
        "same_top100_set_queries": same_set,
        "max_relative_score_difference": largest,
        "collect_s": {"product_path": round(product_s, 1), "whoosh_only": round(whoosh_s, 1)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="+", help="folders under ../shared/eval (dev split used)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    config = SearchConfig(models=())
    result: dict[str, Any] = {
        "command": " ".join(["scripts/bm25_engines_dev.py", *sys.argv[1:]]),
        "commit": retrieval.git_commit(),
        "load_average_start": load_average(),
        "sets": {},
    }
    for name in args.sets:
        result["sets"][name] = compare(EVAL / name, config)
        print(json.dumps({name: result["sets"][name]}), flush=True)
    result["load_average_end"] = load_average()
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
