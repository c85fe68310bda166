"""Language analyzers for BM25: English and Russian Snowball stemming, Polish Stempel stemming.

Whoosh pickles analyzers into the index schema, so the filters here keep only a language code
in their state and look their stemmer up at call time. The stemmer tables are immutable
reference data (like a stop-word list) shared by every index in the process, hence the
process-wide caches below; they are loaded lazily on first use.
"""

from __future__ import annotations

import gzip
import re
import threading
from collections.abc import Callable, Iterator
from functools import cache, lru_cache
from importlib import resources

from whoosh.analysis import Analyzer, Filter, LowercaseFilter, RegexTokenizer, StopFilter, Token
from whoosh.lang.stopwords import stoplists

LANGUAGES = ("en", "pl", "ru")

# Frequent Polish function and question words (no numerals, no content words).
POLISH_STOPWORDS = frozenset(
    """
    a aby ach acz aczkolwiek aj albo ale ależ ani aż bardziej bardzo bez bo bowiem by byli bym
    być był była było były będzie będą ci cię ciebie co cokolwiek coś czy czyli dla dlaczego
    dlatego do dokąd dość gdy gdyby gdyż gdzie go i ich ile im ja ją jak jakaś jakby jaki jakiś
    jakie jako jakoś je jego jej jemu jest jestem jeszcze jeśli jeżeli już każdy kiedy kto ktoś
    która które którego której który których którym którzy ku lecz lub ma mają mam mi mimo mną
    mnie może można mu my na nad nam nas nasz nasza nasze natomiast nawet nic nich nie niego
    niej niemu nigdy nim nimi niż no o obok od około on ona one oni ono oraz po pod podczas
    pomimo ponad ponieważ przed przede przez przy sam sama się skąd sobie swoje są ta tak taki
    takie także tam te tego tej ten teraz też to tobą tobie tu tutaj twoi twój ty tych tylko
    tym u w we według więc wszyscy wszystkich wszystkie wszystko właśnie z za zaś ze że żeby
    czym czego komu kim kogo jacy jaka jakiej jakim jakich jakiego jaką ilu czyj czyja czyje
    """.split()
)

STOPWORDS: dict[str, frozenset[str]] = {
    "en": frozenset(stoplists["en"]),
    "ru": frozenset(stoplists["ru"]),
    "pl": POLISH_STOPWORDS,
}

# Polish function words that are not English words too ("a", "i", "to", "no", "on", ...).
_POLISH_ONLY = POLISH_STOPWORDS - STOPWORDS["en"] - {"a", "i", "to", "no", "on", "go", "we"}

# Words shorter than this are not stemmed (Stempel invents stems for them: "w" -> "wyspa").
MIN_STEM_LENGTH = 3

# Words (letters, digits, underscore) with inner dots kept: "e.g", "3.5", "node.js". Explicit,
# because whoosh-reloaded's default pattern also keeps "*" (its wildcard syntax) in tokens.
TOKEN_PATTERN = r"\w+(?:\.\w+)*"

_SCRIPT_CYRILLIC = re.compile(r"[\u0400-\u04FF]")
_POLISH_LETTERS = re.compile(r"[ąćęłńóśźżĄĆĘŁŃÓŚŹŻ]")


def guess_language(text: str) -> str:
    """Script and stop-word heuristic: Cyrillic -> ru; Polish letters or more Polish than
    English function words -> pl; otherwise en. Good enough for short queries."""
    letters = len(re.findall(r"[^\W\d_]", text))
    cyrillic = len(_SCRIPT_CYRILLIC.findall(text))
    if cyrillic and cyrillic * 4 >= letters:
        return "ru"
    if _POLISH_LETTERS.search(text):
        return "pl"
    words = re.findall(r"\w+", text.lower())
    polish = sum(w in _POLISH_ONLY for w in words)
    english = sum(w in STOPWORDS["en"] for w in words)
    return "pl" if polish > english else "en"


@cache
def _stempel_table():  # noqa: ANN202 - pystempel has no type hints
    """The Polimorf Stempel table (about 5 s to load, so once per process)."""
    from pystempel import Stemmer
    from pystempel.streams import DataInputStream

    table = resources.files("pystempel.data.polimorf") / "stemmer_polimorf.tbl.gz"
    with resources.as_file(table) as path, gzip.open(path, "rb") as handle:
        # Without a byte total pystempel skips its tqdm progress bar.
        return Stemmer.from_stream(DataInputStream(handle))


_snowball = threading.local()


def _snowball_stemmer(algorithm: str):  # noqa: ANN202 - PyStemmer has no type hints
    """PyStemmer objects are not thread-safe: one per thread and algorithm."""
    stemmers = _snowball.__dict__.setdefault("stemmers", {})
    if algorithm not in stemmers:
        import Stemmer

        stemmers[algorithm] = Stemmer.Stemmer(algorithm)
    return stemmers[algorithm]


@lru_cache(maxsize=200_000)
def stem_pl(word: str) -> str:
    """Polish stem (Stempel, Polimorf table); short or non-alphabetic words stay as they are."""
    if len(word) < MIN_STEM_LENGTH or not word.isalpha():
        return word
    return _stempel_table()(word) or word


@lru_cache(maxsize=200_000)
def stem_ru(word: str) -> str:
    """Russian Snowball stem."""
    if len(word) < MIN_STEM_LENGTH:
        return word
    return _snowball_stemmer("russian").stemWord(word)


@lru_cache(maxsize=200_000)
def stem_en(word: str) -> str:
    """English Snowball (Porter2) stem."""
    if len(word) < MIN_STEM_LENGTH:
        return word
    return _snowball_stemmer("english").stemWord(word)


STEMMERS: dict[str, Callable[[str], str]] = {"en": stem_en, "pl": stem_pl, "ru": stem_ru}


class LanguageStemFilter(Filter):
    """Stems token texts with the stemmer of one language (pickles as the language code only)."""

    is_morph = True

    def __init__(self, language: str) -> None:
        self.language = language

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LanguageStemFilter) and other.language == self.language

    def __hash__(self) -> int:
        return hash(("stem", self.language))

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        stem = STEMMERS[self.language]
        for token in tokens:
            if not token.stopped:
                token.text = stem(token.text)
            yield token


@cache
def language_analyzer(language: str) -> Analyzer:
    """Words -> lowercase -> stop words removed (positions renumbered) -> stems."""
    if language not in STEMMERS:
        raise ValueError(f"no analyzer for language {language!r}")
    return (
        RegexTokenizer(TOKEN_PATTERN)
        | LowercaseFilter()
        | StopFilter(stoplist=STOPWORDS[language], minsize=1)
        | LanguageStemFilter(language)
    )


def surface_analyzer() -> Analyzer:
    """Lowercased words, unstemmed: the vocabulary behind "did you mean"."""
    return RegexTokenizer(TOKEN_PATTERN) | LowercaseFilter()


def analyse(text: str, language: str) -> list[str]:
    """Index terms of ``text`` under ``language`` (what the index stores for it)."""
    return [t.text for t in language_analyzer(language)(text)]


def warm_up() -> None:
    """Load every language's stemmer now (the Polish table takes seconds): before a fork,
    so children share it, or before the first search of a process."""
    for language in LANGUAGES:
        analyse("przykładowe wyszukiwanie пример поиска searching examples", language)


_TOKEN = re.compile(TOKEN_PATTERN)


def index_terms(text: str, language: str) -> list[str]:
    """What :func:`analyse` returns, without Whoosh's token objects (about 2x faster).

    For bulk indexing of the sparse BM25 index; tests check both agree.
    """
    stop = STOPWORDS[language]
    stem = STEMMERS[language]
    words = (w.lower() for w in _TOKEN.findall(text))
    return [stem(w) for w in words if w not in stop]


@lru_cache(maxsize=1 << 18)
def stem_word(word: str, language: str) -> str:
    """The stem of a single lowercased word (for highlighting words that share a stem).

    Cached: snippets stem every word of every hit, and a library repeats its vocabulary.
    """
    return STEMMERS[language](word.lower())
