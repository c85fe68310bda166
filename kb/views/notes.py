"""A pair's private notes (members only) and the consent flow for sharing an insight."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_required

from kb.errors import NotFound
from kb.models import Person, SessionNote, SharedInsight, split_list
from kb.services import match_vectors
from kb.services import notes as note_service
from kb.services.guides import render_markdown
from kb.services.pairs import pairs_for_person
from kb.views.support import current_person, db, tandem

bp = Blueprint("notes", __name__)

# The site's policy with images from this site only (no https: images, see kb.app).
PRIVATE_CSP = (
    "default-src 'self'; script-src 'none'; img-src 'self' data:; "
    "style-src 'self'; frame-ancestors 'none'; form-action 'self'"
)


def member_note(note_id: int) -> tuple[SessionNote, Person]:
    """The note and the asking member. Anyone else (HR too) learns nothing: 404."""
    person = current_person()
    note = note_service.get_note(db(), note_id, person)
    assert person is not None  # get_note answers the pair's members only
    return note, person


def note_insight(note: SessionNote) -> SharedInsight:
    if note.insight is None:
        raise NotFound("This note has no insight to act on.")
    return note.insight


def committed() -> None:
    """Commit the request's writes, then bring this process's search indexes up to date."""
    db().commit()
    tandem().search.catch_up()


@bp.route("/pair")
@login_required
def my_pair() -> ResponseReturnValue:
    person = current_person()
    assert person is not None  # login_required
    session = db()
    pairs = [
        (pair, note_service.notes_for_pair(session, pair, person))
        for pair in pairs_for_person(session, person)
    ]
    pending = note_service.pending_insights(session, person)
    return render_template("notes/pair.html", pairs=pairs, person=person, pending=pending)


@bp.route("/notes/<int:note_id>")
def view(note_id: int) -> ResponseReturnValue:
    """A private note: its remote images become links, and the page's CSP loads images from
    this site only, so opening a note tells no one elsewhere that it was read."""
    note, person = member_note(note_id)
    page = render_template(
        "notes/view.html",
        note=note,
        pair=note.pair,
        person=person,
        body_html=render_markdown(note.body_md, remote_images=False),
        tags=split_list(note.tags),
    )
    return page, 200, {"Content-Security-Policy": PRIVATE_CSP}


def back_to(note_id: int) -> ResponseReturnValue:
    return redirect(url_for("notes.view", note_id=note_id) + "#insight")


@bp.route("/notes/<int:note_id>/insight", methods=["POST"])
@login_required
def propose(note_id: int) -> ResponseReturnValue:
    note, person = member_note(note_id)
    note_service.propose_insight(
        db(), note, person, request.form.get("text", ""), embedders=tandem().embedders
    )
    committed()
    flash("Insight offered. It becomes public once both of you agree.", "info")
    return back_to(note_id)


@bp.route("/notes/<int:note_id>/insight/consent", methods=["POST"])
@login_required
def consent(note_id: int) -> ResponseReturnValue:
    note, person = member_note(note_id)
    insight = note_service.consent_insight(
        db(), note_insight(note), person, embedders=tandem().embedders
    )
    published = insight.published
    if published:  # public now: matching may quote it, so it needs its matching vectors
        match_vectors.store_for_docs(
            db(), [note_service.insight_doc_key(insight)], tandem().matching_embedders
        )
    committed()
    flash(
        "Published: the insight is now public."
        if published
        else "Thank you: waiting for the other member to agree.",
        "info",
    )
    return back_to(note_id)


@bp.route("/notes/<int:note_id>/insight/withdraw", methods=["POST"])
@login_required
def withdraw(note_id: int) -> ResponseReturnValue:
    note, person = member_note(note_id)
    note_service.withdraw_insight(db(), note_insight(note), person)
    committed()
    flash("Insight withdrawn: it is private again.", "info")
    return back_to(note_id)
