"""The interface language: chosen by the person, then the switcher's cookie, then the browser's
Accept-Language, then the default; dates and numbers follow it; errors are translated."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from kb.errors import NotFound
from kb.i18n import N_
from kb.models import Person
from kb.runtime import Tandem
from kb.views.i18n import date_filter, local_target, number_filter

from .conftest import Library

Login = Callable[..., TestResponse]


def html_lang(page: TestResponse) -> str:
    found = re.search(r'<html lang="([a-z]+)">', page.get_data(as_text=True))
    assert found, page.get_data(as_text=True)[:300]
    return found.group(1)


def test_english_is_the_default(client: FlaskClient) -> None:
    page = client.get("/")
    assert html_lang(page) == "en"
    assert ">Search</a>" in page.get_data(as_text=True)


def test_accept_language_chooses_polish_or_russian(client: FlaskClient) -> None:
    polish = client.get("/", headers={"Accept-Language": "pl-PL,pl;q=0.9,en;q=0.5"})
    assert html_lang(polish) == "pl"
    assert ">Szukaj</a>" in polish.get_data(as_text=True)
    russian = client.get("/", headers={"Accept-Language": "ru"})
    assert html_lang(russian) == "ru"
    assert ">Поиск</a>" in russian.get_data(as_text=True)
    german = client.get("/", headers={"Accept-Language": "de-DE"})
    assert html_lang(german) == "en"


def test_the_switcher_is_on_every_page_and_its_choice_sticks(client: FlaskClient) -> None:
    home = client.get("/").get_data(as_text=True)
    assert 'action="/language"' in home
    for code in ("en", "pl", "ru"):
        assert f'name="lang" value="{code}"' in home
    answer = client.post("/language", data={"lang": "ru", "next": "/search?q=excel"})
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith("/search?q=excel")
    # the cookie beats the browser's Accept-Language from now on
    page = client.get("/guides", headers={"Accept-Language": "pl"})
    assert html_lang(page) == "ru"
    assert 'value="ru" lang="ru" class="link-button" aria-current="true"' in page.get_data(
        as_text=True
    )


def test_the_switcher_never_sends_people_to_another_site(client: FlaskClient) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "x"):
        answer = client.post("/language", data={"lang": "pl", "next": target})
        assert answer.headers["Location"] in ("/", "http://localhost/")
    assert local_target("/guides?tag=ai") == "/guides?tag=ai"


def test_an_unknown_language_is_refused(client: FlaskClient) -> None:
    answer = client.post("/language", data={"lang": "xx"})
    assert answer.status_code == 400


def test_a_logged_in_persons_choice_is_saved_and_wins(
    client: FlaskClient, login: Login, web_tandem: Tandem, app: Flask
) -> None:
    login(client, "anna@example.com")
    client.post("/language", data={"lang": "pl", "next": "/"})
    with web_tandem.sessions() as s:
        anna = s.scalars(select(Person).where(Person.email == "anna@example.com")).one()
        assert anna.ui_language == "pl"
    # another browser without the cookie and with a Russian Accept-Language: still Polish
    other = app.test_client()
    login(other, "anna@example.com")
    page = other.get("/", headers={"Accept-Language": "ru"})
    assert html_lang(page) == "pl"


def test_error_pages_speak_the_language(client: FlaskClient) -> None:
    missing = client.get("/no-such-page", headers={"Accept-Language": "pl"})
    assert missing.status_code == 404
    text = missing.get_data(as_text=True)
    assert "Nie znaleziono" in text and "Nie ma takiej strony" in text
    russian = client.get("/no-such-page", headers={"Accept-Language": "ru"})
    assert "Не найдено" in russian.get_data(as_text=True)
    api = client.get(
        "/no-such-page", headers={"Accept-Language": "pl", "Accept": "application/json"}
    )
    assert api.get_json()["error"]["title"] == "Nie znaleziono"


def test_domain_errors_are_translated_with_their_values(app: Flask) -> None:
    from kb.views.i18n import translate_error

    error = NotFound(N_("line %(line)s"), line=7)  # a string the core catalog knows
    with app.test_request_context("/", headers={"Accept-Language": "ru"}):
        assert translate_error(error) == "строка 7"
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert translate_error(error) == "line 7"
    unknown = NotFound("Nothing called 100% here")  # not in a catalog: its own text
    with app.test_request_context("/", headers={"Accept-Language": "pl"}):
        assert translate_error(unknown) == "Nothing called 100% here"


def test_dates_and_numbers_follow_the_locale(app: Flask) -> None:
    day = dt.date(2024, 4, 2)
    expected = {"en": ("Apr 2, 2024", "12,345"), "pl": ("2 kwi 2024", "12\xa0345"),
                "ru": ("2 апр. 2024\u202fг.", "12\xa0345")}  # fmt: skip
    for code, (date_text, number_text) in expected.items():
        with app.test_request_context("/", headers={"Accept-Language": code}):
            assert date_filter(day) == date_text
            assert number_filter(12345) == number_text


def test_main_pages_render_in_polish_and_russian(
    client: FlaskClient, login: Login, library: Library
) -> None:
    pages = {
        "/": {"pl": "Czego chcesz się dziś nauczyć?", "ru": "Чему вы хотите научиться сегодня?"},
        "/search?q=excel": {"pl": "Filtry", "ru": "Фильтры"},
        "/login": {"pl": "Nie wylogowuj mnie", "ru": "Оставаться в системе"},
        f"/guides/{library.guide_slug}": {"pl": "Powiązane", "ru": "Похожие материалы"},
    }
    for path, wanted in pages.items():
        for code, text in wanted.items():
            page = client.get(path, headers={"Accept-Language": code})
            assert page.status_code == 200, path
            assert html_lang(page) == code
            assert text in page.get_data(as_text=True), (path, code)
    login(client, "anna@example.com")
    pair = client.get("/pair", headers={"Accept-Language": "pl"}).get_data(as_text=True)
    assert "Moja para" in pair and "jesteś mentorem" in pair
    assert "10 kwi 2024" in pair  # the private note's session date, in Polish
    note = client.get(f"/notes/{library.private_note_id}", headers={"Accept-Language": "ru"})
    text = note.get_data(as_text=True)
    assert "Видно только Anna Mentor и Bogdan Mentee." in text
    assert "10 апр. 2024" in text


def test_search_counts_use_the_plural_forms_of_the_language(client: FlaskClient) -> None:
    english = client.get("/search?q=excel").get_data(as_text=True)
    found = re.search(r"(\d+) results?\b", english)
    assert found, english
    total = int(found.group(1))
    polish = client.get("/search?q=excel", headers={"Accept-Language": "pl"})
    form = "wynik" if total == 1 else "wyniki" if 2 <= total % 10 <= 4 else "wyników"
    assert f"{total} {form}" in polish.get_data(as_text=True)


def test_flash_messages_and_form_errors_are_translated(client: FlaskClient) -> None:
    answer = client.post(
        "/login",
        data={"email": "anna@example.com", "password": "wrong"},
        headers={"Accept-Language": "pl"},
    )
    assert "Nieprawidłowy e-mail lub hasło." in answer.get_data(as_text=True)
    empty = client.post("/login", data={"email": "", "password": ""},
                        headers={"Accept-Language": "ru"})  # fmt: skip
    assert "Обязательное поле." in empty.get_data(as_text=True)  # WTForms' own catalog


def test_search_messages_from_the_core_are_translated(client: FlaskClient) -> None:
    page = client.get("/search?q=%21%21%21", headers={"Accept-Language": "pl"})
    assert "Zapytanie nie zawiera słów do wyszukania." in page.get_data(as_text=True)


def test_hr_matching_pages_speak_polish_and_russian(
    client: FlaskClient, login: Login, web_tandem: Tandem
) -> None:
    from .test_hr_matching import HR, add_people

    add_people(web_tandem)
    assert login(client, HR).status_code == 302
    pages = {
        "/hr/": {"pl": "Programy", "ru": "Программы"},
        "/hr/programmes/spring": {"pl": "Połącz dwie osoby ręcznie",
                                  "ru": "Составить пару вручную"},
        "/hr/programmes/spring/proposal": {"pl": "Zachowane pary", "ru": "Сохранённые пары"},
        "/hr/programmes/spring/gaps": {"pl": "Najbliższy mentor", "ru": "Ближайший наставник"},
        "/hr/recommend?mentee=ewa@example.com": {"pl": "Mentorzy dla: Ewa Nowicka",
                                                 "ru": "Наставники для: Ewa Nowicka"},
    }  # fmt: skip
    english = ("Pair two people by hand", "Kept pairs", "Teaches back", "evidence",
               "Closest mentor", "Mentors for", "No programmes yet")  # fmt: skip
    for path, wanted in pages.items():
        for code, text in wanted.items():
            page = client.get(path, headers={"Accept-Language": code})
            assert page.status_code == 200, path
            body = page.get_data(as_text=True)
            assert html_lang(page) == code
            assert text in body, (path, code)
            assert not [e for e in english if e in body], (path, code)
    proposal = client.get("/hr/programmes/spring/proposal", headers={"Accept-Language": "pl"})
    assert re.search(r"\d+ (para zachowana|pary zachowane|par zachowanych)",
                     proposal.get_data(as_text=True))  # fmt: skip


def test_hr_flash_messages_are_translated(
    client: FlaskClient, login: Login, web_tandem: Tandem
) -> None:
    from .test_hr_matching import HR, add_people

    add_people(web_tandem)
    login(client, HR)
    answer = client.post(
        "/hr/programmes/spring/proposal/decide",
        data={"mentor": "anna@example.com", "mentee": "ewa@example.com", "decision": "maybe"},
        headers={"Accept-Language": "ru"},
        follow_redirects=True,
    )
    assert "Не изменено: Решение должно быть «принять» или «отклонить»." in answer.get_data(
        as_text=True
    )


def test_pair_service_errors_reach_hr_in_their_language(
    client: FlaskClient, login: Login, web_tandem: Tandem
) -> None:
    from kb.models import Pair

    from .test_hr_matching import HR

    login(client, HR)
    with web_tandem.sessions() as s:
        pair_id = s.scalars(select(Pair.id)).first()
    answer = client.post(f"/hr/pairs/{pair_id}", data={"status": "married"},
                         headers={"Accept-Language": "pl"}, follow_redirects=True)  # fmt: skip
    text = answer.get_data(as_text=True)
    assert "bez zmian: nieznany status pary &#39;married&#39;; użyj: proposed" in text, text[-3000:]


def test_matching_messages_with_numbers_are_translated_with_their_values(app: Flask) -> None:
    """Matching's messages with counts, fits and names (unmatched reasons, warnings, job
    progress) keep their template through a job's stored JSON and are shown in the reader's
    language; their English text is what it was."""
    import json

    from kb.i18n import Text, decode_texts, encode_texts
    from kb.views.i18n import translate
    from matching.jobs import progress_data, progress_text
    from matching.recommendations import describe_exclusions

    reason = Text(
        N_("no eligible mentor: %(exclusions)s"),
        exclusions=describe_exclusions({"management chain": 2, "no free place": 1}),
    )
    fit = Text(
        N_(
            "all %(num)d mentors who fit (best: %(name)s, fit %(fit).2f) are needed "
            "for pairs with a higher total fit"
        ),
        num=3,
        name="Anna",
        fit=0.4567,
    )
    assert reason == "no eligible mentor: 2 management chain, 1 no free place"
    stored = json.loads(json.dumps(encode_texts({"unmatched": [{"reason": reason}],
                                                 "warnings": [fit]})))  # fmt: skip
    back = decode_texts(stored)
    assert isinstance(back, dict)
    with app.test_request_context("/", headers={"Accept-Language": "pl"}):
        assert translate(back["unmatched"][0]["reason"]) == (
            "brak dopuszczalnego mentora: łańcuch przełożonych: 2, brak wolnego miejsca: 1"
        )
        assert "(3; najlepszy: Anna, dopasowanie 0.46)" in translate(back["warnings"][0])
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert translate(back["unmatched"][0]["reason"]) == reason
    line = Text(
        N_("scoring %(mentees)d mentees against %(mentors)d mentors and choosing pairs"),
        mentees=120,
        mentors=40,
    )
    assert progress_data(line).startswith("{") and len(progress_data(line)) <= 200
    with app.test_request_context("/", headers={"Accept-Language": "ru"}):
        assert translate(progress_text(progress_data(line))) == (
            "оценка 120 подопечных относительно 40 наставников и подбор пар"
        )
    assert progress_text("done") == "done" and progress_text("{not json") == "{not json"


def test_recommendation_messages_reach_hr_in_their_language(
    client: FlaskClient, login: Login, web_tandem: Tandem
) -> None:
    from .test_hr_matching import HR, add_people

    add_people(web_tandem)
    assert login(client, HR).status_code == 302
    page = client.get("/hr/recommend?mentee=bogdan@example.com",
                      headers={"Accept-Language": "pl"}).get_data(as_text=True)  # fmt: skip
    assert "Bogdan Mentee nie ma jeszcze celów" in page and "has no goals" not in page
    proposal = client.get("/hr/programmes/spring/proposal", headers={"Accept-Language": "ru"})
    body = proposal.get_data(as_text=True)
    for english in ("mentors who fit", "other mentee(s)", "no eligible mentor", "locked pair"):
        assert english not in body


def test_revision_inbox_and_help_times_follow_the_locale(
    client: FlaskClient, login: Login, library: Library, web_tandem: Tandem
) -> None:
    """The revision list, the inbox and HR's help requests printed 2026-12-06 03:30 in every
    language; they now say the date the way the page's language does, like the rest."""
    from kb.models import Guide, GuideRevision, HelpRequest, InboxMessage, Pair
    from kb.services import help, inbox

    moment = dt.datetime(2024, 4, 2, 9, 5)
    with web_tandem.sessions() as s:
        anna = s.scalar(select(Person).where(Person.email == "anna@example.com"))
        guide = s.scalar(select(Guide).where(Guide.slug == library.guide_slug))
        for revision in s.scalars(select(GuideRevision).where(GuideRevision.guide_id == guide.id)):
            revision.created_at = moment
        pair = s.scalars(select(Pair).where(Pair.mentor_id == anna.id)).first()
        help.ask_for_help(s, pair, anna, "sessions", "")
        inbox.notify(s, anna, "session_changed", {"who": "B", "when": "x", "status": "held"})
        s.flush()
        for row in [*s.scalars(select(HelpRequest)), *s.scalars(select(InboxMessage))]:
            row.created_at = moment
        s.commit()
    login(client, "anna@example.com")
    polish = {"Accept-Language": "pl"}
    for path in (f"/guides/{library.guide_slug}/revisions", "/inbox/"):
        page = client.get(path, headers=polish).get_data(as_text=True)
        assert "2.04.2024, 09:05" in page and "2024-04-02 09:05" not in page, path
    client.post("/logout")
    login(client, "hania@example.com")
    page = client.get("/hr/help", headers=polish).get_data(as_text=True)
    assert "2.04.2024, 09:05 UTC" in page and "2024-04-02" not in page.replace('"2024-04-02', "")
