"""Health of a programme's pairs for HR: counts and dates, never content.

Each flag is a pure function over numbers and dates with ``today`` passed in (tests give
their own clock); ``programme_health`` gathers the numbers from the database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kb.errors import ValidationError
from kb.i18n import N_
from kb.models import Feedback, Meeting, Pair, PairChange, Person, Programme, SessionNote
from kb.services.pairs import RUNNING, mentor_capacity

FLAGS = ("no_session", "paused_long", "over_capacity", "no_note", "low_feedback")
# The defaults of a programme's settings (kb.models.Programme has the same ones).
QUIET_WEEKS = 4
PAUSE_WEEKS = 4
FIRST_MONTH_DAYS = 30
LOW_RATING = 2.5  # a mean rating below this (on the 1-5 scale) is low


@dataclass(frozen=True)
class ThresholdSetting:
    """One health threshold: the programme's column (and form field, API key and, with
    dashes, the command-line option), its range, default and the words shown for it. The
    one list below drives the checks, the forms (programme edit, pair health) and the
    ``tandem programme create`` options."""

    name: str
    label: str  # the forms' label (N_: the web layer translates it)
    help: str  # the command line's help (English, like every CLI text)
    minimum: int | float
    maximum: int | float
    default: int | float
    out_of_range: str  # N_: the error for a value outside [minimum, maximum]

    @property
    def whole(self) -> bool:
        """Whether the value is a whole number (weeks, days) rather than a rating."""
        return isinstance(self.default, int)

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def step(self) -> str:
        return "1" if self.whole else "0.1"


THRESHOLDS = (
    ThresholdSetting(
        "quiet_weeks", N_("No session for more than (weeks)"),
        "Flag a pair with no session for more than N weeks", 1, 52, QUIET_WEEKS,
        N_("Give a number of weeks from 1 to 52."),
    ),
    ThresholdSetting(
        "pause_weeks", N_("Paused for more than (weeks)"),
        "Flag a pair paused for more than N weeks", 1, 52, PAUSE_WEEKS,
        N_("Give a number of weeks from 1 to 52."),
    ),
    ThresholdSetting(
        "first_month_days", N_("No note at all after (days from the start)"),
        "Flag a pair with no note N days after its start", 1, 366, FIRST_MONTH_DAYS,
        N_("Give a number of days from 1 to 366."),
    ),
    ThresholdSetting(
        "low_rating", N_("Low feedback: a mean rating below (1 to 5)"),
        "Flag a pair whose ratings average below this", 1, 5, LOW_RATING,
        N_("Give a rating from 1 to 5."),
    ),
)  # fmt: skip
THRESHOLD_NAMES = tuple(t.name for t in THRESHOLDS)


@dataclass(frozen=True)
class Thresholds:
    quiet_weeks: int = QUIET_WEEKS
    pause_weeks: int = PAUSE_WEEKS
    first_month_days: int = FIRST_MONTH_DAYS
    low_rating: float = LOW_RATING


# --- the rules ---------------------------------------------------------------------------------


def no_session(
    status: str, started: dt.date | None, last_session: dt.date | None, today: dt.date, weeks: int
) -> bool:
    """An active pair whose last session (or its start, before any) is more than ``weeks``
    weeks ago."""
    since = last_session or started
    return status == "active" and since is not None and (today - since).days > weeks * 7


def paused_long(status: str, paused_since: dt.date | None, today: dt.date, weeks: int) -> bool:
    """A pair paused for more than ``weeks`` weeks."""
    return (
        status == "paused" and paused_since is not None and (today - paused_since).days > weeks * 7
    )


def over_capacity(running: int, capacity: int) -> bool:
    """The mentor has more running (active or paused) pairs than places."""
    return running > capacity


def no_note(
    status: str, started: dt.date | None, note_count: int, today: dt.date, days: int
) -> bool:
    """A running pair that started more than ``days`` days ago and wrote no note at all."""
    return (
        status in RUNNING and started is not None and (today - started).days > days
        and note_count == 0
    )  # fmt: skip


def low_feedback(ratings: Sequence[float], threshold: float) -> bool:
    """The pair's ratings average below ``threshold`` (no ratings: no flag)."""
    return bool(ratings) and sum(ratings) / len(ratings) < threshold


@dataclass(frozen=True)
class PairFacts:
    """What HR may know about a pair: statuses, counts and dates."""

    status: str
    started: dt.date | None
    last_session: dt.date | None = None
    paused_since: dt.date | None = None
    note_count: int = 0
    mentor_running: int = 0
    mentor_capacity: int = 1
    ratings: tuple[float, ...] = ()


def flags_for(facts: PairFacts, limits: Thresholds, today: dt.date) -> list[str]:
    """The pair's flags, in FLAGS order."""
    found = {
        "no_session": no_session(
            facts.status, facts.started, facts.last_session, today, limits.quiet_weeks
        ),
        "paused_long": paused_long(facts.status, facts.paused_since, today, limits.pause_weeks),
        "over_capacity": facts.status in RUNNING
        and over_capacity(facts.mentor_running, facts.mentor_capacity),
        "no_note": no_note(
            facts.status, facts.started, facts.note_count, today, limits.first_month_days
        ),
        "low_feedback": low_feedback(facts.ratings, limits.low_rating),
    }
    return [name for name in FLAGS if found[name]]


# --- the numbers -------------------------------------------------------------------------------


@dataclass
class PairHealth:
    pair: Pair
    planned: int = 0  # sessions still planned
    held: int = 0
    cancelled: int = 0
    last_session: dt.date | None = None
    note_count: int = 0
    flags: list[str] = field(default_factory=list)


def thresholds_of(programme: Programme) -> Thresholds:
    """The programme's own thresholds (a value not set yet: the default)."""
    low = programme.low_rating
    return Thresholds(
        quiet_weeks=programme.quiet_weeks or QUIET_WEEKS,
        pause_weeks=programme.pause_weeks or PAUSE_WEEKS,
        first_month_days=programme.first_month_days or FIRST_MONTH_DAYS,
        low_rating=float(low) if low is not None else LOW_RATING,
    )


def thresholds_json(programme: Programme) -> dict[str, int | float]:
    """The settings as the API and the exports name them."""
    limits = thresholds_of(programme)
    return {
        "quiet_weeks": limits.quiet_weeks,
        "pause_weeks": limits.pause_weeks,
        "first_month_days": limits.first_month_days,
        "low_rating": limits.low_rating,
    }


def latest(*days: dt.date | None) -> dt.date | None:
    known = [d for d in days if d is not None]
    return max(known) if known else None


def as_date(value: object) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.datetime.fromisoformat(str(value)).date()


def programme_health(
    session: Session, programme: Programme, today: dt.date, statuses: Sequence[str] | None = None
) -> list[PairHealth]:
    """Every pair of the programme (or those with ``statuses``) with counts and flags."""
    query = select(Pair).where(Pair.programme_id == programme.id).order_by(Pair.id)
    if statuses:
        query = query.where(Pair.status.in_(list(statuses)))
    pair_list = list(session.scalars(query))
    ids = [p.id for p in pair_list]
    if not ids:
        return []
    counts: dict[tuple[int, str], int] = {}
    last_held: dict[int, dt.date | None] = {}
    for pair_id, status, number, newest in session.execute(
        select(Meeting.pair_id, Meeting.status, func.count(Meeting.id), func.max(Meeting.starts_at))
        .where(Meeting.pair_id.in_(ids))
        .group_by(Meeting.pair_id, Meeting.status)
    ):
        counts[(pair_id, status)] = int(number)
        if status == "held":
            last_held[pair_id] = as_date(newest)
    notes = dict(
        session.execute(
            select(SessionNote.pair_id, func.count(SessionNote.id))
            .where(SessionNote.pair_id.in_(ids))
            .group_by(SessionNote.pair_id)
        ).all()
    )
    note_days = dict(
        session.execute(
            select(SessionNote.pair_id, func.max(SessionNote.session_date))
            .where(SessionNote.pair_id.in_(ids))
            .group_by(SessionNote.pair_id)
        ).all()
    )
    paused = dict(
        session.execute(
            select(PairChange.pair_id, func.max(PairChange.at))
            .where(PairChange.pair_id.in_(ids), PairChange.what.like("%→ paused"))
            .group_by(PairChange.pair_id)
        ).all()
    )
    ratings: dict[int, list[float]] = {}
    for pair_id, rating in session.execute(
        # questionnaire ratings only: a mentee's own level on a goal is not about the pair
        select(Feedback.pair_id, Feedback.rating).where(
            Feedback.pair_id.in_(ids),
            Feedback.question_id.is_not(None),
            Feedback.rating.is_not(None),
        )
    ):
        if rating is not None:
            ratings.setdefault(pair_id, []).append(float(rating))
    running: dict[int, int] = dict(
        session.execute(
            select(Pair.mentor_id, func.count(Pair.id))
            .where(Pair.status.in_(RUNNING), Pair.mentor_id.in_({p.mentor_id for p in pair_list}))
            .group_by(Pair.mentor_id)
        ).all()
    )
    limits = thresholds_of(programme)
    rows = []
    for pair in pair_list:
        mentor: Person = pair.mentor
        # A session counts once held; notes carry the date of the session they describe.
        last = latest(last_held.get(pair.id), as_date(note_days.get(pair.id)))
        facts = PairFacts(
            status=pair.status, started=pair.started, last_session=last,
            paused_since=as_date(paused.get(pair.id)) or (
                pair.started if pair.status == "paused" else None
            ),
            note_count=int(notes.get(pair.id, 0)), mentor_running=int(running.get(mentor.id, 0)),
            mentor_capacity=mentor_capacity(mentor), ratings=tuple(ratings.get(pair.id, ())),
        )  # fmt: skip
        rows.append(
            PairHealth(
                pair=pair,
                planned=counts.get((pair.id, "planned"), 0),
                held=counts.get((pair.id, "held"), 0),
                cancelled=counts.get((pair.id, "cancelled"), 0),
                last_session=last,
                note_count=facts.note_count,
                flags=flags_for(facts, limits, today),
            )  # fmt: skip
        )
    return rows


def check_thresholds(
    quiet_weeks: int | None = None,
    pause_weeks: int | None = None,
    first_month_days: int | None = None,
    low_rating: float | None = None,
) -> None:
    """Refuse a threshold out of its range (None: not given, nothing to check)."""
    given = {"quiet_weeks": quiet_weeks, "pause_weeks": pause_weeks,
             "first_month_days": first_month_days, "low_rating": low_rating}  # fmt: skip
    for setting in THRESHOLDS:
        value = given[setting.name]
        if value is not None and not setting.minimum <= value <= setting.maximum:  # NaN too
            raise ValidationError(setting.out_of_range, field=setting.name)


def set_thresholds(
    programme: Programme,
    quiet_weeks: int | None = None,
    pause_weeks: int | None = None,
    first_month_days: int | None = None,
    low_rating: float | None = None,
) -> list[str]:
    """Set the thresholds given (None: keep); returns the names that changed."""
    check_thresholds(quiet_weeks, pause_weeks, first_month_days, low_rating)
    given = {"quiet_weeks": quiet_weeks, "pause_weeks": pause_weeks,
             "first_month_days": first_month_days,
             "low_rating": None if low_rating is None else round(float(low_rating), 2)}  # fmt: skip
    changed = []
    for name, value in given.items():
        if value is not None and getattr(programme, name) != value:
            setattr(programme, name, value)
            changed.append(name)
    return changed


def parse_thresholds(data: Mapping[str, object]) -> dict[str, Any]:
    """The thresholds a form gives (an empty or missing field: not given), checked."""
    found: dict[str, Any] = {}
    for setting in THRESHOLDS:
        name = setting.name
        raw = str(data.get(name) or "").strip()
        if not raw:
            continue
        if not setting.whole:
            try:
                found[name] = float(raw.replace(",", "."))
            except ValueError as error:
                raise ValidationError(setting.out_of_range, field=name) from error
        elif raw.isdigit() and len(raw) <= 6:
            found[name] = int(raw)
        else:
            raise ValidationError(N_("Give a whole number."), field=name)
    check_thresholds(**found)
    return found
