"""A person's own data (GDPR Arts. 15, 20): the export service, the "Your data" page and
``tandem export-person``. The export of one person never holds another pair's notes."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import select

from kb.cli import main
from kb.models import ApiToken, AuditEntry, Feedback, Pair, Person
from kb.runtime import Tandem
from kb.services import export, guides, notes, people, tokens

from .conftest import PASSWORD, Library

OTHER_PAIR_WORD = "Vexillomancy"  # in the other pair's note and insight
OTHER_FEEDBACK = "Dawid's own feedback about Quillfeather"
OWN_FEEDBACK = "Bogdan says the Sprocketeer sessions help"
SECRETS: list[str] = []  # API tokens made by the fixture, never to be exported


@pytest.fixture
def world(web_tandem: Tandem, library: Library) -> Library:
    """The library, plus a note, insight and feedback in the other pair, and Bogdan's feedback."""
    with web_tandem.sessions() as s:
        by_email = {p.email: p for p in s.scalars(select(Person))}
        anna, bogdan = by_email["anna@example.com"], by_email["bogdan@example.com"]
        celina, dawid = by_email["celina@example.com"], by_email["dawid@example.com"]
        own = s.scalars(select(Pair).where(Pair.mentee_id == bogdan.id)).one()
        other = s.scalars(select(Pair).where(Pair.mentee_id == dawid.id)).one()
        note = notes.create_note(
            s, other, celina, title=f"{OTHER_PAIR_WORD} session", language="en",
            body_md=f"Private to Celina and Dawid: {OTHER_PAIR_WORD}.",
            embedders=web_tandem.embedders,
        )  # fmt: skip
        notes.set_insight(
            s, note, f"An insight about {OTHER_PAIR_WORD}.", consented_by=[celina, dawid],
            embedders=web_tandem.embedders,
        )  # fmt: skip
        s.add(Feedback(pair_id=other.id, author_id=dawid.id, rating=4, comment=OTHER_FEEDBACK))
        s.add(Feedback(pair_id=own.id, author_id=bogdan.id, rating=5, comment=OWN_FEEDBACK))
        s.add(Feedback(pair_id=own.id, author_id=anna.id, rating=3, comment="Anna's feedback"))
        s.add(Feedback(pair_id=own.id, author_id=bogdan.id, rating=2, round="kickoff",
                       role="mentee", goal="Pivot tables in Excel", area="data"))  # fmt: skip
        guides.create_guide(
            s, celina, title="Reels in ten minutes", language="en", body_md="Short videos.",
            videos="https://video.example/reel-1 | A first reel | 1:30",
            review_by=dt.date(2025, 1, 31),
        )  # fmt: skip
        _, secret = tokens.create_token(s, bogdan, "laptop script")
        s.commit()
    SECRETS.append(secret)
    return library


def everything_in(payload: bytes) -> str:
    """All the text in an export zip, every file."""
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        return "\n".join(archive.read(name).decode("utf-8") for name in archive.namelist())


def export_of(tandem: Tandem, email: str) -> tuple[dict, bytes]:
    with tandem.sessions() as s:
        data = export.person_data(s, people.get_person_by_email(s, email))
    return data, export.export_zip(data)


def test_the_export_holds_the_pairs_notes_and_nothing_of_another_pair(
    web_tandem: Tandem, world: Library
) -> None:
    data, payload = export_of(web_tandem, "bogdan@example.com")
    text = everything_in(payload)
    assert data["profile"]["email"] == "bogdan@example.com"
    # Both members' notes of his pair, with their insights; his feedback, not Anna's.
    assert {n["title"] for n in data["notes"]} == {
        "Budget session", "Prompting session", "Teams session"
    }  # fmt: skip
    assert "Zyxelgate" in text and "Quokkaword" in text
    assert {i["text"] for i in data["insights"]} == {
        "Ask for a summary with three bullet points.",
        "Channels beat long e-mail threads for team decisions.",
    }
    assert [(f["kind"], f["comment"], f["goal"]) for f in data["feedback"]] == [
        ("self-rating", OWN_FEEDBACK, ""),
        ("self-rating", "", "Pivot tables in Excel"),
    ]
    assert [t["name"] for t in data["api_tokens"]] == ["laptop script"]
    assert SECRETS[-1] not in text  # the token itself never
    with web_tandem.sessions() as s:
        for digest in s.scalars(select(ApiToken.digest)):
            assert digest not in text
    assert data["pairs"][0]["partner"] == "Anna Mentor"
    # Nothing of the other pair, nobody's password hash or other e-mail address.
    for absent in (OTHER_PAIR_WORD, OTHER_FEEDBACK, "Anna's feedback", "Draftword"):
        assert absent not in text, absent
    for email in ("anna@example.com", "celina@example.com", "dawid@example.com"):
        assert email not in text
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        names = archive.namelist()
        assert json.loads(archive.read("data.json")) == data
    assert {"README.md", "data.json", "profile.md", "feedback.md"} <= set(names)
    assert sum(name.startswith("notes/") for name in names) == 3
    assert all(info.isascii() for info in names)


def test_the_other_pair_and_hr_get_only_their_own(web_tandem: Tandem, world: Library) -> None:
    celina, payload = export_of(web_tandem, "celina@example.com")
    text = everything_in(payload)
    assert [n["title"] for n in celina["notes"]] == [f"{OTHER_PAIR_WORD} session"]
    assert [g["title"] for g in celina["guides"]] == [
        "Unfinished draft about Draftword",
        "Reels in ten minutes",
    ]
    reels = celina["guides"][1]
    assert reels["review_by"] == "2025-01-31"
    assert reels["videos"] == ["https://video.example/reel-1 | A first reel | 1:30"]
    assert "https://video.example/reel-1" in text
    assert "Zyxelgate" not in text and "Quokkaword" not in text and OWN_FEEDBACK not in text
    hr, payload = export_of(web_tandem, "hania@example.com")
    assert hr["notes"] == hr["insights"] == hr["feedback"] == hr["pairs"] == []
    for word in ("Zyxelgate", OTHER_PAIR_WORD, OWN_FEEDBACK, OTHER_FEEDBACK):
        assert word not in everything_in(payload)


def test_a_mentor_gets_her_guides_with_every_revision(web_tandem: Tandem, world: Library) -> None:
    anna, payload = export_of(web_tandem, "anna@example.com")
    [guide] = anna["guides"]
    assert guide["title"] == "Copilot w Excelu" and guide["status"] == "published"
    assert guide["revisions"] and "sprawdzaj wyniki" in guide["body_md"]
    assert guide["videos"] == [] and guide["review_by"] is None
    assert "Copilot pomaga" in everything_in(payload)
    assert [f["comment"] for f in anna["feedback"]] == ["Anna's feedback"]


def test_the_page_counts_and_downloads_only_the_logged_in_persons_data(
    client: FlaskClient, login, web_tandem: Tandem, world: Library
) -> None:
    assert client.get("/me/data").status_code == 302  # anonymous: to the login page
    login(client, "bogdan@example.com")
    page = client.get("/me/data").get_data(as_text=True)
    assert "3 session notes of your pairs" in page and "2 pieces of feedback you gave" in page
    answer = client.post("/me/data/download")
    assert answer.status_code == 200 and answer.mimetype == "application/zip"
    assert "attachment" in answer.headers["Content-Disposition"]
    assert answer.headers["Cache-Control"] == "no-store"
    text = everything_in(answer.data)
    assert "Zyxelgate" in text and OWN_FEEDBACK in text and OTHER_PAIR_WORD not in text
    with web_tandem.sessions() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "person.export")).one()
        assert entry.actor is not None and entry.actor.email == "bogdan@example.com"
        assert "Zyxelgate" not in entry.detail

    other = client.application.test_client()
    login(other, "celina@example.com")
    text = everything_in(other.post("/me/data/download").data)
    assert OTHER_PAIR_WORD in text and "Zyxelgate" not in text and OWN_FEEDBACK not in text


def test_export_person_command(web_tandem: Tandem, world: Library, tmp_path) -> None:
    env = {
        "TANDEM_INSTANCE": str(web_tandem.settings.instance_dir),
        "DATABASE_URL": web_tandem.settings.database_url,
        "TANDEM_MODELS": "fake",
    }
    target = tmp_path / "bogdan.zip"
    result = CliRunner().invoke(
        main, ["export-person", "bogdan@example.com", "-o", str(target)], env=env
    )
    assert result.exit_code == 0, result.output
    assert "3 notes" in result.output and "2 feedback" in result.output
    assert target.stat().st_mode & 0o077 == 0  # private notes inside: owner only
    text = everything_in(target.read_bytes())
    assert "Zyxelgate" in text and OTHER_PAIR_WORD not in text
    as_json = CliRunner().invoke(
        main, ["export-person", "celina@example.com", "--json", "-o", "-"], env=env
    )
    data = json.loads(as_json.output)
    assert [n["title"] for n in data["notes"]] == [f"{OTHER_PAIR_WORD} session"]
    unknown = CliRunner().invoke(main, ["export-person", "nobody@example.com"], env=env)
    assert unknown.exit_code == 1 and "no person" in unknown.output
    with web_tandem.sessions() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action == "person.export")).all()
        assert len(entries) == 2 and all(e.actor_id is None for e in entries)


def test_password_is_never_exported(web_tandem: Tandem, world: Library) -> None:
    with web_tandem.sessions() as s:
        bogdan = people.get_person_by_email(s, "bogdan@example.com")
        stored_hash = bogdan.password_hash
    assert stored_hash and PASSWORD
    _, payload = export_of(web_tandem, "bogdan@example.com")
    text = everything_in(payload)
    assert stored_hash not in text and PASSWORD not in text


def test_the_page_speaks_polish(client: FlaskClient, login, world: Library) -> None:
    login(client, "bogdan@example.com")
    page = client.get("/me/data", headers={"Accept-Language": "pl"}).get_data(as_text=True)
    assert "Twoje dane" in page
    assert "3 notatki ze spotkań Twoich par" in page  # the Polish plural for 3
    assert "2 przekazane przez Ciebie opinie" in page


def test_the_api_gives_the_callers_data_as_json(
    app, client: FlaskClient, web_tandem: Tandem, world: Library
) -> None:
    assert app.test_client().get("/api/me/data").status_code == 401
    with web_tandem.sessions() as s:
        celina = people.get_person_by_email(s, "celina@example.com")
        _, secret = tokens.create_token(s, celina, "export script")
        s.commit()
    answer = client.get("/api/me/data", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    data = answer.get_json()
    assert data["profile"]["email"] == "celina@example.com"
    assert [n["title"] for n in data["notes"]] == [f"{OTHER_PAIR_WORD} session"]
    text = answer.get_data(as_text=True)
    assert "Zyxelgate" not in text and OWN_FEEDBACK not in text and secret not in text
