"""Home page and health check."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from kb.views.listing import published_insights, recent_guides
from kb.views.support import db, tandem

bp = Blueprint("main", __name__)


@bp.route("/")
def home() -> ResponseReturnValue:
    session = db()
    return render_template(
        "main/home.html",
        guides=recent_guides(session),
        insights=published_insights(session),
    )


@bp.route("/api/health")
def health() -> ResponseReturnValue:
    """Liveness and database reachability; says nothing about content."""
    try:
        db().execute(text("SELECT 1"))
        database = "ok"
    except SQLAlchemyError:
        database = "unreachable"
    settings = tandem().settings
    body = {
        "status": "ok" if database == "ok" else "degraded",
        "database": database,
        "search_models": list(settings.search_models),
    }
    return jsonify(body), 200 if database == "ok" else 503
