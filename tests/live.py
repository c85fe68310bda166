"""A live Tandem instance for load, fault and probe runs: real gunicorn workers on a loopback
port, a private PostgreSQL cluster that can be restarted, and a small HTTP client that logs
in with the CSRF token like a browser (standard library only, no redirects followed: a 302
after a POST is the app acknowledging the write).

Used by tests/load/ and scripts/probe.py.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from kb.gunicorn_conf import command

ROOT = Path(__file__).resolve().parent.parent
CSRF = re.compile(r'<input[^>]*name="csrf_token"[^>]*>')
VALUE = re.compile(r'value="([^"]+)"')


def find_csrf(page: str) -> str | None:
    """The CSRF token of the first form on ``page`` (any attribute order)."""
    tag = CSRF.search(page)
    value = VALUE.search(tag.group(0)) if tag else None
    return value.group(1) if value else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str

    def json(self) -> object:
        import json

        return json.loads(self.body)


class Client:
    """One browser: its cookies, one connection per request (gunicorn's sync workers take
    turns accepting them, so a client's requests spread over the workers)."""

    def __init__(self, port: int, timeout: float = 60.0) -> None:
        self.port = port
        self.timeout = timeout
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: Mapping[str, str] | None = None,
                headers: Mapping[str, str] | None = None, raw_body: bytes | None = None,
                ) -> Reply:  # fmt: skip
        """One request; OSError (connection refused or reset) propagates to the caller."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            sent = {"Connection": "close", **(headers or {})}
            if self.cookies:
                sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            body: bytes | None = raw_body
            if form is not None:
                body = urlencode(form).encode()
                sent["Content-Type"] = "application/x-www-form-urlencoded"
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            data = response.read().decode("utf-8", "replace")
            for name, value in response.getheaders():
                if name.lower() == "set-cookie":
                    self._remember(value)
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
        finally:
            conn.close()

    def _remember(self, header: str) -> None:
        pair, _, attributes = header.partition(";")
        name, _, value = pair.strip().partition("=")
        expired = "expires=thu, 01 jan 1970" in attributes.lower() or "max-age=0" in (
            attributes.lower()
        )
        if expired or not value:
            self.cookies.pop(name, None)
        else:
            self.cookies[name] = value

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def post(self, path: str, form: Mapping[str, str]) -> Reply:
        return self.request("POST", path, form=dict(form))

    def csrf(self, path: str = "/login") -> str:
        found = find_csrf(self.get(path).body)
        if found is None:
            raise RuntimeError(f"no csrf_token on {path}")
        return found

    def login(self, email: str, password: str) -> Reply:
        token = self.csrf("/login")
        return self.post("/login", {"csrf_token": token, "email": email, "password": password})


@dataclass
class Server:
    """``tandem serve``'s gunicorn command (2 workers) on a free loopback port."""

    env: dict[str, str]
    log_path: Path
    workers: int = 2
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 180.0) -> Server:
        args = command(self.workers, f"127.0.0.1:{self.port}", "--access-logfile", "-",
                       "--access-logformat", '%(h)s "%(m)s %(U)s" %(s)s')  # fmt: skip
        env = {**os.environ, **self.env, "TANDEM_WARM_UP": "1"}
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(args, env=env, stdout=log, stderr=log, cwd=ROOT,
                                        start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + timeout
        client = Client(self.port, timeout=5)
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self.log_path}")
            try:
                if client.get("/api/health").status == 200 and len(self.worker_pids()) >= 1:
                    return self
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"gunicorn did not answer within {timeout:.0f} s")

    def worker_pids(self) -> list[int]:
        """The master's children (gunicorn workers), from /proc."""
        assert self.process is not None
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                pids.append(int(entry.name))
        return sorted(pids)

    def kill_worker(self) -> int:
        """SIGKILL one worker (gunicorn's master starts another); returns its pid."""
        pid = self.worker_pids()[0]
        os.kill(pid, signal.SIGKILL)
        return pid

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


class PrivatePostgres:
    """A PostgreSQL cluster of its own (scripts/postgres.sh on another port and folder), so
    restarting it under load disturbs no other test."""

    def __init__(self) -> None:
        self.port = free_port()
        self.env = {**os.environ, "TANDEM_PG_PORT": str(self.port),
                    "TANDEM_PG_DIR": f"/tmp/tandem-load-pg-{self.port}"}  # fmt: skip
        self.url = ""

    def _run(self, verb: str, timeout: float = 180) -> str:
        done = subprocess.run(["bash", str(ROOT / "scripts" / "postgres.sh"), verb],
                              env=self.env, capture_output=True, text=True, timeout=timeout,
                              check=False)  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"postgres.sh {verb} failed: {done.stderr[-2000:]}")
        return done.stdout.strip()

    def start(self) -> str:
        self.url = self._run("start").splitlines()[-1]
        return self.url

    def restart(self) -> None:
        self._run("restart")

    def stop(self) -> None:
        self._run("stop")

    @staticmethod
    def available() -> bool:
        return bool(list(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")))


def tandem(
    env: Mapping[str, str], *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``python -m kb.cli ARGS`` in a child process with ``env``."""
    full = {**os.environ, **env}
    full["PYTHONPATH"] = os.pathsep.join([str(ROOT), full.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "kb.cli", *args], env=full, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, check=False)  # fmt: skip
