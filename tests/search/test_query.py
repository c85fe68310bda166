from __future__ import annotations

import pytest
from whoosh import query as wq

from kb.search.analysis import language_analyzer
from kb.search.query import MAX_QUERY_CHARS, PHRASE_BOOST, build_query, parse_query

FIELDS = {f"text_{lang}": language_analyzer(lang) for lang in ("en", "pl", "ru")}

NASTY = [
    'unbalanced "quote',
    'two "unbalanced "" quotes"',
    "title:secret AND NOT (foo OR bar)",
    "wild* ?ca?d ~fuzzy^2 [a TO z] {x}",
    "((((",
    "\\ / \" ' `",
    "prompt:",
    "NOT",
    "Zażółć gęślą jaźń „cytat bez końca",
    "«ёлки",
    "a" * 5000,
    "\x00\t\n",
]


@pytest.mark.parametrize("text", NASTY)
def test_odd_input_never_raises(text: str) -> None:
    parsed = parse_query(text)
    build_query(parsed, FIELDS)  # must not raise


@pytest.mark.parametrize("text", ["", "   ", "\n\t", None])
def test_empty_queries_get_a_message(text: str | None) -> None:
    parsed = parse_query(text)
    assert parsed.is_empty
    assert parsed.message == "Type a few words to search."


@pytest.mark.parametrize("text", ["???", "!!! ... ---", '"" «»'])
def test_punctuation_only_queries_get_a_message(text: str) -> None:
    parsed = parse_query(text)
    assert parsed.is_empty
    assert parsed.message and "no words" in parsed.message


def test_question_mark_changes_nothing() -> None:
    with_mark = build_query(parse_query("How do I write prompts?"), FIELDS)
    without = build_query(parse_query("How do I write prompts"), FIELDS)
    assert with_mark == without


def test_operators_are_plain_words() -> None:
    query = build_query(parse_query("prompts AND agents"), FIELDS)
    plain = build_query(parse_query("prompts and agents"), FIELDS)
    assert query == plain  # "AND" is lowercased like any word, not an operator


def test_quoted_phrases_in_three_quote_styles() -> None:
    parsed = parse_query('"state of the art" „sztuczna inteligencja” «машинное обучение» x')
    assert parsed.phrases == ("state of the art", "sztuczna inteligencja", "машинное обучение")
    assert '"' not in parsed.text and "„" not in parsed.text


def test_phrase_becomes_a_boosted_phrase_query() -> None:
    query = build_query(parse_query('"prompt engineering" tips'), FIELDS)
    phrases = [q for q in query.subqueries if isinstance(q, wq.Phrase)]
    assert any(p.fieldname == "text_en" and p.words == ["prompt", "engin"] for p in phrases)
    assert all(p.boost == PHRASE_BOOST for p in phrases)
    assert {q.text for q in query.subqueries if isinstance(q, wq.Term)} >= {"prompt", "tip"}


def test_only_stop_words_build_no_query_on_the_english_field() -> None:
    query = build_query(parse_query("the of and"), {"text_en": FIELDS["text_en"]})
    assert query is None


def test_long_query_is_truncated_with_a_message() -> None:
    parsed = parse_query("word " * 1000)
    assert parsed.truncated
    assert len(parsed.text) <= MAX_QUERY_CHARS
    assert parsed.message and "longer than" in parsed.message
    assert not parsed.is_empty
