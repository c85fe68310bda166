"""Leftovers of the English-only interface, now in the reader's language: a failed matching
job's error, a pair's history lines, the import report's reasons, and ``lang`` on the text a
document is written in (not on the interface's labels around it)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from kb.i18n import N_, Text
from kb.models import MatchingJob, MatchingVector, Pair, PairChange, Person, SessionNote
from kb.runtime import Tandem
from kb.services import erasure, pairs
from matching.jobs import job_key

Login = Callable[..., TestResponse]
HR = "hania@example.com"


def text_of(answer: TestResponse) -> str:
    return html.unescape(answer.get_data(as_text=True))


def test_a_failed_matching_job_explains_itself_in_polish_and_russian(
    client: FlaskClient, login: Login, web_tandem: Tandem
) -> None:
    with web_tandem.sessions() as s:
        s.execute(MatchingVector.__table__.delete())  # matching cannot work without them
        s.commit()
    login(client, HR)
    polish = text_of(
        client.get("/hr/programmes/spring/proposal", headers={"Accept-Language": "pl"})
    )
    assert "Obliczenia nie powiodły się: brak zapisanych wektorów dopasowania dla" in polish
    assert "no matching vectors" not in polish
    russian = text_of(
        client.get("/hr/programmes/spring/proposal", headers={"Accept-Language": "ru"})
    )
    assert "не сохранены векторы подбора" in russian
    english = text_of(
        client.get("/hr/programmes/spring/proposal", headers={"Accept-Language": "en"})
    )
    assert "no matching vectors are stored for" in english


def test_a_job_that_failed_before_errors_kept_their_template_still_shows_its_error(
    client: FlaskClient, login: Login, web_tandem: Tandem
) -> None:
    with web_tandem.sessions() as s:
        s.add(
            MatchingJob(
                kind="gaps",
                programme="spring",
                key=job_key(s, "gaps", "spring"),
                status="failed",
                error="an old English error",
            )
        )
        s.commit()
    login(client, HR)
    page = text_of(client.get("/hr/programmes/spring/gaps", headers={"Accept-Language": "pl"}))
    assert "an old English error" in page


def pair_of(tandem: Tandem, mentor: str) -> int:
    with tandem.sessions() as s:
        return s.scalars(
            select(Pair.id).join(Person, Pair.mentor_id == Person.id).where(Person.email == mentor)
        ).one()


def history(page: str) -> str:
    return "".join(page.split('<ol class="history">')[1:])


def test_a_pairs_history_is_shown_in_the_readers_language(
    client: FlaskClient, login: Login, web_tandem: Tandem
) -> None:
    pair_id = pair_of(web_tandem, "anna@example.com")
    with web_tandem.sessions() as s:
        # Lines stored before lines kept their message: read back from a known wording.
        for what in (
            "an old English line",
            "status proposed → dropped (left out of a new proposal)",
            "import: status active → ended, ended — → 2024-06-30",
        ):
            s.add(PairChange(pair_id=pair_id, what=what))
        s.commit()
    login(client, HR)
    client.post(f"/hr/pairs/{pair_id}", data={"status": "paused", "locked": "1"})
    polish = history(
        text_of(client.get("/hr/programmes/spring", headers={"Accept-Language": "pl"}))
    )
    assert "utworzona jako aktywna" in polish
    assert "status aktywna → wstrzymana" in polish and "zablokowana" in polish
    assert "an old English line" in polish
    assert "status proponowana → wycofana (pominięta w nowej propozycji)" in polish
    assert "import: status aktywna → zakończona, ended — → 2024-06-30" not in polish
    assert "import: status aktywna → zakończona, koniec — → 2024-06-30" in polish
    assert "created as" not in polish and "status active" not in polish
    russian = history(
        text_of(client.get("/hr/programmes/spring", headers={"Accept-Language": "ru"}))
    )
    assert "создана со статусом «активна»" in russian
    assert "статус активна → приостановлена" in russian and "закреплена" in russian
    english = history(
        text_of(client.get("/hr/programmes/spring", headers={"Accept-Language": "en"}))
    )
    assert "created as active" in english and "status active → paused" in english
    with web_tandem.sessions() as s:
        lines = s.scalars(select(PairChange).where(PairChange.pair_id == pair_id)).all()
        assert [c.what for c in lines][-2:] == ["status active → paused", "locked"]


def test_erasing_a_person_rewrites_them_in_a_history_lines_message(
    client: FlaskClient, login: Login, web_tandem: Tandem
) -> None:
    pair_id = pair_of(web_tandem, "anna@example.com")
    with web_tandem.sessions() as s:
        pair = s.get(Pair, pair_id)
        assert pair is not None
        pairs.record_change(
            pair,
            N_("status %(old)s → %(new)s (mentor swapped for %(mentor)s)"),
            None,
            old="active",
            new="ended",
            mentor="celina@example.com",
        )
        s.commit()
        celina = s.scalars(select(Person).where(Person.email == "celina@example.com")).one()
        erasure.erase_person(s, celina, None, web_tandem.embedders)
        s.commit()
        line = s.scalars(select(PairChange).where(PairChange.pair_id == pair_id)).all()[-1]
        assert "celina@example.com" not in line.what + line.message
    login(client, HR)
    polish = history(
        text_of(client.get("/hr/programmes/spring", headers={"Accept-Language": "pl"}))
    )
    assert "status aktywna → zakończona (mentor zamieniony na " in polish
    assert "celina@example.com" not in polish


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}  # fmt: skip


class LangOfText(HTMLParser):
    """Each piece of text of a page's body with the language it is marked as (the nearest
    ``lang``)."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str | None] = []
        self.texts: list[tuple[str, str | None]] = []
        self.in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.in_body = self.in_body or tag == "body"
        if tag not in VOID:
            self.stack.append(dict(attrs).get("lang"))

    def handle_endtag(self, tag: str) -> None:
        if tag not in VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if data.strip() and self.in_body:
            lang = next((code for code in reversed(self.stack) if code), None)
            self.texts.append((" ".join(data.split()), lang))


def lang_of(page: str, text: str) -> str | None:
    """The language ``text`` (the start of a piece of text on ``page``) is marked as."""
    parser = LangOfText()
    parser.feed(page)
    found = [lang for piece, lang in parser.texts if piece.startswith(text)]
    assert found, f"{text!r} is not on the page"
    return found[0]


def test_a_polish_guide_in_the_english_interface_marks_only_its_own_text_as_polish(
    client: FlaskClient, login: Login
) -> None:
    login(client, "bogdan@example.com")
    page = client.get("/guides/copilot-w-excelu", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    html_text = page.get_data(as_text=True)
    assert lang_of(html_text, "Copilot w Excelu") == "pl"  # the title
    assert lang_of(html_text, "Copilot pomaga pisać formuły") == "pl"  # the body
    assert lang_of(html_text, "by Anna") == "en"  # the interface around it
    assert lang_of(html_text, "history") == "en"
    assert '<article class="doc">' in html_text
    russian = client.get("/guides/copilot-w-excelu", headers={"Accept-Language": "ru"})
    assert lang_of(russian.get_data(as_text=True), "Copilot pomaga pisać formuły") == "pl"
    assert lang_of(russian.get_data(as_text=True), "история") == "ru"


def test_search_results_mark_each_title_and_snippet_with_its_documents_language(
    client: FlaskClient, login: Login
) -> None:
    login(client, "bogdan@example.com")
    page = client.get("/search?q=Copilot+Excel", headers={"Accept-Language": "en"})
    html_text = page.get_data(as_text=True)
    assert lang_of(html_text, "Copilot w Excelu") == "pl"
    snippets = re.findall(r'<p class="snippet"([^>]*)>', html_text)
    assert snippets and all(' lang="' in attrs for attrs in snippets)
    assert lang_of(html_text, "Search") == "en"


def test_a_notes_text_is_marked_with_its_language_and_its_labels_are_not(
    client: FlaskClient, login: Login, web_tandem: Tandem
) -> None:
    with web_tandem.sessions() as s:
        note_id = s.scalars(
            select(SessionNote.id).where(SessionNote.title == "Budget session")
        ).one()
    login(client, "anna@example.com")
    page = client.get(f"/notes/{note_id}", headers={"Accept-Language": "pl"})
    assert page.status_code == 200
    html_text = page.get_data(as_text=True)
    assert lang_of(html_text, "Budget session") == "en"
    assert lang_of(html_text, "We discussed the Zyxelgate") == "en"
    assert lang_of(html_text, "Edytuj notatkę") == "pl"


def test_every_history_wording_is_read_back_from_its_english_text() -> None:
    values = {"old": "paused", "new": "ended", "mentor": "olga@example.com"}
    for template in pairs.HISTORY_TEMPLATES:
        line = template % values if "%(" in template else template
        found = pairs.old_line_text(line)
        assert isinstance(found, Text) and found.template == template, line
        assert str(found) == line
    assert pairs.old_line_text("status paused → sideways") == "status paused → sideways"
    assert not isinstance(pairs.old_line_text("import: something new"), Text)


def test_every_recorded_history_line_has_its_wording_listed() -> None:
    """A line recorded with a template missing from HISTORY_TEMPLATES would still show (its
    message is stored), but could not be read back from English text: keep the list whole."""
    import ast
    from pathlib import Path

    recorded: set[str] = set()
    for source in Path(pairs.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "record_change":
                recorded |= {
                    inner.args[0].value
                    for inner in ast.walk(node.args[1])
                    if isinstance(inner, ast.Call)
                    and getattr(inner.func, "id", "") == "N_"
                    and isinstance(inner.args[0], ast.Constant)
                }
    assert len(recorded) >= 14
    assert recorded - {"import: %(changes)s"} <= set(pairs.HISTORY_TEMPLATES)


def test_a_polish_guides_revisions_mark_its_titles_not_the_labels(
    client: FlaskClient, login: Login
) -> None:
    login(client, "anna@example.com")
    page = client.get("/guides/copilot-w-excelu/revisions", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    html_text = page.get_data(as_text=True)
    assert lang_of(html_text, "Copilot w Excelu") == "pl"
    assert lang_of(html_text, "Revision history") == "en"


def title_element(page: str) -> tuple[str | None, str]:
    """(its ``lang``, its text) of the page's ``<title>``."""
    found = re.search(r"<title( lang=\"([^\"]*)\")?>([^<]*)</title>", page)
    assert found, "no <title> on the page"
    return found.group(2), html.unescape(found.group(3))


def test_a_page_titled_by_its_document_marks_the_title_with_the_documents_language(
    client: FlaskClient, login: Login, web_tandem: Tandem
) -> None:
    """A screen reader reads the window title in the language of the text it is; a title
    mixing interface words with a document's title keeps the interface's (``lang`` on
    ``<title>`` covers all of it)."""
    login(client, "anna@example.com")
    guide = client.get("/guides/copilot-w-excelu", headers={"Accept-Language": "en"})
    assert title_element(guide.get_data(as_text=True)) == ("pl", "Copilot w Excelu · Tandem")
    revisions = client.get(
        "/guides/copilot-w-excelu/revisions", headers={"Accept-Language": "en"}
    ).get_data(as_text=True)
    assert title_element(revisions) == (None, "Revisions of Copilot w Excelu · Tandem")
    with web_tandem.sessions() as s:
        note_id = s.scalars(
            select(SessionNote.id).where(SessionNote.title == "Budget session")
        ).one()
    note = client.get(f"/notes/{note_id}", headers={"Accept-Language": "pl"})
    assert title_element(note.get_data(as_text=True)) == ("en", "Budget session · Tandem")
    assert title_element(
        client.get("/guides", headers={"Accept-Language": "pl"}).get_data(as_text=True)
    ) == (None, "Poradniki · Tandem")


def test_an_insights_page_title_is_marked_with_its_language(
    client: FlaskClient, library: Any
) -> None:
    page = client.get(
        f"/insights/{library.published_insight_id}", headers={"Accept-Language": "ru"}
    )
    lang, title = title_element(page.get_data(as_text=True))
    assert title.startswith("Channels beat long e-mail threads") and lang == "en"


def history_lines(page: str) -> list[str]:
    """Each history line of the page as 'who: what' (after its time)."""
    return [
        " ".join(re.sub(r"<[^>]+>", "", item).split()).split(" UTC · ", 1)[1]
        for item in re.findall(r"<li><time.*?</li>", history(page), flags=re.S)
    ]


def test_a_history_line_without_an_actor_says_where_it_came_from(
    client: FlaskClient, login: Login, web_tandem: Tandem
) -> None:
    """Not 'import' for all: a member leaving reads as enrolment, an erasure from the
    command line as erasure; a line of unknown wording as command line / import."""
    pair_id = pair_of(web_tandem, "anna@example.com")
    with web_tandem.sessions() as s:
        pair = s.get(Pair, pair_id)
        assert pair is not None
        pairs.record_change(
            pair,
            N_("status %(old)s → %(new)s (a member left the programme)"),
            None,
            old="active",
            new="ended",
        )
        pairs.record_change(pair, N_("a member's personal data was erased"), None)
        s.add(PairChange(pair_id=pair_id, what="an old English line"))
        s.add(PairChange(pair_id=pair_id, what="a member's personal data was erased"))
        s.commit()
        lines = s.scalars(
            select(PairChange).where(PairChange.pair_id == pair_id).order_by(PairChange.id)
        ).all()
        kinds = [pairs.change_source(c) for c in lines]
    assert kinds[-4:] == ["enrolment", "erasure", "", "erasure"]
    assert "import" in kinds  # the seeded pair was created by an import
    login(client, HR)
    client.post(f"/hr/pairs/{pair_id}", data={"locked": "1"})
    english = history_lines(
        text_of(client.get("/hr/programmes/spring", headers={"Accept-Language": "en"}))
    )
    assert english[:5] == [
        "Hania HR: locked",
        "erasure: a member's personal data was erased",
        "command line / import: an old English line",
        "erasure: a member's personal data was erased",
        "enrolment: status active → ended (a member left the programme)",
    ]
    assert english[-1].startswith("import: created as ")
    polish = history_lines(
        text_of(client.get("/hr/programmes/spring", headers={"Accept-Language": "pl"}))
    )
    assert [line.split(": ", 1)[0] for line in polish[1:5]] == [
        "usunięcie danych osobowych",
        "wiersz poleceń / import",
        "usunięcie danych osobowych",
        "zapisy do programu",
    ]
    assert polish[-1].startswith("import: utworzona jako ")
    russian = history_lines(
        text_of(client.get("/hr/programmes/spring", headers={"Accept-Language": "ru"}))
    )
    assert russian[4].startswith("запись в программу: ")
