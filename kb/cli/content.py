"""Content commands: ``demo``, ``ingest`` and ``reindex``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from kb.cli.base import State, emit_json, pass_state


@click.command()
@click.option("--reset", is_flag=True, help="Delete the instance's content and indexes first.")
@click.option("--json", "as_json", is_flag=True, help="Print the import report as JSON.")
@pass_state
def demo(state: State, reset: bool, as_json: bool) -> None:
    """Load the demo library (people, programme, guides, notes) and build the indexes."""
    from ingest.demo import DEMO_PASSWORD, demo_logins, load_demo
    from kb.services.instance import reset_instance

    tandem = state.tandem
    if reset:
        tandem = state.replace(reset_instance(tandem))
    if not as_json:
        click.echo(f"Loading the demo library into {tandem.settings.instance_dir} ...")
        click.echo(
            f"Embedding with {', '.join(tandem.settings.import_models)} "
            "(the first run takes a few minutes)."
        )
    report = load_demo(
        tandem.sessions,
        tandem.embedders,
        matching=tandem.matching_embedders,
        progress=not as_json,
        demo_dir=tandem.settings.demo_dir,
    )
    applied = tandem.search.catch_up()
    logins = demo_logins(tandem.sessions)
    if as_json:
        emit_json(
            {
                "report": report.to_dict(),
                "index_changes": applied,
                "logins": logins,
                "password": DEMO_PASSWORD,
            }
        )
        return
    # The first line has the counts; the per-file list of ~130 files is for `tandem ingest`.
    click.echo(report.summary().splitlines()[0])
    for rejection in report.rejected:
        click.echo(f"  rejected {rejection.path}: {rejection.reason}")
    click.echo(f"Search indexes: {applied} change(s) applied.")
    click.echo(f"\nDemo logins (password for all: {DEMO_PASSWORD}):")
    for row in logins:
        click.echo(f"  {row['email']:<34} {row['roles']:<18} {row['name']}")
    click.echo("\nNext: tandem serve")


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_state
def ingest(state: State, paths: tuple[Path, ...], as_json: bool) -> None:
    """Import people CSV, programme JSON, guides and notes (markdown). Exit 1 if any rejected.

    The report is in English whatever LANG says (logs, scripts and support share one wording);
    the web's people upload shows the same reasons in the reader's language."""
    from ingest.pipeline import import_paths

    tandem = state.tandem
    report = import_paths(
        tandem.sessions,
        list(paths),
        tandem.embedders,
        matching=tandem.matching_embedders,
        progress=not as_json,
    )
    applied = tandem.search.catch_up()
    if as_json:
        emit_json({"report": report.to_dict(), "index_changes": applied})
    else:
        click.echo(report.summary())
        click.echo(f"Search indexes: {applied} change(s) applied.")
    if report.rejected:
        sys.exit(1)


@click.command("match-vectors")
@pass_state
def match_vectors_command(state: State) -> None:
    """Embed goals, stated expertise and public chunks that have no matching vector yet."""
    from kb.services import match_vectors

    tandem = state.tandem
    added = match_vectors.catch_up(tandem.sessions, tandem.matching_embedders)
    click.echo(f"Matching vectors: {added} computed.")


@click.command()
@pass_state
def reindex(state: State) -> None:
    """Rebuild the search indexes from the database (safe while serving: swapped atomically)."""
    state.tandem.search.reindex()
    click.echo("Search indexes rebuilt.")


COMMANDS = (demo, ingest, match_vectors_command, reindex)
