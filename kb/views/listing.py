"""Read-only lists the pages show (public content only, or the asking person's own).

Small queries that no service offers yet; every one of them is permission-safe by
construction: published guides, published insights, or the pairs the person belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from kb.models import Guide, Pair, Person, SessionNote, SharedInsight, split_list


def recent_guides(session: Session, limit: int = 6) -> list[Guide]:
    """Newest published guides."""
    return list(
        session.scalars(
            select(Guide)
            .where(Guide.status == "published")
            .options(selectinload(Guide.author))
            .order_by(Guide.published_on.desc().nulls_last(), Guide.id.desc())
            .limit(limit)
        )
    )


def published_insights(session: Session, limit: int = 6) -> list[SharedInsight]:
    """Insights both pair members agreed to publish, newest first."""
    return list(
        session.scalars(
            select(SharedInsight)
            .where(
                SharedInsight.mentor_consent_at.is_not(None),
                SharedInsight.mentee_consent_at.is_not(None),
            )
            .order_by(SharedInsight.id.desc())
            .limit(limit)
        )
    )


def pair_notes(session: Session, pair: Pair) -> list[SessionNote]:
    """A pair's notes, newest session first (the caller checked membership)."""
    return list(
        session.scalars(
            select(SessionNote)
            .where(SessionNote.pair_id == pair.id)
            .options(selectinload(SessionNote.insight), selectinload(SessionNote.author))
            .order_by(SessionNote.session_date.desc().nulls_last(), SessionNote.id.desc())
        )
    )


@dataclass(frozen=True)
class Facets:
    tags: list[str]
    authors: list[tuple[str, str]]  # (person id, name): never an e-mail address


def public_facets(session: Session) -> Facets:
    """Tag and author choices for the search form, taken from published guides only.

    Never from notes: even a tag of a private note says something about it.

    Two small queries over distinct values, not the guides themselves: the form is on every
    search page, and loading every published guide (with its author) for it took ~0.5 s per
    request at 10,000 guides (results/guides-web.md).
    """
    published = Guide.status == "published"
    tag_lists = session.scalars(select(Guide.tags).where(published).distinct())
    tags = sorted({t for value in tag_lists for t in split_list(value)}, key=str.casefold)
    writes = select(Guide.id).where(Guide.author_id == Person.id, published).exists()
    people = session.execute(select(Person.id, Person.name).where(writes)).all()
    authors = sorted(((str(pid), name) for pid, name in people), key=lambda a: (a[1], int(a[0])))
    return Facets(tags=tags, authors=authors)
