"""A logged-in person's own data: what Tandem holds and a download of it (GDPR Arts. 15, 20)."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, render_template
from flask.typing import ResponseReturnValue
from flask_login import login_required

from kb.services import audit, export
from kb.views.support import current_person, db

bp = Blueprint("privacy", __name__)

# What the page counts, in the order shown (keys of kb.services.export.person_data).
COUNTED = ("guides", "notes", "insights", "feedback", "sessions", "help_requests", "inbox")


@bp.route("/me/data")
@login_required
def my_data() -> ResponseReturnValue:
    """What the download holds for the person, counted, and the button to get it."""
    person = current_person()
    assert person is not None  # login_required
    data = export.person_data(db(), person)
    counts = {key: len(data[key]) for key in COUNTED}
    return render_template("privacy/my_data.html", person=person, counts=counts, data=data)


@bp.route("/me/data/download", methods=["POST"])
@login_required
def download() -> ResponseReturnValue:
    """The person's own data as a zip of data.json and markdown; only ever their own."""
    person = current_person()
    assert person is not None  # login_required
    session = db()
    payload = export.export_zip(export.person_data(session, person))
    audit.record(session, person, "person.export", "person", person.id, detail={"via": "web"})
    session.commit()
    name = export.export_file_name(person, dt.date.today())
    return Response(
        payload,
        mimetype="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )
