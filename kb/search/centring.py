"""Language centring of vector scores: a passage scores by how much closer it is to the query
than the average passage of its own language.

A multilingual embedding model prefers any passage in the query's language to the right one
in another language (its vectors of one language share a mean direction). Subtracting each
language's mean passage vector removes that preference (Libovický et al. 2020, "On the
Language Neutrality of Pre-trained Multilingual Representations"); scoring
``q . d - q . mean[lang(d)]`` does it without touching the stored vectors, so the means can
move with the library while the index stays as it is. Within one language the shift is a
constant, so a one-language library ranks exactly as before.

To let FAISS search the shifted score directly (no pass over the library per query), every
passage vector carries its language as a small one-hot tail (``TAIL_SCALE`` wide, so that
passages of one language are barely closer to each other in the HNSW graph), and the query
carries ``-q . mean[lang] / TAIL_SCALE`` in each language's slot.

The means are derived data: sums and counts per language over the library's public vectors,
kept with the vector index, rebuilt with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from kb.search.analysis import LANGUAGES

TAIL_SCALE = 0.1
TAIL_DIM = len(LANGUAGES)  # dimensions the tail adds to a passage vector
# A language with fewer passages than this is centred by the whole library's mean: its own
# mean would be little more than those passages themselves (one passage would always score 0).
# Chosen on dev (results/RETRIEVAL.md): shrinking every language's mean towards the library's
# instead lost up to 0.05 of vector nDCG@10 on the small xlang-pl library.
MIN_PASSAGES = 5


class LanguageMeans:
    """Running per-language sums of passage vectors (one model's)."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.sums = np.zeros((len(LANGUAGES), dim), dtype=np.float64)
        self.counts = np.zeros(len(LANGUAGES), dtype=np.int64)

    def add(self, vectors: np.ndarray, languages: Sequence[str]) -> None:
        """Count ``vectors`` (plain, without the tail) in their languages."""
        self._update(vectors, languages, 1)

    def remove(self, vectors: np.ndarray, languages: Sequence[str]) -> None:
        self._update(vectors, languages, -1)

    def _update(self, vectors: np.ndarray, languages: Sequence[str], sign: int) -> None:
        if not len(languages):
            return
        vectors = np.asarray(vectors, dtype=np.float64).reshape(len(languages), -1)[:, : self.dim]
        codes = np.array([LANGUAGES.index(lang) for lang in languages])
        np.add.at(self.sums, codes, sign * vectors)
        np.add.at(self.counts, codes, sign)
        self.sums[self.counts <= 0] = 0.0
        self.counts = np.maximum(self.counts, 0)

    def means(self, min_passages: int = MIN_PASSAGES) -> dict[str, np.ndarray]:
        """Mean vector of each language that has passages; a language with fewer than
        ``min_passages`` gets the whole library's mean."""
        total = int(self.counts.sum())
        if total == 0:
            return {}
        overall = (self.sums.sum(axis=0) / total).astype(np.float32)
        return {
            lang: (self.sums[i] / self.counts[i]).astype(np.float32)
            if self.counts[i] >= min_passages
            else overall
            for i, lang in enumerate(LANGUAGES)
            if self.counts[i] > 0
        }


def language_tail(languages: Sequence[str]) -> np.ndarray:
    """The one-hot language tail of passages, ``TAIL_SCALE`` wide."""
    tail = np.zeros((len(languages), len(LANGUAGES)), dtype=np.float32)
    for row, lang in enumerate(languages):
        tail[row, LANGUAGES.index(lang)] = TAIL_SCALE
    return tail


def with_tail(vectors: np.ndarray, languages: Sequence[str]) -> np.ndarray:
    """Passage vectors with their language tail appended (what the index stores)."""
    vectors = np.asarray(vectors, dtype=np.float32).reshape(len(languages), -1)
    return np.hstack([vectors, language_tail(languages)])


def shifts(query: np.ndarray, means: Mapping[str, np.ndarray]) -> dict[str, float]:
    """``q . mean[lang]`` per language: what each language's average passage scores."""
    query = np.asarray(query, dtype=np.float32).reshape(-1)
    return {lang: float(query @ mean) for lang, mean in means.items()}


def query_with_tail(query: np.ndarray, means: Mapping[str, np.ndarray]) -> np.ndarray:
    """The query against tailed passages: their inner product is ``q . d - q . mean[lang]``
    (a language without passages has no mean and no shift)."""
    query = np.asarray(query, dtype=np.float32).reshape(-1)
    shift = shifts(query, means)
    tail = np.array([-shift.get(lang, 0.0) / TAIL_SCALE for lang in LANGUAGES], np.float32)
    return np.concatenate([query, tail])
