"""Sessions and health as JSON, HR only (a JSON 401 without credentials, 403 without HR).

/api/programmes/SLUG/health: HR's pair health of a programme, the same counts, dates and
flags as the page, never anything a pair wrote; audited as an export, like the page's CSV.
/api/pairs/ID/repair: the re-pair picker of /hr/help/ID/repair (GET: the mentors HR may give
the pair's mentee instead; POST: re-pair), the same services and rules as the page (the
management chain and capacity refuse with the reason, 400) and the same audit entries; never
a note or the text of a request for help.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from kb.errors import ValidationError
from kb.i18n import N_
from kb.models import HelpRequest, Pair, Person, utcnow
from kb.services import audit, health, meetings, pairs, people
from kb.services import help as help_service
from kb.services.pairs import check_hr, programme_by_slug
from kb.views.api import api_login_required, api_person, bp, json_object
from kb.views.api.programmes import api_hr_required
from kb.views.hr import pool_cache
from kb.views.i18n import translate
from kb.views.support import db, tandem
from matching import service as matching
from matching.results import to_data

RECOMMENDED, MOST_RECOMMENDED = 10, 50  # mentors offered by default, and at most


def person_json(person: Person) -> dict[str, Any]:
    return {"id": person.id, "name": person.name}


@bp.route("/programmes/<slug>/health")
@api_login_required
def programme_health(slug: str) -> ResponseReturnValue:
    check_hr(api_person(), N_("see the health of a programme's pairs"))
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


# --- re-pairing (the picker of /hr/help/ID/repair) ----------------------------------------------


def member_json(person: Person) -> dict[str, Any]:
    return {"id": person.id, "name": person.name, "email": person.email}


def pair_json(pair: Pair) -> dict[str, Any]:
    return {
        "id": pair.id,
        "programme": pair.programme.slug,
        "status": pair.status,
        "mentor": member_json(pair.mentor),
        "mentee": member_json(pair.mentee),
    }


def open_requests(pair: Pair) -> list[int]:
    """The ids of the pair's open requests for help (never their reason's text)."""
    return list(
        db().scalars(
            select(HelpRequest.id)
            .where(HelpRequest.pair_id == pair.id, HelpRequest.status == "open")
            .order_by(HelpRequest.id)
        )
    )


def candidate_json(candidate: dict[str, Any]) -> dict[str, Any]:
    """A recommended mentor (matching's data, its band texts in the request's language)."""
    shown = dict(candidate)
    for key in ("fit_text", "teach_back_text"):
        shown[key] = translate(shown[key]) if shown.get(key) else shown.get(key)
    for group in ("reasons", "teach_back_reasons"):
        shown[group] = [{**r, "band_text": translate(r.get("band_text"))} for r in shown[group]]
    return shown


def limit_arg() -> int:
    value = request.args.get("limit", "").strip()
    if not value:
        return RECOMMENDED
    if not value.isdigit() or not 1 <= int(value) <= MOST_RECOMMENDED:
        raise ValidationError(
            N_("Give a whole number from 1 to %(most)s."), field="limit", most=MOST_RECOMMENDED
        )
    return int(value)


@bp.route("/pairs/<int:pair_id>/repair", methods=["GET", "POST"])
@api_hr_required
def repair(pair_id: int) -> ResponseReturnValue:
    """GET: the re-pair options; POST: re-pair (one rule for both, as the other API paths:
    two rules of one path answered an over-long id with 405 instead of 404)."""
    session, hr = db(), api_person()
    pair = pairs.get_pair(session, pair_id, hr)
    if request.method == "POST":
        return repair_pair(pair, hr)
    return repair_options(pair, hr)


def repair_options(pair: Pair, hr: Person) -> ResponseReturnValue:
    """The mentors HR may give the pair's mentee instead of the current one (the mentee's
    recommendations with the programme's weights; never the current mentor or anyone in the
    mentee's management chain). Empty, with repairable false, once the pair has ended."""
    session = db()
    limit = limit_arg()
    options = matching.repair_options(
        session, tandem().matching_embedders, pair, hr, limit, cache=pool_cache()
    )
    data = to_data(options) if options is not None else {"candidates": [], "message": None}
    return jsonify(
        {
            "pair": pair_json(pair),
            "repairable": options is not None,
            "open_help_requests": open_requests(pair),
            "candidates": [candidate_json(c) for c in data["candidates"]],
            "message": translate(data["message"]) if data["message"] else None,
        }
    )


def repair_pair(pair: Pair, hr: Person) -> ResponseReturnValue:
    """Re-pair the mentee with ``mentor`` (an e-mail): the old pair ends (or is dropped if it
    never ran) and keeps its history. With ``help_request`` (an open request of this pair),
    the request is handled as on /hr/help (closed as re-paired, the members told); without,
    it is the programme page's swap. Refusals (management chain, capacity) are 400s."""
    session = db()
    body = json_object()
    email, request_id = body.get("mentor"), body.get("help_request")
    mentor = people.find_person(session, email.strip()) if isinstance(email, str) else None
    if mentor is None:
        raise ValidationError(N_("Choose the new mentor."), field="mentor")
    found = None
    if request_id is not None:
        if not isinstance(request_id, int) or isinstance(request_id, bool):
            raise ValidationError(N_("Give a whole number."), field="help_request")
        found = help_service.get_request(session, request_id, hr)
        if found.pair_id != pair.id:
            raise ValidationError(
                N_("That request for help is about another pair."), field="help_request"
            )
        help_service.handle_request(session, found, hr, "repair", new_mentor=mentor)
        new = pairs.find_pair(session, pair.programme, mentor, pair.mentee)
    else:
        new = pairs.swap_mentor(session, pair, mentor, hr)
    session.commit()
    assert new is not None
    return jsonify(
        {
            "old_pair": pair_json(pair),
            "pair": pair_json(new),
            "help_request": None
            if found is None
            else {"id": found.id, "status": found.status, "outcome": found.outcome},
        }
    ), 201
