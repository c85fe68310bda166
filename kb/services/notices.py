"""Reminders and notices that ``tandem notify`` (run by cron) produces: a session tomorrow,
feedback due, a pair flagged (to HR), a guide past its review date (to its author); into the
inbox, and by e-mail in the reader's language when SMTP is configured. Idempotent: each notice
has a key, and a key is stored once, so running the command again (or twice at once, the key is
unique) sends nothing twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kb.config import Settings
from kb.i18n import DEFAULT_LOCALE, area_directories, supported_locale
from kb.models import Guide, Meeting, Pair, Person, Programme
from kb.services import health, inbox, mail
from kb.services.help import hr_people, pair_name
from kb.services.meetings import DEFAULT_ZONE, to_local, to_utc, when_text

FEEDBACK_BEFORE_END_DAYS = 7
FEEDBACK_AFTER_END_DAYS = 30  # a programme long over asks for nothing any more


@dataclass
class NoticeReport:
    sent: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str, message: object) -> None:
        if message is not None:
            self.sent[kind] = self.sent.get(kind, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.sent.values())


@dataclass(frozen=True)
class Delivery:
    """How notices leave: e-mail when a mailer is configured, in the reader's language."""

    mailer: inbox.Mailer | None = None
    translate_for: Callable[[Person], inbox.Translate] | None = None


@lru_cache(maxsize=8)
def translator(locale: str) -> inbox.Translate:
    """gettext over every area's catalog in ``locale``, without Flask (for e-mail sent by the
    command line); English, or a string no catalog has, stays as written."""
    from babel.support import Translations

    catalogs = [
        found
        for directory in area_directories()
        if isinstance(found := Translations.load(str(directory), [locale]), Translations)
    ]

    def translate(text: str) -> str:
        for catalog in catalogs:
            translated = catalog.gettext(text)
            if translated != text:
                return translated
        return text

    return translate


def person_locale(person: Person, default: str = DEFAULT_LOCALE) -> str:
    """The language a person reads notices in: the interface language they chose, else the
    instance's default (as the web app does for a signed-in person)."""
    return supported_locale(person.ui_language) or supported_locale(default) or DEFAULT_LOCALE


def mail_delivery(settings: Settings) -> Delivery:
    """E-mail through kb.services.mail when SMTP is configured; otherwise the inbox only."""
    if not mail.configured(settings):
        return Delivery()

    def send(to: str, subject: str, body: str) -> bool:
        return mail.send(settings, to, subject, body).sent

    def translate_for(person: Person) -> inbox.Translate:
        return translator(person_locale(person, settings.default_locale))

    return Delivery(mailer=send, translate_for=translate_for)


def feedback_due(
    session: Session, person: Person, programme: Programme, round_name: str,
    delivery: Delivery = Delivery(),
) -> object:  # fmt: skip
    """Tell ``person`` their feedback on ``programme`` is due (once per round, e.g. "mid",
    "end"); the evaluation helper's questionnaires call this too."""
    return inbox.notify(
        session, person, "feedback_due", {"programme": programme.name},
        link="/programmes/feedback",
        key=f"feedback-due:{programme.id}:{round_name}:{person.id}",
        mailer=delivery.mailer, translate_for=delivery.translate_for,
    )  # fmt: skip


def sessions_tomorrow(
    session: Session, now: dt.datetime, report: NoticeReport, delivery: Delivery,
    zone_name: str = DEFAULT_ZONE,
) -> None:  # fmt: skip
    """Both members of a pair with a session planned for tomorrow (local date)."""
    tomorrow = to_local(now, zone_name).date() + dt.timedelta(days=1)
    start = to_utc(tomorrow, dt.time(0, 0), zone_name)
    end = to_utc(tomorrow + dt.timedelta(days=1), dt.time(0, 0), zone_name)
    meetings = session.scalars(
        select(Meeting).where(
            Meeting.status == "planned", Meeting.starts_at >= start, Meeting.starts_at < end
        )
    )
    for meeting in meetings:
        # A session moved to another time is a new reminder; the same one never repeats.
        slot = f"{meeting.id}:{meeting.starts_at:%Y%m%d%H%M}"
        for member in (meeting.pair.mentor, meeting.pair.mentee):
            report.count(
                "session_tomorrow",
                inbox.notify(
                    session, member, "session_tomorrow", {"when": when_text(meeting, zone_name)},
                    link="/pair", key=f"session-tomorrow:{slot}:{member.id}",
                    mailer=delivery.mailer, translate_for=delivery.translate_for,
                ),
            )  # fmt: skip


def feedback_rounds(programme: Programme, today: dt.date) -> list[str]:
    """Which feedback rounds are due: "mid" from the programme's midpoint, "end" from a week
    before its end; none a month after the end."""
    if programme.starts is None or programme.ends is None:
        return []
    if today > programme.ends + dt.timedelta(days=FEEDBACK_AFTER_END_DAYS):
        return []
    rounds = []
    middle = programme.starts + (programme.ends - programme.starts) / 2
    if today >= middle:
        rounds.append("mid")
    if today >= programme.ends - dt.timedelta(days=FEEDBACK_BEFORE_END_DAYS):
        rounds.append("end")
    return rounds


def running_programmes(session: Session) -> list[Programme]:
    return list(session.scalars(select(Programme).where(Programme.status == "running")))


def feedback_notices(
    session: Session, today: dt.date, report: NoticeReport, delivery: Delivery
) -> None:
    for programme in running_programmes(session):
        rounds = feedback_rounds(programme, today)
        if not rounds:
            continue
        pairs = session.scalars(
            select(Pair).where(Pair.programme_id == programme.id, Pair.status.in_(("active",)))
        )
        members = {m.id: m for p in pairs for m in (p.mentor, p.mentee)}
        for round_name in rounds:
            for member in members.values():
                report.count(
                    "feedback_due", feedback_due(session, member, programme, round_name, delivery)
                )


def flag_notices(
    session: Session, today: dt.date, report: NoticeReport, delivery: Delivery
) -> None:
    """HR hears once about each pair's set of flags (a new flag is a new notice)."""
    hr = hr_people(session)
    for programme in running_programmes(session):
        for row in health.programme_health(
            session, programme, today, statuses=("active", "paused")
        ):
            if not row.flags:
                continue
            flags = sorted(row.flags)
            for person in hr:
                report.count(
                    "pair_flagged",
                    inbox.notify(
                        session, person, "pair_flagged",
                        {"pair": pair_name(row.pair), "programme": programme.name, "flags": flags},
                        link=f"/hr/programmes/{programme.slug}/health",
                        key=f"pair-flagged:{row.pair.id}:{','.join(flags)}:{person.id}",
                        mailer=delivery.mailer, translate_for=delivery.translate_for,
                    ),
                )  # fmt: skip


def guide_review_notices(
    session: Session, today: dt.date, report: NoticeReport, delivery: Delivery
) -> None:
    """The author of a published guide past its review-by date, once per review date (a new
    date set after a review is a new reminder when it passes too)."""
    overdue = session.scalars(
        select(Guide)
        .where(Guide.status == "published", Guide.review_by.is_not(None), Guide.review_by < today)
        .order_by(Guide.id)
    )
    for guide in overdue:
        author, review_by = guide.author, guide.review_by
        if author is None or not author.active or review_by is None:
            continue
        report.count(
            "guide_review",
            inbox.notify(
                session, author, "guide_review",
                {"title": guide.title, "date": review_by.isoformat()},
                link=f"/guides/{guide.slug}",
                key=f"guide-review:{guide.id}:{review_by.isoformat()}",
                mailer=delivery.mailer, translate_for=delivery.translate_for,
            ),
        )  # fmt: skip


def run_notices(
    session: Session, now: dt.datetime, delivery: Delivery = Delivery()
) -> NoticeReport:
    """Every notice due at ``now`` (naive UTC), each at most once; commits at the end."""
    report = NoticeReport()
    today = to_local(now).date()
    sessions_tomorrow(session, now, report, delivery)
    feedback_notices(session, today, report, delivery)
    flag_notices(session, today, report, delivery)
    guide_review_notices(session, today, report, delivery)
    try:
        session.commit()
    except IntegrityError:  # another run stored the same keys first: those are sent
        session.rollback()
        return NoticeReport()
    return report
