"""Chunking: every passage within the ceiling, nothing of the text lost."""

from __future__ import annotations

from kb.chunking import MAX_CHARS, chunk_text


def test_a_run_without_spaces_is_still_cut():
    """Issue 18, finding 7: a 190 KB run without spaces used to be one 190,000-char chunk."""
    run = "x" * 190_000
    passages = chunk_text(run)
    assert max(len(p.text) for p in passages) <= MAX_CHARS
    assert "".join(p.text for p in passages) == run


def test_long_words_among_sentences_keep_every_character():
    text = "Short sentence. " * 50 + "y" * 5000 + " and the end. " + "z" * 1700
    passages = chunk_text(text)
    assert all(len(p.text) <= MAX_CHARS for p in passages)
    joined = " ".join(p.text for p in passages)
    assert joined.count("y") >= 5000 and joined.count("z") >= 1700
    assert [p.position for p in passages] == list(range(len(passages)))
