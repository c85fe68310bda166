"""/api/notes: a pair's session notes and their shared insight, with the pages' permissions.

Only the two members of a pair see or change its notes; anyone else (HR, another pair) gets
the same 404 as for a note that does not exist, and ``GET /api/notes`` lists the caller's own
pairs' notes only (none for HR). Anonymous callers get 401.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import jsonify, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from kb.errors import NotFound, ValidationError
from kb.i18n import N_
from kb.models import Person, SessionNote, SharedInsight, split_list
from kb.services import notes as note_service
from kb.views.api import api_login_required, api_person, bp, json_object
from kb.views.support import db, tandem

TEXT_FIELDS = ("title", "body_md", "language")
SECTION_KEYS = tuple(key for key, _ in note_service.NOTE_SECTIONS)


def _when(value: dt.date | dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def insight_json(insight: SharedInsight | None, person: Person) -> dict[str, Any] | None:
    if insight is None:
        return None
    pair = insight.note.pair
    mine = insight.mentor_consent_at if pair.mentor_id == person.id else insight.mentee_consent_at
    return {
        "id": insight.id,
        "text": insight.text,
        "published": insight.published,
        "mentor_agreed": insight.mentor_consent_at is not None,
        "mentee_agreed": insight.mentee_consent_at is not None,
        "you_agreed": mine is not None,
        "personal_data": [
            {"kind": item.kind, "text": item.text}
            for item in note_service.personal_data_in(db(), insight.text)
        ],
    }


def note_json(note: SessionNote, person: Person, *, body: bool = True) -> dict[str, Any]:
    found: dict[str, Any] = {
        "id": note.id,
        "pair_id": note.pair_id,
        "author": {"id": note.author_id, "name": note.author.name},
        "title": note.title,
        "language": note.language,
        "tags": split_list(note.tags),
        "session_date": _when(note.session_date),
        "created_at": _when(note.created_at),
        "updated_at": _when(note.updated_at),
    }
    if body:
        found["body_md"] = note.body_md
    found["insight"] = insight_json(note.insight, person)
    return found


def _text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(N_("%(name)s must be text."), field=key, name=key)
    return value


def _tags(body: dict[str, Any]) -> list[str] | str | None:
    value = body.get("tags")
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise ValidationError(N_("tags must be a list of text."), field="tags")


def _date(body: dict[str, Any]) -> dt.date | None:
    value = body.get("session_date")
    if value is None or value == "":
        return None
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        pass
    raise ValidationError(N_("session_date must be a date (YYYY-MM-DD)."), field="session_date")


def _check_fields(body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ValidationError(
            N_("Unknown fields: %(names)s."), field=unknown[0], names=", ".join(unknown)
        )


def member_note(note_id: int) -> tuple[SessionNote, Person]:
    person = api_person()
    return note_service.get_note(db(), note_id, person), person


def committed() -> None:
    """Commit, then bring this process's search indexes up to date."""
    db().commit()
    tandem().search.catch_up()


@bp.get("/notes")
@api_login_required
def list_notes() -> ResponseReturnValue:
    """The notes of the caller's own pairs, newest session first (no bodies)."""
    person = api_person()
    found = note_service.notes_for_person(db(), person)
    return jsonify({"notes": [note_json(n, person, body=False) for n in found]})


@bp.post("/pairs/<int:pair_id>/notes")
@api_login_required
def create_note(pair_id: int) -> ResponseReturnValue:
    """A new note: ``body_md``, or the template's ``sections`` (learned, tried, worked, next)."""
    person = api_person()
    session = db()
    pair = note_service.member_pair(session, pair_id, person)
    body = json_object()
    _check_fields(body, ("title", "body_md", "sections", "language", "tags", "session_date"))
    sections = body.get("sections")
    if sections is not None:
        if body.get("body_md") is not None:
            raise ValidationError(N_("Give body_md or sections, not both."), field="sections")
        if not isinstance(sections, dict) or not all(
            k in SECTION_KEYS and isinstance(v, str) for k, v in sections.items()
        ):
            raise ValidationError(
                N_("sections must map learned, tried, worked and next to text."),
                field="sections",
            )
        headings = {key: gettext(english) for key, english in note_service.NOTE_SECTIONS}
        text = note_service.compose_body(sections, headings)
    else:
        text = _text(body, "body_md") or ""
    note = note_service.create_note(
        session, pair, person, title=_text(body, "title") or "", body_md=text,
        language=_text(body, "language") or "en", tags=_tags(body) or (),
        session_date=_date(body), embedders=tandem().embedders,
    )  # fmt: skip
    committed()
    return jsonify(note_json(note, person)), 201


# One rule per path with all its methods: a too-large id then answers 404 for every method
# (with one rule per method, werkzeug would answer 405 for the methods of the other rules).
@bp.route("/notes/<int:note_id>", methods=["GET", "PATCH", "DELETE"])
@api_login_required
def note(note_id: int) -> ResponseReturnValue:
    """GET the note; PATCH some of its fields; DELETE it (either member)."""
    if request.method == "PATCH":
        return update_note(note_id)
    if request.method == "DELETE":
        return delete_note(note_id)
    found, person = member_note(note_id)
    return jsonify(note_json(found, person))


def update_note(note_id: int) -> ResponseReturnValue:
    """Change some of title, body_md, language, tags, session_date (either member)."""
    note, person = member_note(note_id)
    body = json_object()
    _check_fields(body, ("title", "body_md", "language", "tags", "session_date"))
    note_service.update_note(
        db(), note, person, title=_text(body, "title"), body_md=_text(body, "body_md"),
        language=_text(body, "language"), tags=_tags(body), session_date=_date(body),
        embedders=tandem().embedders,
    )  # fmt: skip
    committed()
    return jsonify(note_json(note, person))


def delete_note(note_id: int) -> ResponseReturnValue:
    """Delete the note and its insight; both leave every search index."""
    note, person = member_note(note_id)
    note_service.delete_note(db(), note, person)
    committed()
    return "", 204


@bp.route("/notes/<int:note_id>/insight", methods=["POST", "DELETE"])
@api_login_required
def insight(note_id: int) -> ResponseReturnValue:
    """POST offers an excerpt (or checks it); DELETE withdraws the insight."""
    if request.method == "DELETE":
        return withdraw_insight(note_id)
    return offer_insight(note_id)


def offer_insight(note_id: int) -> ResponseReturnValue:
    """Offer ``text`` as the note's insight (counts as the caller's consent). With
    ``"check": true`` nothing is saved: the answer shows the text and its personal data."""
    note, person = member_note(note_id)
    body = json_object()
    _check_fields(body, ("text", "check"))
    text = _text(body, "text") or ""
    if body.get("check") is True:
        found = note_service.personal_data_in(db(), text.strip())
        return jsonify(
            {
                "text": text.strip(),
                "personal_data": [{"kind": i.kind, "text": i.text} for i in found],
            }
        )
    insight = note_service.propose_insight(db(), note, person, text, embedders=tandem().embedders)
    committed()
    return jsonify(insight_json(insight, person))


def _insight(note: SessionNote) -> SharedInsight:
    if note.insight is None:
        raise NotFound(N_("This note has no insight to act on."))
    return note.insight


@bp.post("/notes/<int:note_id>/insight/consent")
@api_login_required
def consent_insight(note_id: int) -> ResponseReturnValue:
    """The caller agrees; with both members' agreement the insight is public."""
    note, person = member_note(note_id)
    session = db()
    insight = note_service.consent_insight(
        session, _insight(note), person, embedders=tandem().embedders
    )
    committed()
    if insight.published:  # public now: matching may quote it
        tandem().matching_refresh.submit([note_service.insight_doc_key(insight)])
    return jsonify(insight_json(insight, person))


def withdraw_insight(note_id: int) -> ResponseReturnValue:
    """Either member withdraws (or unpublishes) the insight; it leaves search at once."""
    note, person = member_note(note_id)
    note_service.withdraw_insight(db(), _insight(note), person)
    committed()
    return "", 204
