"""Log in with email and password, log out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import BooleanField, EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from kb.services.people import authenticate
from kb.views.support import Account, db

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])
    remember = BooleanField("Keep me logged in")


def safe_next(target: str | None) -> str | None:
    """Only same-site relative paths are followed after login (no open redirects)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    form = LoginForm()
    if form.validate_on_submit():
        person = authenticate(db(), form.email.data or "", form.password.data or "")
        if person is not None:
            login_user(Account(person), remember=bool(form.remember.data))
            flash(f"Welcome, {person.name}.", "info")
            return redirect(safe_next(request.args.get("next")) or url_for("main.home"))
        flash("Wrong email or password.", "error")
    return render_template("auth/login.html", form=form), 200


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    # A POST (CSRFProtect checks its token), so another site cannot log a user out.
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("main.home"))
