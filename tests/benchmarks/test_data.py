from __future__ import annotations

import numpy as np

from bench.data import sample_queries, synthetic_records, synthetic_vectors, take


def test_synthetic_vectors_are_normalised_deterministic_and_near_their_bases(material):
    vectors = synthetic_vectors(material, 500, seed=3)
    assert vectors.shape == (500, material.dim)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(vectors, synthetic_vectors(material, 500, seed=3))
    # every synthetic vector lies close to some real base vector (a mixture, not noise)
    best = (vectors @ material.vectors.T).max(axis=1)
    assert best.min() > 0.5


def test_synthetic_records_mix_sentences_of_one_language_and_keep_notes_private(material):
    records = take(synthetic_records(material, 300, seed=1), 300)
    assert [r.chunk_id for r in records] == list(range(1, 301))
    by_language = {
        lang: set(
            s
            for i, code in enumerate(material.languages)
            if code == lang
            for s in material.sentences[i]
        )
        for lang in set(material.languages)
    }
    for record in records:
        assert record.text
        sentences = by_language[record.language]
        assert any(s in record.text for s in sentences)
        if record.doc_type == "note":
            assert record.pair_id is not None and not record.is_public
        else:
            assert record.pair_id is None and record.is_public
    notes = sum(r.doc_type == "note" for r in records)
    assert 5 <= notes <= 80  # about one in ten


def test_sample_queries_are_distinct_and_match_their_vectors(material):
    texts, vectors = sample_queries(material, 10)
    assert len(texts) == len(set(texts)) == 3  # capped at what exists
    for text, vector in zip(texts, vectors, strict=True):
        assert np.allclose(vector, material.query_vectors[material.queries.index(text)])
