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


def matching_spans(text: str, keys: set[str], language: str) -> list[tuple[int, int]]:
    r"""(start, end) of every word of ``text`` equal to a key or sharing a key's stem.

    Each distinct word is judged once; the matching ones are then found by one regular
    expression (a whole ``\w+`` word between word boundaries is exactly such a token).
    """
    if not keys:
        return []
    stems = language in LANGUAGES
    hits = [
        word
        for word in set(_WORD.findall(text))
        if (lower := word.lower()) in keys
        or (stems and "~" + stem_word(lower, language) in keys)
    ]
    if not hits:
        return []
    hits.sort(key=len, reverse=True)  # longest first: no word stops at a shorter one's end
    pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, hits)) + r")\b")
    return [m.span() for m in pattern.finditer(text)]


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
