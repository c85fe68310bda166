"""A pair's private notes (members only) and the consent flow for sharing an insight."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale, gettext
from flask_login import login_required

from kb.errors import NotFound, ValidationError
from kb.models import LANGUAGES, Person, SessionNote, SharedInsight, split_list
from kb.services import notes as note_service
from kb.services.guides import render_markdown
from kb.services.pairs import pairs_for_person
from kb.views.i18n import translate_error
from kb.views.support import current_person, db, parse_date, tandem

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
        raise NotFound(gettext("This note has no insight to act on."))
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


def page_language() -> str:
    """The page's language when notes can be written in it, else English."""
    locale = get_locale()
    language = locale.language if locale is not None else "en"
    return language if language in LANGUAGES else "en"


def section_headings() -> dict[str, str]:
    """The template's section names in the page's language."""
    return {key: gettext(english) for key, english in note_service.NOTE_SECTIONS}


def note_form(**values: object) -> dict[str, object]:
    """What the note form shows: the template's sections and the posted or stored values."""
    return {
        "sections": list(section_headings().items()),
        "languages": LANGUAGES,
        "form": {key: request.form.get(key, "") for key in request.form} | values,
    }


@bp.route("/pair/<int:pair_id>/notes/new", methods=["GET", "POST"])
@login_required
def new(pair_id: int) -> ResponseReturnValue:
    """Either member writes a note with the programme's template (private to the pair)."""
    person = current_person()
    assert person is not None  # login_required
    session = db()
    pair = note_service.member_pair(session, pair_id, person)
    if request.method == "GET":
        context = note_form(language=page_language(), session_date="", title="", tags="")
        return render_template("notes/edit.html", pair=pair, note=None, error=None, **context)
    form = request.form
    try:
        body = note_service.compose_body(
            {key: form.get(key, "") for key, _ in note_service.NOTE_SECTIONS},
            section_headings(),
        )
        note = note_service.create_note(
            session, pair, person, title=form.get("title", ""), body_md=body,
            language=form.get("language", "") or page_language(), tags=form.get("tags", ""),
            session_date=parse_date(form.get("session_date")), embedders=tandem().embedders,
        )  # fmt: skip
        committed()
    except ValidationError as error:
        session.rollback()
        page = render_template(
            "notes/edit.html", pair=pair, note=None, error=translate_error(error), **note_form()
        )
        return page, 400
    flash(gettext("Note saved. Only the two of you can see it."), "info")
    return redirect(url_for("notes.view", note_id=note.id))


@bp.route("/notes/<int:note_id>/edit", methods=["GET", "POST"])
@login_required
def edit(note_id: int) -> ResponseReturnValue:
    """Either member edits the note's title, date, language, tags and body."""
    note, person = member_note(note_id)
    session = db()
    if request.method == "GET":
        context = note_form(
            title=note.title, body_md=note.body_md, language=note.language, tags=note.tags,
            session_date=note.session_date.isoformat() if note.session_date else "",
        )  # fmt: skip
        page = render_template("notes/edit.html", pair=note.pair, note=note, error=None, **context)
        return page, 200, {"Content-Security-Policy": PRIVATE_CSP}
    form = request.form
    try:
        note_service.update_note(
            session, note, person, title=form.get("title", ""),
            body_md=form.get("body_md", ""), language=form.get("language", ""),
            tags=form.get("tags", ""), session_date=parse_date(form.get("session_date")),
            embedders=tandem().embedders,
        )  # fmt: skip
        committed()
    except ValidationError as error:
        session.rollback()
        page = render_template(
            "notes/edit.html",
            pair=note.pair,
            note=note,
            error=translate_error(error),
            **note_form(),
        )
        return page, 400, {"Content-Security-Policy": PRIVATE_CSP}
    flash(gettext("Note saved."), "info")
    return redirect(url_for("notes.view", note_id=note_id))


@bp.route("/notes/<int:note_id>/delete", methods=["POST"])
@login_required
def delete(note_id: int) -> ResponseReturnValue:
    """Either member deletes the note (and its insight); both leave every search index."""
    note, person = member_note(note_id)
    note_service.delete_note(db(), note, person)
    committed()
    flash(gettext("Note deleted."), "info")
    return redirect(url_for("notes.my_pair"))


def render_note(
    note: SessionNote, person: Person, preview: str | None = None
) -> ResponseReturnValue:
    """The note page; ``preview`` is an excerpt checked but not offered yet."""
    session = db()
    shown = preview if preview is not None else (note.insight.text if note.insight else None)
    warnings = note_service.personal_data_in(session, shown) if shown else []
    page = render_template(
        "notes/view.html",
        note=note,
        pair=note.pair,
        person=person,
        body_html=render_markdown(note.body_md, remote_images=False),
        tags=split_list(note.tags),
        preview=preview,
        warnings=warnings,
    )
    return page, 200, {"Content-Security-Policy": PRIVATE_CSP}


@bp.route("/notes/<int:note_id>")
def view(note_id: int) -> ResponseReturnValue:
    """A private note: its remote images become links, and the page's CSP loads images from
    this site only, so opening a note tells no one elsewhere that it was read."""
    note, person = member_note(note_id)
    return render_note(note, person)


def back_to(note_id: int) -> ResponseReturnValue:
    return redirect(url_for("notes.view", note_id=note_id) + "#insight")


@bp.route("/notes/<int:note_id>/insight", methods=["POST"])
@login_required
def propose(note_id: int) -> ResponseReturnValue:
    note, person = member_note(note_id)
    text = request.form.get("text", "")
    if request.form.get("action") == "check":  # show the exact public text and warnings first
        return render_note(note, person, preview=text.strip())
    note_service.propose_insight(db(), note, person, text, embedders=tandem().embedders)
    committed()
    flash(gettext("Insight offered. It becomes public once both of you agree."), "info")
    return back_to(note_id)


@bp.route("/notes/<int:note_id>/insight/consent", methods=["POST"])
@login_required
def consent(note_id: int) -> ResponseReturnValue:
    note, person = member_note(note_id)
    insight = note_service.consent_insight(
        db(), note_insight(note), person, embedders=tandem().embedders
    )
    published = insight.published
    committed()
    if published:  # public now: matching may quote it, so it needs its matching vectors
        tandem().matching_refresh.submit([note_service.insight_doc_key(insight)])
    flash(
        gettext("Published: the insight is now public.")
        if published
        else gettext("Thank you: waiting for the other member to agree."),
        "info",
    )
    return back_to(note_id)


@bp.route("/notes/<int:note_id>/insight/withdraw", methods=["POST"])
@login_required
def withdraw(note_id: int) -> ResponseReturnValue:
    note, person = member_note(note_id)
    note_service.withdraw_insight(db(), note_insight(note), person)
    committed()
    flash(gettext("Insight withdrawn: it is private again."), "info")
    return back_to(note_id)
