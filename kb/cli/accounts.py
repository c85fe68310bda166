"""``tandem invite EMAIL``: a one-time, expiring set-password link for a person (an invitation,
or ``--reset``), printed here and e-mailed when SMTP is configured; audited."""

from __future__ import annotations

import click

from kb.cli.base import State, pass_state


@click.command()
@click.argument("email")
@click.option("--reset", is_flag=True, help="A password reset: the current password stops working.")
@click.option("--as", "as_email", metavar="EMAIL", help="The HR person acting (for the audit log).")
@click.option("--base-url", help="Where the site is reached (default: $TANDEM_BASE_URL).")
@pass_state
def invite(
    state: State, email: str, reset: bool, as_email: str | None, base_url: str | None
) -> None:
    """Print a set-password link for EMAIL (and e-mail it when SMTP is configured)."""
    from kb.services import accounts, mail
    from kb.services.pairs import check_hr
    from kb.services.people import get_person_by_email

    settings = state.settings
    root = (base_url or settings.base_url or "").rstrip("/")
    with state.tandem.sessions() as session:
        person = get_person_by_email(session, email)
        actor = None
        if as_email:
            actor = check_hr(get_person_by_email(session, as_email), "invite people")
        purpose = "reset" if reset else "invite"
        row, token = accounts.issue_link(session, person, purpose, actor)
        session.commit()
        url = f"{root}/account/set-password?token={token}"
        subject, body = accounts.link_mail(person, purpose, url, row.expires_at)
        sent = mail.send(settings, person.email, subject, body).sent
    click.echo(url)
    when = row.expires_at.strftime("%Y-%m-%d %H:%M")
    how = "e-mailed" if sent else "not e-mailed (SMTP is not configured or refused)"
    click.echo(f"{person.name} <{person.email}>: works once, until {when} UTC; {how}.", err=True)
    if not root:
        click.echo("Note: set TANDEM_BASE_URL (or --base-url) for a full address.", err=True)


COMMANDS = (invite,)
