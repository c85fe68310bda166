"""Programmes: upserts with validation (a programme file's pairs go through the pairs
service), lookups."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.errors import NotFound, ValidationError
from kb.i18n import N_, Text, reason_of
from kb.models import (
    LANGUAGES,
    PROGRAMME_STATUSES,
    Enrolment,
    Pair,
    Person,
    Programme,
    join_list,
)
from kb.services import audit, health
from kb.services.pairs import RUNNING, check_dates, upsert_pair

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")


@dataclass(frozen=True)
class PairRecord:
    mentor_email: str
    mentee_email: str
    status: str = "proposed"
    started: dt.date | None = None
    ended: dt.date | None = None


@dataclass(frozen=True)
class ProgrammeRecord:
    slug: str
    name: str
    starts: dt.date | None = None
    ends: dt.date | None = None
    status: str = "planned"
    pairs: tuple[PairRecord, ...] = field(default_factory=tuple)


def upsert_programme(
    session: Session,
    *,
    slug: str,
    name: str,
    starts: dt.date | None = None,
    ends: dt.date | None = None,
    status: str = "planned",
) -> tuple[Programme, str]:
    """Create or update a programme by slug. Status: created, updated or unchanged."""
    if not SLUG.match(slug or ""):
        raise ValidationError(
            N_("%(slug)r is not a slug (lower-case letters, digits and '-')"),
            field="slug",
            slug=slug,
        )
    name = " ".join((name or "").split())
    if not name or len(name) > 200:
        raise ValidationError(N_("a name of 1 to 200 characters is required"), field="name")
    if status not in PROGRAMME_STATUSES:
        raise ValidationError(
            N_("unknown status %(status)r; use %(choices)s"),
            field="status",
            status=status,
            choices=", ".join(PROGRAMME_STATUSES),
        )
    check_dates(starts, ends, Text(N_("programme %(slug)r"), slug=slug))
    programme = session.scalar(select(Programme).where(Programme.slug == slug))
    values = {"name": name, "starts": starts, "ends": ends, "status": status}
    if programme is None:
        programme = Programme(slug=slug, **values)
        session.add(programme)
        session.flush()
        return programme, "created"
    if all(getattr(programme, k) == v for k, v in values.items()):
        return programme, "unchanged"
    for key, value in values.items():
        setattr(programme, key, value)
    session.flush()
    return programme, "updated"


def get_programme(session: Session, slug: str) -> Programme:
    programme = session.scalar(select(Programme).where(Programme.slug == slug))
    if programme is None:
        raise NotFound(N_("no programme %(slug)r"), slug=slug)
    return programme


def upsert_programme_record(
    session: Session, record: ProgrammeRecord
) -> tuple[Programme, str, dict[str, int]]:
    """A programme with its pairs (people must exist). Returns the programme, its own status
    and how many pairs were created / updated / unchanged."""
    programme, status = upsert_programme(
        session, slug=record.slug, name=record.name, starts=record.starts, ends=record.ends,
        status=record.status,
    )  # fmt: skip
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    # Pairs that stop running first, so a mentor's place freed by the same file is free for
    # the pair it starts, whatever the order in the file (numbers stay the file's).
    ordered = sorted(enumerate(record.pairs, start=1), key=lambda ip: ip[1].status in RUNNING)
    for i, pair in ordered:
        where = Text(N_("programme %(slug)r, pair %(number)s"), slug=record.slug, number=i)
        people = []
        for role, email in (("mentor", pair.mentor_email), ("mentee", pair.mentee_email)):
            person = session.scalar(select(Person).where(Person.email == email))
            if person is None:
                unknown = (
                    N_("%(where)s: unknown mentor %(email)r")
                    if role == "mentor"
                    else N_("%(where)s: unknown mentee %(email)r")
                )
                raise ValidationError(unknown, field=role, where=where, email=email)
            people.append(person)
        try:
            _, pair_status = upsert_pair(
                session, programme, people[0], people[1], status=pair.status,
                started=pair.started, ended=pair.ended,
            )  # fmt: skip
        except ValidationError as error:
            raise ValidationError(
                N_("%(where)s: %(reason)s"), field=error.field, where=where, reason=reason_of(error)
            ) from error
        counts[pair_status] += 1
    return programme, status, counts


# --- HR's programme form (stage 1) --------------------------------------------------------------

WEIGHT_NAMES = ("expertise", "teach_back", "other_department", "style", "availability", "min_fit")
MAX_TEXT = 5000


@dataclass(frozen=True)
class ProgrammeForm:
    """What HR states about a programme in the browser or on the command line."""

    slug: str
    name: str
    description: str = ""
    competences: tuple[str, ...] = ()
    starts: dt.date | None = None
    ends: dt.date | None = None
    languages: tuple[str, ...] = ()
    rhythm_weeks: int | None = None
    note_template: str = ""
    open_for_applications: bool = False
    status: str = "planned"
    # Health flag thresholds (stage 6); None keeps the programme's (a new one: the defaults).
    quiet_weeks: int | None = None
    pause_weeks: int | None = None
    first_month_days: int | None = None
    low_rating: float | None = None


def length_warning(starts: dt.date | None, ends: dt.date | None) -> str | None:
    """A warning (not an error) when a programme runs outside 3 to 6 months."""
    if starts is None or ends is None:
        return None
    days = (ends - starts).days
    if days < 89:
        return "The programme runs less than 3 months; programmes usually run 3 to 6 months."
    if days > 185:
        return "The programme runs more than 6 months; programmes usually run 3 to 6 months."
    return None


def _clean_competence(value: str) -> str:
    value = " ".join(value.split()).strip().lower()
    if not value or len(value) > 60 or ";" in value:
        raise ValidationError(
            N_("%(value)r is not a competence (1 to 60 characters, no ';')"),
            field="competences",
            value=value,
        )
    return value


def save_programme(
    session: Session, form: ProgrammeForm, actor: Person | None, *, create: bool
) -> Programme:
    """Create (``create``) or edit a programme from HR's form, with an audit entry."""
    if create and session.scalar(select(Programme).where(Programme.slug == form.slug)):
        raise ValidationError(
            N_("a programme %(slug)r exists already"), field="slug", slug=form.slug
        )
    programme, status = upsert_programme(
        session, slug=form.slug, name=form.name, starts=form.starts, ends=form.ends,
        status=form.status,
    )  # fmt: skip
    bad = [lang for lang in form.languages if lang not in LANGUAGES]
    if bad:
        raise ValidationError(
            N_("unknown language(s) %(languages)s"), field="languages", languages=", ".join(bad)
        )
    if form.rhythm_weeks is not None and not 1 <= form.rhythm_weeks <= 12:
        raise ValidationError(N_("a session every 1 to 12 weeks"), field="rhythm_weeks")
    for text, name in ((form.description, "description"), (form.note_template, "note_template")):
        if len(text) > MAX_TEXT:
            raise ValidationError(N_("at most %(limit)s characters"), field=name, limit=MAX_TEXT)
    health.check_thresholds(form.quiet_weeks, form.pause_weeks, form.first_month_days,
                            form.low_rating)  # fmt: skip
    values = {
        "description": form.description.strip(),
        "competences": join_list([_clean_competence(c) for c in form.competences]),
        "languages": join_list(list(form.languages)),
        "rhythm_weeks": form.rhythm_weeks,
        "note_template": form.note_template.strip(),
        "open_for_applications": form.open_for_applications,
    }
    changed = sorted(k for k, v in values.items() if getattr(programme, k) != v)
    for key, value in values.items():
        setattr(programme, key, value)
    changed += health.set_thresholds(
        programme, form.quiet_weeks, form.pause_weeks, form.first_month_days, form.low_rating
    )
    changed.sort()
    session.flush()
    if status == "created" or changed or status == "updated":
        audit.record(
            session, actor, "programme.create" if status == "created" else "programme.edit",
            "programme", programme.id, programme.id,
            {"fields": changed if status != "created" else [], "slug": programme.slug},
        )  # fmt: skip
    return programme


def weights_of(programme: Programme) -> dict[str, float]:
    """The programme's stored matching weights ({}: the defaults)."""
    try:
        data = json.loads(programme.matching_weights or "{}")
    except ValueError:
        return {}
    return (
        {k: float(v) for k, v in data.items() if k in WEIGHT_NAMES}
        if isinstance(data, dict)
        else {}
    )


def parse_weights(data: Mapping[str, object]) -> dict[str, float]:
    """Weights from a form (empty fields: the default), each a number from 0 to 10."""
    weights: dict[str, float] = {}
    for name in WEIGHT_NAMES:
        raw = str(data.get(name) or "").strip().replace(",", ".")
        if not raw:
            continue
        try:
            value = float(raw)
        except ValueError as exc:
            raise ValidationError(
                N_("weight %(name)s must be a number"), field=name, name=name
            ) from exc
        if not 0 <= value <= 10 or value != value:
            raise ValidationError(
                N_("weight %(name)s must be between 0 and 10"), field=name, name=name
            )
        weights[name] = value
    return weights


def set_weights(
    session: Session, programme: Programme, weights: Mapping[str, float], actor: Person | None
) -> None:
    """Store the programme's matching weights (its next proposal uses them), audited."""
    before = weights_of(programme)
    clean = {k: float(v) for k, v in weights.items() if k in WEIGHT_NAMES}
    programme.matching_weights = json.dumps(clean, sort_keys=True) if clean else ""
    session.flush()
    if before != clean:
        audit.record(
            session,
            actor,
            "programme.weights",
            "programme",
            programme.id,
            programme.id,
            {"before": before, "after": clean},
        )


def settings_data(programme: Programme) -> dict[str, object]:
    """A programme's settings as JSON-ready data (the export's and the API's common part)."""
    return {
        "slug": programme.slug,
        "name": programme.name,
        "status": programme.status,
        "starts": programme.starts.isoformat() if programme.starts else None,
        "ends": programme.ends.isoformat() if programme.ends else None,
        "description": programme.description,
        "competences": programme.competence_list,
        "languages": [x for x in programme.languages.split(";") if x],
        "rhythm_weeks": programme.rhythm_weeks,
        "open_for_applications": programme.open_for_applications,
        "matching_weights": weights_of(programme),
        "health_thresholds": health.thresholds_json(programme),
    }


def export_programme(
    session: Session, programme: Programme, actor: Person | None
) -> dict[str, object]:
    """A programme as data: its settings, enrolments and pairs (with onboarding yes/no), in the
    shape ``programme.json`` imports plus the rest. Never a note, a motivation or an answer:
    what HR may see. The export is audited."""
    enrolled = session.scalars(select(Enrolment).where(Enrolment.programme_id == programme.id))
    pair_rows = session.scalars(
        select(Pair).where(Pair.programme_id == programme.id).order_by(Pair.id)
    )
    enrolment_rows = sorted(
        (
            {"email": e.person.email, "role": e.role, "status": e.status,
             "source": e.source, "ready": e.ready,
             "prepared_on": e.prepared_on.isoformat() if e.prepared_on else None}
            for e in enrolled
        ),
        key=lambda row: (str(row["role"]), str(row["email"])),
    )  # fmt: skip
    pair_list = [
        {"mentor": p.mentor.email, "mentee": p.mentee.email, "status": p.status,
         "started": p.started.isoformat() if p.started else None,
         "ended": p.ended.isoformat() if p.ended else None, "locked": p.locked,
         "agreement_accepted": p.onboarded}
        for p in pair_rows
    ]  # fmt: skip
    data: dict[str, object] = {
        **settings_data(programme),
        "enrolments": enrolment_rows,
        "pairs": pair_list,
    }
    audit.record(
        session,
        actor,
        "programme.export",
        "programme",
        programme.id,
        programme.id,
        {"pairs": len(pair_list), "enrolments": len(enrolment_rows)},
    )
    return data
