"""A pair's private notes (members only) and the consent flow for sharing an insight."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from kb.errors import NotFound
from kb.models import Pair, Person, SessionNote, split_list
from kb.services.markup import render_markdown
from kb.services.programmes import pairs_for_person
from kb.views.listing import pair_notes
from kb.views.support import current_person, db

bp = Blueprint("notes", __name__)


def member_note(note_id: int, person: Person | None) -> SessionNote:
    """The note if ``person`` belongs to its pair. Anyone else (HR too) learns nothing: 404."""
    note = db().scalar(
        select(SessionNote)
        .where(SessionNote.id == note_id)
        .options(
            selectinload(SessionNote.pair).selectinload(Pair.mentor),
            selectinload(SessionNote.pair).selectinload(Pair.mentee),
            selectinload(SessionNote.insight),
            selectinload(SessionNote.author),
        )
    )
    if note is None or person is None or not note.pair.has_member(person.id):
        raise NotFound("No such note.")
    return note


@bp.route("/pair")
@login_required
def my_pair() -> ResponseReturnValue:
    person = current_person()
    assert person is not None  # login_required
    session = db()
    pairs = [(pair, pair_notes(session, pair)) for pair in pairs_for_person(session, person)]
    return render_template("notes/pair.html", pairs=pairs, person=person)


@bp.route("/notes/<int:note_id>")
def view(note_id: int) -> ResponseReturnValue:
    person = current_person()
    note = member_note(note_id, person)
    return render_template(
        "notes/view.html",
        note=note,
        pair=note.pair,
        person=person,
        body_html=render_markdown(note.body_md),
        tags=split_list(note.tags),
    )


def back_to(note_id: int) -> ResponseReturnValue:
    return redirect(url_for("notes.view", note_id=note_id) + "#insight")


@bp.route("/notes/<int:note_id>/insight", methods=["POST"])
@login_required
def propose(note_id: int) -> ResponseReturnValue:
    from kb.views import insight_actions

    person = current_person()
    member_note(note_id, person)
    insight_actions.propose(note_id, person, request.form.get("text", ""))
    flash("Insight offered. It becomes public once both of you agree.", "info")
    return back_to(note_id)


@bp.route("/notes/<int:note_id>/insight/consent", methods=["POST"])
@login_required
def consent(note_id: int) -> ResponseReturnValue:
    from kb.views import insight_actions

    person = current_person()
    member_note(note_id, person)
    published = insight_actions.consent(note_id, person)
    flash("Published: the insight is now public." if published
          else "Thank you: waiting for the other member to agree.", "info")
    return back_to(note_id)


@bp.route("/notes/<int:note_id>/insight/withdraw", methods=["POST"])
@login_required
def withdraw(note_id: int) -> ResponseReturnValue:
    from kb.views import insight_actions

    person = current_person()
    member_note(note_id, person)
    insight_actions.withdraw(note_id, person)
    flash("Insight withdrawn: it is private again.", "info")
    return back_to(note_id)
