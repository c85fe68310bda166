from __future__ import annotations

import pickle

import pytest

from kb.search.analysis import (
    analyse,
    guess_language,
    language_analyzer,
    stem_en,
    stem_pl,
    stem_ru,
    stem_word,
)


def test_polish_inflections_share_a_stem() -> None:
    assert stem_pl("książki") == stem_pl("książka") == stem_pl("książkami")
    assert stem_pl("zespołu") == stem_pl("zespół")


def test_polish_short_words_and_numbers_are_left_alone() -> None:
    assert stem_pl("w") == "w"
    assert stem_pl("ai") == "ai"
    assert stem_pl("2024") == "2024"


def test_russian_and_english_stemming() -> None:
    assert stem_ru("книги") == stem_ru("книга")
    assert stem_en("rendering") == stem_en("renders") == "render"


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        ("en", "The dogs are running", ["dog", "run"]),
        ("pl", "Pracownicy i pracownikami w zespole", ["pracownik", "pracownik", "zespół"]),
        ("ru", "Книги о программировании", ["книг", "программирован"]),
    ],
)
def test_analyzers_lowercase_drop_stop_words_and_stem(
    language: str, text: str, expected: list[str]
) -> None:
    assert analyse(text, language) == expected


def test_tokens_are_words_only() -> None:
    # whoosh-reloaded's default tokenizer keeps "*"; ours must not.
    assert analyse("AND ( : * ? foo*bar", "en") == ["foo", "bar"]


def test_analyzer_survives_pickling_like_a_whoosh_schema() -> None:
    analyzer = language_analyzer("pl")
    clone = pickle.loads(pickle.dumps(analyzer))
    assert [t.text for t in clone("najlepszymi pracownikami")] == analyse(
        "najlepszymi pracownikami", "pl"
    )


def test_stem_word_lowercases() -> None:
    assert stem_word("Książki", "pl") == stem_pl("książki")


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Как настроить ChatGPT?", "ru"),
        ("Jak używać sztucznej inteligencji", "pl"),
        ("Czym sa pisma rabiniczne", "pl"),
        ("How do I write a prompt?", "en"),
        ("ChatGPT prompt", "en"),
    ],
)
def test_guess_language(text: str, language: str) -> None:
    assert guess_language(text) == language
