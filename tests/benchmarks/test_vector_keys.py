"""One definition of which cached vectors a configuration uses: the evaluation, the warm-up and
the benchmarks all look vectors up through ``CachedEmbedder`` (model, runtime and side), so
the bench finds what the others stored, and vectors under an older key are embedded again,
never silently missing (issue 19: the bench looked under the bare model name)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

import bench.evaluation.retrieval as retrieval
from bench.data import eval_texts, load_material
from bench.warm_cache import warm_cache
from kb.embedding import EmbeddingCache, FakeEmbedder, text_hash

SETS = ("xquad-en", "xquad-ru", "poquad-pl")


class RuntimeKeyedEmbedder(FakeEmbedder):
    """A fake with per-side cache keys like the e5 runtimes' (``name/onnx``, ``name/onnx-int8``)
    that counts the texts it embeds."""

    def __init__(self) -> None:
        super().__init__(dim=32, name="fake-e5")
        self.embedded = {"q": 0, "p": 0}

    def vector_key(self, side: str) -> str:
        return f"{self.name}/{'onnx' if side == 'q' else 'onnx-int8'}"

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded["q"] += len(texts)
        return super().embed_queries(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded["p"] += len(texts)
        return super().embed_passages(texts)


def all_texts(eval_dir: Path) -> tuple[list[str], list[str]]:
    passages: list[str] = []
    queries: list[str] = []
    for name in SETS:
        p, q = eval_texts(eval_dir / name)
        passages += p
        queries += q
    return passages, queries


def test_the_bench_finds_what_the_warm_up_stored(tiny_eval_dir: Path, tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    warmer = RuntimeKeyedEmbedder()
    warm_cache(tiny_eval_dir, ["fake-e5"], SETS, cache=cache, log=lambda _: None,
               make=lambda _: warmer)  # fmt: skip
    passages, queries = all_texts(tiny_eval_dir)
    assert warmer.embedded == {"q": len(queries), "p": len(passages)}
    bench = RuntimeKeyedEmbedder()
    material = load_material(tiny_eval_dir, cache=cache, embedder=bench, min_passages=10,
                             progress=False)  # fmt: skip
    assert bench.embedded == {"q": 0, "p": 0}  # everything found, nothing embedded again
    assert material.vector_keys == {"q": "fake-e5/onnx", "p": "fake-e5/onnx-int8"}
    assert len(material.queries) == 12 and material.model == "fake-e5"


def test_the_bench_finds_what_the_evaluation_stored(
        tiny_eval_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    evaluator = RuntimeKeyedEmbedder()
    monkeypatch.setattr(retrieval, "create_embedder", lambda spec, *a: evaluator)
    for name in SETS:
        for split in ("dev", "test"):
            retrieval.collect(tiny_eval_dir / name, split, retrieval.SearchConfig(models=("e5",)),
                              cache_path=tmp_path / "cache.sqlite")  # fmt: skip
    assert evaluator.embedded["p"] > 0
    bench = RuntimeKeyedEmbedder()
    load_material(tiny_eval_dir, cache=EmbeddingCache(tmp_path / "cache.sqlite"),
                  embedder=bench, min_passages=10, progress=False)  # fmt: skip
    assert bench.embedded == {"q": 0, "p": 0}


def test_vectors_under_an_older_key_are_embedded_again_not_missed(
        tiny_eval_dir: Path, tmp_path: Path) -> None:  # fmt: skip
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    passages, queries = all_texts(tiny_eval_dir)
    stale = np.ones(32, np.float32)
    # What an older version stored: the bare model name, before runtimes were part of the key.
    cache.put("fake-e5", "p", {text_hash(t): stale for t in passages})
    cache.put("fake-e5", "q", {text_hash(t): stale for t in queries})
    bench = RuntimeKeyedEmbedder()
    material = load_material(tiny_eval_dir, cache=cache, embedder=bench, min_passages=10,
                             progress=False)  # fmt: skip
    assert bench.embedded == {"q": len(queries), "p": len(passages)}
    # every passage is in the material, with the current embedder's vector, not the stale one
    assert len(material.titles) >= len(passages)
    unit = stale / np.linalg.norm(stale)
    assert not np.isclose(material.vectors @ unit, 1.0).any()
    assert not np.isclose(material.query_vectors @ unit, 1.0).any()
    stored = cache.get("fake-e5/onnx-int8", "p", [text_hash(t) for t in passages])
    assert len(stored) == len(set(passages))  # and they are cached under the current key


def test_too_few_passages_names_the_evaluation_folder(tmp_path: Path) -> None:
    from kb.errors import ConfigError

    with pytest.raises(ConfigError, match="evaluation sets under"):
        load_material(tmp_path, cache=EmbeddingCache(tmp_path / "c.sqlite"),
                      embedder=RuntimeKeyedEmbedder(), progress=False)  # fmt: skip
