"""Adversarial probe of a live Tandem (issue 18's list), on loopback and bounded.

    python scripts/probe.py [--out results/probe-rerun.md] [--kills 10]

Loads the demo library into a fresh instance (fake embedding model unless --models), plants a
private note whose words no one else has, starts the real server (gunicorn, 2 workers, as
`tandem serve`) on a free loopback port and then:

1. every route x method of the app's URL map x 7 roles (anonymous, mentee, mentor, a member
   of another pair, HR, HR administrator, a deactivated account whose session was opened
   before the deactivation) x ids (real, missing, 2^64); POSTs with the role's CSRF token,
   and each POST once more without it;
2. hostile inputs: an XSS corpus as note, guide and insight text (then the pages are read
   back), malformed and oversized search queries, NUL and control characters in forms and
   URLs, a body over the upload limit;
3. `kill -9` of `tandem ingest` and of `tandem reindex` at spread-out moments, each followed
   by a normal run and `tandem check`.

Counted: requests, payloads, kills, 5xx answers, CSRF-less POSTs accepted, executable XSS
in pages, leaks (the private note's words in anything served to someone outside the pair, or
in the server's log) and lost documents (an imported file missing from the database or from
search after recovery; `tandem check` findings). Exit 1 when any of those is not zero.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from ingest.demo import DEMO_PASSWORD  # noqa: E402
from kb.config import load_settings  # noqa: E402
from kb.models import (  # noqa: E402
    Enrolment,
    Guide,
    HelpRequest,
    InboxMessage,
    Meeting,
    Pair,
    Person,
    Programme,
    SharedInsight,
)
from kb.runtime import open_tandem  # noqa: E402
from tests.live import Client, Reply, Server, find_csrf, tandem  # noqa: E402

ROLES = ("anonymous", "mentee", "mentor", "other_pair", "hr", "hr_admin", "deactivated")
HUGE = 2**64
# The private note's canary: words nobody else wrote (checked after stemming: the prefixes).
CANARY = ("Plumbicorn", "Vexaltrine", "Quibbleshank")
# Endpoints whose POST ends the role's session or account: run last.
SESSION_ENDING = ("logout", "deactivate", "password", "role")

XSS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "[click](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "![x](javascript:alert(1))",
    '<a href="javascript:alert(1)">a</a>',
    '<iframe src="javascript:alert(1)"></iframe>',
    "<body onload=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<scr<script>ipt>alert(1)</script>",
    '"><script>alert(1)</script>',
    '<a href="data:text/html,<script>alert(1)</script>">d</a>',
    '<object data="javascript:alert(1)">',
    '<embed src="javascript:alert(1)">',
    '<form action="javascript:alert(1)"><button>x</button></form>',
    "<input autofocus onfocus=alert(1)>",
    "<style>@import 'javascript:alert(1)';</style>",
    "<textarea><script>alert(1)</script>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<template><script>alert(1)</script>",
    "[a](vbscript:msgbox(1))",
    '<a href="&#106;avascript:alert(1)">e</a>',
    '<div style="background:url(javascript:alert(1))">s</div>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    "<link rel=stylesheet href=javascript:alert(1)>",
    "```\n</code><script>alert(1)</script>\n```",
    "<!--<script>alert(1)//-->",
]
QUERIES = [
    '"', '"""', "((((", "))))", "AND", "OR OR OR", "NOT", "*", "?", "~", "^", "\\",
    "title:", "tag:", "lang:xx", "from:2024-13-45", "to:yesterday", "a" * 5000, "ą" * 3000,
    "\x00", "a\x00b", "%00", "\u202e", "😀" * 100, "' OR 1=1 --", "<script>",
    "{{7*7}}", "${7*7}", "../../etc/passwd", "-" * 1000, '"unclosed phrase', "a" * 100_000,
]  # fmt: skip
# Query strings sent as they are: invalid UTF-8 and lone surrogates, percent-encoded.
RAW_QUERIES = ["%ED%A0%80", "%FF%FE", "%C0%AF", "%", "%%", "%E2%82", "q%00"]
CONTROL = ["a\x00b", "\x01\x02\x03", "line\rbreak", "\x1b[31m", "\x7f", "x" * 200_000]

DANGEROUS_TAGS = {"script", "iframe", "object", "embed", "base", "frame", "applet"}
URL_ATTRIBUTES = {"href", "src", "action", "data", "formaction", "xlink:href", "background"}
BAD_SCHEMES = ("javascript:", "vbscript:", "data:text/html")


class ExecutableMarkup(HTMLParser):
    """Real tags and attributes (as a browser parses them) that could run script: a
    dangerous element, an on* handler, a script URL, a meta refresh. Escaped text is text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in DANGEROUS_TAGS:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            text = "".join((value or "").split()).lower()
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=>")
            elif name in URL_ATTRIBUTES and text.startswith(BAD_SCHEMES):
                self.found.append(f"<{tag} {name}={text[:20]}>")
            elif tag == "meta" and name == "http-equiv" and text == "refresh":
                self.found.append("<meta refresh>")

    handle_startendtag = handle_starttag


@dataclass
class Tally:
    requests: int = 0
    payloads: int = 0
    kills: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    errors_5xx: list[str] = field(default_factory=list)
    csrf_accepted: list[str] = field(default_factory=list)
    xss: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    check_findings: list[str] = field(default_factory=list)
    cases: int = 0
    started: float = field(default_factory=time.monotonic)

    def bad(self) -> int:
        return (len(self.errors_5xx) + len(self.csrf_accepted) + len(self.xss)
                + len(self.leaks) + len(self.lost) + len(self.check_findings))  # fmt: skip


@dataclass
class World:
    env: dict[str, str]
    emails: dict[str, str]
    ids: dict[str, Any]
    canary_note: int
    clients: dict[str, Client] = field(default_factory=dict)


def setup(folder: Path, models: str) -> World:
    """The demo instance, a canary note, the seven roles and real ids for every argument."""
    env = {"TANDEM_INSTANCE": str(folder / "instance"), "TANDEM_MODELS": models,
           "SECRET_KEY": "probe", "TANDEM_SECURE_COOKIES": "never",
           "TANDEM_CACHE_DIR": str(folder / "cache")}  # fmt: skip
    done = tandem(env, "demo", "--json", timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"tandem demo failed: {done.stderr[-2000:]}")
    from kb.services import calendar, guides, notes, people

    with open_tandem(load_settings(env)) as t, t.sessions() as s:
        pairs = [p for p in s.scalars(select(Pair).where(Pair.status == "active"))]
        pair, other = pairs[0], pairs[1]
        hr = next(p for p in s.scalars(select(Person)) if p.has_role("hr"))
        admin = next((p for p in s.scalars(select(Person)) if p.has_role("admin")), None)
        if admin is None or admin.id == hr.id:
            admin, _ = people.upsert_person(s, people.PersonRecord(
                name="Probe Admin", email="probe.admin@example.com", roles=("admin",)))  # fmt: skip
        gone, _ = people.upsert_person(s, people.PersonRecord(
            name="Probe Gone", email="probe.gone@example.com", roles=("mentor",)))  # fmt: skip
        victim, _ = people.upsert_person(s, people.PersonRecord(
            name="Probe Target", email="probe.target@example.com", roles=("mentee",)))  # fmt: skip
        for person in (admin, gone, victim):
            people.set_password(person, DEMO_PASSWORD)
        canary = notes.create_note(
            s, pair, pair.mentor, title="Private canary", language="en",
            body_md=" ".join(CANARY) + " are words only this pair has.", embedders=t.embedders,
        )  # fmt: skip
        guide = s.scalars(select(Guide).where(Guide.status == "published")).first()
        mine = guides.create_guide(s, pair.mentor, title="Probe guide", language="en",
                                   body_md="A guide the probe may edit.")  # fmt: skip
        guides.publish(s, mine, pair.mentor, t.embedders)
        insight = s.scalars(select(SharedInsight)).first()
        s.flush()
        feed = calendar.feed_of(s, pair.mentor) or calendar.new_feed(s, pair.mentor)
        ids: dict[str, Any] = {
            "pair_id": pair.id, "note_id": canary.id,
            "insight_id": insight.id if insight else 1,
            "guide_id": guide.id if guide else 1, "slug": mine.slug, "number": 1,
            "person_id": victim.id, "token": feed.token, "round_": "mid",
            "filename": "style.css",
        }  # fmt: skip
        for key, model in (("enrolment_id", Enrolment), ("meeting_id", Meeting),
                           ("message_id", InboxMessage), ("request_id", HelpRequest)):  # fmt: skip
            found = s.scalars(select(model.id)).first()
            ids[key] = found or 1
        programme = s.scalars(select(Programme)).first()
        ids["programme_slug"] = programme.slug if programme else "x"
        emails = {"mentor": pair.mentor.email, "mentee": pair.mentee.email,
                  "other_pair": other.mentor.email, "hr": hr.email, "hr_admin": admin.email,
                  "deactivated": gone.email}  # fmt: skip
        s.commit()
        return World(env, emails, ids, canary.id)


def login_all(world: World, port: int) -> None:
    from kb.services import people

    for role in ROLES:
        client = Client(port, timeout=120)
        if role != "anonymous":
            reply = client.login(world.emails[role], DEMO_PASSWORD)
            if reply.status != 302:
                raise SystemExit(f"{role} could not log in ({reply.status})")
        world.clients[role] = client
    with open_tandem(load_settings(world.env)) as t, t.sessions() as s:
        gone = s.scalar(select(Person).where(Person.email == world.emails["deactivated"]))
        assert gone is not None
        people.deactivate(gone)  # the session opened above must stop working
        s.commit()


def relogin(world: World, role: str) -> None:
    if role in ("anonymous", "deactivated"):
        return
    client = world.clients[role]
    client.cookies.clear()
    client.login(world.emails[role], DEMO_PASSWORD)


def token_of(client: Client) -> str:
    for path in ("/", "/login", "/search"):
        found = find_csrf(client.get(path).body)
        if found:
            return found
    return ""


def record(tally: Tally, reply: Reply, what: str, role: str, world: World) -> None:
    tally.requests += 1
    tally.statuses[reply.status] += 1
    if reply.status >= 500 and reply.status != 503:
        tally.errors_5xx.append(f"{reply.status} {what}")
    if role not in ("mentor", "mentee"):
        body = reply.body.lower()
        for word in CANARY:
            if word.lower()[:7] in body:
                tally.leaks.append(f"{word} in {what} for {role}")


def build_path(rule: Any, ids: dict[str, Any], variant: str) -> str | None:
    args: dict[str, Any] = {}
    for name in rule.arguments:
        numeric = "int" in type(rule._converters[name]).__name__.lower()
        if variant == "real":
            value = ids.get(name, 1)
            if name == "slug" and rule.endpoint.startswith(("programmes", "evaluation", "hr")):
                value = ids["programme_slug"]
        elif variant == "missing":
            value = 987654 if numeric else "no-such-thing"
        else:
            value = HUGE if numeric else str(HUGE)
        args[name] = value
    try:
        if variant == "huge" and any("int" in type(c).__name__.lower()
                                     for c in rule._converters.values()):  # fmt: skip
            # url_for refuses numbers the route cannot hold: write them in by hand.
            path = rule.rule
            for name, value in args.items():
                path = re.sub(rf"<[^>]*:?{name}>", quote(str(value)), path)
            return str(path)
        return str(rule.build(args, append_unknown=False)[1])
    except Exception:  # noqa: BLE001 -- a converter refusing the value: nothing to send
        return None


def probe_routes(world: World, port: int, tally: Tally) -> None:
    from kb.app import create_app

    app = create_app(load_settings(world.env))
    rules = sorted(app.url_map.iter_rules(), key=lambda r: (r.endpoint, r.rule))
    cases = [(rule, method) for rule in rules
             for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})]  # fmt: skip
    later = [c for c in cases if c[1] == "POST" and any(w in c[0].endpoint for w in SESSION_ENDING)]
    ordered = [c for c in cases if c not in later] + later
    for rule, method in ordered:
        for variant in ("real", "missing", "huge"):
            if variant != "real" and not rule.arguments:
                continue
            path = build_path(rule, world.ids, variant)
            if path is None:
                continue
            for role in ROLES:
                client = world.clients[role]
                what = f"{method} {path}"
                tally.cases += 1
                try:
                    if method == "GET":
                        reply = client.get(path)
                    else:
                        # Without the token first: the app must refuse it (400).
                        bare = client.post(path, {})
                        record(tally, bare, f"{what} (no CSRF token)", role, world)
                        if bare.status < 400:
                            tally.csrf_accepted.append(f"{what} as {role}: {bare.status}")
                        reply = client.post(path, {"csrf_token": token_of(client)})
                except OSError as exc:
                    tally.errors_5xx.append(f"connection {type(exc).__name__} {what}")
                    continue
                record(tally, reply, what, role, world)
                if method == "POST" and role != "anonymous":
                    relogin(world, role)  # a POST may have ended the session (logout)


def probe_hostile(world: World, port: int, tally: Tally) -> None:
    mentor = world.clients["mentor"]
    relogin(world, "mentor")
    relogin(world, "hr")
    pair_id = world.ids["pair_id"]
    # XSS corpus as a note body, a guide body and a search query; pages read back.
    for n, payload in enumerate(XSS):
        tally.payloads += 1
        token = token_of(mentor)
        note = mentor.post(f"/pair/{pair_id}/notes/new", {
            "csrf_token": token, "title": f"x{n}", "learned": payload, "tried": payload,
            "language": "en",
        })  # fmt: skip
        record(tally, note, f"POST note xss#{n}", "mentor", world)
        if note.status == 302:
            page = mentor.get(note.headers.get("location", "/"))
            record(tally, page, f"GET note xss#{n}", "mentor", world)
            scan_xss(tally, page.body, f"note xss#{n}")
        guide = mentor.post("/guides/new", {"csrf_token": token, "title": f"Probe xss {n}",
                                            "body_md": f"Probe xss {n}.\n\n{payload}",
                                            "language": "en", "action": "publish"})  # fmt: skip
        record(tally, guide, f"POST guide xss#{n}", "mentor", world)
        if guide.status == 302:
            page = mentor.get(guide.headers.get("location", "/"))
            record(tally, page, f"GET guide xss#{n}", "mentor", world)
            scan_xss(tally, page.body, f"guide xss#{n}")
    for role in ("anonymous", "mentor", "hr"):
        client = world.clients[role]
        encoded = [quote(q, safe="") for q in QUERIES] + RAW_QUERIES
        for n, query in enumerate(encoded):
            tally.payloads += 1
            for path in (f"/search?q={query}", f"/api/search?q={query}"):
                try:
                    reply = client.get(path)
                except OSError as exc:
                    tally.errors_5xx.append(f"connection {type(exc).__name__} query#{n}")
                    continue
                record(tally, reply, f"GET search query#{n}", role, world)
                if reply.headers.get("content-type", "").startswith("text/html"):
                    scan_xss(tally, reply.body, f"search query#{n}")  # JSON is not a page
    # Control characters in forms and paths; a body over the limit.
    for n, value in enumerate(CONTROL):
        tally.payloads += 1
        token = token_of(mentor)
        for path, form in (
            (f"/pair/{pair_id}/notes/new", {"title": value, "learned": value, "language": "en"}),
            ("/guides/new", {"title": value, "body_md": value, "language": "en"}),
            ("/login", {"email": value, "password": value}),
        ):
            reply = mentor.post(path, {"csrf_token": token, **form})
            record(tally, reply, f"POST {path} control#{n}", "mentor", world)
        for raw in (
            "/guides/%00",
            "/notes/%00",
            "/search?q=%00",
            "/%ff%fe",
            "/guides/" + "a" * 4000,
        ):
            reply = mentor.get(raw)
            record(tally, reply, f"GET {raw[:30]}", "mentor", world)
    tally.payloads += 1
    big = mentor.request("POST", "/guides/new", raw_body=b"x" * (3 * 1024 * 1024), headers={
        "Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    record(tally, big, "POST 3 MB body", "mentor", world)


def scan_xss(tally: Tally, body: str, what: str) -> None:
    """The app's own pages have no script, handler or script URL (and the CSP says
    script-src 'none'): anything the parser finds came from the payload."""
    parser = ExecutableMarkup()
    parser.feed(body)
    parser.close()
    if parser.found:
        tally.xss.append(f"{what}: {', '.join(parser.found[:3])}")


GUIDE = """---
title: "Probe kill guide {n}"
author: {author}
tags: [probe]
language: en
date: 2024-05-01
visibility: public
---
Probe kill guide number {n} mentions Kilnword{n} once. {filler}
"""


def probe_kills(world: World, folder: Path, tally: Tally, kills: int) -> None:
    """kill -9 of import and reindex at spread-out moments; then a normal run and check."""
    with open_tandem(load_settings(world.env)) as t, t.sessions() as s:
        author = s.scalar(select(Person.email).where(Person.email == world.emails["mentor"]))
    docs = folder / "kill-guides"
    rng = random.Random(18)
    for round_ in range(kills):
        if docs.exists():
            shutil.rmtree(docs)
        docs.mkdir()
        count = 40
        for n in range(count):
            number = round_ * 1000 + n
            (docs / f"g{number}.md").write_text(
                GUIDE.format(n=number, author=author, filler="lorem ipsum " * 200), "utf-8"
            )
        verb = ["ingest", str(docs)] if round_ % 2 == 0 else ["reindex"]
        full = {**os.environ, **world.env, "PYTHONPATH": str(ROOT)}
        process = subprocess.Popen([sys.executable, "-m", "kb.cli", *verb], env=full,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)  # fmt: skip
        time.sleep(0.8 + rng.random() * 4.0 * (round_ + 1) / kills)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            tally.kills += 1
        process.wait()
        again = tandem(world.env, *verb, timeout=600)
        if again.returncode not in (0, 3):
            tally.lost.append(f"round {round_}: {verb[0]} after kill exited {again.returncode}: "
                              f"{again.stderr[-300:]}")  # fmt: skip
        check = tandem(world.env, "check", "--json", timeout=600)
        if check.returncode not in (0, 3):
            tally.check_findings.append(f"round {round_} ({verb[0]}): {check.stdout[-400:]}")
        if verb[0] == "ingest":
            with open_tandem(load_settings(world.env)) as t, t.sessions() as s:
                titles = set(s.scalars(select(Guide.title).where(Guide.title.like("Probe kill%"))))
            for n in range(count):
                title = f"Probe kill guide {round_ * 1000 + n}"
                if title not in titles:
                    tally.lost.append(f"{title} missing from the database")
            for n in (0, count - 1):
                word = f"Kilnword{round_ * 1000 + n}"
                found = tandem(world.env, "search", word, "--limit", "100", "--json", timeout=300)
                if found.returncode != 0 or "Probe kill guide" not in found.stdout:
                    tally.lost.append(f"{word} not found by search")


def scan_log(log: Path, tally: Tally) -> None:
    text = log.read_text("utf-8", "replace").lower()
    for word in CANARY:
        if word.lower()[:7] in text:
            tally.leaks.append(f"{word} in the server log")
    if "?q=" in text or "q=excel" in text:
        tally.leaks.append("a query string in the server log")


def report(tally: Tally, out: Path | None, command: str) -> str:
    s5 = len(tally.errors_5xx)
    lines = [
        "# Probe rerun (issue 18)",
        "",
        f"Command: `{command}` (loopback, the demo library, gunicorn 2 workers).",
        f"Took {time.monotonic() - tally.started:.0f} s on the shared 2-core machine.",
        "",
        "| what | count |",
        "| --- | --- |",
        f"| requests | {tally.requests} |",
        f"| route x role x id cases | {tally.cases} |",
        f"| hostile payloads | {tally.payloads} |",
        f"| `kill -9` of import / reindex | {tally.kills} |",
        f"| 5xx answers (503 excluded: none expected here) | {s5} |",
        f"| CSRF-less POSTs accepted | {len(tally.csrf_accepted)} |",
        f"| executable XSS in pages | {len(tally.xss)} |",
        f"| private-note leaks (pages, API, log) | {len(tally.leaks)} |",
        f"| lost documents | {len(tally.lost)} |",
        f"| `tandem check` findings after kills | {len(tally.check_findings)} |",
        "",
        f"Statuses: {dict(sorted(tally.statuses.items()))}",
        "",
    ]
    for title, items in (("5xx", tally.errors_5xx), ("CSRF", tally.csrf_accepted),
                         ("XSS", tally.xss), ("Leaks", tally.leaks), ("Lost", tally.lost),
                         ("Check", tally.check_findings)):  # fmt: skip
        if items:
            lines += [f"## {title}", "", *(f"- {i}" for i in items[:30]), ""]
    text = "\n".join(lines)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, "utf-8")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="Write the report (markdown) here.")
    parser.add_argument("--kills", type=int, default=10, help="kill -9 rounds (import/reindex).")
    parser.add_argument("--models", default="fake", help="TANDEM_MODELS for the instance.")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary instance.")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="tandem-probe-"))
    tally = Tally()
    server: Server | None = None
    try:
        world = setup(folder, args.models)
        server = Server(world.env, folder / "gunicorn.log").start()
        login_all(world, server.port)
        probe_hostile(world, server.port, tally)
        probe_routes(world, server.port, tally)
        server.stop()
        scan_log(folder / "gunicorn.log", tally)
        server = None
        probe_kills(world, folder, tally, args.kills)
    finally:
        if server is not None:
            server.stop()
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    command = "python scripts/probe.py " + " ".join(argv if argv is not None else sys.argv[1:])
    print(report(tally, args.out, command.strip()))
    return 1 if tally.bad() else 0


if __name__ == "__main__":
    raise SystemExit(main())
