"""/api/programmes: HR's programme operations as JSON (issue 17 stages 1, 2 and 4).

The same services as the pages and the CLI, so the same rules hold: only HR calls these (a
JSON 401 without credentials, 403 without the HR role); the management-chain rule refuses a
pair with its reason (400); every change and every export writes an audit entry; nothing
returned holds a note, a motivation or a questionnaire answer.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from flask import jsonify
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from kb.errors import NotFound, PermissionDenied, ValidationError
from kb.i18n import N_
from kb.models import Programme
from kb.services import enrolment, health, pairs, people, programmes
from kb.views.api import api_login_required, api_person, bp, json_object
from kb.views.support import db

P = ParamSpec("P")
R = TypeVar("R")
FIELDS = tuple(f.name for f in dataclasses.fields(programmes.ProgrammeForm))
MAX_INVITATIONS = 200


def api_hr_required(view: Callable[P, R]) -> Callable[P, R]:
    """A logged-in person (else 401) with the HR role (else 403)."""

    @wraps(view)
    @api_login_required
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        if not api_person().has_role("hr"):
            raise PermissionDenied(N_("This is for HR."))
        return view(*args, **kwargs)

    return wrapped


def _programme(slug: str) -> Programme:
    return programmes.get_programme(db(), slug)


def _date(value: object, name: str) -> dt.date | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ValidationError(N_("a date as YYYY-MM-DD"), field=name)
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError as error:
        raise ValidationError(N_("a date as YYYY-MM-DD"), field=name) from error


def _strings(value: object, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.split(";")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError(N_("a list of texts"), field=name)
    return tuple(v.strip() for v in value if v.strip())


def _form(body: Mapping[str, Any], base: programmes.ProgrammeForm) -> programmes.ProgrammeForm:
    """``base`` with the fields the JSON body gives; unknown fields are refused."""
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise ValidationError(N_("unknown field(s): %(fields)s"), fields=", ".join(unknown))
    changes: dict[str, Any] = {}
    for name in ("slug", "name", "description", "note_template", "status"):
        if name in body:
            if not isinstance(body[name], str):
                raise ValidationError(N_("a text"), field=name)
            changes[name] = body[name].strip() if name in ("slug", "status") else body[name]
    for name in ("starts", "ends"):
        if name in body:
            changes[name] = _date(body[name], name)
    for name in ("competences", "languages"):
        if name in body:
            changes[name] = _strings(body[name], name)
    if "competences" in changes:
        changes["competences"] = tuple(dict.fromkeys(c.lower() for c in changes["competences"]))
    if "rhythm_weeks" in body:
        weeks = body["rhythm_weeks"]
        if weeks is not None and (isinstance(weeks, bool) or not isinstance(weeks, int)):
            raise ValidationError(N_("a whole number of weeks"), field="rhythm_weeks")
        changes["rhythm_weeks"] = weeks
    for setting in health.THRESHOLDS:  # the health thresholds, from their one list
        if setting.name not in body:
            continue
        value = body[setting.name]
        if isinstance(value, bool) or not isinstance(value, int if setting.whole else (int, float)):
            raise ValidationError(
                N_("Give a whole number.") if setting.whole else setting.out_of_range,
                field=setting.name,
            )
        changes[setting.name] = value if setting.whole else float(value)
    if "open_for_applications" in body:
        if not isinstance(body["open_for_applications"], bool):
            raise ValidationError(N_("true or false"), field="open_for_applications")
        changes["open_for_applications"] = body["open_for_applications"]
    return dataclasses.replace(base, **changes)


def _as_form(programme: Programme) -> programmes.ProgrammeForm:
    return programmes.ProgrammeForm(
        slug=programme.slug,
        name=programme.name,
        description=programme.description,
        competences=tuple(programme.competence_list),
        starts=programme.starts,
        ends=programme.ends,
        languages=tuple(x for x in programme.languages.split(";") if x),
        rhythm_weeks=programme.rhythm_weeks,
        note_template=programme.note_template,
        open_for_applications=programme.open_for_applications,
        status=programme.status,
        quiet_weeks=programme.quiet_weeks,
        pause_weeks=programme.pause_weeks,
        first_month_days=programme.first_month_days,
        low_rating=programme.low_rating,
    )


def summary(programme: Programme) -> dict[str, object]:
    """A programme's settings and counts (no people, no pairs: GET /api/programmes/{slug})."""
    counts = enrolment.counts(enrolment.enrolments(db(), programme))
    warning = programmes.length_warning(programme.starts, programme.ends)
    return {
        **programmes.settings_data(programme),
        "enrolments": counts,
        "pairs": sum(1 for p in programme.pairs if p.status in ("proposed", "active", "paused")),
        # in the request's language (kb.views.programmes.LENGTH_WARNINGS marks the texts)
        "length_warning": gettext(warning) if warning else None,
    }


@bp.get("/programmes")
@api_hr_required
def list_programmes() -> ResponseReturnValue:
    rows = db().query(Programme).order_by(Programme.starts.desc(), Programme.slug).all()
    return jsonify({"programmes": [summary(p) for p in rows]})


@bp.post("/programmes")
@api_hr_required
def create_programme() -> ResponseReturnValue:
    """Create a programme (stage 1); the body needs at least slug and name."""
    session = db()  # a refused request is rolled back when the request's session closes
    body = json_object()
    form = _form(body, programmes.ProgrammeForm(slug="", name=""))
    programme = programmes.save_programme(session, form, api_person(), create=True)
    session.commit()
    return jsonify(summary(programme)), 201


@bp.get("/programmes/<slug>")
@api_hr_required
def get_programme(slug: str) -> ResponseReturnValue:
    return jsonify(summary(_programme(slug)))


@bp.patch("/programmes/<slug>")
@api_hr_required
def update_programme(slug: str) -> ResponseReturnValue:
    session, programme = db(), _programme(slug)
    body = json_object()
    if "slug" in body and body["slug"] != slug:
        raise ValidationError(N_("the short name cannot change"), field="slug")
    programmes.save_programme(session, _form(body, _as_form(programme)), api_person(),
                              create=False)  # fmt: skip
    session.commit()
    return jsonify(summary(programme))


@bp.get("/programmes/<slug>/export")
@api_hr_required
def export(slug: str) -> ResponseReturnValue:
    """Settings, enrolments and pairs (agreement accepted yes/no), as `tandem programme export`
    writes them; audited."""
    session = db()
    data = programmes.export_programme(session, _programme(slug), api_person())
    session.commit()
    return jsonify(data)


@bp.post("/programmes/<slug>/invitations")
@api_hr_required
def invite(slug: str) -> ResponseReturnValue:
    """Invite people by e-mail as mentors or mentees; each one still accepts or declines."""
    session, programme = db(), _programme(slug)
    body = json_object()
    emails = _strings(body.get("emails"), "emails")
    if not emails or len(emails) > MAX_INVITATIONS:
        raise ValidationError(N_("1 to %(max)d e-mail addresses"), field="emails",
                              max=MAX_INVITATIONS)  # fmt: skip
    role = body.get("role")
    if role not in ("mentor", "mentee"):
        raise ValidationError(N_("mentor or mentee"), field="role")
    invited: list[str] = []
    refused: list[dict[str, str]] = []
    for email in emails:
        try:
            with session.begin_nested():
                person = people.get_person_by_email(session, email)
                enrolment.invite(session, programme, person, role, api_person())
            invited.append(person.email)
        except (ValidationError, NotFound) as error:
            refused.append({"email": email, "reason": str(getattr(error, "reason", error))})
    session.commit()
    return jsonify({"invited": invited, "refused": refused})


@bp.post("/programmes/<slug>/pairs")
@api_hr_required
def create_pair(slug: str) -> ResponseReturnValue:
    """Pair two people by hand (proposed, locked); the management-chain rule holds."""
    session, programme = db(), _programme(slug)
    body = json_object()
    mentor_email, mentee_email = body.get("mentor"), body.get("mentee")
    if not isinstance(mentor_email, str) or not isinstance(mentee_email, str):
        raise ValidationError(N_("the mentor's and the mentee's e-mail addresses"))
    mentor = people.get_person_by_email(session, mentor_email)
    mentee = people.get_person_by_email(session, mentee_email)
    pair = pairs.create_pair(session, programme, mentor, mentee, api_person())
    session.commit()
    return jsonify({"id": pair.id, "mentor": mentor.email, "mentee": mentee.email,
                    "status": pair.status, "locked": pair.locked}), 201  # fmt: skip


@bp.put("/programmes/<slug>/weights")
@api_hr_required
def set_weights(slug: str) -> ResponseReturnValue:
    """Replace the programme's matching weights (a missing weight: its default)."""
    session, programme = db(), _programme(slug)
    body = json_object()
    unknown = sorted(set(body) - set(programmes.WEIGHT_NAMES))
    if unknown:
        raise ValidationError(N_("unknown weight(s): %(names)s"), names=", ".join(unknown))
    weights = programmes.parse_weights({k: "" if v is None else str(v) for k, v in body.items()})
    programmes.set_weights(session, programme, weights, api_person())
    session.commit()
    return jsonify({"matching_weights": programmes.weights_of(programme)})
