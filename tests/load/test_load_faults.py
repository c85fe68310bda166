"""Load and faults with the real servers (issue 18), on loopback and bounded in time:
2 gunicorn workers + ``tandem ingest`` in a loop + 20 concurrent writers, one worker killed
with SIGKILL mid-load, on SQLite and on PostgreSQL (whose server is also restarted
mid-load). Expected: no unexplained error, nothing acknowledged lost, 503 with a message
(never a traceback) while PostgreSQL is down, writes succeeding again after each fault
without anyone stepping in, and ``tandem check`` consistent afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live import PrivatePostgres, Server, tandem
from tests.load.scenario import LoadReport, run_load

DURATION = 15.0  # seconds of load per database


def demo_env(folder: Path, database_url: str | None = None) -> dict[str, str]:
    env = {"TANDEM_INSTANCE": str(folder / "instance"), "TANDEM_MODELS": "fake",
           "SECRET_KEY": "load-test", "TANDEM_SECURE_COOKIES": "never"}  # fmt: skip
    if database_url:
        env["DATABASE_URL"] = database_url
    done = tandem(env, "demo", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    return env


def assert_sound(report: LoadReport, env: dict[str, str]) -> None:
    print(report.summary())
    assert report.errors == [], report.errors[:20]
    assert report.lost == [], report.lost[:20]
    assert report.acknowledged >= 40 and report.imports >= 1
    assert report.statuses[500] == 0
    for window in report.windows:  # writes went on after every fault, nobody stepping in
        assert report.acked_after.get(window.name, 0) >= 10, report.acked_after
    done = tandem(env, "check")
    assert done.returncode in (0, 3), done.stdout + done.stderr


@pytest.fixture
def server_for() -> Iterator:
    started: list[Server] = []

    def start(env: dict[str, str], log: Path) -> Server:
        server = Server(env, log).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def test_load_and_worker_kill_on_sqlite(tmp_path: Path, server_for) -> None:  # noqa: ANN001
    env = demo_env(tmp_path)
    server = server_for(env, tmp_path / "gunicorn.log")
    report = run_load(env, server, tmp_path, "sqlite", duration=DURATION)
    assert_sound(report, env)


@pytest.mark.skipif(not PrivatePostgres.available(), reason="PostgreSQL is not installed")
def test_load_worker_kill_and_restart_on_postgres(tmp_path: Path, server_for) -> None:  # noqa: ANN001
    postgres = PrivatePostgres()
    url = postgres.start()
    try:
        env = demo_env(tmp_path, url)
        server = server_for(env, tmp_path / "gunicorn.log")
        report = run_load(env, server, tmp_path, "postgresql", duration=DURATION,
                          restart_database=postgres.restart)  # fmt: skip
        server.stop()
        # While the server restarts, pages answer 503 with a message, never a 500.
        assert "Database unavailable" in report.messages_503 or not report.statuses[503]
        assert_sound(report, env)
    finally:
        postgres.stop()
