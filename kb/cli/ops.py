"""Operations: ``check`` (database against the derived indexes), ``backup`` and ``restore``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from kb.cli.base import State, emit_json, pass_state

if TYPE_CHECKING:
    from kb.services.integrity import CheckReport


@click.command()
@click.option(
    "--repair", is_flag=True, help="Fix what differs (catch up or rebuild), then check again."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_state
def check(state: State, repair: bool, as_json: bool) -> None:
    """Compare the database with every search index and snapshot; report differences.

    Exit 0: consistent. 1: content differs, or an index or snapshot is missing or damaged.
    3: only behind the change log (a catch-up, or the next search, applies it).
    """
    from kb.services import integrity

    tandem = state.tandem
    indexes = integrity.open_indexes(tandem)
    done: list[str] = []
    try:
        report = integrity.check(indexes)
        if repair and report.findings:
            if not as_json:
                print_report(report)
            # The same stores: a snapshot is rewritten from the index the check loaded.
            done = integrity.repair(indexes, report, (lambda _: None) if as_json else click.echo)
    finally:
        indexes.close()
    if done:
        indexes = integrity.open_indexes(tandem)
        try:
            report = integrity.check(indexes)
        finally:
            indexes.close()
    if as_json:
        emit_json({**report.to_dict(), "repaired": done})
    else:
        for line in done:
            click.echo(f"repaired: {line}")
        if done:
            click.echo("After the repair:")
        print_report(report)
    sys.exit(int(report.exit_code))


def print_report(report: CheckReport) -> None:
    """The sizes compared, then each finding on one line."""
    sizes = report.sizes
    vectors = sizes.get("vectors")
    faiss = (
        ", ".join(
            f"FAISS {spec} {_get(v, 'vectors')} of {_get(v, 'expected')}"
            for spec, v in vectors.items()
        )  # fmt: skip
        if isinstance(vectors, dict)
        else "FAISS ?"
    )
    click.echo(
        f"Database: {sizes.get('change_log', 0)} change-log entries. "
        f"Whoosh {_get(sizes.get('whoosh'), 'chunks')} of "
        f"{_get(sizes.get('whoosh'), 'database_chunks')} chunks; "
        f"sparse {_get(sizes.get('sparse'), 'chunks')}; {faiss}."
    )
    for note in report.notes:
        click.echo(f"note: {note}")
    if not report.findings:
        click.echo(f"Consistent: every index matches the database ({report.took_s:.1f} s).")
        return
    for finding in report.findings:
        kind = "behind" if finding.behind_only else "DIFFERS"
        click.echo(f"{kind:>7}  {finding.index}: {finding.message}")
    if any(f.repair for f in report.findings):
        click.echo("`tandem check --repair` fixes this (catch up or rebuild).")


def _get(value: object, key: str) -> object:
    return value.get(key, "?") if isinstance(value, dict) else "?"


@click.command("backup")
@click.argument("dest", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@pass_state
def backup_command(state: State, dest: Path, as_json: bool) -> None:
    """Back up the database to DEST (a new file, or a folder): SQLite online, while the app
    runs; PostgreSQL with pg_dump (or the command to run when it is not installed)."""
    from kb.services import backup

    report = backup.backup(state.settings.database_url, dest)
    if as_json:
        emit_json(report.to_dict())
        return
    counts = ", ".join(f"{n} {table}" for table, n in report.counts.items())
    click.echo(f"Backed up to {report.path} ({report.kind}, {report.bytes:,} bytes)")
    if counts:
        click.echo(f"It holds: {counts}.")
    click.echo("Indexes are not backed up: `tandem restore` rebuilds them from the database.")


@click.command()
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Replace the instance's existing database.")
@click.option("--json", "as_json", is_flag=True, help="Print the restore and the check as JSON.")
@pass_state
def restore(state: State, source: Path, yes: bool, as_json: bool) -> None:
    """Replace the database by the backup SOURCE (stop the web app first), rebuild every
    search index from it and run `tandem check`; exits with the check's code."""
    from kb.services import backup, integrity

    settings = state.settings
    report = backup.restore_database(settings.database_url, source, overwrite=yes)
    backup.drop_indexes(settings.index_dir)
    if not as_json:
        click.echo(f"Restored {report.path} from {source}; rebuilding the search indexes ...")
    tandem = state.tandem  # migrates a backup made by an older release to the newest schema
    tandem.search  # noqa: B018 -- opening the engine builds every index from the database
    indexes = integrity.open_indexes(tandem)
    try:
        checked = integrity.check(indexes)
    finally:
        indexes.close()
    if as_json:
        emit_json({"restore": report.to_dict(), "check": checked.to_dict()})
    else:
        print_report(checked)
    sys.exit(int(checked.exit_code))


COMMANDS = (check, backup_command, restore)
