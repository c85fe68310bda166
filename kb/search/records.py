"""What the search indexes know about a chunk: the same record for the product and evaluation."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Row

from kb.models import Chunk, split_list
from kb.search.analysis import LANGUAGES, guess_language

PUBLIC = "public"
PRIVATE = "private"


@dataclass(frozen=True)
class ChunkRecord:
    """One passage with its filter and permission attributes."""

    chunk_id: int
    doc_key: str
    doc_type: str
    language: str
    title: str
    text: str
    tags: tuple[str, ...] = ()
    author_id: int | None = None
    doc_date: dt.date | None = None
    pair_id: int | None = None

    @property
    def is_public(self) -> bool:
        """Guides and published insights. A note is never public, even without a pair id."""
        return self.pair_id is None and self.doc_type != "note"

    @property
    def visibility(self) -> str:
        return PUBLIC if self.is_public else PRIVATE

    @property
    def index_language(self) -> str:
        """The analyzer language: the chunk's own if we have one, else guessed from the script."""
        if self.language in LANGUAGES:
            return self.language
        return guess_language(f"{self.title} {self.text}")


def record_from_chunk(chunk: Chunk | Row) -> ChunkRecord:
    """A chunk (ORM object, or a row with the same column names) as an index record."""
    return ChunkRecord(
        chunk_id=chunk.id,
        doc_key=chunk.doc_key,
        doc_type=chunk.doc_type,
        language=chunk.language,
        title=chunk.title,
        text=chunk.text,
        tags=tuple(split_list(chunk.tags)),
        author_id=chunk.author_id,
        doc_date=chunk.doc_date,
        pair_id=chunk.pair_id,
    )
