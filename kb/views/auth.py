"""Log in with email and password or through single sign-on (OpenID Connect), log out."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client import MismatchingStateError
from authlib.integrations.flask_client import OAuth
from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as cookie_session
from flask.typing import ResponseReturnValue
from flask_babel import gettext, lazy_gettext
from flask_login import login_required, login_user, logout_user
from flask_wtf import FlaskForm
from joserfc.errors import JoseError
from werkzeug.wrappers import Response
from wtforms import BooleanField, EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from kb.config import Settings
from kb.services import logins, sso
from kb.services.people import authenticate, end_sessions
from kb.views.support import Account, current_person, db, tandem

bp = Blueprint("auth", __name__)
log = logging.getLogger("kb.web.auth")


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
            return login_page(form, 429)
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
    return login_page(form, 200)


def login_page(form: LoginForm | None = None, status: int = 200) -> tuple[str, int]:
    return render_template(
        "auth/login.html", form=form or LoginForm(), sso_button=sso_button()
    ), status


# -- Single sign-on (OpenID Connect) --------------------------------------------------------
#
# Authlib's Flask client runs the authorization code flow: the state, the nonce and the PKCE
# verifier (S256) wait in the signed session cookie between the two requests; the callback
# checks the state, trades the code for tokens at the provider's token endpoint and verifies
# the ID token: its signature with the provider's published keys (JWKS), issuer, audience,
# expiry and nonce. kb.services.sso then decides which account, if any, signs in.

SSO = "tandem_sso"
SSO_NEXT = "sso_next"


def init_sso(app: Flask, settings: Settings) -> None:
    """Register the provider when the settings configure one; without it the routes 404."""
    if not settings.oidc_enabled:
        return
    oauth = OAuth(app)
    client_kwargs: dict[str, Any] = {
        "scope": settings.oidc_scopes,
        "code_challenge_method": "S256",
        "default_timeout": 10,
    }
    app.extensions[SSO] = oauth.register(
        "tandem_oidc",
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        server_metadata_url=f"{settings.oidc_issuer}/.well-known/openid-configuration",
        client_kwargs=client_kwargs,
    )


def sso_client() -> Any:
    client = current_app.extensions.get(SSO)
    if client is None:
        abort(404)
    return client


def sso_button() -> str | None:
    """The login page's single sign-on button text, or None when it is not configured."""
    if SSO not in current_app.extensions:
        return None
    label = tandem().settings.oidc_label
    if label:
        return gettext("Sign in with %(provider)s", provider=label)
    return gettext("Sign in with single sign-on")


SSO_FAILED = lazy_gettext(
    "Signing in through your provider did not work. Please try again, or log in with your password."
)
SSO_REFUSALS = {
    sso.UNVERIFIED: lazy_gettext(
        "Your sign-in provider did not confirm an e-mail address for you, so Tandem cannot "
        "tell which account is yours. Ask HR or your IT administrator."
    ),
    sso.UNKNOWN: lazy_gettext(
        "There is no Tandem account for the e-mail address your sign-in provider gave. HR "
        "creates the accounts: ask them to add or invite you."
    ),
    sso.INACTIVE: lazy_gettext("This account is deactivated. Ask HR if you need it again."),
    sso.LINKED_ELSEWHERE: lazy_gettext(
        "This account is already linked to another sign-in at your provider. Ask HR for help."
    ),
}


def sso_callback_url() -> str:
    base = tandem().settings.base_url
    if base:
        return base + url_for("auth.sso_callback")
    return url_for("auth.sso_callback", _external=True)


@bp.route("/login/sso")
def sso_start() -> ResponseReturnValue:
    """Off to the provider's sign-in page (a link, so it works without JavaScript; starting
    a sign-in changes nothing but this browser's own session)."""
    client = sso_client()
    session, limits = db(), login_limits()
    if logins.address_throttled(session, request.remote_addr or "-", limits):
        flash(gettext("Too many failed logins. Wait a few minutes, then try again."), "error")
        return login_page(status=429)
    cookie_session[SSO_NEXT] = safe_next(request.args.get("next"))
    try:
        return client.authorize_redirect(sso_callback_url())
    except (AuthlibBaseError, JoseError, OSError, ValueError, RuntimeError) as exc:
        log.warning("single sign-on: provider unreachable (%s)", type(exc).__name__)
        flash(gettext("The sign-in provider cannot be reached right now. Try again later, "
                      "or log in with your password."), "error")  # fmt: skip
        return login_page(status=502)


def sso_refused(message: str, status: int) -> tuple[str, int]:
    session, limits = db(), login_limits()
    logins.record_address_failure(session, request.remote_addr or "-", limits)
    session.commit()
    flash(message, "error")
    return login_page(status=status)


@bp.route("/login/sso/callback")
def sso_callback() -> ResponseReturnValue:
    """Where the provider sends the browser back: check everything, then log in or refuse."""
    client = sso_client()
    settings = tandem().settings
    session, limits = db(), login_limits()
    if logins.address_throttled(session, request.remote_addr or "-", limits):
        flash(gettext("Too many failed logins. Wait a few minutes, then try again."), "error")
        return login_page(status=429)
    try:
        token = client.authorize_access_token(
            claims_options={
                "iss": {"essential": True, "value": settings.oidc_issuer},
                "aud": {"essential": True, "value": settings.oidc_client_id},
                "sub": {"essential": True},
                "exp": {"essential": True},
            }
        )
    except MismatchingStateError:
        log.warning("single sign-on refused: state mismatch")
        return sso_refused(
            gettext("That sign-in was not started here, or it has expired. Please start again."),
            400,
        )
    except (AuthlibBaseError, JoseError, OSError, ValueError, RuntimeError) as exc:
        log.warning("single sign-on failed: %s", type(exc).__name__)
        return sso_refused(str(SSO_FAILED), 400)
    claims = token.get("userinfo")
    if not claims:  # no ID token: nothing verified says who this is
        log.warning("single sign-on failed: no ID token")
        return sso_refused(str(SSO_FAILED), 400)
    try:
        person = sso.sign_in(session, str(claims["iss"]), claims)
    except sso.SsoRefused as refused:
        session.rollback()
        log.info("single sign-on refused: %s", refused.reason)
        return sso_refused(str(SSO_REFUSALS[refused.reason]), 403)
    logins.clear_account(session, person.email)
    session.commit()
    log.info("single sign-on for person %s", person.id)
    login_user(Account(person))
    flash(gettext("Welcome, %(name)s.", name=person.name), "info")
    target = safe_next(cookie_session.pop(SSO_NEXT, None))
    return redirect(target or url_for("main.home"))


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
