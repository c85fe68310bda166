"""Small builders of database rows for matching tests (direct kb.models, no services)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy.orm import Session

from kb.chunking import chunk_text
from kb.embedding import Embedder
from kb.models import (
    Chunk,
    Guide,
    GuideRevision,
    Pair,
    Person,
    Programme,
    SessionNote,
    SharedInsight,
)
from kb.services import match_vectors


def person(
    session: Session,
    email: str,
    *,
    roles: str = "mentee",
    languages: str = "en",
    expertise: str = "",
    goals: str = "",
    department: str = "",
    manager: Person | None = None,
    opt_in: bool = True,
    capacity: int | None = None,
    style: str = "",
    availability: str = "",
) -> Person:
    row = Person(
        email=email,
        name=email.split("@")[0].replace(".", " ").title(),
        department=department,
        manager_id=manager.id if manager else None,
        languages=languages,
        roles=roles,
        expertise=expertise,
        goals=goals,
        opt_in=opt_in,
        capacity=capacity,
        style=style,
        availability=availability,
    )
    session.add(row)
    session.flush()
    return row


def guide(
    session: Session,
    author: Person,
    title: str,
    body: str,
    *,
    status: str = "published",
    language: str = "en",
    chunks: bool = True,
) -> Guide:
    slug = title.lower().replace(" ", "-").replace(":", "")[:60]
    row = Guide(slug=slug, author_id=author.id, title=title, language=language, status=status)
    row.revisions.append(GuideRevision(number=1, title=title, body_md=body))
    session.add(row)
    session.flush()
    if chunks and status == "published":
        for passage in chunk_text(body):
            session.add(
                Chunk(
                    doc_key=f"guide:{row.id}",
                    doc_type="guide",
                    doc_id=row.id,
                    position=passage.position,
                    title=title,
                    text=passage.text,
                    text_hash=str(hash(passage.text)),
                    language=language,
                    author_id=author.id,
                )
            )
        session.flush()
    return row


def programme(session: Session, slug: str = "spring") -> Programme:
    row = Programme(slug=slug, name=slug.title(), status="planned")
    session.add(row)
    session.flush()
    return row


def pair(
    session: Session,
    prog: Programme,
    mentor: Person,
    mentee: Person,
    *,
    status: str = "active",
    locked: bool = False,
) -> Pair:
    row = Pair(
        programme_id=prog.id, mentor_id=mentor.id, mentee_id=mentee.id, status=status, locked=locked
    )
    session.add(row)
    session.flush()
    return row


def note(
    session: Session,
    the_pair: Pair,
    author: Person,
    title: str,
    body: str,
    *,
    insight: str | None = None,
    consented: bool = True,
) -> SessionNote:
    """A private session note (with a note chunk, as the indexer stores it), optionally with a
    shared insight excerpt."""
    row = SessionNote(
        pair_id=the_pair.id,
        author_id=author.id,
        title=title,
        body_md=body,
        language="en",
        session_date=dt.date(2025, 3, 1),
    )
    session.add(row)
    session.flush()
    session.add(
        Chunk(
            doc_key=f"note:{row.id}",
            doc_type="note",
            doc_id=row.id,
            position=0,
            title=title,
            text=body,
            text_hash=str(hash(body)),
            language="en",
            author_id=author.id,
            pair_id=the_pair.id,
        )
    )
    if insight is not None:
        when = dt.datetime(2025, 3, 2)
        session.add(
            SharedInsight(
                note_id=row.id,
                text=insight,
                mentor_consent_at=when,
                mentee_consent_at=when if consented else None,
            )
        )
    session.flush()
    return row


def store_vectors(session: Session, embedders: Mapping[str, Embedder]) -> int:
    """Matching vectors of every goal and evidence text matching reads from these rows (the
    services and imports store them when they write; these builders write rows directly)."""
    from matching.service import read_snapshot

    snapshot = read_snapshot(session)
    texts = [g for p in snapshot.participants for g in p.goals]
    texts += [e.embedding_text for p in snapshot.participants for e in p.evidence]
    added = match_vectors.store(session, texts, embedders)
    session.commit()
    return added
