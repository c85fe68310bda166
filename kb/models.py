"""The domain, as SQLAlchemy 2.0 typed models. The database is the only source of truth.

Searchable text lives in ``Chunk`` rows (denormalised with what search filters need), their
vectors in ``ChunkEmbedding`` keyed by model, and every change that indexes must see is a row of
``ChangeLog`` written in the same transaction as the content.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

# Roles a person can hold; stored ";"-separated. "admin" is an HR administrator: every HR
# right plus account administration (deactivating an account).
ROLES = ("mentor", "mentee", "hr", "admin")
LANGUAGES = ("pl", "ru", "en")
# A person's working/communication style (matching gives a bonus for the same one) and the
# half-days they can meet ("mon-am" .. "fri-pm"; matching counts shared ones). Closed sets:
# the people import, the API and the profile form accept only these codes.
STYLES = ("structured", "informal", "hands-on", "reflective")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
DAY_PARTS = ("am", "pm")
AVAILABILITY = tuple(f"{day}-{part}" for day in WEEKDAYS for part in DAY_PARTS)
# "dropped": a proposed pair a later proposal left out (kept with its history, not deleted).
PAIR_STATUSES = ("proposed", "active", "paused", "ended", "rejected", "dropped")
PROGRAMME_STATUSES = ("planned", "running", "finished")
# What a programme develops (stage 1); HR may add its own.
COMPETENCES = ("generative-ai", "social-media", "hybrid-work", "esg", "generational-culture")
# invited: HR asked, no answer yet; agreed: the person wants in (applied, or accepted an
# invitation), HR still has to accept after the preparatory conversation; enrolled: both;
# declined: the person said no; left: the person left after agreeing.
ENROLMENT_STATUSES = ("invited", "agreed", "enrolled", "declined", "left")
GUIDE_STATUSES = ("draft", "published", "archived")
DOC_TYPES = ("guide", "insight", "note")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def split_list(value: str | None) -> list[str]:
    """Our ";"-separated list columns as a Python list."""
    return [v.strip() for v in (value or "").split(";") if v.strip()]


def join_list(values: list[str] | tuple[str, ...]) -> str:
    return ";".join(v.strip() for v in values if v and v.strip())


class Base(DeclarativeBase):
    pass


class Person(Base):
    """An employee: mentor, mentee and/or HR. Also the login identity."""

    __tablename__ = "person"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(200))
    department: Mapped[str] = mapped_column(String(200), default="")
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), nullable=True)
    languages: Mapped[str] = mapped_column(String(50), default="")
    roles: Mapped[str] = mapped_column(String(50), default="")
    expertise: Mapped[str] = mapped_column(Text, default="")
    goals: Mapped[str] = mapped_column(Text, default="")
    opt_in: Mapped[bool] = mapped_column(Boolean, default=True)
    capacity: Mapped[int | None] = mapped_column(Integer, nullable=True)
    style: Mapped[str] = mapped_column(String(50), default="")
    availability: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(300), nullable=True)
    # A deactivated account cannot log in, and its open sessions end.
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Part of every session and remember-me cookie; raising it ends all of them (logout,
    # password change, deactivation).
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The interface language the person chose (kb.i18n.LOCALES); None: the browser's.
    ui_language: Mapped[str | None] = mapped_column(String(10), nullable=True)
    # Whether the public profile page shows the person's goals (hidden unless they choose).
    show_goals: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    manager: Mapped[Person | None] = relationship(remote_side=[id])

    def has_role(self, role: str) -> bool:
        """Whether the person holds ``role``; an HR administrator holds "hr" too."""
        held = split_list(self.roles)
        return role in held or (role == "hr" and "admin" in held)

    @property
    def language_list(self) -> list[str]:
        return split_list(self.languages)

    def __repr__(self) -> str:
        return f"<Person {self.email}>"


class Programme(Base):
    """One voluntary reverse-mentoring round (3 to 6 months)."""

    __tablename__ = "programme"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    starts: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    ends: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="planned")
    # Health thresholds: a running pair with no session for this many weeks is flagged, and so
    # is a pair paused for longer than ``pause_weeks``.
    quiet_weeks: Mapped[int] = mapped_column(Integer, default=4, server_default="4")
    pause_weeks: Mapped[int] = mapped_column(Integer, default=4, server_default="4")
    # ... a running pair with no note at all ``first_month_days`` days after it started ("after the
    # first month"), and a pair whose questionnaire ratings average below ``low_rating`` (1-5).
    first_month_days: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    low_rating: Mapped[float] = mapped_column(Float, default=2.5, server_default="2.5")
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    competences: Mapped[str] = mapped_column(String(500), default="", server_default="")
    languages: Mapped[str] = mapped_column(String(50), default="", server_default="")
    rhythm_weeks: Mapped[int | None] = mapped_column(Integer, nullable=True)  # a session every N
    note_template: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Matching weights as JSON ({} or empty: the defaults); see matching.scoring.MatchWeights.
    matching_weights: Mapped[str] = mapped_column(Text, default="", server_default="")
    open_for_applications: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    # Evaluation (stage 7): figures over people only for groups of at least ``min_group``;
    # free-text answers shown to HR without names when ``anonymous_answers``; a
    # questionnaire round stays open ``survey_weeks`` weeks (results appear once it closed).
    min_group: Mapped[int] = mapped_column(Integer, default=5, server_default="5")
    anonymous_answers: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    survey_weeks: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    pairs: Mapped[list[Pair]] = relationship(back_populates="programme")
    enrolments: Mapped[list[Enrolment]] = relationship(back_populates="programme")

    @property
    def competence_list(self) -> list[str]:
        return split_list(self.competences)


class Enrolment(Base):
    """A person's voluntary place in a programme, as mentor or mentee (stage 2).

    ``prepared_on`` is the date of HR's preparatory conversation (the date only, nothing said
    in it); HR accepts nobody without it. Mentors state their subject expertise and readiness.
    """

    __tablename__ = "enrolment"
    __table_args__ = (UniqueConstraint("programme_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programme.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(10))  # mentor | mentee
    status: Mapped[str] = mapped_column(String(10), default="invited")
    source: Mapped[str] = mapped_column(String(10), default="invited")  # invited | applied
    motivation: Mapped[str] = mapped_column(Text, default="")
    expertise: Mapped[str] = mapped_column(Text, default="")
    ready: Mapped[bool] = mapped_column(Boolean, default=False)
    prepared_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    programme: Mapped[Programme] = relationship(back_populates="enrolments")
    person: Mapped[Person] = relationship()


class Pair(Base):
    """A mentor (the younger employee) and a mentee (the senior) within a programme."""

    __tablename__ = "pair"
    __table_args__ = (UniqueConstraint("programme_id", "mentor_id", "mentee_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programme.id"), index=True)
    mentor_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    mentee_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="proposed")
    started: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    ended: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)  # HR decided: keep in proposals
    # Onboarding (stage 3): when each member accepted the pair agreement (None: not yet).
    mentor_agreed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    mentee_agreed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    programme: Mapped[Programme] = relationship(back_populates="pairs")
    mentor: Mapped[Person] = relationship(foreign_keys=[mentor_id])
    mentee: Mapped[Person] = relationship(foreign_keys=[mentee_id])
    changes: Mapped[list[PairChange]] = relationship(
        back_populates="pair", cascade="all, delete-orphan", order_by="PairChange.id"
    )

    def has_member(self, person_id: int | None) -> bool:
        return person_id is not None and person_id in (self.mentor_id, self.mentee_id)

    @property
    def onboarded(self) -> bool:
        """Both members accepted the pair agreement (sessions may start)."""
        return self.mentor_agreed_at is not None and self.mentee_agreed_at is not None


class PairChange(Base):
    """Who changed a pair, when and how (created, status, lock): HR's audit trail. Holds
    nothing a pair wrote. ``actor_id`` is empty for imports and the command line. ``what`` is
    the English line; ``message`` the same line as a ``kb.i18n.Text`` in JSON (its template and
    values, see :func:`kb.services.pairs.change_text`), empty on lines older than that."""

    __tablename__ = "pair_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("pair.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), nullable=True
    )
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    what: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text, default="", server_default="")

    pair: Mapped[Pair] = relationship(back_populates="changes")
    actor: Mapped[Person | None] = relationship()


class Guide(Base):
    """A how-to guide by a mentor; its text lives in revisions, the newest one is current."""

    __tablename__ = "guide"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    language: Mapped[str] = mapped_column(String(5))
    tags: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(20), default="draft")
    published_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    # Optional: after this date the guide is shown as possibly out of date.
    review_by: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    source_path: Mapped[str | None] = mapped_column(String(500), nullable=True, unique=True)
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    author: Mapped[Person] = relationship()
    revisions: Mapped[list[GuideRevision]] = relationship(
        back_populates="guide", order_by="GuideRevision.number", cascade="all, delete-orphan"
    )

    @property
    def current(self) -> GuideRevision | None:
        return self.revisions[-1] if self.revisions else None


class GuideRevision(Base):
    """One saved version of a guide's markdown body."""

    __tablename__ = "guide_revision"
    __table_args__ = (UniqueConstraint("guide_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    guide_id: Mapped[int] = mapped_column(ForeignKey("guide.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    body_md: Mapped[str] = mapped_column(Text)
    # Video links, one per line: "URL | title | duration" (kb.services.videos).
    videos: Mapped[str] = mapped_column(Text, default="", server_default="")
    editor_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    guide: Mapped[Guide] = relationship(back_populates="revisions")
    editor: Mapped[Person | None] = relationship()
    video_refs: Mapped[list[VideoReference]] = relationship(
        back_populates="revision", cascade="all, delete-orphan"
    )

    @validates("videos")
    def _refer_to_uploads(self, _key: str, videos: str | None) -> str | None:
        """Keep ``video_refs`` (the uploads these lines link to) in step with ``videos``,
        whoever sets it: the lookup behind who may watch an upload and whether it is in use."""
        names = uploaded_names(videos or "")
        kept = {ref.name: ref for ref in self.video_refs if ref.name in names}
        # Kept rows stay: a new row beside its old twin would break (revision_id, name).
        self.video_refs = [kept.get(name) or VideoReference(name=name) for name in names]
        return videos


class SessionNote(Base):
    """What a pair wrote after a session. Always private to the two members of the pair."""

    __tablename__ = "session_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("pair.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    title: Mapped[str] = mapped_column(String(300))
    body_md: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(5))
    tags: Mapped[str] = mapped_column(String(500), default="")
    session_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    source_path: Mapped[str | None] = mapped_column(String(500), nullable=True, unique=True)
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    pair: Mapped[Pair] = relationship()
    author: Mapped[Person] = relationship()
    insight: Mapped[SharedInsight | None] = relationship(back_populates="note", uselist=False)


class SharedInsight(Base):
    """An excerpt of a note offered for everyone; public only once both members consented."""

    __tablename__ = "shared_insight"

    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("session_note.id"), unique=True)
    text: Mapped[str] = mapped_column(Text)
    mentor_consent_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    mentee_consent_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    note: Mapped[SessionNote] = relationship(back_populates="insight")

    @property
    def published(self) -> bool:
        return self.mentor_consent_at is not None and self.mentee_consent_at is not None


class Chunk(Base):
    """A searchable passage of a guide, insight or note, with what filters and permissions need.

    ``pair_id`` is set for note chunks only: it is the permission key the search layer checks.
    """

    __tablename__ = "chunk"
    __table_args__ = (UniqueConstraint("doc_key", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    doc_key: Mapped[str] = mapped_column(String(50), index=True)  # "guide:12", "note:7", ...
    doc_type: Mapped[str] = mapped_column(String(10))
    doc_id: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    text_hash: Mapped[str] = mapped_column(String(64), index=True)
    language: Mapped[str] = mapped_column(String(5))
    tags: Mapped[str] = mapped_column(String(500), default="")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), nullable=True)
    doc_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    pair_id: Mapped[int | None] = mapped_column(ForeignKey("pair.id"), nullable=True, index=True)

    embeddings: Mapped[list[ChunkEmbedding]] = relationship(
        back_populates="chunk", cascade="all, delete-orphan"
    )


class ChunkEmbedding(Base):
    """A chunk's vector under one model (float32 bytes); a chunk may carry several models."""

    __tablename__ = "chunk_embedding"

    chunk_id: Mapped[int] = mapped_column(
        ForeignKey("chunk.id", ondelete="CASCADE"), primary_key=True
    )
    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)

    chunk: Mapped[Chunk] = relationship(back_populates="embeddings")


class MatchingVector(Base):
    """A text's vector under one matching model and side (float32 bytes), keyed by the text's
    hash: goals, stated expertise and public guide and insight chunks, embedded once when
    they are written, so matching never runs a model over stored content."""

    __tablename__ = "matching_vector"

    text_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    side: Mapped[str] = mapped_column(String(10), primary_key=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)


class MatchingJob(Base):
    """A matching computation an HR page asked for (a programme's proposal or gaps), run in
    the background: its state, a line of progress, and the answer as JSON once done.

    ``key`` fingerprints the data it was computed from, so a page reuses an answer until the
    people, content or pairs change.
    """

    __tablename__ = "matching_job"
    __table_args__ = (UniqueConstraint("kind", "programme", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    programme: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10), default="queued")
    progress: Mapped[str] = mapped_column(String(200), default="")
    result: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ChangeLog(Base):
    """Monotonically numbered record of which document's chunks changed (or were removed)."""

    __tablename__ = "change_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    doc_key: Mapped[str] = mapped_column(String(50), index=True)
    op: Mapped[str] = mapped_column(String(10))  # "upsert" | "delete"
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime, default=utcnow, server_default=func.now()
    )


# Feedback rounds: a mentee's own level on each goal at kickoff and at the end, and the
# mid- and end-of-programme questionnaires (both roles).
FEEDBACK_ROUNDS = ("kickoff", "mid", "end")
QUESTION_KINDS = ("rating", "text")
QUESTION_AUDIENCES = ("both", "mentor", "mentee")


class SurveyQuestion(Base):
    """A question of a programme's mid- or end-of-programme questionnaire, which HR can
    configure: a rating (1 to 5) or free text, for mentors, mentees or both. ``builtin`` names
    one of the default questions (its text comes from the translation catalogs); HR's own
    questions carry their text per language."""

    __tablename__ = "survey_question"

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(
        ForeignKey("programme.id", ondelete="CASCADE"), index=True
    )
    round: Mapped[str] = mapped_column(String(10))  # mid | end
    audience: Mapped[str] = mapped_column(String(10), default="both")
    kind: Mapped[str] = mapped_column(String(10), default="rating")
    position: Mapped[int] = mapped_column(Integer, default=0)
    builtin: Mapped[str] = mapped_column(String(40), default="")
    text_en: Mapped[str] = mapped_column(Text, default="")
    text_pl: Mapped[str] = mapped_column(Text, default="")
    text_ru: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Feedback(Base):
    """What a participant told HR about the programme (never about performance); HR sees it
    only in aggregates, the partner never.

    Two kinds of rows: a questionnaire answer (``question_id`` set: a rating 1 to 5 or
    free text in ``comment``), and a mentee's self-rating of one goal (``question_id`` empty,
    ``goal`` and its skill ``area`` set, ``round`` kickoff or end, ``rating`` the level 1 to 5).
    """

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("pair.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    rating: Mapped[int | None] = mapped_column(Integer, nullable=True)
    comment: Mapped[str] = mapped_column(Text, default="")
    programme_id: Mapped[int | None] = mapped_column(
        ForeignKey("programme.id"), nullable=True, index=True
    )
    round: Mapped[str] = mapped_column(String(10), default="", server_default="")
    role: Mapped[str] = mapped_column(String(10), default="", server_default="")
    question_id: Mapped[int | None] = mapped_column(
        ForeignKey("survey_question.id", ondelete="CASCADE"), nullable=True, index=True
    )
    goal: Mapped[str] = mapped_column(String(300), default="", server_default="")
    area: Mapped[str] = mapped_column(String(60), default="", server_default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)

    question: Mapped[SurveyQuestion | None] = relationship()


class AuditEntry(Base):
    """One HR or administrator action: who did what, to which programme, pair or account,
    and when. ``detail`` is a small JSON object of names and numbers, never note text,
    passwords, tokens or e-mail bodies (kb.services.audit refuses those keys)."""

    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), nullable=True, index=True
    )
    action: Mapped[str] = mapped_column(String(60), index=True)
    target_type: Mapped[str] = mapped_column(String(30))
    target_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    programme_id: Mapped[int | None] = mapped_column(
        ForeignKey("programme.id", ondelete="SET NULL"), nullable=True, index=True
    )
    detail: Mapped[str] = mapped_column(Text, default="{}")

    actor: Mapped[Person | None] = relationship()
    programme: Mapped[Programme | None] = relationship()


class LoginFailure(Base):
    """One failed login, keyed by a hash of the account or of the client address.

    Shared by every web worker (it is in the database), so throttling holds across them. The
    key is a SHA-256 digest: the table holds no e-mail and no address.
    """

    __tablename__ = "login_failure"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(80), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


MEETING_STATUSES = ("planned", "held", "cancelled")
HELP_REASONS = ("sessions", "mismatch", "discomfort", "other")
HELP_STATUSES = ("open", "closed")


class Meeting(Base):
    """A session a pair planned (when, how long, topic tags) and whether it was held or
    cancelled. Holds no note text: HR may count these, never read a note through them."""

    __tablename__ = "meeting"

    id: Mapped[int] = mapped_column(primary_key=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("pair.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[dt.datetime] = mapped_column(DateTime)  # UTC, naive
    minutes: Mapped[int] = mapped_column(Integer, default=60)
    tags: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(20), default="planned")
    # The place-independent identity of the calendar event (RFC 5545 UID) and its revision.
    uid: Mapped[str] = mapped_column(String(100), unique=True)
    sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    pair: Mapped[Pair] = relationship()

    @property
    def ends_at(self) -> dt.datetime:
        return self.starts_at + dt.timedelta(minutes=self.minutes)


class CalendarFeed(Base):
    """A person's secret calendar address: the token is the only key (no login), so a new
    token revokes the old address."""

    __tablename__ = "calendar_feed"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), unique=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class HelpRequest(Base):
    """A member asking HR for help, confidentially: ``text`` is for HR only; the other member
    learns who asked only when ``reveal`` is set."""

    __tablename__ = "help_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("pair.id", ondelete="CASCADE"), index=True)
    asker_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), nullable=True
    )
    reason: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text, default="")
    reveal: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default="open")
    outcome: Mapped[str] = mapped_column(String(40), default="")
    handled_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    handled_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)

    pair: Mapped[Pair] = relationship()
    asker: Mapped[Person | None] = relationship(foreign_keys=[asker_id])


class InboxMessage(Base):
    """A notice for one person: its kind and parameters, rendered in the reader's language
    when shown. ``key`` makes a notice idempotent: one message per key, ever."""

    __tablename__ = "inbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    params: Mapped[str] = mapped_column(Text, default="{}")  # JSON object
    link: Mapped[str] = mapped_column(String(300), default="")
    key: Mapped[str | None] = mapped_column(String(200), nullable=True, unique=True)
    emailed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class ApiToken(Base):
    """A personal API token (``Authorization: Bearer``). Only its SHA-256 digest is stored;
    the token itself is shown once, when it is made. Revoked tokens stay listed."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters of the token, so its owner can tell tokens apart.
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)

    person: Mapped[Person] = relationship()


ACCOUNT_LINK_PURPOSES = ("invite", "reset")


class AccountLink(Base):
    """A one-time, expiring set-password link (an invitation or a reset by HR). Only the
    SHA-256 digest of its token is stored; a used or newer link makes it useless."""

    __tablename__ = "account_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)

    person: Mapped[Person] = relationship(foreign_keys=[person_id])


class SsoIdentity(Base):
    """A person's account at the single sign-on provider (OpenID Connect), linked at their
    first sign-in through it: the provider's ``iss`` and ``sub``, which never change, while
    the e-mail address that found the account first may. One per person and provider."""

    __tablename__ = "sso_identity"
    __table_args__ = (
        UniqueConstraint("issuer", "subject"),
        UniqueConstraint("person_id", "issuer"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(255))
    linked_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)

    person: Mapped[Person] = relationship()


# An uploaded video's stored name (``<32 hex>.<kind>``, random) and its address in a guide's
# video line (``/guides/videos/NAME``): defined once here, for kb.services.videos (which
# parses the lines), kb.services.uploads (which stores the files) and the data export.
VIDEO_TYPES = {"mp4": "video/mp4", "webm": "video/webm", "ogv": "video/ogg"}  # kind: its type
UPLOAD_PREFIX = "/guides/videos/"
_NAME = rf"[a-f0-9]{{32}}\.(?:{'|'.join(VIDEO_TYPES)})"
VIDEO_NAME = re.compile(rf"^{_NAME}$")


class VideoUpload(Base):
    """A short video file a person uploaded for their guides: stored in the instance folder
    (``videos/NAME``, a random name, never the uploader's file name), served at
    ``/guides/videos/NAME`` with its type. The row says whose it is (their data export holds
    the file) and what it is."""

    __tablename__ = "video_upload"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    owner: Mapped[Person] = relationship()


# An uploaded video's address as a guide's video line holds it (kb.services.videos).
_UPLOAD_LINK = re.compile(rf"(?m)^\s*{re.escape(UPLOAD_PREFIX)}({_NAME})\s*(?:\||$)")


def uploaded_names(videos: str) -> list[str]:
    """The stored names of the uploads that a revision's video lines link to, each once."""
    return list(dict.fromkeys(_UPLOAD_LINK.findall(videos)))


class VideoReference(Base):
    """One revision's link to an uploaded video, by its stored name (indexed): who may watch
    an upload, and which guides still use it, are one lookup instead of a scan of every
    revision's text. The name may outlive its upload (the revision keeps its line)."""

    __tablename__ = "video_reference"
    __table_args__ = (UniqueConstraint("revision_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    revision_id: Mapped[int] = mapped_column(
        ForeignKey("guide_revision.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(40), index=True)

    revision: Mapped[GuideRevision] = relationship(back_populates="video_refs")
