"""User text -> a Whoosh query built programmatically (the query parser never sees user text).

Every character is just a character: ``?``, ``*``, ``AND``/``OR``/``NOT``, colons, brackets and
unbalanced quotes carry no syntax. The one documented feature is a "double-quoted phrase"
(also „Polish” and «Russian» quotes): passages containing the exact phrase (same words, same
order, after stemming) rank higher. It is a preference, not a filter: people quote titles
in questions ('Who directed "The Pianist"?') that a matching text may word differently, and
on the dev sets a hard requirement lost 0.3 nDCG points (PoQuAD) where the boost lost none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from whoosh import query as wq
from whoosh.analysis import Analyzer

from kb.i18n import N_, Text

MAX_QUERY_CHARS = 1000
PHRASE_BOOST = 2.0

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
        message = Text(
            N_("Your query was longer than %(limit)s characters; only its start was used."),
            limit=max_chars,
        )
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
            Text(N_("Type a few words to search."))
            if not text
            else Text(N_("Your query has no words to search for."))
        )
    return ParsedQuery(plain, tuple(phrases), message, truncated, words)


def field_terms(text: str, analyzer: Analyzer) -> list[str]:
    """The index terms of ``text`` under a field's analyzer, in order, stop words removed."""
    return [token.text for token in analyzer(text)]


def build_query(
    parsed: ParsedQuery,
    fields: Mapping[str, Analyzer],
    boosts: Mapping[str, float] | None = None,
    phrase_boost: float = PHRASE_BOOST,
) -> wq.Query | None:
    """An OR of every analysed word on every field, plus each phrase (on any field) boosted.

    Returns None when no field yields a term (e.g. only stop words).
    """
    boosts = boosts or {}
    clauses: list[wq.Query] = []
    for name, analyzer in fields.items():
        terms = list(dict.fromkeys(field_terms(parsed.text, analyzer)))
        clauses.extend(wq.Term(name, t, boost=boosts.get(name, 1.0)) for t in terms)
    for phrase in parsed.phrases:
        clauses.extend(_phrase_queries(phrase, fields, phrase_boost))
    if not clauses:
        return None
    return wq.Or(clauses)


def phrase_clauses(
    parsed: ParsedQuery, fields: Mapping[str, Analyzer], phrase_boost: float = PHRASE_BOOST
) -> list[wq.Phrase]:
    """The phrase clauses of :func:`build_query` (what the phrases add to its score)."""
    return [q for phrase in parsed.phrases for q in _phrase_queries(phrase, fields, phrase_boost)]


def _phrase_queries(phrase: str, fields: Mapping[str, Analyzer], boost: float
                    ) -> list[wq.Phrase]:  # fmt: skip
    """The phrase on every field whose analyzer keeps at least two of its words."""
    queries: list[wq.Phrase] = []
    for name, analyzer in fields.items():
        terms = field_terms(phrase, analyzer)
        if len(terms) > 1:
            queries.append(wq.Phrase(name, terms, boost=boost))
    return queries


def query_words(parsed: ParsedQuery) -> Sequence[str]:
    """Lowercased surface words of the query (for spelling suggestions and highlighting)."""
    return [w.lower() for w in parsed.words]
