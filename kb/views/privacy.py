"""A logged-in person's own data: what Tandem holds and a download of it (GDPR Arts. 15, 20)."""

from __future__ import annotations

import datetime as dt
import tempfile

from flask import Blueprint, render_template, send_file
from flask.typing import ResponseReturnValue
from flask_login import login_required

from kb.services import audit, export, uploads
from kb.views.support import current_person, db, tandem

bp = Blueprint("privacy", __name__)

# What the page counts, in the order shown (keys of kb.services.export.person_data).
COUNTED = ("guides", "notes", "insights", "feedback", "sessions", "help_requests", "inbox",
           "videos")  # fmt: skip


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
    data = export.person_data(session, person)
    audit.record(session, person, "person.export", "person", person.id, detail={"via": "web"})
    session.commit()
    # Written to a temporary file and streamed from it: the uploaded videos in the zip are
    # never all in memory at once.
    spool = tempfile.TemporaryFile()
    export.write_export(data, spool, uploads.videos_dir(tandem().settings.instance_dir))
    spool.seek(0)
    answer = send_file(
        spool, mimetype="application/zip", as_attachment=True,
        download_name=export.export_file_name(person, dt.date.today()),
    )  # fmt: skip
    answer.headers["Cache-Control"] = "no-store"
    return answer
