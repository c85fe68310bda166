"""The cross-language remedies one by one, through the product's evaluation (issue 15).

    python -m bench.xlang_table [--split dev] [--sets xquad-cross ...] [--out FILE]

Each row switches on one more remedy of ``SearchConfig`` (per-language centring of the
vectors, BM25 stand-in, result floor) and prints hybrid and vector nDCG@10 (and hybrid
recall@10) per set.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from bench.evaluation.retrieval import evaluate
from bench.paths import ROOT, default_eval_dir
from bench.timing import git_commit
from kb.search import centring

SETS = ["xquad-cross", str(ROOT / "bench" / "datasets" / "xlang-pl"), "xquad-en", "xquad-ru",
        "poquad-pl", "scifact-en"]  # fmt: skip
OFF = {"centre_languages": False, "bm25_stand_in": False, "bm25_stand_in_floor": False,
       "result_floors": {}}  # fmt: skip
VARIANTS: dict[str, dict[str, Any]] = {
    "per-document language only": OFF,
    "+ centring": {**OFF, "centre_languages": True},
    "+ centring, means shrunk by 10 passages": {**OFF, "centre_languages": True, "prior": 10},
    "+ centring, means shrunk by 1 passage": {**OFF, "centre_languages": True, "prior": 1},
    "+ BM25 stand-in (no centring)": {**OFF, "bm25_stand_in": True},
    "+ centring + BM25 stand-in": {**OFF, "centre_languages": True, "bm25_stand_in": True},
    "+ stand-in also the floor of BM25's other-language matches": {
        **OFF,
        "centre_languages": True,
        "bm25_stand_in": True,
        "bm25_stand_in_floor": True,
    },
    "+ result floor, stand-in not a floor (before)": {"bm25_stand_in_floor": False},
    "default (+ result floor)": {},
}


def run(folder: Path, split: str, variant: dict[str, Any]) -> dict[str, Any]:
    variant = dict(variant)
    prior = variant.pop("prior", None)
    saved = centring.LanguageMeans.means
    try:
        if prior is not None:  # the alternative tried: every mean shrunk towards the library's
            centring.LanguageMeans.means = lambda self, _=0: shrunk_means(self, prior)
        result = evaluate(folder, split, ("hybrid", "vector"), **variant)
    finally:
        centring.LanguageMeans.means = saved
    modes = result["modes"]
    return {
        "hybrid": modes["hybrid"]["ndcg@10"],
        "vector": modes["vector"]["ndcg@10"],
        "hybrid_r10": modes["hybrid"]["recall@10"],
    }


def shrunk_means(means: centring.LanguageMeans, prior: float) -> dict[str, np.ndarray]:
    """Each language's mean shrunk towards the library's as if ``prior`` passages of the
    library were added to it."""
    overall = means.sums.sum(axis=0) / means.counts.sum()
    return {
        lang: ((means.sums[i] + prior * overall) / (means.counts[i] + prior)).astype(np.float32)
        for i, lang in enumerate(centring.LANGUAGES)
        if means.counts[i] > 0
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--split", default="dev")
    parser.add_argument("--sets", nargs="+", default=SETS)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    parser.add_argument("--out")
    args = parser.parse_args()
    table: dict[str, dict[str, Any]] = {}
    for name in args.sets:
        folder = Path(name) if Path(name).is_dir() else default_eval_dir() / name
        for label in args.variants:
            row = run(folder, args.split, VARIANTS[label])
            table.setdefault(label, {})[folder.name] = row
            print(json.dumps({"set": folder.name, "variant": label, **row}), flush=True)
    if args.out:
        out = {"command": "python -m bench.xlang_table", "commit": git_commit(),
               "split": args.split, "table": table}  # fmt: skip
        Path(args.out).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
