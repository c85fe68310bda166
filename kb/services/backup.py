"""``tandem backup`` and ``tandem restore``: the database is all there is to keep.

The search indexes, their snapshots and the embedding cache are derived: a restore rebuilds
the indexes from the restored database, and ``tandem check`` then compares them.

- **SQLite**: an online backup through SQLite's backup API (``sqlite3.Connection.backup``),
  copied in one step, which reads one consistent snapshot of the database while the web app
  and imports go on writing (WAL: writers do not wait for a reader). The copy is written
  beside the destination, checked (``PRAGMA integrity_check``) and renamed into place, so a
  crash never leaves a half-written backup under the final name.
- **PostgreSQL**: ``pg_dump --format=custom`` when it is on the PATH (one consistent snapshot
  too: pg_dump runs in a single repeatable-read transaction); otherwise the command to run.
  Restoring runs ``pg_restore --clean --if-exists --no-owner``.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

from kb.errors import TandemError

# Tables whose row counts a backup and a restore report (the content people care about).
COUNTED = ("person", "programme", "pair", "guide", "session_note", "shared_insight", "chunk",
           "change_log")  # fmt: skip


class BackupError(TandemError):
    """A backup or restore that cannot be done as asked; the message says why and what to do."""


@dataclass
class BackupReport:
    """What was written or restored, and what it holds."""

    path: Path
    kind: str  # "sqlite" | "pg_dump"
    bytes: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {"path": str(self.path), "kind": self.kind, "bytes": self.bytes,
                "counts": self.counts}  # fmt: skip


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None: not SQLite, or in memory)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def libpq_url(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as pg_dump and psql take it (no ``+driver``)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def counts_of(connection: sqlite3.Connection) -> dict[str, int]:
    tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    return {t: int(connection.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0])
            for t in COUNTED if t in tables}  # fmt: skip


def _verify(path: Path) -> dict[str, int]:
    """Integrity check and row counts of a SQLite file with Tandem's tables (BackupError if
    it is not one)."""
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a readable SQLite database ({exc})") from exc
    try:
        with connection:
            result = connection.execute("PRAGMA integrity_check").fetchone()[0]
            if result != "ok":
                raise BackupError(f"{path} failed SQLite's integrity check: {result}")
            tables = {r[0] for r in connection.execute(
                "SELECT name FROM sqlite_master WHERE type='table'")}  # fmt: skip
            if "alembic_version" not in tables or "chunk" not in tables:
                raise BackupError(f"{path} is a SQLite file but not a Tandem database")
            return counts_of(connection)
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a readable SQLite database ({exc})") from exc
    finally:
        connection.close()


def _copy_sqlite(source: Path, target: Path) -> None:
    """SQLite's online backup from ``source`` into a new file ``target`` (one step: one
    consistent read snapshot)."""
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
        # One self-contained file (the instance switches it back to WAL when it opens it).
        dst.execute("PRAGMA journal_mode=DELETE")
    finally:
        dst.close()
        src.close()


def backup(database_url: str, dest: Path) -> BackupReport:
    """Back up the instance's database to ``dest`` (a new file, or a folder to put one in)."""
    source = sqlite_path(database_url)
    if dest.is_dir():
        name = "tandem.sqlite3" if source is not None else "tandem.pgdump"
        dest = dest / name
    if dest.exists():
        raise BackupError(f"{dest} exists; choose a new file name (a backup never overwrites)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if source is None:
        return _pg_dump(database_url, dest)
    if not source.exists():
        raise BackupError(f"there is no database at {source} to back up")
    temp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        _copy_sqlite(source, temp)
        counts = _verify(temp)
        os.replace(temp, dest)
    finally:
        temp.unlink(missing_ok=True)
    return BackupReport(dest, "sqlite", dest.stat().st_size, counts)


PG_GUIDANCE = (
    "pg_dump is not on the PATH. Back up PostgreSQL with:\n"
    "  pg_dump --format=custom --file {dest} '{url}'\n"
    "and restore with:\n"
    "  pg_restore --clean --if-exists --no-owner --dbname '{url}' {dest}\n"
    "then run `tandem reindex` and `tandem check`."
)


def _pg_dump(database_url: str, dest: Path) -> BackupReport:
    url = libpq_url(database_url)
    if shutil.which("pg_dump") is None:
        safe = make_url(database_url).set(drivername="postgresql").render_as_string()
        raise BackupError(PG_GUIDANCE.format(dest=dest, url=safe))
    temp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        done = subprocess.run(
            ["pg_dump", "--format=custom", "--no-owner", "--file", str(temp), url],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise BackupError(f"pg_dump failed: {done.stderr.strip()[:500]}")
        os.replace(temp, dest)
    finally:
        temp.unlink(missing_ok=True)
    return BackupReport(dest, "pg_dump", dest.stat().st_size)


def restore_database(database_url: str, source: Path, overwrite: bool) -> BackupReport:
    """Replace the instance's database by the backup at ``source``.

    Refuses (BackupError) when the instance already has a database and ``overwrite`` is
    false. The web app must be stopped: its connections would keep the old data.
    """
    if not source.is_file():
        raise BackupError(f"there is no backup file at {source}")
    target = sqlite_path(database_url)
    if target is None:
        return _pg_restore(database_url, source, overwrite)
    counts = _verify(source)
    if target.exists() and target.stat().st_size > 0 and not overwrite:
        raise BackupError(
            f"{target} exists and would be overwritten; stop the web app and pass --yes "
            "to replace it by the backup"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.restoring")
    try:
        _copy_sqlite(source, temp)
        _verify(temp)
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    return BackupReport(target, "sqlite", target.stat().st_size, counts)


def _pg_restore(database_url: str, source: Path, overwrite: bool) -> BackupReport:
    if not overwrite:
        raise BackupError(
            "restoring replaces every table of the PostgreSQL database; stop the web app "
            "and pass --yes"
        )
    if shutil.which("pg_restore") is None:
        safe = make_url(database_url).set(drivername="postgresql").render_as_string()
        raise BackupError(PG_GUIDANCE.format(dest=source, url=safe))
    done = subprocess.run(
        ["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
         "--dbname", libpq_url(database_url), str(source)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed: {done.stderr.strip()[:500]}")
    return BackupReport(source, "pg_dump", source.stat().st_size)


def drop_indexes(index_dir: Path) -> None:
    """Remove every derived index and snapshot: they describe the database before the
    restore (their log positions would claim changes they never saw)."""
    shutil.rmtree(index_dir, ignore_errors=True)
