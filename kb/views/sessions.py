"""Sessions and health: a pair's planned sessions (.ics per session, a secret calendar feed),
confidential requests for help, and HR's health view of a programme (counts, never content)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_decimal, gettext, pgettext
from flask_login import login_required

from kb.errors import ValidationError
from kb.i18n import N_
from kb.models import HELP_REASONS, MEETING_STATUSES, Meeting, Pair, Programme, utcnow
from kb.services import audit, calendar, health, meetings, people
from kb.services import help as help_service
from kb.services.evaluation import to_csv
from kb.services.pairs import RUNNING, programme_by_slug
from kb.views.hr import hr_required, pool_cache
from kb.views.i18n import translate_error
from kb.views.support import db, me, tandem
from matching import service as matching
from matching.results import to_data

bp = Blueprint("sessions", __name__)

RECOMMENDED = 10  # mentors offered when HR re-pairs from a request for help
ICS_TYPE = "text/calendar; charset=utf-8"
# Only the calendar itself; a feed's address is a secret, so it must not leak via Referer.
FEED_HEADERS = {"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer"}


def form_date(name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(request.form.get(name, "").strip())
    except ValueError as error:
        raise ValidationError(N_("Give the date as YYYY-MM-DD."), field=name) from error


def form_time(name: str) -> dt.time:
    try:
        return dt.time.fromisoformat(request.form.get(name, "").strip())
    except ValueError as error:
        raise ValidationError(N_("Give the time as HH:MM."), field=name) from error


def form_int(name: str, default: int | None = None) -> int:
    value = request.form.get(name, "").strip()
    if not value and default is not None:
        return default
    if not value.isdigit() or len(value) > 6:
        raise ValidationError(N_("Give a whole number."), field=name)
    return int(value)


def back_to_pair(pair: Pair) -> ResponseReturnValue:
    return redirect(url_for("notes.my_pair") + f"#sessions-{pair.id}")


@bp.app_template_global()
def pair_sessions(pair: Pair) -> list[dict[str, Any]]:
    """The pair page's list of sessions (for its members: the page shows only their pairs)."""
    return [
        {"meeting": m, "local": meetings.to_local(m.starts_at)}
        for m in meetings.meetings_for_pair(db(), pair)
    ]


@bp.app_template_global()
def session_zones() -> tuple[str, ...]:
    return meetings.ZONES


@bp.route("/pairs/<int:pair_id>/sessions", methods=["POST"])
@login_required
def plan(pair_id: int) -> ResponseReturnValue:
    person = me()
    pair = meetings.member_pair(db(), pair_id, person)
    meetings.plan_meeting(
        db(), pair, person, day=form_date("date"), start=form_time("time"),
        minutes=form_int("minutes", 60), tags=request.form.get("tags", ""),
        zone_name=request.form.get("zone") or None,
    )  # fmt: skip
    db().commit()
    flash(gettext("Session planned."), "info")
    return back_to_pair(pair)


@bp.route("/sessions/<int:meeting_id>/status", methods=["POST"])
@login_required
def mark(meeting_id: int) -> ResponseReturnValue:
    person = me()
    meeting = meetings.get_meeting(db(), meeting_id, person)
    status = request.form.get("status", "")
    meetings.mark_meeting(db(), meeting, person, status)
    db().commit()
    flash(gettext("Session updated."), "info")
    return back_to_pair(meeting.pair)


def event_of(meeting: Meeting) -> calendar.Event:
    pair = meeting.pair
    summary = gettext("Mentoring session: %(pair)s", pair=help_service.pair_name(pair))
    description = gettext("Tandem session of the programme %(programme)s.",
                          programme=pair.programme.name)  # fmt: skip
    return calendar.event_for(meeting, summary, description)


def ics_response(text: str, filename: str, extra: dict[str, str] | None = None) -> Response:
    response = Response(text, mimetype="text/calendar")
    response.headers["Content-Type"] = ICS_TYPE
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    for name, value in (extra or {}).items():
        response.headers[name] = value
    return response


@bp.route("/sessions/<int:meeting_id>.ics")
@login_required
def ics(meeting_id: int) -> ResponseReturnValue:
    meeting = meetings.get_meeting(db(), meeting_id, me())
    text = calendar.calendar_text([event_of(meeting)], utcnow())
    return ics_response(text, f"tandem-session-{meeting.id}.ics", {"Cache-Control": "private"})


@bp.route("/calendar")
@login_required
def calendar_page() -> ResponseReturnValue:
    feed = calendar.feed_of(db(), me())
    address = url_for("sessions.feed", token=feed.token, _external=True) if feed else None
    return render_template("sessions/calendar.html", address=address)


@bp.route("/calendar/feed", methods=["POST"])
@login_required
def new_feed() -> ResponseReturnValue:
    calendar.new_feed(db(), me())
    db().commit()
    flash(gettext("A new calendar address was made; any older one no longer works."), "info")
    return redirect(url_for("sessions.calendar_page"))


@bp.route("/calendar/feed/revoke", methods=["POST"])
@login_required
def revoke_feed() -> ResponseReturnValue:
    calendar.revoke_feed(db(), me())
    db().commit()
    flash(gettext("Your calendar address no longer works."), "info")
    return redirect(url_for("sessions.calendar_page"))


@bp.route("/calendar/<token>.ics")
def feed(token: str) -> ResponseReturnValue:
    """The secret address: no login, the token alone opens this person's sessions (times,
    the pair's names, topic tags; no note content)."""
    person = calendar.person_for_token(db(), token)
    events = [event_of(m) for m in meetings.meetings_for_person(db(), person)]
    text = calendar.calendar_text(events, utcnow(), name=gettext("Tandem sessions"))
    return ics_response(text, "tandem.ics", FEED_HEADERS)


# --- confidential help -------------------------------------------------------------------------


@bp.route("/pairs/<int:pair_id>/help", methods=["GET", "POST"])
@login_required
def ask_help(pair_id: int) -> ResponseReturnValue:
    person = me()
    pair = meetings.member_pair(db(), pair_id, person)
    if request.method == "POST":
        help_service.ask_for_help(
            db(), pair, person, request.form.get("reason", ""), request.form.get("text", ""),
            reveal=request.form.get("reveal") == "1",
        )  # fmt: skip
        db().commit()
        flash(gettext("Your request went to HR. Your partner is not told."), "info")
        return redirect(url_for("sessions.ask_help", pair_id=pair.id))
    mine = [r for r in help_service.requests_of(db(), person) if r.pair_id == pair.id]
    return render_template("sessions/help.html", pair=pair, reasons=HELP_REASONS, requests=mine)


@bp.route("/hr/help")
@hr_required
def help_requests() -> ResponseReturnValue:
    return render_template(
        "sessions/hr_help.html", requests=help_service.all_requests(db(), me()),
        actions=help_service.ACTIONS,
    )  # fmt: skip


@bp.route("/hr/help/<int:request_id>", methods=["POST"])
@hr_required
def handle_help(request_id: int) -> ResponseReturnValue:
    found = help_service.get_request(db(), request_id, me())
    action = request.form.get("action", "")
    mentor = None
    if action == "repair":
        email = request.form.get("mentor", "").strip()
        mentor = people.find_person(db(), email) if email else None
        if mentor is None:
            raise ValidationError(N_("Choose the new mentor."), field="mentor")
    try:
        help_service.handle_request(db(), found, me(), action, new_mentor=mentor)
    except ValidationError as error:
        if action != "repair":
            raise
        db().rollback()  # a refused re-pair (e.g. the management chain) says why, on the page
        flash(gettext("Not re-paired: %(reason)s", reason=translate_error(error)), "error")
        if request.form.get("back") == "choices":
            return redirect(url_for("sessions.repair_choices", request_id=request_id))
        return redirect(url_for("sessions.help_requests"))
    db().commit()
    flash(gettext("Request handled."), "info")
    return redirect(url_for("sessions.help_requests"))


@bp.route("/hr/help/<int:request_id>/repair")
@hr_required
def repair_choices(request_id: int) -> ResponseReturnValue:
    """Re-pair from a request for help: the mentee's recommended mentors (the programme's
    matching weights; the current mentor left out), each with a button that re-pairs. The
    same rules hold as for any new pair (management chain, capacity), refused with the reason."""
    found = help_service.get_request(db(), request_id, me())
    pair = found.pair
    candidates: list[dict[str, Any]] = []
    message = None
    if found.status == "open":
        options = matching.repair_options(
            db(), tandem().matching_embedders, pair, me(), RECOMMENDED, cache=pool_cache()
        )
        if options is not None:
            result = to_data(options)
            candidates, message = result["candidates"], result.get("message")
    return render_template(
        "sessions/repair.html", help_request=found, pair=pair, candidates=candidates,
        message=message,
    )  # fmt: skip


# --- HR's health view --------------------------------------------------------------------------


def flag_labels(programme: Programme) -> dict[str, str]:
    """Each flag's label with the programme's own number in it (page and CSV)."""
    limits = health.thresholds_of(programme)
    return {
        "no_session": gettext("No session for %(weeks)s weeks", weeks=limits.quiet_weeks),
        "paused_long": gettext("Paused for more than %(weeks)s weeks", weeks=limits.pause_weeks),
        "over_capacity": gettext("Mentor over capacity"),
        "no_note": gettext("No note after %(days)s days", days=limits.first_month_days),
        "low_feedback": gettext("Mean rating below %(rating)s",
                                rating=format_decimal(limits.low_rating)),
    }  # fmt: skip


def health_table(
    programme: Programme, rows: list[health.PairHealth]
) -> tuple[list[str], list[list[object]]]:
    """The health page's table as columns and rows: names, status, counts, the last session
    date and flags. Nothing a pair wrote (no note, no topic tag) is in it."""
    labels = flag_labels(programme)
    columns = [gettext("Mentor"), gettext("Mentee"), gettext("Status"), gettext("Planned"),
               gettext("Held"), gettext("Cancelled"), gettext("Last session"), gettext("Notes"),
               gettext("Flags")]  # fmt: skip
    table: list[list[object]] = [
        [row.pair.mentor.name, row.pair.mentee.name,
         pgettext("pair status", row.pair.status),  # the words of programmes/_labels.html
         row.planned, row.held, row.cancelled,
         row.last_session.isoformat() if row.last_session else "",
         row.note_count, "; ".join(labels[f] for f in row.flags)]
        for row in rows
    ]  # fmt: skip
    return columns, table


@bp.route("/hr/programmes/<slug>/health.csv")
@hr_required
def programme_health_csv(slug: str) -> ResponseReturnValue:
    """The per-pair health table as CSV (UTF-8 with a byte-order mark, for spreadsheets):
    counts, dates and flags, never content; audited as an export."""
    session = db()
    programme = programme_by_slug(session, slug)
    rows = health.programme_health(session, programme, meetings.to_local(utcnow()).date())
    columns, table = health_table(programme, rows)
    audit.record(session, me(), "programme.health_export", "programme", programme.id,
                 programme_id=programme.id,
                 detail={"format": "csv", "rows": len(table)})  # fmt: skip
    session.commit()
    return Response(
        "\ufeff" + to_csv(columns, table),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{programme.slug}-health.csv"',
                 "Cache-Control": "private, no-store"},
    )  # fmt: skip


@bp.route("/hr/programmes/<slug>/health", methods=["GET", "POST"])
@hr_required
def programme_health(slug: str) -> ResponseReturnValue:
    programme = programme_by_slug(db(), slug)
    if request.method == "POST":
        before = health.thresholds_json(programme)
        changed = health.set_thresholds(programme, **health.parse_thresholds(request.form))
        if changed:
            audit.record(
                db(), me(), "programme.health_thresholds", "programme", programme.id,
                programme_id=programme.id,
                detail={"before": before, "after": health.thresholds_json(programme)},
            )  # fmt: skip
        db().commit()
        flash(gettext("Thresholds saved."), "info")
        return redirect(url_for("sessions.programme_health", slug=slug))
    rows = health.programme_health(db(), programme, meetings.to_local(utcnow()).date())
    return render_template(
        "sessions/health.html", programme=programme, rows=rows, running=RUNNING,
        statuses=MEETING_STATUSES, limits=health.thresholds_json(programme),
        thresholds=health.THRESHOLDS, flag_labels=flag_labels(programme),
    )  # fmt: skip
