"""/api/me: the caller's own profile (read and change)."""

from __future__ import annotations

from flask import jsonify
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import generate_csrf

from kb.services import profiles
from kb.views.api import api_login_required, api_person, bp, json_object, token_request
from kb.views.support import db, tandem


def me_body() -> dict[str, object]:
    body: dict[str, object] = profiles.own_profile(api_person())
    if not token_request():
        body["csrf_token"] = generate_csrf()  # for scripts in the browser's session
    return body


@bp.get("/me")
@api_login_required
def me() -> ResponseReturnValue:
    return jsonify(me_body())


@bp.patch("/me")
@api_login_required
def update_me() -> ResponseReturnValue:
    """Change some of the caller's profile fields; matching uses them at once."""
    session = db()  # a refused change is rolled back when the request's session closes
    profiles.update_profile(session, api_person(), json_object(), tandem().matching_embedders)
    session.commit()
    return jsonify(me_body())
