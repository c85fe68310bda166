"""``tandem backup`` and ``tandem restore``: an online SQLite backup taken while writes go on,
a restore that refuses to overwrite without --yes, rebuilds the indexes and passes
``tandem check``; the same with pg_dump on PostgreSQL when the test server is there."""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from kb.config import load_settings
from kb.models import ChangeLog, Guide
from kb.runtime import open_tandem
from kb.services.backup import libpq_url
from tests.conftest import POSTGRES_ADMIN_URL, _postgres_database
from tests.test_cli import instance_env, run, search_json


@pytest.fixture(scope="module")
def demo_instance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("backup-demo") / "instance"
    result = run(instance_env(folder), "demo")
    assert result.exit_code == 0, result.output
    return folder


@pytest.fixture
def env(demo_instance: Path, tmp_path: Path) -> dict[str, str]:
    folder = tmp_path / "instance"
    shutil.copytree(demo_instance, folder, symlinks=True)
    return instance_env(folder)


def count(env: dict[str, str], model: type) -> int:
    with open_tandem(load_settings(env)) as tandem, tandem.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def delete_a_guide(env: dict[str, str]) -> str:
    """Remove a guide through the content service (chunks and change log with it)."""
    from kb.services.content import remove_chunks

    with open_tandem(load_settings(env)) as tandem, tandem.sessions() as session:
        guide = session.scalars(select(Guide).order_by(Guide.id)).first()
        assert guide is not None
        title = guide.title
        assert remove_chunks(session, f"guide:{guide.id}")
        session.delete(guide)
        session.commit()
    return title


def test_backup_while_writing_then_restore_passes_check(
    env: dict[str, str], tmp_path: Path
) -> None:
    """A writer commits change-log rows while the backup runs: the backup is consistent
    (integrity check, every row committed before it started), and restoring it rebuilds
    indexes that `tandem check` finds consistent."""
    settings = load_settings(env)
    stop = threading.Event()
    written: list[int] = []

    def write() -> None:
        with open_tandem(settings) as tandem:
            while not stop.is_set():
                with tandem.sessions() as session:
                    session.add(ChangeLog(doc_key="guide:999999", op="delete"))
                    session.commit()
                    written.append(1)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while len(written) < 20:
            threading.Event().wait(0.01)
        before = count(env, ChangeLog)
        result = run(env, "backup", str(tmp_path / "copy.sqlite3"), "--json")
        mark = len(written)
        while len(written) < mark + 20:  # the writer goes on after the backup
            threading.Event().wait(0.01)
    finally:
        stop.set()
        writer.join()
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    after = count(env, ChangeLog)
    assert before <= report["counts"]["change_log"] <= after
    with sqlite3.connect(tmp_path / "copy.sqlite3") as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    fresh = instance_env(tmp_path / "restored")
    result = run(fresh, "restore", str(tmp_path / "copy.sqlite3"), "--json")
    assert result.exit_code == 0, result.output
    checked = json.loads(result.output)["check"]
    assert checked["consistent"] and checked["findings"] == []
    assert checked["sizes"]["whoosh"]["chunks"] == report["counts"]["chunk"]
    assert count(fresh, ChangeLog) == report["counts"]["change_log"]
    assert run(fresh, "check").exit_code == 0


def test_restore_refuses_to_overwrite_without_yes_then_brings_content_back(
    env: dict[str, str], tmp_path: Path
) -> None:
    backup_file = tmp_path / "before.sqlite3"
    assert run(env, "backup", str(backup_file)).exit_code == 0
    title = delete_a_guide(env)
    guides = count(env, Guide)
    assert not any(h["title"] == title for h in search_json(env, title)["hits"])

    refused = run(env, "restore", str(backup_file))
    assert refused.exit_code == 1
    assert "would be overwritten" in refused.output and "--yes" in refused.output
    assert count(env, Guide) == guides  # nothing touched

    result = run(env, "restore", str(backup_file), "--yes")
    assert result.exit_code == 0, result.output
    assert "Consistent" in result.output
    assert count(env, Guide) == guides + 1
    assert any(h["title"] == title for h in search_json(env, title)["hits"])
    assert run(env, "check").exit_code == 0


def test_backup_never_overwrites_and_restore_rejects_what_is_not_a_backup(
    env: dict[str, str], tmp_path: Path
) -> None:
    target = tmp_path / "taken.sqlite3"
    target.write_bytes(b"someone's file")
    result = run(env, "backup", str(target))
    assert result.exit_code == 1 and "never overwrites" in result.output
    assert target.read_bytes() == b"someone's file"

    folder = tmp_path / "backups"
    folder.mkdir()
    assert run(env, "backup", str(folder)).exit_code == 0
    assert (folder / "tandem.sqlite3").is_file()

    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"x" * 4096)
    result = run(env, "restore", str(garbage), "--yes")
    assert result.exit_code == 1 and "not a readable SQLite database" in result.output
    other = tmp_path / "other.sqlite3"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE t (x)")
    result = run(env, "restore", str(other), "--yes")
    assert result.exit_code == 1 and "not a Tandem database" in result.output
    assert run(env, "check").exit_code == 0  # the instance was left alone


@pytest.fixture
def pg_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    if not POSTGRES_ADMIN_URL:
        pytest.skip("no PostgreSQL test server (TANDEM_TEST_POSTGRES_URL)")
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed")
    for url in _postgres_database():
        yield {**instance_env(tmp_path / "pg-instance"), "DATABASE_URL": url}


def test_postgres_backup_with_pg_dump_and_restore(pg_env: dict[str, str], tmp_path: Path) -> None:
    assert run(pg_env, "demo").exit_code == 0
    dump = tmp_path / "tandem.pgdump"
    result = run(pg_env, "backup", str(dump), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["kind"] == "pg_dump" and dump.stat().st_size > 0
    guides = count(pg_env, Guide)
    delete_a_guide(pg_env)
    assert run(pg_env, "restore", str(dump)).exit_code == 1  # needs --yes
    result = run(pg_env, "restore", str(dump), "--yes")
    assert result.exit_code == 0, result.output
    assert count(pg_env, Guide) == guides
    assert run(pg_env, "check").exit_code == 0


def test_postgres_guidance_without_pg_dump(
    pg_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_dump there
    result = run(pg_env, "backup", str(tmp_path / "x.pgdump"))
    assert result.exit_code == 1
    assert "pg_dump --format=custom" in result.output and "pg_restore" in result.output
    password = libpq_url(pg_env["DATABASE_URL"]).split(":")[2].split("@")[0]
    assert f":{password}@" not in result.output and ":***@" in result.output  # hidden
