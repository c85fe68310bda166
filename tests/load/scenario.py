"""Load with faults against a live instance: 20 writers through the web app's write routes,
an importer running ``tandem ingest`` in a loop, a gunicorn worker killed with SIGKILL
mid-load and (on PostgreSQL) the database restarted mid-load. Then every acknowledged write
is looked for in the database and through search.

A write is *acknowledged* when the app answered it with its redirect (302) or an import
exited 0. Writers use the insight flow (a member offers an excerpt of their note, the other
member consents: the insight is published): each round's text carries a word of its own,
read back at once from the note page, and the last round of every writer must be published
in the database and found by an anonymous search at the end.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from ingest.demo import DEMO_PASSWORD
from kb.config import load_settings
from kb.models import Guide, Pair, SessionNote, SharedInsight
from kb.runtime import open_tandem
from tests.live import Client, Reply, Server, find_csrf, tandem

GUIDE = """---
title: "Load guide {token}"
author: {author}
tags: [load]
language: en
date: 2024-05-01
visibility: public
---
This guide about {token} was imported while the web app was under load.
"""


@dataclass
class Window:
    """When a fault was under way (responses then may fail in the way the fault explains)."""

    name: str
    start: float
    end: float = float("inf")

    def holds(self, moment: float, slack: float = 1.0) -> bool:
        return self.start - slack <= moment <= self.end + slack


@dataclass
class LoadReport:
    database: str
    duration_s: float = 0.0
    requests: int = 0
    acknowledged: int = 0
    imports: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)  # unexplained failures
    explained: Counter[str] = field(default_factory=Counter)  # failures a fault explains
    lost: list[str] = field(default_factory=list)
    windows: list[Window] = field(default_factory=list)
    acked_after: dict[str, int] = field(default_factory=dict)  # fault -> acks after it ended
    messages_503: set[str] = field(default_factory=set)

    def summary(self) -> str:
        return (
            f"{self.database}: {self.requests} requests in {self.duration_s:.0f} s, "
            f"{self.acknowledged} acknowledged writes + {self.imports} imports; statuses "
            f"{dict(sorted(self.statuses.items()))}; failures explained by faults "
            f"{dict(self.explained)}; unexplained errors {len(self.errors)}; lost "
            f"{len(self.lost)}; acknowledged after each fault {self.acked_after}"
        )


@dataclass
class Writer:
    note_id: int
    proposer: str
    consenter: str
    rounds: int = 0
    last_token: str | None = None
    last_published: bool = False


def pick_writers(env: dict[str, str], count: int) -> list[Writer]:
    """``count`` notes, spread over the pairs, with both members' e-mails."""
    with open_tandem(load_settings(env)) as app, app.sessions() as session:
        rows = session.execute(
            select(SessionNote.id, Pair.id).join(Pair, Pair.id == SessionNote.pair_id)
            .order_by(SessionNote.id)
        ).all()  # fmt: skip
        by_pair: dict[int, list[int]] = {}
        for note_id, pair_id in rows:
            by_pair.setdefault(pair_id, []).append(note_id)
        chosen: list[int] = []
        while len(chosen) < count and any(by_pair.values()):
            for notes in by_pair.values():
                if notes and len(chosen) < count:
                    chosen.append(notes.pop(0))
        writers = []
        for note_id in chosen:
            note = session.get(SessionNote, note_id)
            assert note is not None
            writers.append(Writer(note_id, note.pair.mentor.email, note.pair.mentee.email))
        return writers


class Run:
    def __init__(self, env: dict[str, str], server: Server, report: LoadReport,
                 work_dir: Path) -> None:  # fmt: skip
        self.env = env
        self.server = server
        self.report = report
        self.work_dir = work_dir
        self.stop = threading.Event()
        self.ready = threading.Semaphore(0)  # one release per writer logged in
        self.go = threading.Event()  # the load (and its clock) starts
        self.lock = threading.Lock()
        self.imported: list[str] = []

    def call(self, do: Callable[[], Reply], what: str) -> Reply | None:
        """One request; counts it; a failure is explained by a fault window or an error."""
        began = time.monotonic()
        try:
            reply = do()
        except OSError as exc:
            self._failed(began, f"{what}: {type(exc).__name__}", connection=True)
            return None
        with self.lock:
            self.report.requests += 1
            self.report.statuses[reply.status] += 1
        if reply.status >= 500:
            if reply.status == 503 and "Database unavailable" in reply.body:
                self.report.messages_503.add("Database unavailable")
            if "Traceback" in reply.body:
                self._failed(began, f"{what}: traceback in a {reply.status}", connection=False)
            else:
                self._failed(began, f"{what}: {reply.status}", connection=False,
                             status=reply.status)  # fmt: skip
            return None
        return reply

    def _failed(self, began: float, text: str, connection: bool, status: int = 0) -> None:
        """A failure is explained when the request was in flight during a fault that causes
        exactly that failure (a dropped connection when a worker is killed; a dropped
        connection or a 503 while PostgreSQL restarts)."""
        ended = time.monotonic()
        with self.lock:
            for window in self.report.windows:
                killed = (
                    window.name == "worker killed" and connection and not text.startswith("ingest")
                )
                restarted = window.name == "postgres restart" and (connection or status == 503)
                overlaps = began <= window.end + 2.0 and ended >= window.start - 0.5
                if (killed or restarted) and overlaps:
                    self.report.explained[f"{window.name}: {text.split(': ', 1)[1]}"] += 1
                    return
            self.report.errors.append(text)

    def acked(self) -> None:
        now = time.monotonic()
        with self.lock:
            self.report.acknowledged += 1
            for window in self.report.windows:
                if now > window.end:
                    self.report.acked_after[window.name] = (
                        self.report.acked_after.get(window.name, 0) + 1
                    )

    # -- the writers and the importer ----------------------------------------------------------

    def write(self, writer: Writer, number: int) -> None:
        proposer = Client(self.server.port)
        consenter = Client(self.server.port)
        page = f"/notes/{writer.note_id}"
        for client, email in ((proposer, writer.proposer), (consenter, writer.consenter)):
            while not self.stop.is_set():
                reply = self.call(lambda c=client, e=email: c.login(e, DEMO_PASSWORD), "login")
                if reply is not None and reply.status == 302:
                    break
                time.sleep(0.5)
        self.ready.release()
        self.go.wait()
        tokens: dict[int, str] = {}
        while not self.stop.is_set():
            for client in (proposer, consenter):
                if id(client) not in tokens:
                    reply = self.call(lambda c=client: c.get(page), "note page")
                    found = find_csrf(reply.body) if reply is not None else None
                    if not found:
                        break
                    tokens[id(client)] = found
            if len(tokens) < 2:
                time.sleep(0.5)
                continue
            token = f"loadw{number}r{writer.rounds}zq"
            text = f"Load test insight {token} about pairing practice."
            form = {"csrf_token": tokens[id(proposer)], "text": text}
            reply = self.call(lambda f=form: proposer.post(f"{page}/insight", f), "offer")
            if reply is None or reply.status != 302:
                if reply is not None:
                    self.report.errors.append(f"offer answered {reply.status}")
                time.sleep(0.3)
                continue
            writer.rounds += 1
            writer.last_token, writer.last_published = token, False
            self.acked()
            reply = self.call(lambda: consenter.post(f"{page}/insight/consent", {
                "csrf_token": tokens[id(consenter)]}), "consent")  # fmt: skip
            if reply is not None and reply.status == 302:
                writer.last_published = True
                self.acked()
            back = self.call(lambda: consenter.get(page), "read back")
            if back is not None and token not in back.body:
                with self.lock:
                    self.report.lost.append(f"note {writer.note_id}: {token} not on its page")

    def import_loop(self, author: str) -> None:
        folder = self.work_dir / "imports"
        folder.mkdir(exist_ok=True)
        number = extra = 0
        # On a busy machine one import can outlast the load; if none has been acknowledged
        # when the load stops (the one in flight ended by a fault), try again: at most 3 more.
        while not self.stop.is_set() or (not self.imported and extra < 3):
            extra += self.stop.is_set()
            token = f"loadimport{number}zq"
            path = folder / f"guide-{number}.md"
            path.write_text(GUIDE.format(token=token, author=author), encoding="utf-8")
            moment = time.monotonic()
            done = tandem(self.env, "ingest", str(path), "--json", timeout=180)
            if done.returncode == 0:
                with self.lock:
                    self.imported.append(token)
                    self.report.imports += 1
            else:
                # A database restart may end an import: it must say so in one line.
                lost_database = "Traceback" not in done.stderr and (
                    "the database could not be reached" in done.stderr
                )
                self._failed(moment, f"ingest: exit {done.returncode} {done.stderr[-300:]}",
                             connection=lost_database)  # fmt: skip
            number += 1


def run_load(env: dict[str, str], server: Server, work_dir: Path, database: str,
             duration: float = 20.0, writers: int = 20,
             restart_database: Callable[[], None] | None = None) -> LoadReport:  # fmt: skip
    """The load with its faults; returns what happened and what was lost."""
    report = LoadReport(database)
    run = Run(env, server, report, work_dir)
    chosen = pick_writers(env, writers)
    threads = [threading.Thread(target=run.write, args=(w, n), daemon=True)
               for n, w in enumerate(chosen)]  # fmt: skip
    for thread in threads:
        thread.start()
    for _ in chosen:  # every writer logged in (both members) before the clock starts
        if not run.ready.acquire(timeout=180):
            break
    importer = threading.Thread(target=run.import_loop, args=(chosen[0].proposer,), daemon=True)
    threads.append(importer)
    started = time.monotonic()
    run.go.set()
    importer.start()
    time.sleep(duration / 3)
    kill = Window("worker killed", time.monotonic())
    report.windows.append(kill)
    server.kill_worker()
    time.sleep(1.0)
    kill.end = time.monotonic()
    if restart_database is not None:
        time.sleep(max(0.0, started + 2 * duration / 3 - time.monotonic()))
        window = Window("postgres restart", time.monotonic())
        report.windows.append(window)
        restart_database()
        window.end = time.monotonic()
    time.sleep(max(0.0, started + duration - time.monotonic()))
    run.stop.set()
    for thread in threads:
        thread.join(timeout=240)
    report.duration_s = time.monotonic() - started
    verify(env, server, chosen, run.imported, report)
    return report


def verify(env: dict[str, str], server: Server, writers: list[Writer], imported: list[str],
           report: LoadReport) -> None:  # fmt: skip
    """Every writer's last acknowledged text is its note's insight (published if the consent
    was acknowledged) and anonymous search finds it; every imported guide is stored and found."""
    anonymous = Client(server.port)
    with open_tandem(load_settings(env)) as app, app.sessions() as session:
        for writer in writers:
            if writer.last_token is None:
                report.lost.append(f"note {writer.note_id}: no write was acknowledged at all")
                continue
            insight = session.scalars(
                select(SharedInsight).where(SharedInsight.note_id == writer.note_id)
            ).first()
            if insight is None or writer.last_token not in insight.text:
                report.lost.append(f"note {writer.note_id}: {writer.last_token} not stored")
                continue
            if writer.last_published and not insight.published:
                report.lost.append(f"note {writer.note_id}: acknowledged consent not stored")
        titles = set(session.scalars(select(Guide.title)))
    for token in imported:
        if f"Load guide {token}" not in titles:
            report.lost.append(f"import {token}: not stored")
    searched = [w.last_token for w in writers if w.last_published and w.last_token]
    searched += imported[-5:]
    for token in searched:
        reply = anonymous.get(f"/api/search?q={token}")
        body = reply.json() if reply.status == 200 else {}
        assert isinstance(body, dict)
        if not body.get("hits"):
            report.lost.append(f"{token}: acknowledged but not found by search ({reply.status})")
