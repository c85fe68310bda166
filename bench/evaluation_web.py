"""HR's programme evaluation at company size (issue 17, "Measured"):

    python -m bench.evaluation_web --pairs 2000 --sessions 12 --out results/evaluation.json

1. An instance (SQLite, or ``--database-url``) holding one finished programme of ``--pairs``
   pairs (two people each, two or three goals per mentee), ``--sessions`` sessions per pair
   (held, some cancelled, with topic tags), one session note per pair and session count (the
   evaluation only counts them), every mentee's goal levels at kickoff and at the end, and
   both questionnaires answered by everyone (ratings and free text). Rows are written in bulk;
   nothing is embedded (the evaluation reads no vectors).
2. The real web app (``kb.app.create_app``: Flask, the page templates, the SVG charts, CSRF,
   the audit entry of each export) answers through Flask's test client as an HR person, so
   a figure is the server's whole time for the request: queries, aggregation, rendering.
3. Cold: a new app over a new engine (fresh connection pool, nothing cached by the process),
   its first request; ``--cold`` times per page. Warm: ``--warm`` requests on one app.
   Pages: the evaluation page, its printable view, and the CSV of the sessions table and of
   the ratings table.

The machine's load average is recorded next to the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.paths import run_main
from bench.timing import git_commit, load_average, machine, percentiles

SLUG = "bench-eval"
HR = "bench.hr@example.com"
STARTS, ENDS = dt.date(2025, 3, 1), dt.date(2025, 8, 29)
TODAY = dt.date(2025, 10, 1)  # every round closed
TOPICS = ("generative-ai", "prompting", "excel", "teams", "social-media", "hybrid-work", "esg",
          "power-bi", "linkedin", "well-being")  # fmt: skip
AREAS = ("generative-ai", "social-media", "hybrid-work", "esg", "generational-culture")
PAGES = {
    "page": f"/hr/programmes/{SLUG}/evaluation",
    "print": f"/hr/programmes/{SLUG}/evaluation/print",
    "csv_sessions": f"/hr/programmes/{SLUG}/evaluation/sessions.csv",
    "csv_ratings": f"/hr/programmes/{SLUG}/evaluation/ratings.csv",
}


def build(database_url: str, pairs: int, sessions: int, log: Any) -> None:
    """The programme, written with bulk inserts in a few transactions."""
    from sqlalchemy import insert, select

    from kb.db import make_engine, make_session_factory, upgrade_database
    from kb.models import (
        Feedback,
        Meeting,
        Pair,
        Person,
        Programme,
        SessionNote,
        SurveyQuestion,
        join_list,
    )
    from kb.services import feedback

    upgrade_database(database_url)
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    started = time.perf_counter()
    with factory() as s:
        s.add(Person(email=HR, name="Bench HR", roles="hr"))
        programme = Programme(
            slug=SLUG,
            name="Company-wide round",
            starts=STARTS,
            ends=ENDS,
            status="finished",
            competences=join_list(list(AREAS)),
        )
        s.add(programme)
        s.flush()
        people = []
        for i in range(pairs):
            goals = [f"goal {i % 40} about {AREAS[i % len(AREAS)]}", f"shared goal {i % 7}"]
            if i % 3 == 0:
                goals.append(f"rare goal {i}")
            people.append(
                {
                    "email": f"mentor{i}@bench.example.com",
                    "name": f"Mentor {i}",
                    "roles": "mentor",
                    "capacity": 1,
                }
            )
            people.append(
                {
                    "email": f"mentee{i}@bench.example.com",
                    "name": f"Mentee {i}",
                    "roles": "mentee",
                    "goals": join_list(goals),
                }
            )
        s.execute(insert(Person), people)
        ids = dict(s.execute(select(Person.email, Person.id)).all())
        s.execute(insert(Pair), [
            {"programme_id": programme.id, "mentor_id": ids[f"mentor{i}@bench.example.com"],
             "mentee_id": ids[f"mentee{i}@bench.example.com"],
             "status": "ended" if i % 17 else "active", "started": STARTS + dt.timedelta(i % 20),
             "ended": ENDS if i % 17 else None, "locked": False}
            for i in range(pairs)
        ])  # fmt: skip
        feedback.ensure_questions(s, programme)
        s.commit()
        pair_rows = list(
            s.execute(
                select(Pair.id, Pair.mentor_id, Pair.mentee_id)
                .where(Pair.programme_id == programme.id)
                .order_by(Pair.id)
            )
        )
        questions = list(
            s.execute(
                select(SurveyQuestion.id, SurveyQuestion.round, SurveyQuestion.kind).where(
                    SurveyQuestion.programme_id == programme.id
                )
            )
        )
        log(f"people and pairs: {time.perf_counter() - started:.1f} s")
        meetings, notes, answers = [], [], []
        for i, (pair_id, mentor_id, mentee_id) in enumerate(pair_rows):
            for n in range(sessions):
                when = dt.datetime.combine(STARTS + dt.timedelta(days=7 + 14 * n), dt.time(9))
                status = "cancelled" if (i + n) % 9 == 8 else "held"
                meetings.append({
                    "pair_id": pair_id, "starts_at": when, "minutes": 60, "status": status,
                    "tags": join_list([TOPICS[(i + n) % len(TOPICS)], TOPICS[n % 3]]),
                    "uid": f"bench-{pair_id}-{n}", "sequence": 0,
                    "created_at": when, "updated_at": when,
                })  # fmt: skip
                if status == "held" and n % 2 == 0:
                    notes.append({"pair_id": pair_id, "author_id": mentor_id, "title": "Session",
                                  "body_md": "What we learned.", "language": "en",
                                  "session_date": when.date()})  # fmt: skip
            person_goals = people[2 * i + 1]["goals"].split(";")
            for g, goal in enumerate(person_goals):
                before = 1 + (i + g) % 3
                for round_, level in (("kickoff", before), ("end", min(5, before + 1 + i % 2))):
                    answers.append({"pair_id": pair_id, "author_id": mentee_id,
                                    "programme_id": programme.id, "round": round_,
                                    "role": "mentee", "goal": goal,
                                    "area": AREAS[(i + g) % len(AREAS)], "rating": level,
                                    "comment": ""})  # fmt: skip
            for author, role in ((mentor_id, "mentor"), (mentee_id, "mentee")):
                for q, (question_id, round_, kind) in enumerate(questions):
                    rating = 1 + (i + q + len(role)) % 5 if kind == "rating" else None
                    answers.append({"pair_id": pair_id, "author_id": author,
                                    "programme_id": programme.id, "round": round_, "role": role,
                                    "question_id": question_id, "rating": rating,
                                    "comment": "" if rating else f"Answer {(i * 7 + q) % 300}",
                                    "goal": "", "area": ""})  # fmt: skip
        for rows, model in ((meetings, Meeting), (notes, SessionNote), (answers, Feedback)):
            for start in range(0, len(rows), 20_000):
                s.execute(insert(model), rows[start : start + 20_000])
        s.commit()
        log(f"{len(meetings)} sessions, {len(notes)} notes, {len(answers)} feedback rows: "
            f"{time.perf_counter() - started:.1f} s")  # fmt: skip
    engine.dispose()


def measure(instance: Path, database_url: str, cold: int, warm: int, log: Any) -> dict[str, Any]:
    from unittest import mock

    from kb.app import create_app
    from kb.config import load_settings
    from kb.models import Person
    from kb.runtime import open_tandem

    settings = load_settings(
        {},
        {
            "instance_dir": instance,
            "database_url": database_url,
            "search_models": ("fake",),
            "import_models": ("fake",),
        },
    )

    def app_and_client() -> tuple[Any, Any, Any]:
        tandem = open_tandem(settings)
        app = create_app(test_config={"SECRET_KEY": "bench"}, tandem=tandem)
        client = app.test_client()
        with tandem.sessions() as s:
            from sqlalchemy import select

            hr = s.scalar(select(Person).where(Person.email == HR))
            cookie = f"{hr.id}:{hr.session_version}"
        with client.session_transaction() as session:
            session["_user_id"] = cookie
            session["_fresh"] = True
        return tandem, app, client

    def timed(client: Any, path: str) -> float:
        began = time.perf_counter()
        answer = client.get(path)
        elapsed = (time.perf_counter() - began) * 1000
        assert answer.status_code == 200, (path, answer.status_code)
        return elapsed

    out: dict[str, Any] = {}
    # the evaluation is "as of" a day after every round closed
    with mock.patch("kb.views.evaluation.today", lambda: TODAY):
        for name, path in PAGES.items():
            cold_ms = []
            for _ in range(cold):
                tandem, _app, client = app_and_client()
                cold_ms.append(timed(client, path))
                tandem.close()
            tandem, _app, client = app_and_client()
            warm_ms = [timed(client, path) for _ in range(warm)]
            size = len(client.get(path).get_data())
            tandem.close()
            out[name] = {"cold_ms": percentiles(cold_ms), "warm_ms": percentiles(warm_ms),
                         "bytes": size, "load": load_average()}  # fmt: skip
            log(
                f"{name}: cold p95 {out[name]['cold_ms']['p95']} ms, warm p50 "
                f"{out[name]['warm_ms']['p50']} / p95 {out[name]['warm_ms']['p95']} ms"
            )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=12)
    parser.add_argument("--cold", type=int, default=5)
    parser.add_argument("--warm", type=int, default=30)
    parser.add_argument("--database-url", help="default: a new SQLite file in a temporary folder")
    parser.add_argument("--out", type=Path, help="write the figures as JSON")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(message, flush=True)

    with tempfile.TemporaryDirectory(prefix="bench-evaluation-") as folder:
        instance = Path(folder) / "instance"
        instance.mkdir()
        url = args.database_url or f"sqlite:///{instance / 'tandem.sqlite3'}"
        began = time.perf_counter()
        build(url, args.pairs, args.sessions, log)
        built = time.perf_counter() - began
        figures = measure(instance, url, args.cold, args.warm, log)
    result = {
        "what": "HR's programme evaluation: page, printable view and CSV exports",
        "config": {"pairs": args.pairs, "sessions_per_pair": args.sessions, "cold": args.cold,
                   "warm": args.warm, "database": url.split(":", 1)[0]},
        "build_s": round(built, 1), "figures": figures, "commit": git_commit(),
        "machine": machine(),
    }  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    run_main(main)
