"""User text -> a Whoosh query built programmatically (the query parser never sees user text).

Every character is just a character: ``?``, ``*``, ``AND``/``OR``/``NOT``, colons, brackets and
unbalanced quotes carry no syntax. The one documented feature is a "double-quoted phrase"
(also „Polish” and «Russian» quotes): documents must contain the phrase.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from whoosh import query as wq
from whoosh.analysis import Analyzer

MAX_QUERY_CHARS = 1000

_PHRASE = re.compile(r'"([^"]*)"|„([^”"]*)[”"]|«([^»]*)»|“([^”]*)”')
_QUOTES = re.compile(r'["„”“«»]')
_WORD = re.compile(r"\w", re.UNICODE)


@dataclass(frozen=True)
class ParsedQuery:
    """What the user asked: the cleaned text, the quoted phrases, and any note for the user."""

    text: str
    phrases: tuple[str, ...] = ()
    message: str | None = None
    truncated: bool = False
    words: tuple[str, ...] = field(default=())

    @property
    def is_empty(self) -> bool:
        """Nothing searchable: empty, whitespace or punctuation only."""
        return not _WORD.search(self.text)


def parse_query(raw: str | None, max_chars: int = MAX_QUERY_CHARS) -> ParsedQuery:
    """Split user text into free words and quoted phrases; never raises on odd input.

    Over-long input is cut at a word boundary and the message says so.
    """
    text = " ".join((raw or "").split())
    message = None
    truncated = False
    if len(text) > max_chars:
        cut = text[:max_chars]
        text = cut.rsplit(" ", 1)[0] if " " in cut else cut
        truncated = True
        message = f"Your query was longer than {max_chars:,} characters; only its start was used."
    phrases = []
    for match in _PHRASE.finditer(text):
        phrase = next((g for g in match.groups() if g is not None), "").strip()
        if len(_WORD.findall(phrase)) and len(phrase.split()) > 1:
            phrases.append(phrase)
    # Whatever is left, quotes included, is plain words.
    plain = " ".join(_QUOTES.sub(" ", text).split())
    words = tuple(re.findall(r"\w+", plain))
    if not _WORD.search(plain):
        message = message or (
            "Type a few words to search." if not text else "Your query has no words to search for."
        )
    return ParsedQuery(plain, tuple(phrases), message, truncated, words)


def field_terms(text: str, analyzer: Analyzer) -> list[str]:
    """The index terms of ``text`` under a field's analyzer, in order, stop words removed."""
    return [token.text for token in analyzer(text)]


def build_query(
    parsed: ParsedQuery, fields: Mapping[str, Analyzer], boosts: Mapping[str, float] | None = None
) -> wq.Query | None:
    """An OR of every analysed word on every field, AND every phrase (on any field).

    Returns None when no field yields a term (e.g. only stop words).
    """
    boosts = boosts or {}
    optional: list[wq.Query] = []
    for name, analyzer in fields.items():
        terms = list(dict.fromkeys(field_terms(parsed.text, analyzer)))
        optional.extend(wq.Term(name, t, boost=boosts.get(name, 1.0)) for t in terms)
    required = [_phrase_query(p, fields) for p in parsed.phrases]
    required = [q for q in required if q is not None]
    if not optional and not required:
        return None
    words = wq.Or(optional) if optional else None
    if required:
        must = wq.And(required) if len(required) > 1 else required[0]
        return wq.AndMaybe(must, words) if words is not None else must
    return words


def _phrase_query(phrase: str, fields: Mapping[str, Analyzer]) -> wq.Query | None:
    """The phrase on any field whose analyzer keeps at least one of its words."""
    alternatives: list[wq.Query] = []
    for name, analyzer in fields.items():
        terms = field_terms(phrase, analyzer)
        if len(terms) > 1:
            alternatives.append(wq.Phrase(name, terms))
        elif terms:
            alternatives.append(wq.Term(name, terms[0]))
    if not alternatives:
        return None
    return wq.Or(alternatives) if len(alternatives) > 1 else alternatives[0]


def query_words(parsed: ParsedQuery) -> Sequence[str]:
    """Lowercased surface words of the query (for spelling suggestions and highlighting)."""
    return [w.lower() for w in parsed.words]
