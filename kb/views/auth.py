"""Log in with email and password, log out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext, lazy_gettext
from flask_login import login_required, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import BooleanField, EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from kb.services import logins
from kb.services.people import authenticate, end_sessions
from kb.views.support import Account, current_person, db, tandem

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    email = EmailField(lazy_gettext("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(lazy_gettext("Password"), validators=[DataRequired(), Length(max=200)])
    remember = BooleanField(lazy_gettext("Keep me logged in"))


def safe_next(target: str | None) -> str | None:
    """Only same-site relative paths are followed after login (no open redirects)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def login_limits() -> logins.LoginLimits:
    settings = tandem().settings
    return logins.LoginLimits(
        per_account=settings.login_failures_per_account,
        per_address=settings.login_failures_per_address,
        window_seconds=settings.login_window_seconds,
    )


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    form = LoginForm()
    if form.validate_on_submit():
        session, limits = db(), login_limits()
        email = (form.email.data or "").strip().lower()
        address = request.remote_addr or "-"
        if logins.throttled(session, email, address, limits):
            # Refused before the password is checked, whether or not the account exists.
            flash(gettext("Too many failed logins. Wait a few minutes, then try again."), "error")
            return render_template("auth/login.html", form=form), 429
        person = authenticate(session, email, form.password.data or "")
        if person is not None:
            logins.clear_account(session, email)
            session.commit()
            login_user(Account(person), remember=bool(form.remember.data))
            flash(gettext("Welcome, %(name)s.", name=person.name), "info")
            return redirect(safe_next(request.args.get("next")) or url_for("main.home"))
        logins.record_failure(session, email, address, limits)
        session.commit()
        flash(gettext("Wrong email or password."), "error")
    return render_template("auth/login.html", form=form), 200


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    # A POST (CSRFProtect checks its token), so another site cannot log a user out. Raising
    # the session version ends this session everywhere, copies of its cookies included.
    person = current_person()
    if person is not None:
        end_sessions(person)
        db().commit()
    logout_user()
    flash(gettext("You are logged out."), "info")
    return redirect(url_for("main.home"))
