"""Account pages: set a password through a link, change it, one's own profile and API tokens,
a person's public page, and HR's account management (links, deactivation, roles)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext, lazy_gettext
from flask_login import login_required, login_user
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    Length,
    NumberRange,
    Optional,
)
from wtforms.validators import (
    ValidationError as FieldError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from kb.errors import PermissionDenied, TandemError, ValidationError
from kb.i18n import locale_choices
from kb.models import AVAILABILITY, LANGUAGES, ROLES, STYLES, Person, split_list, utcnow
from kb.services import accounts, logins, mail, profiles, sso, tokens
from kb.views.auth import login_limits
from kb.views.i18n import slot_name, style_name, translate_error
from kb.views.support import Account, current_person, db, me, tandem

bp = Blueprint("accounts", __name__, url_prefix="/account")
people_bp = Blueprint("people", __name__, url_prefix="/people")

P = ParamSpec("P")
R = TypeVar("R")


def role_required(role: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Logged in and holding ``role`` ("hr": HR and HR administrators; "admin")."""

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        @login_required
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
            if not me().has_role(role):
                raise PermissionDenied(
                    gettext("This is for HR administrators.")
                    if role == "admin"
                    else gettext("This page is for HR.")
                )
            return view(*args, **kwargs)

        return wrapped

    return decorate


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


# ---------------------------------------------------------------- passwords


class SetPasswordForm(FlaskForm):
    password = PasswordField(
        lazy_gettext("New password"), validators=[DataRequired(), Length(max=200)]
    )
    confirm = PasswordField(
        lazy_gettext("The new password again"), validators=[DataRequired(), Length(max=200)]
    )


class ChangePasswordForm(SetPasswordForm):
    current = PasswordField(
        lazy_gettext("Current password"), validators=[DataRequired(), Length(max=200)]
    )


def show_field_error(form: FlaskForm, error: TandemError, default: str) -> None:
    name = getattr(error, "field", None) or default
    field = getattr(form, name, None) or getattr(form, default)
    field.errors = [*field.errors, translate_error(error)]


@bp.route("/set-password", methods=["GET", "POST"])
def set_password() -> ResponseReturnValue:
    """The page an invitation or reset link opens (token in the query: logs drop queries)."""
    session = db()
    token = request.args.get("token", "")
    person = accounts.person_for_link(session, token)  # NotFound: one page for every reason
    form = SetPasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            accounts.set_password_with_link(
                session, token, form.password.data or "", form.confirm.data or ""
            )
        except ValidationError as error:
            session.rollback()
            show_field_error(form, error, "password")
            status = 400
        else:
            session.commit()
            flash(gettext("Your password is set. Log in with it now."), "info")
            return redirect(url_for("auth.login"))
    elif form.is_submitted():
        status = 400
    return render_template("accounts/set_password.html", form=form, person=person), status


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password() -> ResponseReturnValue:
    """Change one's password: every other session of the person ends, this one goes on."""
    session, person, form = db(), me(), ChangePasswordForm()
    status = 200
    if form.validate_on_submit():
        limits, address = login_limits(), request.remote_addr or "-"
        if logins.throttled(session, person.email, address, limits):
            flash(gettext("Too many failed attempts. Wait a few minutes, then try again."), "error")
            return render_template("accounts/password.html", form=form), 429
        try:
            accounts.change_password(
                person, form.current.data or "", form.password.data or "", form.confirm.data or ""
            )
        except ValidationError as error:
            session.rollback()
            if error.field == "current":  # a wrong password counts like a failed login
                logins.record_failure(session, person.email, address, limits)
                session.commit()
            show_field_error(form, error, "password")
            status = 400
        else:
            session.commit()
            login_user(Account(person))  # this session, with the new session version
            flash(gettext("Your password is changed. Your other sessions have ended."), "info")
            return redirect(url_for("accounts.profile"))
    elif form.is_submitted():
        status = 400
    return render_template("accounts/password.html", form=form), status


# ---------------------------------------------------------------- profile


class ProfileForm(FlaskForm):
    expertise = TextAreaField(lazy_gettext("Expertise"), validators=[Length(max=2000)])
    goals = TextAreaField(lazy_gettext("Goals"), validators=[Length(max=2000)])
    show_goals = BooleanField(lazy_gettext("Show my goals on my public page"))
    languages = MultiCheckboxField(
        lazy_gettext("Languages I speak"),
        choices=[(code, name) for code, name in locale_choices(LANGUAGES)],
    )
    capacity = IntegerField(
        lazy_gettext("Mentees I can take at once"),
        validators=[Optional(), NumberRange(min=0, max=20)],
    )
    style = SelectField(lazy_gettext("Working style"), default="", validate_choice=False)
    availability = MultiCheckboxField(
        lazy_gettext("When I can meet"), choices=[(c, c) for c in AVAILABILITY],
        validate_choice=False,
    )  # fmt: skip
    opt_in = BooleanField(lazy_gettext("Open to being matched"))
    ui_language = SelectField(lazy_gettext("Interface language"), default="")

    def validate_style(self, field: SelectField) -> None:
        if field.data and field.data not in STYLES:
            raise FieldError(
                gettext(
                    "Working style: %(value)s is not one of the choices.", value=repr(field.data)
                )
            )

    def validate_availability(self, field: MultiCheckboxField) -> None:
        unknown = [v for v in field.data or [] if v not in AVAILABILITY]
        if unknown:
            raise FieldError(
                gettext(
                    "When I can meet: %(values)s is not one of the choices.",
                    values=", ".join(repr(v) for v in unknown),
                )
            )


def shown_codes(stored: str, allowed: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """A stored list of codes split into the ones the form offers and the rest (values kept
    from before the closed code sets; the page names them, saving keeps them)."""
    values = split_list(stored)
    return [v for v in values if v in allowed], [v for v in values if v not in allowed]


def profile_form(person: Person) -> ProfileForm:
    form = ProfileForm()
    form.ui_language.choices = [("", gettext("As my browser asks")), *locale_choices()]
    form.style.choices = [("", gettext("Not stated")), *((c, style_name(c)) for c in STYLES)]
    form.availability.choices = [(c, slot_name(c)) for c in AVAILABILITY]
    if not form.is_submitted():
        form.expertise.data = "; ".join(split_list(person.expertise))
        form.goals.data = "; ".join(split_list(person.goals))
        form.show_goals.data = bool(person.show_goals)
        form.languages.data = split_list(person.languages)
        form.capacity.data = person.capacity
        form.style.data = person.style if person.style in STYLES else ""
        form.availability.data = shown_codes(person.availability, AVAILABILITY)[0]
        form.opt_in.data = bool(person.opt_in)
        form.ui_language.data = person.ui_language or ""
    return form


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile() -> ResponseReturnValue:
    """View and edit one's own profile; matching uses the change at once."""
    session, person = db(), me()
    form = profile_form(person)
    status = 200
    if form.validate_on_submit():
        changes: dict[str, object] = {
            "expertise": form.expertise.data or "",
            "goals": form.goals.data or "",
            "show_goals": bool(form.show_goals.data),
            "languages": ";".join(form.languages.data or []),
            "opt_in": bool(form.opt_in.data),
            "ui_language": form.ui_language.data or None,
        }
        if person.has_role("mentor"):
            changes["capacity"] = form.capacity.data
        # Style and availability go to the service only when changed, so a value stored
        # before the closed code sets (which the form cannot show) survives other edits.
        shown_style = person.style if person.style in STYLES else ""
        if (form.style.data or "") != shown_style:
            changes["style"] = form.style.data or ""
        slots = form.availability.data or []
        if set(slots) != set(shown_codes(person.availability, AVAILABILITY)[0]):
            changes["availability"] = [c for c in AVAILABILITY if c in slots]
        try:
            profiles.update_profile(session, person, changes, tandem().matching_embedders)
        except ValidationError as error:
            session.rollback()
            show_field_error(form, error, "expertise")
            status = 400
        else:
            session.commit()
            flash(gettext("Your profile is saved."), "info")
            return redirect(url_for("accounts.profile"))
    elif form.is_submitted():
        status = 400
    return render_template(
        "accounts/profile.html", form=form, person=person,
        kept_style=shown_codes(person.style, STYLES)[1],
        kept_slots=shown_codes(person.availability, AVAILABILITY)[1],
        sso_links=sso.identities(session, person), sso_label=tandem().settings.oidc_label,
    ), status  # fmt: skip


@bp.route("/sso/unlink", methods=["POST"])
@login_required
def unlink_own_sso() -> ResponseReturnValue:
    """Remove one's own single sign-on link, only while a password still lets one in (the
    page says why not otherwise); the other sessions end, this one goes on; audited."""
    session, person = db(), me()
    try:
        removed = sso.unlink_own(session, person)
    except ValidationError as error:
        session.rollback()
        flash(gettext("The link stays: %(reason)s", reason=translate_error(error)), "error")
        return redirect(url_for("accounts.profile") + "#sso")
    session.commit()
    if removed:
        login_user(Account(person))  # this session, with the new session version
        flash(gettext("Your single sign-on link is removed. Your other sessions have ended."),
              "info")  # fmt: skip
    return redirect(url_for("accounts.profile") + "#sso")


@people_bp.route("/<int:person_id>")
def view(person_id: int) -> ResponseReturnValue:
    """A person's public page: published guides and shared insights, never notes; goals only
    when the person chose to show them."""
    session = db()
    person = accounts.get_person(session, person_id)
    shown = profiles.public_profile(session, person, current_person())
    return render_template("accounts/person.html", person=person, shown=shown)


# ---------------------------------------------------------------- API tokens


class TokenForm(FlaskForm):
    name = StringField(lazy_gettext("Token name"), validators=[DataRequired(), Length(max=100)])


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


# ---------------------------------------------------------------- HR: accounts


class RolesForm(FlaskForm):
    roles = MultiCheckboxField(lazy_gettext("Roles"), choices=[(r, r) for r in ROLES])


def role_names() -> dict[str, str]:
    return {
        "mentor": gettext("mentor"),
        "mentee": gettext("mentee"),
        "hr": gettext("HR"),
        "admin": gettext("HR administrator"),
    }


def link_url(token: str) -> str:
    base = tandem().settings.base_url
    if base:
        return base + url_for("accounts.set_password", token=token)
    return url_for("accounts.set_password", token=token, _external=True)


@bp.route("/people/")
@role_required("hr")
def directory() -> ResponseReturnValue:
    """HR's list of accounts (search by name or e-mail)."""
    query = request.args.get("q", "")[:100]
    found = accounts.find_people(db(), query)
    return render_template("accounts/directory.html", people=found, query=query,
                           role_names=role_names())  # fmt: skip


def manage_page(
    person: Person, status: int = 200, link: str | None = None, mailed: bool | None = None,
    expires: dt.datetime | None = None,
) -> ResponseReturnValue:  # fmt: skip
    form = RolesForm(formdata=None, roles=split_list(person.roles))
    form.roles.choices = list(role_names().items())
    return render_template(
        "accounts/manage.html", person=person, form=form, link=link, mailed=mailed,
        expires=expires, latest=accounts.latest_link(db(), person), viewer=me(), now=utcnow(),
        sso_links=sso.identities(db(), person),
    ), status  # fmt: skip


@bp.route("/people/<int:person_id>")
@role_required("hr")
def manage(person_id: int) -> ResponseReturnValue:
    return manage_page(accounts.get_person(db(), person_id))


@bp.route("/people/<int:person_id>/link", methods=["POST"])
@role_required("hr")
def issue_link(person_id: int) -> ResponseReturnValue:
    """An invitation (or, for someone with a password, a reset): the link is shown on this
    answer only, and e-mailed when SMTP is configured."""
    session = db()
    person = accounts.get_person(session, person_id)
    purpose = "reset" if request.form.get("purpose") == "reset" else "invite"
    try:
        row, token = accounts.issue_link(session, person, purpose, me())
    except ValidationError as error:
        session.rollback()
        flash(translate_error(error), "error")
        return manage_page(person, 400)
    session.commit()
    url = link_url(token)
    subject, body = accounts.link_mail(person, purpose, url, row.expires_at)
    mailed = mail.send(tandem().settings, person.email, subject, body).sent
    return manage_page(person, link=url, mailed=mailed, expires=row.expires_at)


@bp.route("/people/<int:person_id>/sso/unlink", methods=["POST"])
@role_required("hr")
def unlink_sso(person_id: int) -> ResponseReturnValue:
    """Remove the person's single sign-on link (audited; their sessions end)."""
    session = db()
    person = accounts.get_person(session, person_id)
    if sso.unlink(session, person, me()):
        flash(gettext("%(name)s: single sign-on link removed; their sessions have ended.",
                      name=person.name), "info")  # fmt: skip
    session.commit()
    if person.id == me().id:
        login_user(Account(person))  # this session goes on with the new session version
    return redirect(url_for("accounts.manage", person_id=person.id))


@bp.route("/people/<int:person_id>/deactivate", methods=["POST"])
@role_required("admin")
def deactivate(person_id: int) -> ResponseReturnValue:
    session = db()
    person = accounts.get_person(session, person_id)
    accounts.deactivate(session, person, me())
    session.commit()
    flash(gettext("%(name)s: account deactivated; their sessions have ended.",
                  name=person.name), "info")  # fmt: skip
    return redirect(url_for("accounts.manage", person_id=person.id))


@bp.route("/people/<int:person_id>/reactivate", methods=["POST"])
@role_required("admin")
def reactivate(person_id: int) -> ResponseReturnValue:
    session = db()
    person = accounts.get_person(session, person_id)
    accounts.reactivate(session, person, me())
    session.commit()
    flash(gettext("%(name)s: account active again.", name=person.name), "info")
    return redirect(url_for("accounts.manage", person_id=person.id))


@bp.route("/people/<int:person_id>/roles", methods=["POST"])
@role_required("admin")
def roles(person_id: int) -> ResponseReturnValue:
    session = db()
    person = accounts.get_person(session, person_id)
    form = RolesForm()
    form.roles.choices = list(role_names().items())
    if not form.validate_on_submit():
        flash(gettext("The roles could not be read; try again."), "error")
        return manage_page(person, 400)
    try:
        accounts.set_roles(session, person, form.roles.data or [], me())
    except (ValidationError, PermissionDenied) as error:
        session.rollback()
        flash(translate_error(error), "error")
        return manage_page(person, error.status)
    session.commit()
    if person.id == me().id:
        login_user(Account(person))  # this session goes on with the new session version
    flash(gettext("%(name)s: roles saved.", name=person.name), "info")
    return redirect(url_for("accounts.manage", person_id=person.id))
