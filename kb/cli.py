"""The ``tandem`` command: thin click commands that open the instance and call functions.

Settings are loaded once, from the environment (``TANDEM_INSTANCE``, ``DATABASE_URL``,
``TANDEM_MODELS``, ...) and ``--instance`` before the command name, and passed on. Domain
errors (:class:`kb.errors.TandemError`) become one-line messages and exit code 1.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click
from sqlalchemy import func, select

from kb.config import Settings, load_settings, prepare_openmp
from kb.errors import NotFound, TandemError
from kb.models import Person
from kb.runtime import Tandem, open_tandem
from kb.services import match_vectors


class TandemGroup(click.Group):
    """Maps domain errors to a clean message in one place (no tracebacks for users)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TandemError as exc:
            raise click.ClickException(str(exc)) from exc


class State:
    """The command's settings; opens the instance on first use and closes it at the end."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._tandem: Tandem | None = None

    @property
    def tandem(self) -> Tandem:
        if self._tandem is None:
            self._tandem = open_tandem(self.settings)
        return self._tandem

    def replace(self, tandem: Tandem) -> Tandem:
        self._tandem = tandem
        return tandem

    def close(self) -> None:
        if self._tandem is not None:
            self._tandem.close()
            self._tandem = None


pass_state = click.make_pass_decorator(State)


@click.group(cls=TandemGroup)
@click.option(
    "--instance",
    type=click.Path(file_okay=False, path_type=Path),
    help="Instance folder (database, indexes). Default: $TANDEM_INSTANCE or ./instance.",
)
@click.pass_context
def main(ctx: click.Context, instance: Path | None) -> None:
    """Tandem: knowledge base and matching for reverse-mentoring programmes."""
    prepare_openmp(os.environ)  # the process's entry point: before any OpenMP library loads
    overrides = {"instance_dir": instance} if instance is not None else None
    state = State(load_settings(os.environ, overrides))
    ctx.obj = state
    ctx.call_on_close(state.close)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def find_person(tandem: Tandem, email: str) -> Person:
    with tandem.sessions() as session:
        person = session.scalar(
            select(Person).where(func.lower(Person.email) == email.strip().lower())
        )
    if person is None:
        raise NotFound(f"no person with email {email}")
    return person


def catch_up(tandem: Tandem) -> int:
    """Apply pending changes to the search indexes; returns how many were applied."""
    return tandem.search.catch_up()


# --- content -----------------------------------------------------------------------------


def reset_instance(tandem: Tandem) -> Tandem:
    """Drop the database content and the indexes; returns a freshly opened instance."""
    settings = tandem.settings
    url = settings.database_url
    tandem.close()
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    else:
        from sqlalchemy import text

        from kb.db import make_engine
        from kb.models import Base

        engine = make_engine(url)
        Base.metadata.drop_all(engine)
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        engine.dispose()
    shutil.rmtree(settings.index_dir, ignore_errors=True)
    return open_tandem(settings)


@main.command()
@click.option("--reset", is_flag=True, help="Delete the instance's content and indexes first.")
@click.option("--json", "as_json", is_flag=True, help="Print the import report as JSON.")
@pass_state
def demo(state: State, reset: bool, as_json: bool) -> None:
    """Load the demo library (people, programme, guides, notes) and build the indexes."""
    from ingest import demo as demo_module

    tandem = state.tandem
    if reset:
        tandem = state.replace(reset_instance(tandem))
    if not as_json:
        click.echo(f"Loading the demo library into {tandem.settings.instance_dir} ...")
        click.echo(
            f"Embedding with {', '.join(tandem.settings.import_models)} "
            "(the first run takes a few minutes)."
        )
    report = demo_module.load_demo(
        tandem.sessions,
        tandem.embedders,
        matching=tandem.matching_embedders,
        **progress_kwargs(demo_module.load_demo, not as_json),
        demo_dir=tandem.settings.demo_dir,
    )
    applied = catch_up(tandem)
    logins = demo_logins(tandem)
    password = getattr(demo_module, "DEMO_PASSWORD", "tandem-demo")
    if as_json:
        emit_json(
            {
                "report": report.to_dict(),
                "index_changes": applied,
                "logins": logins,
                "password": password,
            }
        )
        return
    # The first line has the counts; the per-file list of ~130 files is for `tandem ingest`.
    click.echo(report.summary().splitlines()[0])
    for rejection in report.rejected:
        click.echo(f"  rejected {rejection.path}: {rejection.reason}")
    click.echo(f"Search indexes: {applied} change(s) applied.")
    click.echo(f"\nDemo logins (password for all: {password}):")
    for row in logins:
        click.echo(f"  {row['email']:<34} {row['roles']:<18} {row['name']}")
    click.echo("\nNext: tandem serve")


def progress_kwargs(function: Callable[..., Any], progress: bool) -> dict[str, Any]:
    """``progress=...`` when the function accepts it (the ingest API may add or drop it)."""
    import inspect

    return {"progress": progress} if "progress" in inspect.signature(function).parameters else {}


def demo_logins(tandem: Tandem, limit: int = 12) -> list[dict[str, str]]:
    """A few people to log in as, at least one per role: HR first, then mentors, mentees."""
    with tandem.sessions() as session:
        people = session.scalars(select(Person).order_by(Person.id)).all()
        chosen: list[Person] = []
        for role, count in (("hr", 2), ("mentor", 5), ("mentee", 5)):
            with_role = [p for p in people if p.has_role(role) and p not in chosen]
            chosen.extend(with_role[:count])
        return [
            {"email": p.email, "name": p.name, "roles": p.roles.replace(";", ", ")}
            for p in chosen[:limit]
            if p.password_hash
        ]


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_state
def ingest(state: State, paths: tuple[Path, ...], as_json: bool) -> None:
    """Import people CSV, programme JSON, guides and notes (markdown). Exit 1 if any rejected."""
    from ingest.pipeline import import_paths

    tandem = state.tandem
    report = import_paths(
        tandem.sessions,
        list(paths),
        tandem.embedders,
        matching=tandem.matching_embedders,
        **progress_kwargs(import_paths, not as_json),
    )
    applied = catch_up(tandem)
    if as_json:
        emit_json({"report": report.to_dict(), "index_changes": applied})
    else:
        click.echo(report.summary())
        click.echo(f"Search indexes: {applied} change(s) applied.")
    if report.rejected:
        sys.exit(1)


@main.command("match-vectors")
@pass_state
def match_vectors_command(state: State) -> None:
    """Embed goals, stated expertise and public chunks that have no matching vector yet."""
    tandem = state.tandem
    added = match_vectors.catch_up(tandem.sessions, tandem.matching_embedders)
    click.echo(f"Matching vectors: {added} computed.")


@main.command()
@pass_state
def reindex(state: State) -> None:
    """Rebuild the search indexes from the database (safe while serving: swapped atomically)."""
    state.tandem.search.reindex()
    click.echo("Search indexes rebuilt.")


# --- search ------------------------------------------------------------------------------

_TAGS = re.compile(r"<[^>]+>")


def snippet_text(snippet_html: str) -> str:
    """A result snippet for the terminal: highlights in bold, markup removed."""
    marked = snippet_html.replace("<mark>", "\x00").replace("</mark>", "\x01")
    plain = html.unescape(_TAGS.sub("", marked))
    return (
        re.sub("\x00(.*?)\x01", lambda m: click.style(m.group(1), bold=True), plain, flags=re.S)
        .replace("\x00", "")
        .replace("\x01", "")
    )


def parse_day(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a YYYY-MM-DD date") from exc


@main.command()
@click.argument("query")
@click.option("--as", "as_email", metavar="EMAIL", help="Search as this person (sees own notes).")
@click.option(
    "--type",
    "doc_types",
    multiple=True,
    type=click.Choice(["guide", "insight", "note"]),
    help="Only these types.",
)
@click.option("--tag", "tags", multiple=True, help="Only documents with this tag.")
@click.option("--lang", "languages", multiple=True, type=click.Choice(["pl", "ru", "en"]))
@click.option("--author", metavar="EMAIL", help="Only documents by this author.")
@click.option("--from", "date_from", metavar="YYYY-MM-DD")
@click.option("--to", "date_to", metavar="YYYY-MM-DD")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 100))
@click.option("--json", "as_json", is_flag=True)
@pass_state
def search(
    state: State,
    query: str,
    as_email: str | None,
    doc_types: tuple[str, ...],
    tags: tuple[str, ...],
    languages: tuple[str, ...],
    author: str | None,
    date_from: str | None,
    date_to: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Search guides and insights (and, with --as, that person's pair notes)."""
    from kb.search.hybrid import SearchFilters

    tandem = state.tandem
    user = find_person(tandem, as_email) if as_email else None
    filters = SearchFilters(
        doc_types=doc_types,
        tags=tags,
        languages=languages,
        author_email=author,
        date_from=parse_day(date_from),
        date_to=parse_day(date_to),
    )
    results = tandem.search.search(query, user, filters, limit=limit)
    if as_json:
        emit_json(results.to_dict())
        return
    if results.message:
        click.echo(results.message)
    if results.did_you_mean:
        click.echo(f"Did you mean: {results.did_you_mean}")
    click.echo(f"{results.total} result(s) in {results.took_ms:.0f} ms")
    for rank, hit in enumerate(results.hits, 1):
        click.echo(
            f"\n{rank:>2}. [{hit.doc_type}/{hit.language}] {hit.title}"
            f"  ({hit.score:.3f}, {hit.doc_key})"
        )
        click.echo(f"    {snippet_text(hit.snippet_html)}")


# --- matching ----------------------------------------------------------------------------


def print_rows(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str, int]]) -> None:
    """A plain text table: (key, heading, width) per column."""
    click.echo("  ".join(f"{head:<{width}}" for _, head, width in columns))
    for row in rows:
        cells = []
        for key, _, width in columns:
            value = row.get(key, "")
            text = f"{value:.3f}" if isinstance(value, float) else str(value)
            cells.append(f"{text[:width]:<{width}}")
        click.echo("  ".join(cells))


@main.command()
@click.option("--mentee", metavar="EMAIL", help="Recommend mentors for this mentee.")
@click.option("--mentor", metavar="EMAIL", help="Recommend mentees for this mentor.")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 100))
@click.option("--json", "as_json", is_flag=True)
@pass_state
def recommend(
    state: State, mentee: str | None, mentor: str | None, limit: int, as_json: bool
) -> None:
    """Best-fitting mentors for a mentee (or mentees for a mentor), with reasons."""
    from matching import service
    from matching.results import to_data

    if bool(mentee) == bool(mentor):
        raise click.UsageError("give exactly one of --mentee or --mentor")
    tandem = state.tandem
    with tandem.sessions() as session:
        if mentee:
            found = service.recommend_mentors(
                session, tandem.matching_embedders, mentee, limit=limit
            )
        else:
            found = service.recommend_mentees(
                session, tandem.matching_embedders, mentor, limit=limit
            )
    data = to_data(found)
    if as_json:
        emit_json(data)
        return
    rows = data.get("candidates", data) if isinstance(data, dict) else data
    if isinstance(data, dict) and data.get("message"):
        click.echo(data["message"])
    print_recommendations(rows)


def print_recommendations(rows: Any) -> None:
    if not rows:
        click.echo("No candidates.")
        return
    for rank, row in enumerate(rows, 1):
        name = row.get("name") or row.get("email", "?")
        score = row.get("score", row.get("fit", 0.0))
        click.echo(f"{rank:>2}. {name} <{row.get('email', '')}>  fit {float(score):.3f}")
        for reason in row.get("reasons", [])[:3]:
            text = reason if isinstance(reason, str) else reason.get("text", reason)
            click.echo(f"      - {text}")


@main.command()
@click.argument("programme")
@click.option("--apply", "apply_", is_flag=True, help="Save the proposed pairs (status proposed).")
@click.option("--as", "as_email", metavar="HR_EMAIL", help="The HR person applying it.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def propose(
    state: State, programme: str, apply_: bool, as_email: str | None, as_json: bool
) -> None:
    """Propose mentor-mentee pairs for a programme (optimal assignment under constraints)."""
    from matching import service
    from matching.results import to_data

    if apply_ and not as_email:
        raise click.UsageError("--apply needs --as HR_EMAIL")
    tandem = state.tandem
    with tandem.sessions() as session:
        proposal = service.propose(session, tandem.matching_embedders, programme)
        if apply_:
            actor = find_person(tandem, as_email or "")
            service.apply_proposal(session, proposal, actor)
            session.commit()
    data = to_data(proposal)
    if as_json:
        emit_json(data)
        return
    pairs = data.get("pairs", []) if isinstance(data, dict) else data
    click.echo(f"Proposal for {programme}: {len(pairs)} pair(s)")
    print_rows(pairs, [("mentor", "mentor", 30), ("mentee", "mentee", 30), ("fit", "fit", 6)])
    for key in ("unmatched_mentees", "unmatched_mentors"):
        if isinstance(data, dict) and data.get(key):
            click.echo(f"{key.replace('_', ' ')}: {', '.join(map(str, data[key]))}")
    if apply_:
        click.echo("Saved as proposed pairs.")


@main.command()
@click.argument("programme")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def gaps(state: State, programme: str, as_json: bool) -> None:
    """Mentee goals no mentor in the programme covers well (what to recruit or write for)."""
    from matching import service
    from matching.results import to_data

    tandem = state.tandem
    with tandem.sessions() as session:
        found = service.gaps(session, tandem.matching_embedders, programme)
    data = to_data(found)
    if as_json:
        emit_json(data)
        return
    if not data:
        click.echo("No gaps: every goal has a mentor who covers it.")
        return
    print_rows(data, [("goal", "goal", 50), ("mentee", "mentee", 28), ("best", "best cover", 10)])


# --- web ---------------------------------------------------------------------------------

# Gunicorn's access log without query strings: searched words must never reach a log.
ACCESS_LOG_FORMAT = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--dev", is_flag=True, help="Flask's development server (reloader, debugger off).")
@pass_state
def serve(state: State, host: str, port: int, workers: int, dev: bool) -> None:
    """Serve the web app (gunicorn; --dev for Flask's server)."""
    tandem = state.tandem
    applied = catch_up(tandem)  # build indexes once, before workers start
    embedded = match_vectors.catch_up(tandem.sessions, tandem.matching_embedders)
    if embedded:
        click.echo(f"Matching vectors: {embedded} computed.")
    settings = tandem.settings
    state.close()
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    click.echo(f"Instance {settings.instance_dir}; {applied} index change(s) applied.")
    click.echo(f"Open http://{shown}:{port}/ in your browser (Ctrl+C stops the server).")
    sys.stdout.flush()
    if dev:
        from kb.app import create_app

        create_app(dataclasses.replace(settings, warm_up=True)).run(
            host=host, port=port, debug=False, use_reloader=False
        )
        return
    from kb.gunicorn_conf import command

    args = command(
        workers, f"{host}:{port}",
        "--access-logfile", "-", "--access-logformat", ACCESS_LOG_FORMAT,
    )  # fmt: skip
    # gunicorn's processes load the same settings from this environment (kb.app.create_app).
    child = {**os.environ, "TANDEM_INSTANCE": str(settings.instance_dir), "TANDEM_WARM_UP": "1"}
    os.execve(args[0], args, child)


# --- research: bench, eval, match-eval live in the bench package -------------------------

# The research commands' options are their own (bench/cli.py); unknown options pass through.
FORWARD = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}


def run_research(name: str, args: Sequence[str]) -> None:
    """Run the bench package's command ``name`` with ``args``; name its install when absent."""
    try:
        from bench.cli import COMMANDS
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] != "bench":
            raise
        raise click.ClickException(
            f"tandem {name} is part of the bench package, which is not installed;"
            " install it with: pip install -e ./bench (from the repository; scripts/setup.sh"
            " does it)"
        ) from exc
    COMMANDS[name].main(list(args), prog_name=f"tandem {name}", standalone_mode=False)


@main.command("eval", context_settings=FORWARD, add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def eval_command(args: tuple[str, ...]) -> None:
    """Retrieval quality (nDCG@10, recall@10/100) on a BEIR-format dataset."""
    run_research("eval", args)


@main.command("match-eval", context_settings=FORWARD, add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def match_eval(args: tuple[str, ...]) -> None:
    """Expertise-matching quality (loss, lower is better) on the reviewer-expertise set."""
    run_research("match-eval", args)


@main.command("bench", context_settings=FORWARD, add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def bench(args: tuple[str, ...]) -> None:
    """Benchmarks (search, ingest, web, peers, matching); see results/BENCH.md."""
    run_research("bench", args)


if __name__ == "__main__":  # pragma: no cover
    main()
