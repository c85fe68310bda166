"""``tandem report PROGRAMME --csv DIR``: a programme's evaluation (stage 7) as CSV files, one
per table, the same figures HR's evaluation page shows (groups of at least the programme's
minimum size, never a note)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from kb.cli.base import State, emit_json, pass_state


@click.command()
@click.argument("programme")
@click.option(
    "--csv", "csv_dir", type=click.Path(file_okay=False, path_type=Path),
    help="Write every table as PROGRAMME-TABLE.csv into this folder.",
)  # fmt: skip
@click.option("--as", "as_email", metavar="EMAIL", help="The HR person asking (audit log).")
@click.option("--today", metavar="YYYY-MM-DD", help="Evaluate as of this day (default today).")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def report(
    state: State, programme: str, csv_dir: Path | None, as_email: str | None,
    today: str | None, as_json: bool,
) -> None:  # fmt: skip
    """A programme's evaluation: participation, retention, sessions, goal progress, ratings,
    free text, guides and insights, topics and gaps. Audited as an export."""
    from kb.services import audit, evaluation, programmes
    from kb.services.pairs import check_hr
    from kb.services.people import get_person_by_email

    try:
        day = dt.date.fromisoformat(today) if today else dt.date.today()
    except ValueError as exc:
        raise click.BadParameter(f"{today!r} is not a date (YYYY-MM-DD)",
                                 param_hint="--today") from exc  # fmt: skip
    with state.tandem.sessions() as session:
        actor = (check_hr(get_person_by_email(session, as_email), "run reports")
                 if as_email else None)  # fmt: skip
        found = evaluation.evaluate(session, programmes.get_programme(session, programme), day)
        written = evaluation.write_report(found, csv_dir) if csv_dir is not None else []
        audit.record(
            session,
            actor,
            "evaluation.export",
            "programme",
            found.programme.id,
            found.programme.id,
            {"tables": len(found.tables), "via": "cli"},
        )
        session.commit()
    if as_json:
        emit_json({
            "programme": found.programme.slug, "today": day.isoformat(),
            "min_group": found.min_group, "headline": dict(found.headline),
            "tables": {t.name: {"columns": t.columns, "rows": t.rows, "note": t.note_text}
                       for t in found.tables},
            "files": [str(p) for p in written],
        })  # fmt: skip
        return
    click.echo(f"Evaluation of {found.programme.name} ({found.programme.slug}) as of {day}")
    for label, value in found.headline:
        click.echo(f"  {label}: {value}")
    for table in found.tables:
        click.echo(f"  {table.title}: {len(table.rows)} row(s)")
    for path in written:
        click.echo(f"Wrote {path}")


COMMANDS = (report,)
