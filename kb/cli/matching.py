"""Matching commands: ``recommend``, ``propose`` and ``gaps``."""

from __future__ import annotations

from typing import Any

import click

from kb.cli.base import State, emit_json, pass_state, print_rows


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


@click.command()
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
        elif mentor:
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


@click.command()
@click.argument("programme")
@click.option("--apply", "apply_", is_flag=True, help="Save the proposed pairs (status proposed).")
@click.option("--as", "as_email", metavar="HR_EMAIL", help="The HR person applying it.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def propose(
    state: State, programme: str, apply_: bool, as_email: str | None, as_json: bool
) -> None:
    """Propose mentor-mentee pairs for a programme (optimal assignment under constraints)."""
    from kb.services.people import get_person_by_email
    from matching import service
    from matching.results import to_data

    if apply_ and not as_email:
        raise click.UsageError("--apply needs --as HR_EMAIL")
    tandem = state.tandem
    with tandem.sessions() as session:
        proposal = service.propose(session, tandem.matching_embedders, programme)
        if apply_:
            actor = get_person_by_email(session, as_email or "")
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


@click.command()
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


COMMANDS = (recommend, propose, gaps)
