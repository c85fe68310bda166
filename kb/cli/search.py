"""``tandem search``: the hybrid search from the terminal."""

from __future__ import annotations

import datetime as dt
import html
import re

import click

from kb.cli.base import State, emit_json, pass_state

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


@click.command()
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
    from kb.services.people import get_person_by_email

    tandem = state.tandem
    user = None
    if as_email:
        with tandem.sessions() as session:
            user = get_person_by_email(session, as_email)
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


COMMANDS = (search,)
