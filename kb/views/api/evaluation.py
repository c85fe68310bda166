"""/api/programmes/<slug>/evaluation: a programme's evaluation (stage 7) for HR, the same
tables as the evaluation page and ``tandem report`` (figures over groups of at least the
programme's minimum size, never a note, never one person's answers). Audited as an export.
Anonymous callers get 401, people without the HR role 403."""

from __future__ import annotations

import datetime as dt

from flask import abort, jsonify, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from kb.errors import NotFound
from kb.services import audit, evaluation, programmes
from kb.views.api import api_login_required, api_person, bp
from kb.views.support import db


@bp.route("/programmes/<slug>/evaluation")
@api_login_required
def programme_evaluation(slug: str) -> ResponseReturnValue:
    """Every table of the evaluation, or ``?table=NAME`` only that one (English labels)."""
    person = api_person()
    if not person.has_role("hr"):
        abort(403, gettext("This is for HR."))
    session = db()
    try:
        programme = programmes.get_programme(session, slug)
    except NotFound as error:
        raise NotFound(gettext("No such programme.")) from error
    only = request.args.get("table") or None
    if only is not None and only not in evaluation.TABLE_NAMES:
        raise NotFound(gettext("No such table."))
    found = evaluation.evaluate(session, programme, dt.date.today(), only=only)
    audit.record(session, person, "evaluation.export", "programme", programme.id, programme.id,
                 {"table": only or "all", "via": "api"})  # fmt: skip
    session.commit()
    return jsonify({
        "programme": programme.slug, "name": programme.name, "today": found.today.isoformat(),
        "min_group": found.min_group,
        "headline": [{"label": label, "value": value} for label, value in found.headline],
        "tables": [{"name": t.name, "title": t.title, "columns": t.columns, "rows": t.rows,
                    "note": t.note_text}
                   for t in found.tables if only is None or t.name == only],
    })  # fmt: skip
