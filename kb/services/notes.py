"""Session notes (private to their pair) and shared insights (public once both consent).

Privacy rules enforced here:

* a note, its text and even its existence are for the two members of its pair only; anyone
  else (HR included) gets the same NotFound as for a note that does not exist;
* note chunks carry ``pair_id`` (the key search filters on);
* an insight is public only when mentor *and* mentee consented; its chunks (doc_key
  ``insight:ID``, ``pair_id`` NULL) hold the insight excerpt only, never the note's title,
  body or tags; withdrawing (either member) removes it from search at once.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from kb.embedding import Embedder
from kb.errors import NotFound, ValidationError
from kb.i18n import N_
from kb.models import Pair, Person, SessionNote, SharedInsight, utcnow
from kb.services.content import remove_chunks, replace_chunks
from kb.services.guides import clean_body, clean_language, clean_tags, clean_title
from kb.services.markup import markdown_to_text
from kb.services.text import reject_control_characters

MAX_INSIGHT = 4000
INSIGHT_TITLE_CHARS = 90


# The programme's note template: one markdown section per entry, headed in the page's language.
NOTE_SECTIONS: tuple[tuple[str, str], ...] = (
    ("learned", N_("What we learned")),
    ("tried", N_("What we tried")),
    ("worked", N_("What worked")),
    ("next", N_("Next steps")),
)


def compose_body(sections: Mapping[str, str], headings: Mapping[str, str]) -> str:
    """A note body from the template's sections (pure): ``## heading`` then the text, for
    every section with text, in the template's order. ``headings`` are the translated names."""
    parts = []
    for key, english in NOTE_SECTIONS:
        text = (sections.get(key) or "").strip()
        if text:
            parts.append(f"## {headings.get(key, english)}\n\n{text}")
    return "\n\n".join(parts)


def member_pair(session: Session, pair_id: int, user: Person | None) -> Pair:
    """A pair for its two members; everyone else (HR too) gets NotFound."""
    pair = session.get(Pair, pair_id)
    if pair is None or not _member(pair, user):
        raise NotFound(N_("pair %(id)s not found"), id=pair_id)
    return pair


# -- personal data in an excerpt about to become public ---------------------------------

EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# A phone number: optional +, then 9 or more digits that may be split by spaces, dots,
# dashes or parentheses (dates such as 2024-04-10 have 8 digits and do not count).
PHONE_RE = re.compile(r"(?<![\w+])\+?\(?\d(?:[\s().-]{0,2}\d){8,14}(?!\w)")


@dataclass(frozen=True)
class PersonalData:
    """One piece of personal data found in a text: its kind and the exact words."""

    kind: str  # "email" | "phone" | "name"
    text: str


def find_personal_data(text: str, names: Iterable[str]) -> list[PersonalData]:
    """E-mail addresses, phone numbers and directory names (whole words, any case) in
    ``text``, in order of appearance, each once (pure)."""
    found: list[tuple[int, PersonalData]] = []
    for match in EMAIL_RE.finditer(text):
        found.append((match.start(), PersonalData("email", match.group(0))))
    without_emails = EMAIL_RE.sub(lambda m: " " * len(m.group(0)), text)
    for match in PHONE_RE.finditer(without_emails):
        found.append((match.start(), PersonalData("phone", match.group(0).strip())))
    for name in {" ".join(n.split()) for n in names if n and n.strip()}:
        words = [re.escape(w) for w in name.split()]
        pattern = re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)", re.IGNORECASE)
        for match in pattern.finditer(text):
            found.append((match.start(), PersonalData("name", match.group(0))))
    seen: set[PersonalData] = set()
    result = []
    for _, item in sorted(found, key=lambda pair: pair[0]):
        if item not in seen:
            seen.add(item)
            result.append(item)
    return result


def directory_names(session: Session) -> list[str]:
    """The names of everyone in the directory (for the personal-data warning)."""
    return [name for name in session.scalars(select(Person.name)) if name]


def personal_data_in(session: Session, text: str) -> list[PersonalData]:
    return find_personal_data(text, directory_names(session))


def note_doc_key(note: SessionNote) -> str:
    return f"note:{note.id}"


def insight_doc_key(insight: SharedInsight) -> str:
    return f"insight:{insight.id}"


def _member(pair: Pair, user: Person | None) -> bool:
    return user is not None and pair.has_member(user.id)


def _note_not_found(note_id: int | None) -> NotFound:
    # The same words whether the note is missing or belongs to another pair.
    return NotFound(f"note {note_id} not found")


def index_note(session: Session, note: SessionNote, embedders: Mapping[str, Embedder]) -> bool:
    """Write the note's private chunks (pair_id set) for its current text."""
    return replace_chunks(
        session, doc_key=note_doc_key(note), doc_type="note", doc_id=note.id, title=note.title,
        text=markdown_to_text(note.body_md), language=note.language, tags=note.tags,
        author_id=note.author_id, doc_date=note.session_date, pair_id=note.pair_id,
        embedders=embedders,
    )  # fmt: skip


def create_note(
    session: Session,
    pair: Pair,
    author: Person,
    *,
    title: str,
    body_md: str,
    language: str,
    embedders: Mapping[str, Embedder],
    tags: Sequence[str] | str | None = (),
    session_date: dt.date | None = None,
    source_path: str | None = None,
) -> SessionNote:
    """A new note of ``pair`` written by one of its members, indexed privately."""
    if not _member(pair, author):
        raise NotFound(N_("pair %(id)s not found"), id=pair.id)
    note = SessionNote(
        pair_id=pair.id, author_id=author.id, title=clean_title(title), body_md=clean_body(body_md),
        language=clean_language(language), tags=clean_tags(tags), session_date=session_date,
        source_path=source_path,
    )  # fmt: skip
    session.add(note)
    session.flush()
    index_note(session, note, embedders)
    return note


def update_note(
    session: Session,
    note: SessionNote,
    user: Person,
    *,
    embedders: Mapping[str, Embedder],
    title: str | None = None,
    body_md: str | None = None,
    language: str | None = None,
    tags: Sequence[str] | str | None = None,
    session_date: dt.date | None = None,
) -> bool:
    """Edit a note (either member); only given fields change. Returns whether chunks changed."""
    if not _member(note.pair, user):
        raise _note_not_found(note.id)
    if title is not None:
        note.title = clean_title(title)
    if body_md is not None:
        note.body_md = clean_body(body_md)
    if language is not None:
        note.language = clean_language(language)
    if tags is not None:
        note.tags = clean_tags(tags)
    if session_date is not None:
        note.session_date = session_date
    session.flush()
    return index_note(session, note, embedders)


def get_note(session: Session, note_id: int, user: Person | None) -> SessionNote:
    """A note for a member of its pair; NotFound for everyone else."""
    note = session.get(SessionNote, note_id)
    if note is None or not _member(note.pair, user):
        raise _note_not_found(note_id)
    return note


def notes_for_pair(session: Session, pair: Pair, user: Person | None) -> list[SessionNote]:
    """The pair's notes, newest session first (members only)."""
    if not _member(pair, user):
        raise NotFound(N_("pair %(id)s not found"), id=pair.id)
    return list(
        session.scalars(
            select(SessionNote)
            .where(SessionNote.pair_id == pair.id)
            .order_by(SessionNote.session_date.desc(), SessionNote.id.desc())
        )
    )


def notes_for_person(session: Session, user: Person) -> list[SessionNote]:
    """Notes of every pair the user belongs to, newest first."""
    return list(
        session.scalars(
            select(SessionNote)
            .join(Pair, Pair.id == SessionNote.pair_id)
            .where(or_(Pair.mentor_id == user.id, Pair.mentee_id == user.id))
            .order_by(SessionNote.session_date.desc(), SessionNote.id.desc())
        )
    )


def delete_note(session: Session, note: SessionNote, user: Person) -> None:
    """Delete a note (either member) with its insight; both leave search."""
    if not _member(note.pair, user):
        raise _note_not_found(note.id)
    if note.insight is not None:
        _drop_insight(session, note.insight)
    remove_chunks(session, note_doc_key(note))
    session.delete(note)
    session.flush()


# -- shared insights ---------------------------------------------------------------------


def _clean_insight(text: str) -> str:
    text = reject_control_characters((text or "").strip(), "insight")
    if not text:
        raise ValidationError(N_("an insight needs some text"), field="insight")
    if len(text) > MAX_INSIGHT:
        raise ValidationError(
            N_("the insight is %(length)s characters long, the limit is %(limit)s"),
            field="insight",
            length=len(text),
            limit=MAX_INSIGHT,
        )
    return text


def insight_title(text: str) -> str:
    """A title made from the insight itself (the note's own title stays private)."""
    first = " ".join(text.strip().splitlines()[0].split()) if text.strip() else ""
    first = markdown_to_text(first) or first
    if len(first) > INSIGHT_TITLE_CHARS:
        first = first[: INSIGHT_TITLE_CHARS - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return first or "Insight"


def index_insight(
    session: Session, insight: SharedInsight, embedders: Mapping[str, Embedder]
) -> bool:
    """Public chunks for a consented insight (excerpt only); none otherwise."""
    key = insight_doc_key(insight)
    mentor_at, mentee_at = insight.mentor_consent_at, insight.mentee_consent_at
    if not insight.published or mentor_at is None or mentee_at is None:
        return remove_chunks(session, key)
    note = insight.note
    published = max(mentor_at, mentee_at)
    return replace_chunks(
        session, doc_key=key, doc_type="insight", doc_id=insight.id,
        title=insight_title(insight.text), text=markdown_to_text(insight.text),
        language=note.language, tags=(), author_id=note.author_id,
        doc_date=published.date(), pair_id=None, embedders=embedders,
    )  # fmt: skip


def _consent_side(pair: Pair, user: Person) -> str:
    return "mentor_consent_at" if user.id == pair.mentor_id else "mentee_consent_at"


def set_insight(
    session: Session,
    note: SessionNote,
    text: str,
    *,
    consented_by: Sequence[Person],
    embedders: Mapping[str, Embedder],
) -> SharedInsight:
    """Store the note's insight with exactly these members' consent (imports use it: the
    source system already recorded who agreed), and index it if both agreed."""
    text = _clean_insight(text)
    pair = note.pair
    insight = note.insight
    if insight is None:
        insight = SharedInsight(note_id=note.id, text=text)
        note.insight = insight
        session.add(insight)
    insight.text = text
    now = utcnow()
    for side in ("mentor_consent_at", "mentee_consent_at"):
        wanted = any(_consent_side(pair, p) == side for p in consented_by if _member(pair, p))
        if not wanted:
            setattr(insight, side, None)
        elif getattr(insight, side) is None:
            setattr(insight, side, now)
    session.flush()
    index_insight(session, insight, embedders)
    return insight


def propose_insight(
    session: Session,
    note: SessionNote,
    user: Person,
    text: str,
    *,
    embedders: Mapping[str, Embedder],
) -> SharedInsight:
    """Offer an excerpt of a note for everyone; counts as the proposer's consent.

    New text needs the other member's consent again (a published insight leaves search until
    then); proposing the same text again changes nothing.
    """
    if not _member(note.pair, user):
        raise _note_not_found(note.id)
    text = _clean_insight(text)
    insight = note.insight
    side = _consent_side(note.pair, user)
    if insight is not None and insight.text == text and getattr(insight, side) is not None:
        return insight
    return set_insight(session, note, text, consented_by=[user], embedders=embedders)


def _insight_for_member(insight: SharedInsight, user: Person | None) -> None:
    if not _member(insight.note.pair, user):
        raise NotFound(N_("insight %(id)s not found"), id=insight.id)


def consent_insight(
    session: Session,
    insight: SharedInsight,
    user: Person,
    *,
    embedders: Mapping[str, Embedder],
) -> SharedInsight:
    """Record a member's consent; with both consents the insight becomes public."""
    _insight_for_member(insight, user)
    side = _consent_side(insight.note.pair, user)
    if getattr(insight, side) is None:
        setattr(insight, side, utcnow())
        session.flush()
    index_insight(session, insight, embedders)
    return insight


def _drop_insight(session: Session, insight: SharedInsight) -> None:
    remove_chunks(session, insight_doc_key(insight))
    insight.note.insight = None
    session.delete(insight)
    session.flush()


def withdraw_insight(session: Session, insight: SharedInsight, user: Person) -> None:
    """Either member withdraws an insight: it is deleted and leaves search at once."""
    _insight_for_member(insight, user)
    _drop_insight(session, insight)


def get_insight(session: Session, insight_id: int, user: Person | None) -> SharedInsight:
    """A published insight for anyone; an unpublished one for the pair's members only."""
    insight = session.get(SharedInsight, insight_id)
    if insight is None or not (insight.published or _member(insight.note.pair, user)):
        raise NotFound(N_("insight %(id)s not found"), id=insight_id)
    return insight


def pending_insights(session: Session, user: Person) -> list[SharedInsight]:
    """Insights of the user's pairs still waiting for the user's own consent."""
    query = (
        select(SharedInsight)
        .join(SessionNote, SessionNote.id == SharedInsight.note_id)
        .join(Pair, Pair.id == SessionNote.pair_id)
        .where(
            or_(
                (Pair.mentor_id == user.id) & SharedInsight.mentor_consent_at.is_(None),
                (Pair.mentee_id == user.id) & SharedInsight.mentee_consent_at.is_(None),
            )
        )
        .order_by(SharedInsight.id)
    )
    return list(session.scalars(query))


def import_note(
    session: Session,
    pair: Pair,
    author: Person,
    *,
    title: str,
    body_md: str,
    language: str,
    tags: Sequence[str] | str | None,
    session_date: dt.date | None,
    source_path: str,
    content_hash: str,
    insight: str | None,
    shared: bool,
    embedders: Mapping[str, Embedder],
) -> tuple[SessionNote, str]:
    """Create or update the note imported from ``source_path`` (the file is the authority).

    ``insight`` with ``shared`` means both members consented in the source system (published);
    an insight that is not shared carries the author's consent only, plus any consent already
    given to the same text; no insight withdraws an existing one. Status: created / updated.
    """
    if not _member(pair, author):
        raise ValidationError(
            N_("%(email)s is not a member of the pair"), field="author", email=author.email
        )
    note = session.scalar(select(SessionNote).where(SessionNote.source_path == source_path))
    status = "updated"
    if note is None:
        status = "created"
        note = SessionNote(pair_id=pair.id, source_path=source_path)
        session.add(note)
    note.pair_id = pair.id
    note.pair = pair
    note.author_id = author.id
    note.title = clean_title(title)
    note.body_md = clean_body(body_md)
    note.language = clean_language(language)
    note.tags = clean_tags(tags)
    note.session_date = session_date
    note.content_hash = content_hash
    session.flush()
    index_note(session, note, embedders)
    existing = note.insight
    if insight is None:
        if existing is not None:
            _drop_insight(session, existing)
    else:
        consented = [pair.mentor, pair.mentee] if shared else [author]
        if not shared and existing is not None and existing.text == insight.strip():
            already = [
                person
                for person, at in (
                    (pair.mentor, existing.mentor_consent_at),
                    (pair.mentee, existing.mentee_consent_at),
                )
                if at is not None
            ]
            consented = [*already, author]
        set_insight(session, note, insight, consented_by=consented, embedders=embedders)
    return note, status
