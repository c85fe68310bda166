"""The Flask application factory: configuration, extensions, blueprints, one error handler."""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app, g, jsonify, render_template, request
from flask_babel import gettext
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from kb.config import Settings, load_settings
from kb.errors import ConfigError, TandemError
from kb.i18n import N_
from kb.logsafe import describe_exception, strip_query
from kb.runtime import Tandem, open_tandem
from kb.views.i18n import translate_error

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("kb.web")

DEFAULTS: dict[str, Any] = {
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "WTF_CSRF_TIME_LIMIT": None,  # token lives as long as the session
    "SEARCH_PAGE_SIZE": 10,
    "JSON_SORT_KEYS": False,
}


def instance_secret(settings: Settings) -> str:
    """A secret key kept in the instance folder, so restarts and workers share sessions."""
    path = settings.instance_dir / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip()


class QueryStringFilter(logging.Filter):
    """Strips query strings from request lines, so searched words never reach a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(strip_query(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = strip_query(record.msg)
        return True


def wants_json() -> bool:
    """API paths answer JSON; other paths too when the client prefers JSON to HTML."""
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and (
        request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def error_response(status: int, title: str, message: str) -> tuple[Response | str, int]:
    if wants_json():
        return jsonify({"error": {"status": status, "title": title, "message": message}}), status
    return render_template("error.html", status=status, title=title, message=message), status


# Titles and texts of HTTP errors, in the request's language (werkzeug's own are English).
HTTP_ERRORS: dict[int, tuple[str, str]] = {
    400: (N_("Bad request"), N_("The request could not be understood.")),
    401: (N_("Log in first"), N_("Please log in to see this page.")),
    403: (N_("Not allowed"), N_("You do not have the right to see this page.")),
    404: (N_("Not found"), N_("There is no such page. Check the address or search instead.")),
    405: (N_("Not allowed"), N_("This address does not accept that kind of request.")),
    413: (N_("Too large"), N_("The upload is larger than this site accepts.")),
    429: (N_("Too many attempts"), N_("Please wait a while and try again.")),
}
TANDEM_TITLES = {403: N_("Not allowed"), 404: N_("Not found")}
OTHER_TITLE = N_("Cannot do that")


def handle_error(error: Exception) -> tuple[Response | str, int]:
    """The one place where exceptions become responses. Never shows a traceback."""
    if isinstance(error, TandemError):
        status = int(getattr(error, "status", 400))
        if status >= 500:
            log.error("%s on %s", type(error).__name__, request.path)
            return error_response(
                status, gettext("Server problem"), gettext("Please try again later.")
            )
        title = gettext(TANDEM_TITLES.get(status, OTHER_TITLE))
        return error_response(status, title, translate_error(error))
    if isinstance(error, CSRFError):
        return error_response(
            400,
            gettext("Form expired"),
            gettext("The form was missing its security token. Reload and retry."),
        )
    if isinstance(error, HTTPException) and not isinstance(error, InternalServerError):
        status = error.code or 500
        if status in HTTP_ERRORS:
            title, text = HTTP_ERRORS[status]
            # A description given at abort() is the view's own (already in the page language).
            if error.description and error.description != type(error).description:
                return error_response(status, gettext(title), error.description)
            return error_response(status, gettext(title), gettext(text))
        return error_response(status, error.name, error.description or error.name)
    # Unhandled exceptions arrive here wrapped in InternalServerError; TandemFlask logged them.
    return error_response(
        500, gettext("Server problem"), gettext("Something went wrong on our side.")
    )


RETRY_AFTER_S = 5
DATABASE_UNAVAILABLE = (
    N_("Database unavailable"),
    N_(
        "The database cannot be reached right now. If you were saving something, it may not "
        "have been saved: please try again in a moment."
    ),
)


def database_unavailable(error: Exception) -> tuple[Response | str, int, dict[str, str]]:
    """The database went away mid-request (a PostgreSQL restart or failover, a SQLite file
    locked beyond the busy timeout): 503 with a message and Retry-After, never a traceback.
    The connection pool checks connections before use (pre-ping), so requests after the
    database is back succeed without anyone restarting anything."""
    log.error("database unavailable on %s %s: %s", request.method, request.path,
              type(getattr(error, "orig", None) or error).__name__)  # fmt: skip
    session = g.pop("db", None)  # its transaction is broken: pages must not reuse it
    if session is not None:
        try:
            session.close()
        except DBAPIError:
            pass  # the connection is gone already; the pool drops it
    # The error page must not need the database: who is logged in (and so their language)
    # cannot be looked up now, and a person loaded earlier in the request is detached from
    # the session just closed, so the page is shown as to a visitor (Flask-Login's
    # per-request user), in the language of the cookie or Accept-Language.
    login_manager = getattr(current_app, "login_manager", None)
    if login_manager is not None:
        g._login_user = login_manager.anonymous_user()
    title, message = DATABASE_UNAVAILABLE
    try:
        body, status = error_response(503, gettext(title), gettext(message))
    except SQLAlchemyError:  # something on the page still needed the database
        body, status = f"<!doctype html><title>{title}</title><h1>{title}</h1><p>{message}</p>", 503
    return body, status, {"Retry-After": str(RETRY_AFTER_S)}


def handle_database_error(error: DBAPIError) -> tuple[Response | str, int, dict[str, str]]:
    """Lost or refused connections answer 503; any other database error is a server bug."""
    if isinstance(error, OperationalError | InterfaceError) or error.connection_invalidated:
        return database_unavailable(error)
    raise error


class TandemFlask(Flask):
    """Flask whose log of unhandled exceptions leaves out exception messages."""

    def log_exception(self, exc_info: Any) -> None:
        error = exc_info[1] if isinstance(exc_info, tuple) else None
        detail = describe_exception(error) if error is not None else "unknown error"
        self.logger.error("unhandled exception on %s %s: %s", request.method, request.path, detail)


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    # No scripts at all; styles and images from this site (guide images may be remote https).
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'none'; img-src 'self' https: data:; "
        "style-src 'self'; frame-ancestors 'none'; form-action 'self'"
    ),
}


def add_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


class BoundedIntConverter(IntegerConverter):
    """``<int:...>`` URL parts that a database integer can hold (1 to 2^63 - 1).

    Larger numbers do not match the route, so they answer 404 like any missing id, instead
    of an OverflowError (500) in the database driver.
    """

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(map, *args, **kwargs)


class SecureCookies:
    """WSGI middleware: every Set-Cookie of an HTTPS request (or of every request, with
    ``always``) gets the Secure flag: the session, remember-me and any later cookie alike."""

    def __init__(self, app: Any, always: bool = False) -> None:
        self.app = app
        self.always = always

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if not (self.always or environ.get("wsgi.url_scheme") == "https"):
            return self.app(environ, start_response)

        def secure_start(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            headers = [
                (name, f"{value}; Secure")
                if name.lower() == "set-cookie" and "; secure" not in value.lower()
                else (name, value)
                for name, value in headers
            ]
            return start_response(status, headers, *args)

        return self.app(environ, secure_start)


def apply_accounts(app: Flask, settings: Settings) -> None:
    """Cookie lifetime and security, and what the proxy in front may tell us.

    ``secure_cookies``: "auto" marks cookies Secure on HTTPS requests (a proxy says so with
    X-Forwarded-Proto, trusted because it can only make cookies stricter), "always", "never".
    ``proxy_hops`` proxies are trusted for X-Forwarded-For, the client address that login
    throttling counts per (0 when clients connect to gunicorn directly).
    """
    if settings.secure_cookies not in ("auto", "always", "never"):
        raise ConfigError(
            f"secure_cookies must be auto, always or never, not {settings.secure_cookies!r}"
        )
    app.config.setdefault("REMEMBER_COOKIE_DURATION", dt.timedelta(days=settings.remember_days))
    inner = app.wsgi_app
    if settings.secure_cookies != "never":
        inner = SecureCookies(inner, always=settings.secure_cookies == "always")
    # Flask's documented way to wrap its WSGI app; Flask types wsgi_app as a method.
    app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
        inner, x_for=max(settings.proxy_hops, 0), x_proto=1, x_host=0, x_port=0
    )


def web_asset_dir(name: str) -> Path:
    """``templates`` or ``static``: inside the package when installed from a wheel (setup.py
    puts them there), else at the repository root (a checkout or an editable install)."""
    packaged = Path(__file__).resolve().parent / name
    return packaged if packaged.is_dir() else ROOT / name


def create_app(
    settings: Settings | None = None,
    test_config: Mapping[str, Any] | None = None,
    tandem: Tandem | None = None,
) -> Flask:
    """Build the web app for ``settings`` (default: loaded from this process's environment,
    as gunicorn's workers do), on ``tandem`` when given (else the instance is opened), with
    Flask ``test_config`` applied last."""
    if tandem is not None:
        settings = tandem.settings
    elif settings is None:
        settings = load_settings(os.environ)
    app = TandemFlask(
        __name__,
        template_folder=str(web_asset_dir("templates")),
        static_folder=str(web_asset_dir("static")),
    )
    app.config.from_mapping(DEFAULTS)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes
    if settings.secret_key:
        app.config["SECRET_KEY"] = settings.secret_key
    if test_config:
        app.config.from_mapping(test_config)

    if tandem is None:
        tandem = open_tandem(settings)
    app.extensions["tandem"] = tandem
    if settings.warm_up:  # set by `tandem serve` (gunicorn --preload)
        tandem.warm_up()
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret(settings)

    apply_accounts(app, tandem.settings)

    werkzeug_log = logging.getLogger("werkzeug")
    if not any(isinstance(f, QueryStringFilter) for f in werkzeug_log.filters):
        werkzeug_log.addFilter(QueryStringFilter())
    csrf = CSRFProtect(app)
    login = LoginManager(app)
    login.login_view = "auth.login"
    login.login_message = N_("Please log in to see this page.")
    login.localize_callback = gettext
    app.url_map.converters["int"] = BoundedIntConverter  # before any route is added

    from kb.views import (
        accounts,
        api,
        auth,
        evaluation,
        guides,
        hr,
        i18n,
        inbox,
        main,
        notes,
        privacy,
        programmes,
        search,
        sessions,
    )
    from kb.views.support import doc_url, load_account, load_token_account, teardown_session

    i18n.init_app(app, default=tandem.settings.default_locale)
    login.user_loader(load_account)
    login.request_loader(load_token_account)  # API tokens (Authorization: Bearer)
    app.teardown_appcontext(teardown_session)
    app.add_template_global(doc_url)
    app.after_request(add_security_headers)
    modules = (main, auth, accounts, search, guides, notes, hr, inbox, programmes, sessions)
    for module in (*modules, evaluation, privacy):
        app.register_blueprint(module.bp)
    app.register_blueprint(accounts.people_bp)
    auth.init_sso(app, tandem.settings)  # single sign-on, when configured
    api.init_app(app, csrf)
    # Run by gunicorn's post_worker_init: each worker builds its matching pool at start.
    app.extensions["matching_warm_up"] = lambda: hr.warm_up_matching(app)

    app.register_error_handler(TandemError, handle_error)
    app.register_error_handler(HTTPException, handle_error)
    app.register_error_handler(InternalServerError, handle_error)
    app.register_error_handler(DBAPIError, handle_database_error)
    return app
