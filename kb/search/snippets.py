"""Result snippets: the best window of a passage, HTML-escaped, query words in ``<mark>``.

A word is highlighted when it equals a query word or shares its stem in the passage's
language ("książki" for the query "książka"). Pure functions.
"""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Iterable, Set
from functools import lru_cache

from kb.search.analysis import LANGUAGES, STOPWORDS, stem_word

_WORD = re.compile(r"\w+", re.UNICODE)
SNIPPET_CHARS = 260


def query_keys(words: Iterable[str], language: str) -> frozenset[str]:
    """Lowercased query words and their stems in ``language`` (stop words left out).
    Cached: every hit of a page asks for the same query's keys."""
    return _query_keys(tuple(words), language)


@lru_cache(maxsize=1024)
def _query_keys(words: tuple[str, ...], language: str) -> frozenset[str]:
    keys: set[str] = set()
    stop = STOPWORDS.get(language, frozenset())
    for word in words:
        word = word.lower()
        if word in stop:
            continue
        keys.add(word)
        if language in LANGUAGES:
            keys.add("~" + stem_word(word, language))
    return frozenset(keys)


VOCABULARY_MAX = 1 << 18  # distinct words remembered per language before starting afresh


class _Vocabulary:
    """Words seen in passages of one language, by the keys they answer to (their lowercase
    form and ``~stem``), so a passage's matching words come from set operations: each
    distinct word is analysed once per process, not once per snippet."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.stems = language in LANGUAGES
        self.known: set[str] = set()
        self.by_key: dict[str, set[str]] = {}
        self.lock = threading.Lock()

    def matching(self, words: set[str], keys: Set[str]) -> set[str]:
        """The ``words`` whose lowercase form or ``~stem`` is one of ``keys``."""
        with self.lock:
            new = words - self.known
            if new and len(self.known) + len(new) > VOCABULARY_MAX:
                self.known.clear()
                self.by_key.clear()
                new = set(words)
            for word in new:
                lower = word.lower()
                self.by_key.setdefault(lower, set()).add(word)
                if self.stems:
                    self.by_key.setdefault("~" + stem_word(lower, self.language), set()).add(word)
            self.known |= new
            hits: set[str] = set()
            for key in keys:
                forms = self.by_key.get(key)
                if forms:
                    hits |= forms & words
        return hits


_VOCABULARIES: dict[str, _Vocabulary] = {}


def matching_spans(text: str, keys: Set[str], language: str) -> list[tuple[int, int]]:
    r"""(start, end) of every word of ``text`` equal to a key or sharing a key's stem.

    The matching distinct words come from the language's vocabulary (set operations); their
    occurrences are then found by ``str.find`` and kept when they are whole ``\w+`` words
    (``\w`` is ``str.isalnum()`` or ``_``), with no regular expression to compile.
    """
    if not keys:
        return []
    vocabulary = _VOCABULARIES.get(language)
    if vocabulary is None:
        vocabulary = _VOCABULARIES.setdefault(language, _Vocabulary(language))
    spans = []
    for word in vocabulary.matching(set(_WORD.findall(text)), keys):
        start = text.find(word)
        while start >= 0:
            end = start + len(word)
            if not (start and _word_char(text[start - 1])) and not (
                end < len(text) and _word_char(text[end])
            ):
                spans.append((start, end))
            start = text.find(word, start + 1)
    spans.sort()
    return spans


def _word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def _window(text: str, spans: list[tuple[int, int]], size: int) -> tuple[int, int]:
    """The ``size``-character window holding the most matches (first one wins ties)."""
    if len(text) <= size or not spans:
        return 0, min(len(text), size)
    best_start, best_count = spans[0][0], 0
    last = 0  # spans are in text order: those inside [start, start + size] are a run
    for first, (start, _) in enumerate(spans):
        last = max(last, first)
        while last < len(spans) and spans[last][1] <= start + size:
            last += 1
        if last - first > best_count:
            best_start, best_count = start, last - first
    # Open a little before the first match so it reads as a sentence.
    start = max(0, best_start - size // 5)
    space = text.rfind(" ", 0, start)
    start = space + 1 if start > 0 and space >= 0 else start
    end = min(len(text), start + size)
    return (max(0, end - size), end) if end == len(text) else (start, end)


def snippet_html(text: str, words: Iterable[str], language: str, size: int = SNIPPET_CHARS) -> str:
    """Escaped snippet of ``text`` with matching words wrapped in ``<mark>``."""
    text = " ".join(text.split())
    keys = query_keys(words, language)
    spans = matching_spans(text, keys, language)
    start, end = _window(text, spans, size)
    if end < len(text):
        cut = text.rfind(" ", start, end)
        end = cut if cut > start + size // 2 else end
    parts = ["…"] if start > 0 else []
    position = start
    for s, e in spans:
        if s < start or e > end:
            continue
        parts.append(html.escape(text[position:s]))
        parts.append(f"<mark>{html.escape(text[s:e])}</mark>")
        position = e
    parts.append(html.escape(text[position:end]))
    if end < len(text):
        parts.append("…")
    return "".join(parts)
