"""/api/programmes/SLUG/health: HR's pair health of a programme as JSON, the same counts,
dates and flags as the page, never anything a pair wrote. HR only (others 403); audited as
an export, like the page's CSV."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask.typing import ResponseReturnValue

from kb.models import Person, utcnow
from kb.services import audit, health, meetings
from kb.services.pairs import check_hr, programme_by_slug
from kb.views.api import api_login_required, api_person, bp
from kb.views.support import db


def person_json(person: Person) -> dict[str, Any]:
    return {"id": person.id, "name": person.name}


@bp.route("/programmes/<slug>/health")
@api_login_required
def programme_health(slug: str) -> ResponseReturnValue:
    check_hr(api_person(), "see the health of a programme's pairs")
    session = db()
    programme = programme_by_slug(session, slug)
    rows = health.programme_health(session, programme, meetings.to_local(utcnow()).date())
    audit.record(session, api_person(), "programme.health_export", "programme", programme.id,
                 programme_id=programme.id,
                 detail={"format": "json", "rows": len(rows)})  # fmt: skip
    session.commit()
    return jsonify(
        {
            "programme": programme.slug,
            "thresholds": health.thresholds_json(programme),
            "pairs": [
                {
                    "pair_id": row.pair.id,
                    "mentor": person_json(row.pair.mentor),
                    "mentee": person_json(row.pair.mentee),
                    "status": row.pair.status,
                    "planned": row.planned,
                    "held": row.held,
                    "cancelled": row.cancelled,
                    "last_session": row.last_session.isoformat() if row.last_session else None,
                    "note_count": row.note_count,
                    "flags": row.flags,
                }
                for row in rows
            ],
        }
    )
