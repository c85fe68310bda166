"""The person's own account pages: API tokens (made, shown once, revoked)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext, lazy_gettext
from flask_login import login_required
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from kb.errors import ValidationError
from kb.models import Person
from kb.services import tokens
from kb.views.i18n import translate_error
from kb.views.support import current_person, db

bp = Blueprint("accounts", __name__, url_prefix="/account")


class TokenForm(FlaskForm):
    name = StringField(lazy_gettext("Name"), validators=[DataRequired(), Length(max=100)])


def me() -> Person:
    person = current_person()
    assert person is not None  # behind login_required
    return person


@bp.route("/tokens", methods=["GET", "POST"])
@login_required
def api_tokens() -> ResponseReturnValue:
    """List the person's API tokens; make a new one (shown on this answer only)."""
    session, person, form = db(), me(), TokenForm()
    new_token = None
    status = 200
    if form.validate_on_submit():
        try:
            row, new_token = tokens.create_token(session, person, form.name.data or "")
        except ValidationError as error:
            session.rollback()
            form.name.errors = [translate_error(error)]
            status = 400
        else:
            session.commit()
            form = TokenForm(formdata=None)
            flash(gettext("Token “%(name)s” made. Copy it now: it is not shown again.",
                          name=row.name), "info")  # fmt: skip
    elif form.is_submitted():
        status = 400
    return render_template(
        "accounts/tokens.html",
        form=form,
        new_token=new_token,
        tokens=tokens.list_tokens(session, person),
    ), status


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_token(token_id: int) -> ResponseReturnValue:
    session = db()
    row = tokens.revoke_token(session, me(), token_id)
    session.commit()
    flash(gettext("Token “%(name)s” revoked: it no longer works.", name=row.name), "info")
    return redirect(url_for("accounts.api_tokens"))
