"""Language centring: running means against numpy, and the tailed inner product against the
shifted score it stands for."""

from __future__ import annotations

import numpy as np
import pytest

from kb.search.centring import (
    MIN_PASSAGES,
    LanguageMeans,
    query_with_tail,
    shifts,
    with_tail,
)


def unit(rng: np.random.Generator, n: int, dim: int = 8) -> np.ndarray:
    x = rng.normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_means_per_language_and_the_library_mean_for_a_small_language() -> None:
    rng = np.random.default_rng(1)
    vectors = unit(rng, 30)
    languages = ["en"] * 12 + ["pl"] * 15 + ["ru"] * 3
    means = LanguageMeans(8)
    means.add(vectors, languages)
    extra = unit(rng, 5)
    means.add(extra, ["ru"] * 5)
    means.remove(extra, ["ru"] * 5)  # a replaced document leaves no trace
    got = means.means()
    np.testing.assert_allclose(got["en"], vectors[:12].mean(axis=0), atol=1e-6)
    np.testing.assert_allclose(got["pl"], vectors[12:27].mean(axis=0), atol=1e-6)
    assert MIN_PASSAGES > 3  # three Russian passages: too few for a mean of their own
    np.testing.assert_allclose(got["ru"], vectors.mean(axis=0), atol=1e-6)
    np.testing.assert_allclose(means.means(min_passages=3)["ru"], vectors[27:].mean(axis=0),
                               atol=1e-6)  # fmt: skip


def test_a_language_without_passages_has_no_mean_and_no_shift() -> None:
    rng = np.random.default_rng(2)
    means = LanguageMeans(8)
    assert means.means() == {}
    means.add(unit(rng, 4), ["en"] * 4)
    assert set(means.means()) == {"en"}
    tailed = query_with_tail(unit(rng, 1)[0], means.means())
    assert tailed[8 + 1] == 0.0 and tailed[8 + 2] == 0.0  # pl, ru slots


def test_tailed_inner_product_is_the_language_shifted_score() -> None:
    rng = np.random.default_rng(3)
    vectors = unit(rng, 20)
    languages = [("en", "pl", "ru")[i % 3] for i in range(20)]
    means = LanguageMeans(8)
    means.add(vectors, languages)
    mean = means.means()
    query = unit(rng, 1)[0]
    got = with_tail(vectors, languages) @ query_with_tail(query, mean)
    shift = shifts(query, mean)
    expected = vectors @ query - np.array([shift[lang] for lang in languages])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # Within one language the shift is a constant: the order there is the plain cosine's.
    en = [i for i, lang in enumerate(languages) if lang == "en"]
    assert list(np.argsort(-got[en])) == list(np.argsort(-(vectors[en] @ query)))


def test_unknown_language_is_an_error() -> None:
    with pytest.raises(ValueError):
        with_tail(np.zeros((1, 8), np.float32), ["de"])
