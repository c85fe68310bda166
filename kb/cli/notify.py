"""``tandem notify``: reminders and notices into the inbox (run by cron; idempotent)."""

from __future__ import annotations

import datetime as dt

import click

from kb.cli.base import State, emit_json, pass_state


@click.command()
@click.option(
    "--now", metavar="ISO", help="Act as if it were this UTC time (default: now), e.g. for a test."
)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def notify(state: State, now: str | None, as_json: bool) -> None:
    """Send the notices that are due: sessions tomorrow, feedback due, flagged pairs (to HR),
    guides past their review date (to their authors). Into the inbox, and by e-mail when
    TANDEM_SMTP_HOST is set. Run it from cron (e.g. hourly); a notice is never sent twice."""
    from kb.services import mail
    from kb.services.notices import mail_delivery, run_notices

    try:
        moment = dt.datetime.fromisoformat(now) if now else dt.datetime.now(dt.UTC)
    except ValueError as error:
        raise click.BadParameter(
            "an ISO date and time, e.g. 2026-12-05T08:00", param_hint="--now"
        ) from error
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    with state.tandem.sessions() as session:
        report = run_notices(session, moment, mail_delivery(state.settings))
    emailed = mail.configured(state.settings)
    if as_json:
        emit_json({"sent": report.sent, "total": report.total, "email": emailed})
        return
    how = "inbox and e-mail" if emailed else "inbox only; SMTP is not configured"
    click.echo(f"{report.total} notice(s) sent ({how}).")
    for kind, count in sorted(report.sent.items()):
        click.echo(f"  {kind}: {count}")


COMMANDS = [notify]
