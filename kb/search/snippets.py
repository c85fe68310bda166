"""Result snippets: the best window of a passage, HTML-escaped, query words in ``<mark>``.

A word is highlighted when it equals a query word or shares its stem in the passage's
language ("książki" for the query "książka"). Pure functions.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from kb.search.analysis import LANGUAGES, STOPWORDS, stem_word

_WORD = re.compile(r"\w+", re.UNICODE)
SNIPPET_CHARS = 260


def query_keys(words: Iterable[str], language: str) -> set[str]:
    """Lowercased query words and their stems in ``language`` (stop words left out)."""
    keys: set[str] = set()
    stop = STOPWORDS.get(language, frozenset())
    for word in words:
        word = word.lower()
        if word in stop:
            continue
        keys.add(word)
        if language in LANGUAGES:
            keys.add("~" + stem_word(word, language))
    return keys


def _is_match(word: str, keys: set[str], language: str) -> bool:
    word = word.lower()
    if word in keys:
        return True
    return language in LANGUAGES and "~" + stem_word(word, language) in keys


def _window(text: str, spans: list[tuple[int, int]], size: int) -> tuple[int, int]:
    """The ``size``-character window holding the most matches (first one wins ties)."""
    if len(text) <= size or not spans:
        return 0, min(len(text), size)
    best_start, best_count = spans[0][0], 0
    for start, _ in spans:
        count = sum(1 for s, e in spans if s >= start and e <= start + size)
        if count > best_count:
            best_start, best_count = start, count
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
    spans = [
        m.span() for m in _WORD.finditer(text) if keys and _is_match(m.group(), keys, language)
    ]
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
