"""``tandem export-person EMAIL``: one person's data (GDPR Arts. 15, 20) as a zip of JSON and
markdown, or the JSON alone. The export is recorded in the audit log (who, not what)."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import BinaryIO

import click

from kb.cli.base import State, pass_state


@click.command("export-person")
@click.argument("email")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the zip (default: tandem-data-NAME-DATE.zip here); '-' for stdout.",
)
@click.option("--json", "as_json", is_flag=True, help="Write data.json only, not the zip.")
@pass_state
def export_person(state: State, email: str, output: Path | None, as_json: bool) -> None:
    """Export everything Tandem holds about EMAIL: profile, guides, the notes and insights of
    their pairs, feedback they gave, sessions, help requests they sent and their inbox.

    Another pair's notes are never in it. The file holds private notes: hand it to the person
    only."""
    import json

    from kb.services import audit, export, uploads
    from kb.services.people import get_person_by_email

    with state.tandem.sessions() as session:
        person = get_person_by_email(session, email)
        data = export.person_data(session, person)
        audit.record(
            session, None, "person.export", "person", person.id, detail={"via": "command line"}
        )
        session.commit()
        videos = uploads.videos_dir(state.tandem.settings.instance_dir)

        def write(file: BinaryIO) -> None:
            if as_json:
                file.write((json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode())
            else:  # streamed: the uploaded videos are copied in chunks
                export.write_export(data, file, videos)

        if output is not None and str(output) == "-":
            write(sys.stdout.buffer)
            sys.stdout.buffer.flush()
            return
        if output is None:
            name = export.export_file_name(person, dt.date.today())
            output = Path(name[:-4] + ".json" if as_json else name)
        # Private notes inside: readable by its owner only, from the first byte written.
        descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            os.fchmod(file.fileno(), 0o600)  # also when the file existed before
            write(file)
        counts = ", ".join(
            f"{len(data[key])} {key.replace('_', ' ')}"
            for key in ("guides", "notes", "insights", "feedback", "videos")
        )
        click.echo(f"Wrote {output} ({output.stat().st_size:,} bytes): {counts}.")


COMMANDS = (export_person,)
