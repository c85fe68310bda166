"""The JSON API under /api/: one blueprint, one module per area (``kb/views/api/<area>.py``)
and one OpenAPI fragment per area (``kb/openapi/<area>.yaml``).

Authentication: a personal API token (``Authorization: Bearer``, Flask-Login's request
loader) or the browser's session cookie. CSRF: a token request needs none (a browser never
adds that header on its own); a cookie request must send the CSRF token (``X-CSRFToken``)
for unsafe methods, checked here because the blueprint is exempt from the global check.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from flask import Blueprint, Flask, abort, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_login import current_user
from flask_wtf.csrf import CSRFProtect

from kb.errors import ValidationError
from kb.i18n import N_
from kb.models import Person
from kb.openapi import load_document
from kb.views.support import bearer_token

bp = Blueprint("api", __name__, url_prefix="/api")

P = ParamSpec("P")
R = TypeVar("R")


def init_app(app: Flask, csrf: CSRFProtect) -> None:
    """Register the API with its own CSRF rule (see the module docstring)."""
    from kb.views.api import (  # noqa: F401  (routes register on bp)
        accounts,
        evaluation,
        guides,
        notes,
        privacy,
        programmes,
        sessions,
    )

    csrf.exempt(bp)
    app.extensions["api_csrf"] = csrf
    app.register_blueprint(bp)


@bp.before_request
def check_credentials() -> None:
    if bearer_token(request) is not None:
        # Flask-Login asked the request loader; a bad token never falls back to cookies.
        if not current_user.is_authenticated:
            abort(401, gettext("The API token is not valid (revoked, expired or unknown)."))
        return
    if current_app.config.get("WTF_CSRF_ENABLED", True):
        current_app.extensions["api_csrf"].protect()


def api_login_required(view: Callable[P, R]) -> Callable[P, R]:
    """A logged-in person (token or session), else a JSON 401 (never a redirect)."""

    @wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        if not current_user.is_authenticated:
            abort(401)
        return view(*args, **kwargs)

    return wrapped


def api_person() -> Person:
    """The person of an API request (inside :func:`api_login_required` views)."""
    person: Person = current_user.person
    return person


def json_object() -> dict[str, Any]:
    """The request's JSON body, which must be an object."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError(N_("The request body must be a JSON object."))
    return body


def token_request() -> bool:
    """Whether this request was authenticated with an API token."""
    return bool(g.get("api_token_auth"))


@bp.route("/openapi.json")
def openapi() -> ResponseReturnValue:
    """The OpenAPI document of every /api/ route."""
    if "openapi" not in current_app.extensions:
        current_app.extensions["openapi"] = load_document()
    return jsonify(current_app.extensions["openapi"])
