"""``tandem erase-person`` (GDPR Art. 17, run by HR) and ``tandem retention`` (session notes
after their programme ended). The policy is in :mod:`kb.services.erasure` and the README."""

from __future__ import annotations

import datetime as dt

import click

from kb.cli.base import State, emit_json, pass_state


@click.command("erase-person")
@click.argument("email")
@click.option("--as", "as_email", required=True, metavar="EMAIL", help="The HR person acting.")
@click.option("--yes", is_flag=True, help="Do not ask: erase at once.")
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
@pass_state
def erase_person(state: State, email: str, as_email: str, yes: bool, as_json: bool) -> None:
    """Erase EMAIL's personal data everywhere (database, search indexes and snapshots,
    embedding cache, matching vectors). Published guides stay, anonymised; the pair's notes
    go. Asks you to type the e-mail again unless --yes. Cannot be undone."""
    from kb.services import erasure, uploads
    from kb.services.pairs import check_hr
    from kb.services.people import get_person_by_email

    tandem = state.tandem
    with tandem.sessions() as session:
        actor = check_hr(get_person_by_email(session, as_email), "erase a person")
        person = get_person_by_email(session, email)
        if not yes:
            typed = click.prompt(
                f"This erases {person.email} for good. Type the e-mail again to confirm",
                default="", show_default=False,
            )  # fmt: skip
            if typed.strip().lower() != person.email.strip().lower():
                raise click.ClickException("not confirmed: nothing was erased")
        done = erasure.erase_person(session, person, actor, tandem.embedders)
        session.commit()
    steps = erasure.purge_derived(tandem, done.text_hashes)
    if done.video_names:
        gone = erasure.remove_video_files(
            uploads.videos_dir(tandem.settings.instance_dir), done.video_names
        )
        steps.append(f"uploaded video files removed: {gone}")
    if as_json:
        emit_json({"person_id": done.person_id, "counts": done.counts, "steps": steps})
        return
    click.echo(f"Erased person #{done.person_id}.")
    for what, n in sorted(done.counts.items()):
        click.echo(f"  {what}: {n}")
    for line in steps:
        click.echo(f"  {line}")
    click.echo(
        "Restart the web app so its workers drop the erased words from memory too; "
        "backups taken before now still hold them (see the README)."
    )


@click.command()
@click.option(
    "--days", type=click.IntRange(0), help="Override TANDEM_NOTE_RETENTION_DAYS for this run."
)
@click.option("--today", metavar="YYYY-MM-DD", help="Count from this date (tests, catch-up).")
@click.option("--dry-run", is_flag=True, help="Say what would go; change nothing.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def retention(
    state: State, days: int | None, today: str | None, dry_run: bool, as_json: bool
) -> None:
    """Delete session notes of programmes that ended more than TANDEM_NOTE_RETENTION_DAYS
    days ago (a note quoted by a published insight is emptied, the insight stays). Meant
    for a daily timer; does nothing when no period is set."""
    from kb.services import erasure

    days = days if days is not None else state.settings.note_retention_days
    if days is None:
        message = "No retention period: set TANDEM_NOTE_RETENTION_DAYS (notes are kept)."
        if as_json:
            emit_json({"days": None, "programmes": [], "notes_deleted": 0, "notes_emptied": 0})
        else:
            click.echo(message)
        return
    try:
        on = dt.date.fromisoformat(today) if today else dt.date.today()
    except ValueError as exc:
        raise click.BadParameter(f"{today!r} is not a date", param_hint="--today") from exc
    tandem = state.tandem
    with tandem.sessions() as session:
        report = erasure.apply_retention(session, days, on, dry_run=dry_run)
        session.commit()
    steps: list[str] = []
    if not dry_run and (report.notes_deleted or report.notes_emptied):
        steps = erasure.purge_derived(tandem, report.text_hashes)
    if as_json:
        emit_json({**report.to_dict(), "dry_run": dry_run, "steps": steps})
        return
    verb = "would be" if dry_run else "were"
    click.echo(
        f"Notes older than {days} days after their programme's end: {report.notes_deleted} "
        f"{verb} deleted, {report.notes_emptied} {verb} emptied (quoted by a published insight)"
        + (f", in {', '.join(report.programmes)}." if report.programmes else ".")
    )
    for line in steps:
        click.echo(f"  {line}")


COMMANDS = (erase_person, retention)
