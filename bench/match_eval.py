"""Expertise-matching quality on reviewer-expertise: dev (d_20_1..5) and test (d_20_6..10).

    python -m bench.match_eval            # the default configuration, both splits
    python -m bench.match_eval --tune     # the weight grid, on dev draws only
    python -m bench.match_eval --tune --every-chunk   # ... scoring every chunk

Reports the loss of each signal alone next to the combination (lower is better; constant
predictor 0.5; published: TPMS 0.2811, SPECTER 0.2689, SPECTER+MFR 0.2384) and writes
results/matching-eval.json (or results/matching-tuning.json) with the command, the commit and
the configuration. Embeddings come from the shared on-disk cache (first run embeds).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.evaluation.reviewer import (
    DEV_DRAWS,
    TEST_DRAWS,
    ReviewerEvaluation,
    reviewer_loss,
)
from bench.paths import RESULTS, default_eval_dir, run_main
from bench.timing import git_commit
from matching.scoring import DEFAULT_CONFIG, ScoringConfig

DATASET = default_eval_dir() / "reviewer-expertise"
PUBLISHED = {"TPMS": 0.2811, "SPECTER": 0.2689, "SPECTER+MFR": 0.2384, "ELMo": 0.3447}


def tune(
    evaluation: ReviewerEvaluation,
    step: float,
    top_weights: tuple[float, ...] = DEFAULT_CONFIG.top_weights,
    config: ScoringConfig = DEFAULT_CONFIG,
) -> dict[str, object]:
    """Grid over the three signal weights on dev; coverage is linear in them, so each
    signal's coverage is computed once and mixed. Picks the best loss averaged with its grid
    neighbours (the loss is a noisy step function of the weights)."""
    names = [s.name for s in config.signals]
    base = replace(config, top_weights=top_weights)
    per_signal = {
        (k, name): evaluation.predictions(k, base.only(name)) for k in DEV_DRAWS for name in names
    }
    grid: dict[tuple[float, ...], float] = {}
    ticks = np.round(np.arange(0, 1 + 1e-9, step), 4)
    for a in ticks:
        for b in ticks:
            c = round(1 - a - b, 4)
            if c < -1e-9:
                continue
            weights = dict(zip(names, (a, b, c), strict=True))
            losses = []
            for k in DEV_DRAWS:
                base = per_signal[(k, names[0])]
                mixed = {
                    person: {
                        paper: sum(weights[n] * per_signal[(k, n)][person][paper] for n in names)
                        for paper in papers
                    }
                    for person, papers in base.items()
                }
                ratings = {p: {q: evaluation.ratings[p][q] for q in mixed[p]} for p in mixed}
                losses.append(reviewer_loss(mixed, ratings))
            grid[(float(a), float(b), float(c))] = float(np.mean(losses))
    smoothed = {}
    for (a, b, c), loss in grid.items():
        around = [
            grid.get((round(a + da, 4), round(b + db, 4), round(c - da - db, 4)))
            for da, db in ((step, 0), (-step, 0), (0, step), (0, -step))
        ]
        around = [x for x in around if x is not None]
        if len(around) == 4:
            smoothed[(a, b, c)] = (loss + sum(around)) / 5
    best = min(smoothed, key=smoothed.get)
    return {
        "signals": names,
        "top_weights": list(top_weights),
        "one_item_per_source": config.one_item_per_source,
        "best_weights": dict(zip(names, best, strict=True)),
        "best_dev_loss": round(grid[best], 4),
        "best_dev_loss_smoothed": round(smoothed[best], 4),
        "grid": [
            {"weights": list(k), "dev_loss": round(v, 4)}
            for k, v in sorted(grid.items(), key=lambda kv: kv[1])
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", nargs="?", type=Path, default=DATASET)
    parser.add_argument("--tune", action="store_true", help="weight grid on the dev draws")
    parser.add_argument("--step", type=float, default=0.05)
    parser.add_argument(
        "--top-weights",
        nargs="+",
        metavar="W,W,...",
        help="with --tune: also try these weights of the best, second, ... "
        "evidence items (e.g. 1,1,1 1,0.7,0.4)",
    )
    parser.add_argument(
        "--every-chunk",
        action="store_true",
        help="score every chunk of a paper as its own item (the configuration "
        "before one item per source), with the default weights",
    )
    parser.add_argument(
        "--dev-only", action="store_true", help="without --tune: evaluate the dev draws only"
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    config = (
        replace(DEFAULT_CONFIG, one_item_per_source=False) if args.every_chunk else (DEFAULT_CONFIG)
    )
    evaluation = ReviewerEvaluation(args.dataset)
    header = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "commit": git_commit(),
        "dataset": args.dataset.name,
    }
    if args.tune:
        profiles = [tuple(float(w) for w in t.split(",")) for t in args.top_weights or []]
        runs = [
            tune(evaluation, args.step, t, config)
            for t in dict.fromkeys([config.top_weights, *profiles])
        ]
        best = min(runs, key=lambda r: r["best_dev_loss_smoothed"])
        result = {**header, **best}
        if len(runs) > 1:
            result["top_weights_tried"] = [
                {
                    k: r[k]
                    for k in (
                        "top_weights",
                        "best_weights",
                        "best_dev_loss",
                        "best_dev_loss_smoothed",
                    )
                }
                for r in runs
            ]
        out = args.out or RESULTS / "matching-tuning.json"
        print(json.dumps({k: v for k, v in result.items() if k != "grid"}, indent=2))
    else:
        dev = evaluation.evaluate(DEV_DRAWS, config)
        test = None if args.dev_only else evaluation.evaluate(TEST_DRAWS, config)
        result = {
            **header,
            "config": config.to_dict(),
            "dev": {k: dev[k] for k in ("loss", "signals", "draws")},
            "published_mean_over_10_draws": PUBLISHED,
        }
        if test is not None:
            result["test"] = {k: test[k] for k in ("loss", "signals", "draws")}
        out = args.out or RESULTS / "matching-eval.json"
        print(f"{'':<22}{'dev d1-5':>10}" + ("" if test is None else f"{'test d6-10':>12}"))
        for name in dev["signals"]:
            print(
                f"{name + ' alone':<22}{dev['signals'][name]:>10.4f}"
                + ("" if test is None else f"{test['signals'][name]:>12.4f}")
            )
        print(
            f"{'combination':<22}{dev['loss']:>10.4f}"
            + ("" if test is None else f"{test['loss']:>12.4f}")
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    run_main(main)
