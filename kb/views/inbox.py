"""The in-app inbox: a person's notices, read and unread; the header shows the unread count."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_login import login_required

from kb.services import inbox as inbox_service
from kb.views.support import current_person, db

bp = Blueprint("inbox", __name__, url_prefix="/inbox")


def translate(text: str) -> str:
    return gettext(text)


@bp.app_context_processor
def unread_notices() -> dict[str, Any]:
    """``inbox_unread()`` for the header: counted only when a page asks for it."""

    def inbox_unread() -> int:
        person = current_person()
        return inbox_service.unread_count(db(), person) if person is not None else 0

    return {"inbox_unread": inbox_unread}


@bp.route("/")
@login_required
def index() -> ResponseReturnValue:
    person = current_person()
    assert person is not None  # login_required
    messages = inbox_service.messages_for(db(), person, translate)
    return render_template("inbox/index.html", messages=messages)


@bp.route("/<int:message_id>/read", methods=["POST"])
@login_required
def read(message_id: int) -> ResponseReturnValue:
    """Mark read, then go where the notice points (a path on this site) or back to the inbox."""
    person = current_person()
    assert person is not None
    message = inbox_service.mark_read(db(), person, message_id)
    link = message.link
    db().commit()
    return redirect(link or url_for("inbox.index"))


@bp.route("/read-all", methods=["POST"])
@login_required
def read_all() -> ResponseReturnValue:
    person = current_person()
    assert person is not None
    inbox_service.mark_all_read(db(), person)
    db().commit()
    flash(gettext("All notices marked as read."), "info")
    return redirect(url_for("inbox.index"))
