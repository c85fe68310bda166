"""``tandem programme create|enrol|export``: HR's programme steps, scriptable. Each names the
HR person it acts as (``--as``), who appears in the audit log."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.orm import Session

from kb.cli.base import State, emit_json, pass_state
from kb.models import Person
from kb.services.health import THRESHOLDS

F = TypeVar("F", bound=Callable[..., Any])


def _date(value: str | None, name: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param_hint=name) from exc


def _hr(session: Session, email: str) -> Person:
    from kb.services.pairs import check_hr
    from kb.services.people import get_person_by_email

    return check_hr(get_person_by_email(session, email), "run programme commands")


def threshold_options(command: F) -> F:
    """``--quiet-weeks`` and the other health thresholds, from their one list."""
    for setting in reversed(THRESHOLDS):
        low, high = setting.minimum, setting.maximum
        kind: click.ParamType = (
            click.IntRange(int(low), int(high)) if setting.whole else click.FloatRange(low, high)
        )
        command = click.option(
            setting.option, setting.name, type=kind,
            help=f"{setting.help} (default {setting.default}).",
        )(command)  # fmt: skip
    return command


@click.group()
def programme() -> None:
    """Create programmes, enrol people, export a programme (HR)."""


@programme.command()
@click.argument("slug")
@click.option("--name", required=True)
@click.option("--as", "as_email", required=True, metavar="EMAIL", help="The HR person acting.")
@click.option("--description", default="")
@click.option("--competence", "competences", multiple=True, help="Repeat for each competence.")
@click.option("--starts", metavar="YYYY-MM-DD")
@click.option("--ends", metavar="YYYY-MM-DD")
@click.option("--language", "languages", multiple=True, type=click.Choice(["pl", "ru", "en"]))
@click.option("--rhythm-weeks", type=click.IntRange(1, 12))
@click.option("--open", "is_open", is_flag=True, help="People may apply from its page.")
@threshold_options
@pass_state
def create(
    state: State,
    slug: str,
    name: str,
    as_email: str,
    description: str,
    competences: tuple[str, ...],
    starts: str | None,
    ends: str | None,
    languages: tuple[str, ...],
    rhythm_weeks: int | None,
    is_open: bool,
    quiet_weeks: int | None,
    pause_weeks: int | None,
    first_month_days: int | None,
    low_rating: float | None,
) -> None:
    """Create a programme (refused if SLUG exists)."""
    from kb.services import programmes

    form = programmes.ProgrammeForm(
        slug=slug, name=name, description=description, competences=competences,
        starts=_date(starts, "--starts"), ends=_date(ends, "--ends"), languages=languages,
        rhythm_weeks=rhythm_weeks, open_for_applications=is_open, quiet_weeks=quiet_weeks,
        pause_weeks=pause_weeks, first_month_days=first_month_days, low_rating=low_rating,
    )  # fmt: skip
    with state.tandem.sessions() as session:
        found = programmes.save_programme(session, form, _hr(session, as_email), create=True)
        session.commit()
        click.echo(f"Created programme {found.slug}: {found.name}")
        warning = programmes.length_warning(found.starts, found.ends)
        if warning:
            click.echo(f"Warning: {warning}")


@programme.command()
@click.argument("slug")
@click.argument("emails", nargs=-1, required=True)
@click.option("--role", type=click.Choice(["mentor", "mentee"]), required=True)
@click.option("--as", "as_email", required=True, metavar="EMAIL", help="The HR person acting.")
@click.option(
    "--prepared-on",
    metavar="YYYY-MM-DD",
    help="Record the preparatory conversation's date and accept those who agreed.",
)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def enrol(
    state: State,
    slug: str,
    emails: tuple[str, ...],
    role: str,
    as_email: str,
    prepared_on: str | None,
    as_json: bool,
) -> None:
    """Invite people to a programme; with --prepared-on, accept those who already agreed.

    Taking part stays voluntary: an invitation waits for the person's answer."""
    from kb.errors import NotFound, ValidationError
    from kb.services import enrolment, programmes
    from kb.services.people import get_person_by_email

    on = _date(prepared_on, "--prepared-on")
    rows = []
    with state.tandem.sessions() as session:
        hr = _hr(session, as_email)
        found = programmes.get_programme(session, slug)
        for email in emails:
            try:
                with session.begin_nested():
                    person = get_person_by_email(session, email)
                    current = enrolment.enrolment_of(session, found, person)
                    if on is not None and current is not None and current.status == "agreed":
                        enrolment.record_preparation(session, current, on, hr)
                        enrolment.accept(session, current, hr)
                        rows.append({"email": email, "result": "enrolled"})
                    else:
                        enrolment.invite(session, found, person, role, hr)
                        rows.append({"email": email, "result": "invited"})
            except (ValidationError, NotFound) as error:
                rows.append(
                    {
                        "email": email,
                        "result": "refused",
                        "reason": getattr(error, "reason", str(error)),
                    }
                )
        session.commit()
    if as_json:
        emit_json(rows)
    else:
        for row in rows:
            reason = f": {row['reason']}" if "reason" in row else ""
            click.echo(f"{row['email']}: {row['result']}{reason}")
    if any(row["result"] == "refused" for row in rows):
        raise SystemExit(1)


@programme.command()
@click.argument("slug")
@click.option("--as", "as_email", required=True, metavar="EMAIL", help="The HR person acting.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of standard output.",
)
@pass_state
def export(state: State, slug: str, as_email: str, out: Path | None) -> None:
    """A programme's settings, enrolments and pairs as JSON (never a note or a motivation)."""
    from kb.services import programmes

    with state.tandem.sessions() as session:
        hr = _hr(session, as_email)
        data = programmes.export_programme(session, programmes.get_programme(session, slug), hr)
        session.commit()
    if out is None:
        emit_json(data)
    else:
        out.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", "utf-8")
        click.echo(f"Wrote {out}")


COMMANDS = (programme,)
