"""Snippets: the fast matcher and window agree with the plain definitions."""

import random

from kb.search import snippets
from kb.search.analysis import LANGUAGES, stem_word
from kb.search.snippets import _WORD, _window, matching_spans, query_keys, snippet_html

WORDS = {
    "pl": "formuła formuły formułę arkusz arkusze raport raporty tygodniowy Copilot i w na".split(),
    "en": "prompt prompts Prompting report reports weekly Copilot the a of and GPT-4o".split()
    + ["Copilot_365", "e-mail", "re:report", "prompt2", "ПРОМПТ"],
    "ru": "отчет отчеты отчета неделя Copilot и в на промпт промпты".split(),
}


def plain_spans(text, keys, language):
    """The definition: a word matches if it is a key or its stem is a key's stem."""
    out = []
    for m in _WORD.finditer(text):
        word = m.group().lower()
        stem_hit = language in LANGUAGES and "~" + stem_word(word, language) in keys
        if keys and (word in keys or stem_hit):
            out.append(m.span())
    return out


def plain_window(text, spans, size):
    """The window as first written: count the matches after every start (quadratic)."""
    if len(text) <= size or not spans:
        return 0, min(len(text), size)
    best_start, best_count = spans[0][0], 0
    for start, _ in spans:
        count = sum(1 for s, e in spans if s >= start and e <= start + size)
        if count > best_count:
            best_start, best_count = start, count
    start = max(0, best_start - size // 5)
    space = text.rfind(" ", 0, start)
    start = space + 1 if start > 0 and space >= 0 else start
    end = min(len(text), start + size)
    return (max(0, end - size), end) if end == len(text) else (start, end)


def test_matching_spans_equal_the_definition_on_random_texts():
    rng = random.Random(7)
    for language, vocabulary in WORDS.items():
        for _ in range(40):
            text = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(0, 120)))
            keys = query_keys(rng.sample(vocabulary, 2), language)
            assert matching_spans(text, keys, language) == plain_spans(text, keys, language)


def test_matching_spans_respect_word_boundaries_next_to_punctuation():
    """A key found inside a longer word (``report`` in ``reports``, ``re:report``,
    ``Copilot_365``) is not a match; one between punctuation is."""
    rng = random.Random(11)
    separators = [" ", ", ", "-", "_", ".", "", "\n", "«", "»", "2"]
    for language, vocabulary in WORDS.items():
        for _ in range(60):
            parts = []
            for _ in range(rng.randint(0, 60)):
                parts += [rng.choice(vocabulary), rng.choice(separators)]
            text = "".join(parts)
            keys = query_keys(rng.sample(vocabulary, 3), language)
            assert matching_spans(text, keys, language) == plain_spans(text, keys, language)
    assert matching_spans("reports_report report, re:report", {"report"}, "xx") == [
        (15, 21),
        (26, 32),
    ]


def test_vocabulary_answers_the_same_after_it_starts_afresh(monkeypatch):
    """Past its size limit the remembered vocabulary is dropped and rebuilt: the words it
    reports still follow the definition."""
    monkeypatch.setattr(snippets, "VOCABULARY_MAX", 6)
    vocabulary = snippets._Vocabulary("pl")
    rng = random.Random(5)
    resets, size = 0, 0
    for _ in range(50):
        words = set(rng.sample(WORDS["pl"], rng.randint(1, 8)))
        keys = query_keys(rng.sample(WORDS["pl"], 2), "pl")
        expected = {w for w in words if plain_spans(w, keys, "pl")}
        assert vocabulary.matching(words, keys) == expected
        assert words <= vocabulary.known
        assert len(vocabulary.known) <= 8  # over the limit only by one passage's own words
        resets += len(vocabulary.known) < size
        size = len(vocabulary.known)
    assert resets > 0


def test_window_is_the_one_with_most_matches():
    rng = random.Random(3)
    for _ in range(200):
        spans, position = [], 0
        for _ in range(rng.randint(1, 40)):
            position += rng.randint(1, 60)
            length = rng.randint(1, 300 if rng.random() < 0.05 else 12)
            spans.append((position, position + length))
            position += length
        size = rng.choice([20, 100, 260])
        text = "".join(rng.choice("ab ") for _ in range(position + 10))
        assert _window(text, spans, size) == plain_window(text, spans, size)


def test_snippet_marks_inflected_words_and_escapes():
    text = "Formuły w arkuszu <b>raportu</b>: jedna formuła na tydzień. " * 3
    html = snippet_html(text, ["formuła"], "pl")
    assert "<mark>Formuły</mark>" in html and "<mark>formuła</mark>" in html
    assert "&lt;b&gt;" in html and "<b>" not in html
