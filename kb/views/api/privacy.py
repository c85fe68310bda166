"""/api/me/data: the caller's own data as JSON (GDPR Art. 20), the data.json of the export."""

from __future__ import annotations

from flask import jsonify
from flask.typing import ResponseReturnValue

from kb.services import audit, export
from kb.views.api import api_login_required, api_person, bp
from kb.views.support import db


@bp.get("/me/data")
@api_login_required
def my_data() -> ResponseReturnValue:
    """Everything Tandem holds about the caller; never another pair's notes. Audited."""
    person = api_person()
    session = db()
    data = export.person_data(session, person)
    audit.record(session, person, "person.export", "person", person.id, detail={"via": "api"})
    session.commit()
    answer = jsonify(data)
    answer.headers["Cache-Control"] = "no-store"
    return answer
