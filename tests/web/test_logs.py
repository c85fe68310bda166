"""No log line carries a query string, an e-mail address or note text (issue 18, finding 5).

All log output is captured while the probe's kind of hostile input runs through the app, and
a real gunicorn on 127.0.0.1 gets a malformed request line and a request that times out.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from kb.gunicorn_conf import PrivateLogger
from kb.runtime import Tandem

SECRETS = ("Zyxelgate", "Quokkaword", "anna@example.com", "mallory@evil.example", "q=")


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        self.lines.append(text)


@pytest.fixture
def captured() -> Iterator[Capture]:
    """Every log record of every logger, at every level."""
    handler = Capture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def assert_clean(lines: list[str]) -> None:
    leaks = [line for line in lines if any(s.lower() in line.lower() for s in SECRETS)]
    assert leaks == []


def test_hostile_requests_leave_nothing_private_in_logs(
    app_factory: Callable[..., Flask], web_tandem: Tandem, library: Any, captured: Capture,
    monkeypatch: pytest.MonkeyPatch, password: str,
) -> None:  # fmt: skip
    app = app_factory(TESTING=False, PROPAGATE_EXCEPTIONS=False)
    client: FlaskClient = app.test_client()
    hostile = [
        "/search?q=Zyxelgate&author=anna@example.com",
        "/api/search?q=Quokkaword&page=99999999999999999999999&from=x&to=%00",
        "/api/search?q=" + "Zyxelgate " * 300,
        "/notes/18446744073709551616?q=Zyxelgate",
        "/guides/id/999999?email=anna@example.com",
        "/nothing-here?q=Zyxelgate",
        "/hr/recommend?mentee=anna@example.com",
    ]
    for path in hostile:
        assert client.get(path).status_code < 500
    for _ in range(7):  # wrong passwords, an unknown account, a throttled one
        client.post("/login", data={"email": "anna@example.com", "password": "Zyxelgate!"})
        client.post("/login", data={"email": "mallory@evil.example", "password": "Zyxelgate!"})
    client.post("/login", data={"email": "anna@example.com", "password": password})
    client.get(f"/notes/{library.private_note_id}?q=Zyxelgate")
    client.post(f"/notes/{library.private_note_id}/insight", data={"text": "Zyxelgate \x00"})

    # Built from parts: the logged stack frames show source lines, which must not match.
    message = "note text: " + "Zyx" + "elgate, by anna" + "@example.com"

    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError(message)

    monkeypatch.setattr(web_tandem.search, "search", explode)
    assert client.get("/api/search?q=Zyxelgate").status_code == 500
    assert captured.lines  # the 500 was logged (without its message)
    assert_clean(captured.lines)


def gunicorn_logger(tmp_path: Path) -> tuple[PrivateLogger, Path, Path]:
    from gunicorn.config import Config

    config = Config()
    error_log, access_log = tmp_path / "error.log", tmp_path / "access.log"
    config.set("errorlog", str(error_log))
    config.set("accesslog", str(access_log))
    config.set("loglevel", "debug")
    return PrivateLogger(config), error_log, access_log


def test_gunicorn_logger_scrubs_every_level(tmp_path: Path) -> None:
    logger, error_log, _ = gunicorn_logger(tmp_path)
    line = "GET /search?q=Zyxelgate&mentee=anna@example.com HTTP/1.1"
    logger.warning("Invalid request from ip=%s: %s", "10.0.0.1", f"Invalid request line: '{line}'")
    logger.info("Error handling request %s", line)
    logger.debug("plain %s", "mallory@evil.example")
    logger.critical("WORKER TIMEOUT (pid:%s)", 42)
    message = "Zyx" + "elgate budget of anna" + "@example.com"  # parts: frames show source
    try:
        raise ValueError(message)
    except ValueError:
        logger.exception("Error handling request %s %s", "GET", "/search?q=Zyxelgate")
    text = error_log.read_text()
    assert "WORKER TIMEOUT (pid:42)" in text and "ValueError (message withheld)" in text
    assert "Invalid request from ip=10.0.0.1" in text
    assert_clean(text.splitlines())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def send(port: int, raw: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=20) as conn:
        conn.sendall(raw)
        try:
            return conn.recv(100)
        except OSError:
            return b""


SLOW_APP = """
import time


def app(environ, start_response):
    if environ["PATH_INFO"] == "/slow":
        time.sleep(60)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
"""


def test_real_gunicorn_logs_no_request_line_on_bad_requests_and_timeouts(tmp_path: Path) -> None:
    """gunicorn with ``--config python:kb.gunicorn_conf`` (as ``tandem serve`` runs it) on a
    random loopback port, serving a bare app whose /slow outlives the 1 s worker timeout."""
    (tmp_path / "slowapp.py").write_text(SLOW_APP)
    port = free_port()
    error_log, access_log = tmp_path / "error.log", tmp_path / "access.log"
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(tmp_path)])}
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    server = subprocess.Popen(
        [gunicorn, "--config", "python:kb.gunicorn_conf", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--timeout", "1", "--no-control-socket",
         "--error-logfile", str(error_log), "--access-logfile", str(access_log),
         "--chdir", str(tmp_path), "slowapp:app"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                send(port, b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
                break
            except OSError:
                time.sleep(0.1)
        assert send(port, b"GET /search?q=Zyxelgate HTTP/1.1 junk\r\n\r\n").startswith(
            b"HTTP/1.1 400"
        )
        assert send(port, b"NOT-HTTP Quokkaword anna@example.com\r\n\r\n").startswith(
            b"HTTP/1.1 400"
        )
        send(port, b"GET /slow?q=Zyxelgate&e=anna@example.com HTTP/1.1\r\nHost: x\r\n\r\n")
        for _ in range(100):
            if "WORKER TIMEOUT" in error_log.read_text() and "Error handling" in (
                error_log.read_text()
            ):
                break
            time.sleep(0.1)
        send(port, b"GET /ok?q=Zyxelgate HTTP/1.1\r\nHost: x\r\n\r\n")
    finally:
        server.terminate()
        server.wait(timeout=30)
    errors, access = error_log.read_text(), access_log.read_text()
    assert "WORKER TIMEOUT" in errors and "Error handling request GET /slow" in errors
    assert errors.count("Invalid request from ip=127.0.0.1") == 2
    assert "GET /ok HTTP/1.1" in access
    assert_clean(errors.splitlines() + access.splitlines())
