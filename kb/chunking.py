"""Split documents into passages for BM25 and embedding: pure functions."""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_CHARS = 1600
OVERLAP_SENTENCES = 1

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[\"'«„(\[]?[A-ZА-ЯЁĄĆĘŁŃÓŚŹŻ0-9])")
_PARAGRAPH = re.compile(r"\n\s*\n")


@dataclass(frozen=True)
class Passage:
    """One chunk of a document: its position and its text."""

    position: int
    text: str


def split_sentences(text: str) -> list[str]:
    """Sentences of a paragraph (a simple rule-based splitter, good enough for chunk limits)."""
    parts = [p.strip() for p in _SENTENCE_END.split(text.strip())]
    return [p for p in parts if p]


def _words(sentence: str, max_chars: int) -> list[str]:
    """Words of a sentence; a word longer than ``max_chars`` (a run without spaces) is cut."""
    words: list[str] = []
    for word in sentence.split():
        if len(word) <= max_chars:
            words.append(word)
        else:
            words.extend(word[i : i + max_chars] for i in range(0, len(word), max_chars))
    return words


def _hard_wrap(sentence: str, max_chars: int) -> list[str]:
    """Cut a single over-long sentence at word boundaries (inside over-long words too)."""
    pieces: list[str] = []
    current = ""
    for word in _words(sentence, max_chars):
        if current and len(current) + 1 + len(word) > max_chars:
            pieces.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        pieces.append(current)
    return pieces


def chunk_text(
    text: str, max_chars: int = MAX_CHARS, overlap_sentences: int = OVERLAP_SENTENCES
) -> list[Passage]:
    """Pack paragraphs and sentences into passages of at most ``max_chars`` characters.

    A text that fits stays one passage. Longer texts are cut at sentence boundaries, with the
    last ``overlap_sentences`` sentences of a passage repeated at the start of the next one so
    an answer that straddles the cut is still found. No passage is longer than ``max_chars``,
    whatever the text (a run without spaces is cut too).
    """
    text = text.strip()
    if not text:
        return []
    if len(text) <= max_chars:
        return [Passage(0, text)]
    units: list[str] = []
    for paragraph in _PARAGRAPH.split(text):
        for sentence in split_sentences(paragraph):
            too_long = len(sentence) > max_chars
            units.extend(_hard_wrap(sentence, max_chars) if too_long else [sentence])
    passages: list[str] = []
    current: list[str] = []
    for unit in units:
        if current and len(" ".join([*current, unit])) > max_chars:
            passages.append(" ".join(current))
            keep = current[-overlap_sentences:] if overlap_sentences else []
            current = keep if len(" ".join([*keep, unit])) <= max_chars else []
        current.append(unit)
    if current:
        passages.append(" ".join(current))
    return [Passage(i, p) for i, p in enumerate(passages)]


def embedding_text(title: str, passage: str) -> str:
    """What gets embedded for a passage: the document title gives the chunk its context."""
    title = title.strip()
    return f"{title}\n{passage}" if title else passage
