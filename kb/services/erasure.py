"""Erasure of a person (GDPR Art. 17) and the retention of session notes.

``erase_person`` changes the database in the caller's transaction; ``purge_derived`` then
removes what the derived stores still hold (search indexes and their snapshots, the
embedding cache, SQLite's free pages). The policy, as the README states it:

- The account stays as an anonymous row (other people's records keep their shape): name
  "Former participant", an ``erased-<id>@erased.invalid`` address, every profile field
  emptied, no password, no roles, deactivated, every session ended.
- Pairs the person was in stay (their partner's history, programme counts) and end; every
  note of those pairs goes, with its insight, published or not: a pair's notes are the two
  members' shared record of their sessions, and erasure withdraws the person's consent.
- Enrolments stay for the programme's counts, their motivation and expertise emptied.
- Feedback the person gave goes. Help requests of their pairs: their own go, their
  partner's stay with the text emptied.
- Published guides stay, anonymised: the author is the anonymous row and the person's name
  and e-mail in every revision are replaced. Drafts and archived guides go.
- Their inbox, calendar feed and login-failure rows go; other people's inbox notices, audit
  details and pair-change lines that name them are rewritten; cached matching results go.
- Vectors of every removed or rewritten text go from the matching vectors and the
  embedding cache.

Domain code: no Flask.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from kb.chunking import embedding_text
from kb.embedding import Embedder, text_hash
from kb.errors import ValidationError
from kb.i18n import N_
from kb.models import (
    VIDEO_NAME,
    AuditEntry,
    Base,
    CalendarFeed,
    Chunk,
    Enrolment,
    Feedback,
    Guide,
    GuideRevision,
    HelpRequest,
    InboxMessage,
    LoginFailure,
    MatchingJob,
    MatchingVector,
    Pair,
    PairChange,
    Person,
    Programme,
    SessionNote,
    VideoUpload,
)
from kb.services import audit
from kb.services.content import remove_chunks
from kb.services.guides import guide_doc_key, index_guide
from kb.services.logins import account_key
from kb.services.match_vectors import chunk_texts, person_texts, profile_texts
from kb.services.notes import insight_doc_key, note_doc_key
from kb.services.pairs import record_change

if TYPE_CHECKING:
    from kb.runtime import Tandem

ERASED_NAME = "Former participant"
REPLACEMENT = "[erased]"
# Every column that points at a person, and how erasure treats it (tests/test_erasure.py
# fails when a new one appears that is not listed here).
PERSON_REFERENCES = {
    "person.manager_id": "kept (the manager row is anonymised)",
    "enrolment.person_id": "kept, text emptied",
    "pair.mentor_id": "kept, pair ended, notes deleted",
    "pair.mentee_id": "kept, pair ended, notes deleted",
    "pair_change.actor_id": "kept (an id), lines naming them rewritten",
    "guide.author_id": "published kept anonymised, others deleted",
    "guide_revision.editor_id": "cleared",
    "session_note.author_id": "deleted with the pair's notes",
    "chunk.author_id": "kept for anonymised guides, else deleted with the document",
    "feedback.author_id": "deleted",
    "audit_entry.actor_id": "kept (an id), details naming them rewritten",
    "meeting.created_by_id": "kept (times and tags only)",
    "calendar_feed.person_id": "deleted",
    "help_request.asker_id": "own deleted, partner's text emptied",
    "help_request.handled_by_id": "kept (an id)",
    "inbox_message.person_id": "deleted",
    "api_token.person_id": "deleted (by the fallback below)",
    "account_link.person_id": "deleted (by the fallback below)",
    "account_link.created_by_id": "cleared",
    "sso_identity.person_id": "deleted (by the fallback below)",
    "video_upload.owner_id": "deleted, the files removed after the commit (the command does)",
}


@dataclass
class Erasure:
    """What ``erase_person`` did, as counts, and what ``purge_derived`` must still remove."""

    person_id: int
    counts: dict[str, int] = field(default_factory=dict)
    # Hashes of every removed or rewritten text, as the vector stores key them.
    text_hashes: set[str] = field(default_factory=set)
    # Stored names of the person's uploaded videos (rows deleted; files go after the commit).
    video_names: list[str] = field(default_factory=list)

    def add(self, what: str, n: int = 1) -> None:
        if n:
            self.counts[what] = self.counts.get(what, 0) + n


def _chunk_hashes(session: Session, doc_key: str) -> set[str]:
    rows = session.execute(select(Chunk.title, Chunk.text).where(Chunk.doc_key == doc_key))
    return {text_hash(embedding_text(title, text)) for title, text in rows}


def _replace_in(value: Any, needles: Iterable[str]) -> Any:
    """``value`` (JSON data) with every needle in its strings replaced."""
    if isinstance(value, str):
        for needle in needles:
            value = value.replace(needle, REPLACEMENT)
        return value
    if isinstance(value, list):
        return [_replace_in(v, needles) for v in value]
    if isinstance(value, dict):
        return {k: _replace_in(v, needles) for k, v in value.items()}
    return value


def _rewrite_json(text: str, needles: list[str]) -> str | None:
    """The JSON ``text`` rewritten, or None when it does not mention any needle."""
    try:
        data = json.loads(text or "{}")
    except ValueError:
        data = text
    if not any(n in json.dumps(data, ensure_ascii=False) for n in needles):
        return None
    return json.dumps(_replace_in(data, needles), ensure_ascii=False, sort_keys=True)


def _remove_note(session: Session, note: SessionNote, erasure: Erasure) -> None:
    if note.insight is not None:
        erasure.text_hashes |= _chunk_hashes(session, insight_doc_key(note.insight))
        remove_chunks(session, insight_doc_key(note.insight))
        session.delete(note.insight)
        erasure.add("insights deleted")
    erasure.text_hashes |= _chunk_hashes(session, note_doc_key(note))
    remove_chunks(session, note_doc_key(note))
    session.delete(note)
    erasure.add("notes deleted")


def erase_person(
    session: Session,
    person: Person,
    actor: Person | None,
    embedders: Mapping[str, Embedder],
    today: dt.date | None = None,
) -> Erasure:
    """Erase ``person`` following the module's policy, in ``session`` (the caller commits),
    with one audit entry (counts only). ``actor``: the HR person (None: not checked here)."""
    if person.email.endswith("@erased.invalid"):
        raise ValidationError(N_("this person was erased already"), field="email")
    if actor is not None and actor.id == person.id:
        raise ValidationError(N_("HR cannot erase their own account"), field="email")
    today = today or dt.date.today()
    erasure = Erasure(person.id)
    name, email = person.name.strip(), person.email.strip()
    needles = [n for n in dict.fromkeys((email, name)) if len(n) >= 3]

    # Profile texts' vectors (goals, stated expertise, also per enrolment).
    enrolments = list(session.scalars(select(Enrolment).where(Enrolment.person_id == person.id)))
    profiles = [(person.expertise, person.goals), *((e.expertise, "") for e in enrolments)]
    erasure.text_hashes |= {text_hash(t) for t in profile_texts(profiles)}

    # Pairs: every note (and insight) of the person's pairs goes; the pair ends.
    pairs = list(
        session.scalars(
            select(Pair).where(or_(Pair.mentor_id == person.id, Pair.mentee_id == person.id))
        )
    )
    for pair in pairs:
        for note in session.scalars(select(SessionNote).where(SessionNote.pair_id == pair.id)):
            _remove_note(session, note, erasure)
        if pair.status in ("active", "paused"):
            pair.status, pair.ended = "ended", pair.ended or today
            erasure.add("pairs ended")
        elif pair.status == "proposed":
            pair.status = "rejected"
            erasure.add("pairs ended")
        record_change(pair, N_("a member's personal data was erased"), actor)
        for request in session.scalars(select(HelpRequest).where(HelpRequest.pair_id == pair.id)):
            if request.asker_id == person.id:
                session.delete(request)
                erasure.add("help requests deleted")
            elif request.text:
                request.text = ""
                erasure.add("help requests emptied")
    # Notes the person wrote in pairs they are no longer recorded in (none expected).
    for note in session.scalars(select(SessionNote).where(SessionNote.author_id == person.id)):
        _remove_note(session, note, erasure)

    # Guides: published ones stay anonymised, the rest go.
    for guide in session.scalars(select(Guide).where(Guide.author_id == person.id)):
        key = guide_doc_key(guide)
        erasure.text_hashes |= _chunk_hashes(session, key)
        if guide.status != "published":
            remove_chunks(session, key)
            session.delete(guide)  # its revisions go with it (ORM cascade)
            erasure.add("guides deleted")
            continue
        for revision in guide.revisions:
            revision.title = str(_replace_in(revision.title, needles))
            revision.body_md = str(_replace_in(revision.body_md, needles))
            revision.videos = str(_replace_in(revision.videos, needles))
        guide.title = str(_replace_in(guide.title, needles))
        session.flush()
        index_guide(session, guide, embedders)
        erasure.add("guides kept anonymised")
    for revision in session.scalars(
        select(GuideRevision).where(GuideRevision.editor_id == person.id)
    ):
        revision.editor_id = None
        erasure.add("revisions' editor cleared")

    # Enrolments stay for counts; their text goes; open ones end.
    finished = {
        p.id for p in session.scalars(select(Programme).where(Programme.status == "finished"))
    }
    for enrolment in enrolments:
        enrolment.motivation, enrolment.expertise, enrolment.ready = "", "", False
        if enrolment.status in ("invited", "agreed", "enrolled") and (
            enrolment.programme_id not in finished
        ):
            enrolment.status = "left"
        erasure.add("enrolments emptied")

    # What the person gave or received that is theirs alone.
    erasure.video_names = list(
        session.scalars(select(VideoUpload.name).where(VideoUpload.owner_id == person.id))
    )
    for model, column in (
        (VideoUpload, VideoUpload.owner_id),
        (Feedback, Feedback.author_id),
        (InboxMessage, InboxMessage.person_id),
        (CalendarFeed, CalendarFeed.person_id),
    ):
        result = session.execute(
            delete(model).where(column == person.id),
            execution_options={"synchronize_session": "fetch"},
        )
        erasure.add(f"{model.__tablename__} deleted", int(getattr(result, "rowcount", 0) or 0))
    result = session.execute(delete(LoginFailure).where(LoginFailure.key == account_key(email)))
    erasure.add("login failures deleted", int(getattr(result, "rowcount", 0) or 0))

    # Other records that name the person.
    if needles:
        for message in session.scalars(select(InboxMessage)):
            rewritten = _rewrite_json(message.params, needles)
            if rewritten is not None:
                message.params = rewritten
                erasure.add("notices rewritten")
        for entry in session.scalars(select(AuditEntry)):
            rewritten = _rewrite_json(entry.detail, needles)
            if rewritten is not None:
                entry.detail = rewritten
                erasure.add("audit details rewritten")
        for change in session.scalars(select(PairChange)):
            rewritten_line = str(_replace_in(change.what, needles))
            rewritten_message = _rewrite_json(change.message, needles) if change.message else None
            if rewritten_line != change.what or rewritten_message is not None:
                change.what = rewritten_line
                change.message = rewritten_message or change.message
                erasure.add("pair history lines rewritten")
    _other_references(session, person.id, erasure)
    jobs = session.execute(delete(MatchingJob))  # cached proposals name people
    erasure.add("matching results dropped", int(getattr(jobs, "rowcount", 0) or 0))

    # The account itself.
    person.name = ERASED_NAME
    person.email = f"erased-{person.id}@erased.invalid"
    person.department = ""
    person.languages = person.roles = person.expertise = person.goals = ""
    person.style = person.availability = person.content_hash = ""
    person.opt_in, person.capacity, person.ui_language = False, None, None
    person.password_hash = None
    person.active = False
    person.session_version = (person.session_version or 0) + 1
    session.flush()

    # Texts someone else still has (a shared goal, a guide chunk the rewrite left alone) keep
    # their vectors.
    erasure.text_hashes -= _hashes_in_use(session)
    erasure.add("matching vectors deleted", _delete_matching_vectors(session, erasure.text_hashes))
    audit.record(session, actor, "person.erased", "person", person.id,
                 detail={_count_key(k): v for k, v in sorted(erasure.counts.items())})  # fmt: skip
    session.flush()
    return erasure


def _hashes_in_use(session: Session) -> set[str]:
    """Hashes of every text matching keeps a vector for (as ``tandem check`` counts them)."""
    texts = person_texts(session.scalars(select(Person))) + chunk_texts(session)
    return {text_hash(t) for t in texts}


def _delete_matching_vectors(session: Session, text_hashes: Iterable[str]) -> int:
    hashes, removed = list(text_hashes), 0
    for i in range(0, len(hashes), 500):
        result = session.execute(
            delete(MatchingVector).where(MatchingVector.text_hash.in_(hashes[i : i + 500]))
        )
        removed += int(getattr(result, "rowcount", 0) or 0)
    return removed


def _count_key(what: str) -> str:
    """An audit-detail key for a count ("notes deleted" -> "notes_deleted_count")."""
    return "_".join(what.replace("'", "").split()) + "_count"


def _other_references(session: Session, person_id: int, erasure: Erasure) -> None:
    """Rows of tables added after this module that point at the person: deleted (a column
    not listed in PERSON_REFERENCES has no policy yet, so nothing of it is kept)."""
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            where = f"{table.name}.{fk.parent.name}"
            if fk.column.table.name != "person" or (
                where in PERSON_REFERENCES and "fallback" not in PERSON_REFERENCES[where]
            ):
                continue
            result = session.execute(delete(table).where(fk.parent == person_id))
            erasure.add(f"{table.name} deleted", int(getattr(result, "rowcount", 0) or 0))
    for table in Base.metadata.sorted_tables:  # columns whose policy is "cleared"
        for fk in table.foreign_keys:
            where = f"{table.name}.{fk.parent.name}"
            if PERSON_REFERENCES.get(where) == "cleared" and where != "guide_revision.editor_id":
                session.execute(
                    table.update().where(fk.parent == person_id).values({fk.parent.name: None})
                )


# -- the derived stores ---------------------------------------------------------------------


def remove_video_files(directory: Path, names: Iterable[str]) -> int:
    """Delete the erased person's uploaded video files (after the commit); how many went."""
    removed = 0
    for name in names:
        path = directory / name
        if VIDEO_NAME.match(name) and path.is_file():
            path.unlink()
            removed += 1
    return removed


def purge_embedding_cache(path: Path, hashes: Iterable[str]) -> int:
    """Delete the vectors of ``hashes`` from the embedding cache file at ``path`` (if any),
    then rewrite the file so no freed page keeps them; returns how many rows went."""
    if not path.exists():
        return 0
    keys = list(hashes)
    conn = sqlite3.connect(str(path), timeout=60)
    try:
        removed = 0
        for i in range(0, len(keys), 500):
            part = keys[i : i + 500]
            marks = ",".join("?" * len(part))
            removed += conn.execute(f"DELETE FROM vectors WHERE hash IN ({marks})", part).rowcount
        conn.commit()
        _compact(conn)
        return removed
    finally:
        conn.close()


def _compact(conn: sqlite3.Connection) -> None:
    """Rewrite an SQLite database without its free pages and empty its write-ahead log."""
    conn.execute("VACUUM")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def compact_database(database_url: str) -> bool:
    """SQLite: VACUUM and truncate the WAL, so deleted rows leave the file too (PostgreSQL:
    nothing here; its own VACUUM reclaims the space). Returns whether it ran."""
    prefix = "sqlite:///"
    if not database_url.startswith(prefix):
        return False
    conn = sqlite3.connect(database_url[len(prefix) :], timeout=60)
    try:
        _compact(conn)
    finally:
        conn.close()
    return True


def purge_derived(tandem: Tandem, text_hashes: Iterable[str]) -> list[str]:
    """After the erasure is committed: rebuild every search index and snapshot from the
    database, drop the earlier Whoosh generations, purge the embedding cache and compact an
    SQLite database. Returns one line per step, for the command's output."""
    from kb.search.indexes.whooshstore import LINK

    done: list[str] = []
    search = tandem.search
    search.reindex()
    current = search.fulltext.current_generation()
    dropped = 0
    for path in tandem.settings.index_dir.glob(f"{LINK}-*"):
        if path.is_dir() and (current is None or path.name != current.name):
            shutil.rmtree(path, ignore_errors=True)
            dropped += 1
    done.append(
        f"search indexes and snapshots rebuilt; {dropped} earlier Whoosh generation(s) removed"
    )
    removed = purge_embedding_cache(tandem.settings.embedding_cache_path, text_hashes)
    done.append(f"embedding cache: {removed} vector(s) removed")
    from kb.services import match_vectors

    added = match_vectors.catch_up(tandem.sessions, tandem.matching_embedders)
    done.append(f"matching: {added} vector(s) computed for rewritten texts")
    if compact_database(tandem.settings.database_url):
        done.append("database file compacted (VACUUM, write-ahead log emptied)")
    return done


# -- retention ------------------------------------------------------------------------------


@dataclass
class Retention:
    """Notes past the retention period: deleted, or emptied when a published insight quotes
    them (the insight stays: both members consented to publish it)."""

    days: int
    programmes: list[str] = field(default_factory=list)
    notes_deleted: int = 0
    notes_emptied: int = 0
    text_hashes: set[str] = field(default_factory=set)

    def to_dict(self) -> dict[str, object]:
        return {
            "days": self.days,
            "programmes": self.programmes,
            "notes_deleted": self.notes_deleted,
            "notes_emptied": self.notes_emptied,
        }


EMPTIED_TITLE = "(removed after the retention period)"


def overdue_programmes(session: Session, days: int, today: dt.date) -> list[Programme]:
    """Programmes that ended more than ``days`` days before ``today``."""
    cutoff = today - dt.timedelta(days=days)
    return list(
        session.scalars(
            select(Programme)
            .where(Programme.ends.is_not(None), Programme.ends < cutoff)
            .order_by(Programme.id)
        )
    )


def apply_retention(
    session: Session, days: int, today: dt.date | None = None, dry_run: bool = False
) -> Retention:
    """Delete the session notes of every programme that ended more than ``days`` days ago
    (in the caller's transaction, one audit entry per programme, counts only)."""
    if days < 0:
        raise ValidationError(N_("the retention period cannot be negative"), field="days")
    today = today or dt.date.today()
    report = Retention(days)
    for programme in overdue_programmes(session, days, today):
        notes = list(
            session.scalars(
                select(SessionNote)
                .join(Pair, Pair.id == SessionNote.pair_id)
                .where(Pair.programme_id == programme.id)
                .order_by(SessionNote.id)
            )
        )
        emptied = [n for n in notes if n.body_md and n.insight is not None and n.insight.published]
        deleted = [n for n in notes if n.insight is None or not n.insight.published]
        if not emptied and not deleted:
            continue
        report.programmes.append(programme.slug)
        report.notes_deleted += len(deleted)
        report.notes_emptied += len(emptied)
        if dry_run:
            continue
        for note in deleted:
            report.text_hashes |= _chunk_hashes(session, note_doc_key(note))
            if note.insight is not None:
                report.text_hashes |= _chunk_hashes(session, insight_doc_key(note.insight))
                remove_chunks(session, insight_doc_key(note.insight))
                session.delete(note.insight)
            remove_chunks(session, note_doc_key(note))
            session.delete(note)
        for note in emptied:
            report.text_hashes |= _chunk_hashes(session, note_doc_key(note))
            remove_chunks(session, note_doc_key(note))
            note.title, note.body_md, note.tags = EMPTIED_TITLE, "", ""
        session.flush()
        report.text_hashes -= _hashes_in_use(session)
        _delete_matching_vectors(session, report.text_hashes)
        audit.record(session, None, "notes.retention", "programme", programme.id,
                     programme_id=programme.id,
                     detail={"days": days, "deleted_count": len(deleted),
                             "emptied_count": len(emptied)})  # fmt: skip
    return report
