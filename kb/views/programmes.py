"""Programmes, stages 1 to 4: HR creates and edits a programme, sets its matching weights
(with the proposal side by side), invites and accepts people, pairs by hand and swaps
mentors; people apply, answer invitations, leave, and complete their pair's onboarding.

HR pages here show who takes part and whether the agreement was accepted, never a note.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import login_required
from werkzeug.datastructures import MultiDict

from ingest.people_upload import (
    UPLOAD_MAX_BYTES,
    apply_upload,
    forget_file,
    keep_for_confirmation,
    kept_file,
    plan_upload,
)
from kb.errors import NotFound, ValidationError
from kb.i18n import N_
from kb.models import (
    COMPETENCES,
    LANGUAGES,
    PROGRAMME_STATUSES,
    Enrolment,
    Pair,
    Person,
    Programme,
)
from kb.services import enrolment, health, match_vectors, pairs, people, programmes
from kb.views.hr import hr_required, job_answer, pool_cache, present_proposal
from kb.views.i18n import translate_error
from kb.views.support import current_person, db, parse_date, tandem
from matching import service as matching
from matching.constraints import MatchWeights
from matching.results import to_data

bp = Blueprint("programmes", __name__)

# The seven stages of a programme, in order: (title, endpoint or None). Stages 5 to 7 are
# filled in by the sessions and evaluation pages (an endpoint that does not exist yet is
# shown as text, not a link).
# A stage names the endpoints that may show it, the first one the app has wins.
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (N_("1. Decision and goal"), ("programmes.edit",)),
    (N_("2. Selection of participants"), ("programmes.enrolment",)),
    (N_("3. Preparation"), ("programmes.preparation",)),
    (N_("4. Pairing"), ("hr.programme",)),
    (N_("5. Sessions"), ("hr.sessions", "sessions.programme_health")),
    (N_("6. Monitoring and support"), ("sessions.programme_health",)),
    (N_("7. Evaluation"), ("evaluation.evaluation_page",)),
)
# programmes.length_warning's messages (flashed in the reader's language).
LENGTH_WARNINGS = (
    N_("The programme runs less than 3 months; programmes usually run 3 to 6 months."),
    N_("The programme runs more than 6 months; programmes usually run 3 to 6 months."),
)


def stages(slug: str, current: str) -> list[dict[str, Any]]:
    """The stage navigation of a programme's HR pages."""
    from flask import current_app

    out = []
    for title, endpoints in STAGES:
        known = [e for e in endpoints if e in current_app.view_functions]
        url = url_for(known[0], slug=slug) if known else None
        here = bool(known) and known[0] == current
        out.append({"title": _(title), "url": url, "current": here})
    return out


def _programme(slug: str) -> Programme:
    try:
        return programmes.get_programme(db(), slug)
    except NotFound as error:
        raise NotFound(N_("No such programme.")) from error


def _me() -> Person:
    person = current_person()
    assert person is not None  # login_required ran
    return person


def _form_record(form: MultiDict[str, str], slug: str | None) -> programmes.ProgrammeForm:
    rhythm = (form.get("rhythm_weeks") or "").strip()
    if rhythm and not rhythm.isdigit():
        raise ValidationError(N_("a whole number of weeks"), field="rhythm_weeks")
    custom = [c.strip() for c in (form.get("custom_competences") or "").split(",") if c.strip()]
    status = form.get("status") or "planned"
    limits = health.parse_thresholds(form)
    return programmes.ProgrammeForm(
        slug=(slug or form.get("slug") or "").strip().lower(),
        name=form.get("name") or "",
        description=form.get("description") or "",
        competences=tuple(dict.fromkeys([*form.getlist("competences"), *custom])),
        starts=parse_date(form.get("starts")),
        ends=parse_date(form.get("ends")),
        languages=tuple(form.getlist("languages")),
        rhythm_weeks=int(rhythm) if rhythm else None,
        note_template=form.get("note_template") or "",
        open_for_applications=form.get("open_for_applications") == "1",
        status=status,
        **limits,
    )


def _edit_page(
    programme: Programme | None, form: MultiDict[str, str] | None, error: str | None = None
) -> ResponseReturnValue:
    values: dict[str, Any]
    if form is not None:
        values = {
            "slug": form.get("slug", ""), "name": form.get("name", ""),
            "description": form.get("description", ""),
            "competences": form.getlist("competences"),
            "custom_competences": form.get("custom_competences", ""),
            "starts": form.get("starts", ""), "ends": form.get("ends", ""),
            "languages": form.getlist("languages"), "rhythm_weeks": form.get("rhythm_weeks", ""),
            "note_template": form.get("note_template", ""),
            "open_for_applications": form.get("open_for_applications") == "1",
            "status": form.get("status", "planned"),
            **{name: form.get(name, "") for name in health.THRESHOLD_NAMES},
        }  # fmt: skip
    elif programme is not None:
        listed = programme.competence_list
        values = {
            "slug": programme.slug, "name": programme.name,
            "description": programme.description,
            "competences": [c for c in listed if c in COMPETENCES],
            "custom_competences": ", ".join(c for c in listed if c not in COMPETENCES),
            "starts": programme.starts.isoformat() if programme.starts else "",
            "ends": programme.ends.isoformat() if programme.ends else "",
            "languages": programme.languages.split(";") if programme.languages else [],
            "rhythm_weeks": programme.rhythm_weeks or "",
            "note_template": programme.note_template,
            "open_for_applications": programme.open_for_applications,
            "status": programme.status,
            **health.thresholds_json(programme),
        }  # fmt: skip
    else:
        values = {"slug": "", "name": "", "description": "", "competences": [],
                  "custom_competences": "", "starts": "", "ends": "", "languages": [],
                  "rhythm_weeks": "2", "note_template": "", "open_for_applications": False,
                  "status": "planned", **health.thresholds_json(Programme())}  # fmt: skip
    return render_template(
        "programmes/edit.html", programme=programme, values=values, error=error,
        competences=COMPETENCES, languages=LANGUAGES, statuses=PROGRAMME_STATUSES,
        thresholds=health.THRESHOLDS,
        stages=stages(programme.slug, "programmes.edit") if programme else [],
    ), (400 if error else 200)  # fmt: skip


@bp.route("/hr/programmes/new", methods=["GET", "POST"])
@hr_required
def create() -> ResponseReturnValue:
    """HR creates a programme (stage 1: its purpose and the competences it develops)."""
    if request.method == "GET":
        return _edit_page(None, None)
    session = db()
    try:
        record = _form_record(request.form, None)
        programme = programmes.save_programme(session, record, current_person(), create=True)
        session.commit()
    except ValidationError as error:
        session.rollback()
        return _edit_page(None, request.form, translate_error(error))
    _warn_length(programme)
    flash(_("Programme %(name)s created.", name=programme.name), "info")
    return redirect(url_for("programmes.enrolment", slug=programme.slug))


def _warn_length(programme: Programme) -> None:
    warning = programmes.length_warning(programme.starts, programme.ends)
    if warning:
        flash(_(warning), "error")


@bp.route("/hr/programmes/<slug>/edit", methods=["GET", "POST"])
@hr_required
def edit(slug: str) -> ResponseReturnValue:
    programme = _programme(slug)
    if request.method == "GET":
        return _edit_page(programme, None)
    session = db()
    try:
        record = _form_record(request.form, slug)
        programmes.save_programme(session, record, current_person(), create=False)
        session.commit()
    except ValidationError as error:
        session.rollback()
        return _edit_page(_programme(slug), request.form, translate_error(error))
    _warn_length(programme)
    flash(_("Programme saved."), "info")
    return redirect(url_for("programmes.edit", slug=slug))


# --- stage 2: selection of participants ---------------------------------------------------------


@bp.route("/hr/programmes/<slug>/enrolment", endpoint="enrolment")
@hr_required
def enrolment_page(slug: str) -> ResponseReturnValue:
    programme = _programme(slug)
    rows = enrolment.enrolments(db(), programme)
    return render_template(
        "programmes/enrolment.html", programme=programme, rows=rows,
        counts=enrolment.counts(rows), today=dt.date.today(),
        stages=stages(slug, "programmes.enrolment"),
    )  # fmt: skip


@bp.route("/hr/programmes/<slug>/invite", methods=["POST"])
@hr_required
def invite(slug: str) -> ResponseReturnValue:
    """HR invites people (one e-mail per line) as mentors or mentees."""
    programme, session = _programme(slug), db()
    role = request.form.get("role", "")
    emails = [
        e.strip()
        for e in (request.form.get("emails") or "").replace(",", "\n").split()
        if e.strip()
    ][:200]
    done, problems = 0, []
    for email in emails:
        try:
            with session.begin_nested():
                person = people.get_person_by_email(session, email)
                enrolment.invite(session, programme, person, role, current_person())
            done += 1
        except (ValidationError, NotFound) as error:
            problems.append(f"{email}: {translate_error(error)}")
    session.commit()
    if done:
        flash(ngettext("Invited %(num)d person.", "Invited %(num)d people.", done), "info")
    for problem in problems[:20]:
        flash(_("Not invited: %(problem)s", problem=problem), "error")
    return redirect(url_for("programmes.enrolment", slug=slug))


def _hr_enrolment_step(enrolment_id: int, step: str) -> ResponseReturnValue:
    session = db()
    found = enrolment.get_enrolment(session, enrolment_id)
    slug = found.programme.slug
    try:
        if step == "prepared":
            enrolment.record_preparation(
                session, found, parse_date(request.form.get("on")), current_person()
            )
        else:
            enrolment.accept(session, found, current_person())
        session.commit()
    except ValidationError as error:
        session.rollback()
        flash(_("%(name)s: not changed: %(reason)s", name=found.person.name,
                reason=translate_error(error)), "error")  # fmt: skip
    else:
        flash(_("%(name)s: saved.", name=found.person.name), "info")
    return redirect(url_for("programmes.enrolment", slug=slug))


@bp.route("/hr/enrolments/<int:enrolment_id>/prepared", methods=["POST"])
@hr_required
def prepared(enrolment_id: int) -> ResponseReturnValue:
    """HR records the date of the preparatory conversation (only the date)."""
    return _hr_enrolment_step(enrolment_id, "prepared")


@bp.route("/hr/enrolments/<int:enrolment_id>/accept", methods=["POST"])
@hr_required
def accept(enrolment_id: int) -> ResponseReturnValue:
    return _hr_enrolment_step(enrolment_id, "accept")


# --- stage 3: preparation (onboarding) ----------------------------------------------------------


@bp.route("/hr/programmes/<slug>/preparation")
@hr_required
def preparation(slug: str) -> ResponseReturnValue:
    """Whether each pair accepted its agreement (yes or no, nothing else)."""
    programme = _programme(slug)
    rows = [p for p in programme.pairs if p.status not in ("rejected", "dropped")]
    return render_template(
        "programmes/preparation.html",
        programme=programme,
        pairs=sorted(rows, key=lambda p: p.id),
        stages=stages(slug, "programmes.preparation"),
    )


# --- stage 4: pairing by hand and weights -------------------------------------------------------


@bp.route("/hr/programmes/<slug>/pairs", methods=["POST"])
@hr_required
def create_pair(slug: str) -> ResponseReturnValue:
    """HR pairs two people by hand, or picks a mentor from a mentee's recommendations."""
    programme, session = _programme(slug), db()
    try:
        mentor = people.get_person_by_email(session, request.form.get("mentor", ""))
        mentee = people.get_person_by_email(session, request.form.get("mentee", ""))
        pair = pairs.create_pair(session, programme, mentor, mentee, current_person())
        session.commit()
    except (ValidationError, NotFound) as error:
        session.rollback()
        flash(_("Not paired: %(reason)s", reason=translate_error(error)), "error")
    else:
        flash(_("%(mentor)s / %(mentee)s: paired (proposed, locked).", mentor=pair.mentor.name,
                mentee=pair.mentee.name), "info")  # fmt: skip
    return redirect(url_for("hr.programme", slug=slug))


@bp.route("/hr/pairs/<int:pair_id>/swap", methods=["POST"])
@hr_required
def swap(pair_id: int) -> ResponseReturnValue:
    """HR gives a pair's mentee another mentor; the old pair keeps its history."""
    session, hr = db(), current_person()
    assert hr is not None
    pair = pairs.get_pair(session, pair_id, hr)
    slug = pair.programme.slug
    try:
        mentor = people.get_person_by_email(session, request.form.get("mentor", ""))
        new = pairs.swap_mentor(session, pair, mentor, hr)
        session.commit()
    except (ValidationError, NotFound) as error:
        session.rollback()
        flash(_("Mentor not swapped: %(reason)s", reason=translate_error(error)), "error")
    else:
        flash(_("%(mentee)s now has %(mentor)s as mentor.", mentee=new.mentee.name,
                mentor=new.mentor.name), "info")  # fmt: skip
    return redirect(url_for("hr.programme", slug=slug))


@bp.route("/hr/programmes/<slug>/weights", methods=["GET", "POST"])
@hr_required
def weights(slug: str) -> ResponseReturnValue:
    """The programme's matching weights, and the proposal under candidate weights beside the
    one under the stored weights (both from stored vectors; nothing is embedded again)."""
    programme, session = _programme(slug), db()
    stored = programmes.weights_of(programme)
    if request.method == "POST":
        try:
            wanted = programmes.parse_weights(request.form)
            programmes.set_weights(session, programme, wanted, current_person())
            session.commit()
        except ValidationError as refused:
            session.rollback()
            flash(_("Weights not saved: %(reason)s", reason=translate_error(refused)), "error")
        else:
            flash(_("Weights saved: the next proposal uses them."), "info")
        return redirect(url_for("programmes.weights", slug=slug))
    defaults = MatchWeights().to_dict()
    current = {**defaults, **stored}
    candidate: dict[str, float] | None = None
    comparison: dict[str, Any] | None = None
    error: str | None = None
    if any(request.args.get(name) for name in programmes.WEIGHT_NAMES):
        try:
            candidate = {**current, **programmes.parse_weights(request.args)}
        except ValidationError as problem:
            error = translate_error(problem)
    if candidate is not None:
        found, waiting = job_answer("proposal", slug, "Proposed pairs")
        if waiting is not None:
            return waiting
        before = present_proposal(found, None)
        after = present_proposal(to_data(matching.propose(
            session, tandem().matching_embedders, slug, candidate, cache=pool_cache(),
            explain=False)), None)  # fmt: skip
        comparison = compare(before, after)
    return render_template(
        "programmes/weights.html", programme=programme, current=current, defaults=defaults,
        candidate=candidate, comparison=comparison, error=error, names=programmes.WEIGHT_NAMES,
        stages=stages(slug, "hr.programme"),
    )  # fmt: skip


def compare(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Which mentee gets which mentor under each set of weights, changed rows first."""

    def mentors(data: dict[str, Any]) -> dict[str, tuple[str, float]]:
        return {p["mentee_name"] if "mentee_name" in p else p["mentee"]: (
            p.get("mentor_name") or p["mentor"], float(p.get("score") or 0.0))
            for p in data["pairs"]}  # fmt: skip

    left, right = mentors(before), mentors(after)
    rows = []
    for mentee in sorted(set(left) | set(right)):
        a, b = left.get(mentee), right.get(mentee)
        rows.append(
            {
                "mentee": mentee,
                "before": a,
                "after": b,
                "changed": (a or ("",))[0] != (b or ("",))[0],
            }
        )
    rows.sort(key=lambda r: (not r["changed"], r["mentee"]))
    return {
        "rows": rows,
        "changed": sum(r["changed"] for r in rows),
        "before_total": round(sum(v[1] for v in left.values()), 3),
        "after_total": round(sum(v[1] for v in right.values()), 3),
    }


# --- participants -------------------------------------------------------------------------------


@bp.route("/programmes/")
@login_required
def index() -> ResponseReturnValue:
    """Open programmes and my invitations and enrolments."""
    session, me = db(), _me()
    return render_template(
        "programmes/index.html",
        open=enrolment.open_programmes(session),
        mine=enrolment.my_enrolments(session, me),
        my_pairs=pairs.pairs_for_person(session, me, ("proposed", "active", "paused")),
    )


@bp.route("/programmes/<slug>")
@login_required
def view(slug: str) -> ResponseReturnValue:
    """An open programme's page: its purpose, competences, dates, and the application form."""
    session, me = db(), _me()
    programme = _programme(slug)
    mine = enrolment.enrolment_of(session, programme, me)
    if not programme.open_for_applications and mine is None and not me.has_role("hr"):
        raise NotFound(N_("No such programme."))
    roles = [r for r in ("mentee", "mentor") if me.has_role(r)]
    return render_template("programmes/view.html", programme=programme, mine=mine, roles=roles)


@bp.route("/programmes/<slug>/apply", methods=["POST"])
@login_required
def apply(slug: str) -> ResponseReturnValue:
    session, me = db(), _me()
    programme = _programme(slug)
    if not programme.open_for_applications and not enrolment.enrolment_of(session, programme, me):
        raise NotFound(N_("No such programme."))
    try:
        enrolment.apply(
            session,
            programme,
            me,
            request.form.get("role", ""),
            request.form.get("motivation", ""),
            expertise=request.form.get("expertise", ""),
            ready=request.form.get("ready") == "1",
        )
        session.commit()
    except ValidationError as error:
        session.rollback()
        flash(_("Not sent: %(reason)s", reason=translate_error(error)), "error")
    else:
        flash(_("Thank you: HR will invite you to a short preparatory conversation."), "info")
    return redirect(url_for("programmes.view", slug=slug))


def _my_enrolment(enrolment_id: int) -> Enrolment:
    found = db().get(Enrolment, enrolment_id)
    if found is None or found.person_id != _me().id:
        raise NotFound(N_("No such invitation."))
    return found


@bp.route("/programmes/enrolments/<int:enrolment_id>/answer", methods=["POST"])
@login_required
def answer(enrolment_id: int) -> ResponseReturnValue:
    """The invited person accepts (mentors: with expertise and readiness) or declines."""
    session, found = db(), _my_enrolment(enrolment_id)
    try:
        enrolment.answer(
            session,
            found,
            _me(),
            request.form.get("answer") == "accept",
            expertise=request.form.get("expertise", ""),
            ready=request.form.get("ready") == "1",
        )
        session.commit()
    except ValidationError as error:
        session.rollback()
        flash(_("Not saved: %(reason)s", reason=translate_error(error)), "error")
    else:
        flash(
            _("Your answer is saved.")
            if found.status == "agreed"
            else _("You declined: nobody is told why."),
            "info",
        )
    return redirect(url_for("programmes.index"))


@bp.route("/programmes/enrolments/<int:enrolment_id>/leave", methods=["POST"])
@login_required
def leave(enrolment_id: int) -> ResponseReturnValue:
    session, found = db(), _my_enrolment(enrolment_id)
    try:
        enrolment.leave(session, found, _me())
        session.commit()
    except ValidationError as error:
        session.rollback()
        flash(_("Not saved: %(reason)s", reason=translate_error(error)), "error")
    else:
        flash(_("You left the programme. Taking part is voluntary."), "info")
    return redirect(url_for("programmes.index"))


def _my_pair(pair_id: int) -> Pair:
    pair = db().get(Pair, pair_id)
    if pair is None or not pair.has_member(_me().id):
        raise NotFound(N_("No such pair."))
    return pair


@bp.route("/programmes/pairs/<int:pair_id>/onboarding", methods=["GET", "POST"])
@login_required
def onboarding(pair_id: int) -> ResponseReturnValue:
    """Stage 3 for a pair member: an introduction for their role, the rules and the pair
    agreement (confidentiality and boundaries), accepted here before the first session."""
    pair, me = _my_pair(pair_id), _me()
    role = "mentor" if pair.mentor_id == me.id else "mentee"
    if request.method == "POST":
        if request.form.get("agree") != "1":
            flash(_("Tick the box to accept the agreement."), "error")
        else:
            pairs.accept_agreement(db(), pair, me)
            db().commit()
            flash(_("Thank you: you accepted the pair agreement."), "info")
        return redirect(url_for("programmes.onboarding", pair_id=pair_id))
    accepted = pair.mentor_agreed_at if role == "mentor" else pair.mentee_agreed_at
    partner = pair.mentee if role == "mentor" else pair.mentor
    return render_template(
        "programmes/onboarding.html", pair=pair, role=role, accepted=accepted, partner=partner
    )


# --- people CSV upload (dry run, then confirm) --------------------------------------------------


def _upload_folder() -> Path:
    return tandem().settings.instance_dir / "people-uploads"


@bp.route("/hr/people/upload", methods=["GET", "POST"])
@hr_required
def people_upload() -> ResponseReturnValue:
    """HR uploads the HR system's people CSV: the dry run shows what would be created,
    updated, left unchanged or rejected, and why; nothing is written until HR confirms."""
    if request.method == "GET":
        return render_template("programmes/upload.html", plan=None)
    upload = request.files.get("file")
    data = upload.read(UPLOAD_MAX_BYTES + 1) if upload is not None else b""
    plan = plan_upload(db(), data)
    db().rollback()  # the dry run wrote nothing; leave nothing open either
    if plan.problem:
        return render_template("programmes/upload.html", plan=plan), 400
    if plan.writable:
        keep_for_confirmation(_upload_folder(), data)
    return render_template("programmes/upload.html", plan=plan)


@bp.route("/hr/people/upload/confirm", methods=["POST"])
@hr_required
def people_upload_confirm() -> ResponseReturnValue:
    """Apply the file the dry run showed (kept on the server under its SHA-256; its plan is
    computed again on the same bytes, so what is written is what a dry run now shows)."""
    session = db()
    digest = request.form.get("digest", "")
    data = kept_file(_upload_folder(), digest)
    if data is None:
        flash(_("That dry run has expired or was already applied: upload the file again."), "error")
        return redirect(url_for("programmes.people_upload"))
    try:
        plan = apply_upload(session, data, current_person())
        session.commit()
    except ValidationError as error:
        session.rollback()
        flash(_("Nothing written: %(reason)s", reason=translate_error(error)), "error")
        return redirect(url_for("programmes.people_upload"))
    forget_file(_upload_folder(), digest)
    match_vectors.catch_up(tandem().sessions, tandem().matching_embedders)
    flash(_("Created %(created)d, updated %(updated)d, unchanged %(unchanged)d, "
            "rejected %(rejected)d.", **plan.counts), "info")  # fmt: skip
    return redirect(url_for("programmes.people_upload"))
