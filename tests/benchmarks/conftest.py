from __future__ import annotations

import numpy as np
import pytest

from bench.data import BaseMaterial
from kb.embeddings import FakeEmbedder

SENTENCES = {
    "en": ["Mentors explain new tools.", "Seniors share the history of the firm.",
           "Pairs meet every two weeks.", "Notes stay private to the pair."],
    "pl": ["Mentorzy pokazują nowe narzędzia.", "Spotkania odbywają się co tydzień.",
           "Notatki są prywatne."],
    "ru": ["Наставники объясняют новые инструменты.", "Пары встречаются раз в неделю."],
}


@pytest.fixture
def material() -> BaseMaterial:
    """A tiny base library: fake-embedded real sentences (no model, no cache)."""
    embedder = FakeEmbedder(dim=32)
    titles, sentences, languages, corpus = [], [], [], []
    for number, (language, pool) in enumerate(SENTENCES.items()):
        for i in range(len(pool)):
            titles.append(f"{language} passage {i}")
            sentences.append(pool[i:] + pool[:i])
            languages.append(language)
            corpus.append(number)
    texts = [" ".join(s) for s in sentences]
    queries = ["new tools", "prywatne notatki", "встречаются"]
    return BaseMaterial(
        model="fake",
        titles=titles,
        sentences=sentences,
        languages=languages,
        corpus=np.asarray(corpus),
        vectors=embedder.embed_passages(texts),
        queries=queries,
        query_languages=["en", "pl", "ru"],
        query_vectors=embedder.embed_queries(queries),
    )
