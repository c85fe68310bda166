"""Errors of the services reach people in their language, with their values: flash messages
and form errors on pages, and the message of a JSON API error (issue: English-only errors)."""

from __future__ import annotations

import html
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from kb.errors import ValidationError
from kb.models import Person
from kb.runtime import Tandem
from kb.services import people, programmes, tokens
from kb.services.programmes import PairRecord, ProgrammeRecord
from kb.views.i18n import translate_error

from .conftest import Library

Login = Callable[..., TestResponse]
HR = "hania@example.com"


def text_of(answer: TestResponse) -> str:
    return html.unescape(answer.get_data(as_text=True))


def bearer(tandem: Tandem, email: str) -> dict[str, str]:
    with tandem.sessions() as s:
        _, secret = tokens.create_token(s, people.get_person_by_email(s, email), "test")
        s.commit()
    return {"Authorization": f"Bearer {secret}"}


def test_keeping_a_pair_with_someone_who_has_not_opted_in_says_so_in_polish_and_russian(
    client: FlaskClient, login: Login, web_tandem: Tandem
) -> None:
    with web_tandem.sessions() as s:
        dawid = s.scalars(select(Person).where(Person.email == "dawid@example.com")).one()
        dawid.opt_in = False
        s.commit()
    login(client, HR)
    form = {"mentor": "anna@example.com", "mentee": "dawid@example.com", "decision": "accept"}
    polish = client.post("/hr/programmes/spring/proposal/decide", data=form,
                         headers={"Accept-Language": "pl"}, follow_redirects=True)  # fmt: skip
    assert "Bez zmian: dawid@example.com nie zgłosił(a) udziału" in text_of(polish)
    assert "has not opted in" not in text_of(polish)
    russian = client.post("/hr/programmes/spring/proposal/decide", data=form,
                          headers={"Accept-Language": "ru"}, follow_redirects=True)  # fmt: skip
    assert "dawid@example.com не записан(а) на участие" in text_of(russian)


def test_the_programme_form_refuses_in_the_readers_language(
    client: FlaskClient, login: Login
) -> None:
    login(client, HR)
    form = {"slug": "Zła Nazwa", "name": "Jesień", "status": "planned", "rhythm_weeks": "2"}
    polish = client.post("/hr/programmes/new", data=form, headers={"Accept-Language": "pl"})
    assert polish.status_code == 400
    assert "'zła nazwa' nie nadaje się na krótką nazwę (małe litery, cyfry i „-”)" in text_of(
        polish
    )
    form = {"slug": "spring", "name": "Весна", "status": "planned", "rhythm_weeks": "2"}
    russian = client.post("/hr/programmes/new", data=form, headers={"Accept-Language": "ru"})
    assert russian.status_code == 400
    assert "программа 'spring' уже существует" in text_of(russian)
    form = {"slug": "autumn", "name": "Autumn", "status": "planned", "rhythm_weeks": "40"}
    again = client.post("/hr/programmes/new", data=form, headers={"Accept-Language": "pl"})
    assert "spotkanie co 1 do 12 tygodni" in text_of(again)


def test_hr_invitations_that_fail_are_explained_in_russian(
    client: FlaskClient, login: Login
) -> None:
    login(client, HR)
    form = {"role": "mentor", "emails": "bogdan@example.com\nnobody@example.com"}
    answer = client.post("/hr/programmes/spring/invite", data=form,
                         headers={"Accept-Language": "ru"}, follow_redirects=True)  # fmt: skip
    body = text_of(answer)
    assert "у bogdan@example.com нет роли наставника" in body
    assert "нет человека с адресом 'nobody@example.com'" in body
    again = {"role": "mentor", "emails": "anna@example.com"}
    client.post("/hr/programmes/spring/invite", data=again)
    twice = client.post("/hr/programmes/spring/invite", data=again,
                        headers={"Accept-Language": "pl"}, follow_redirects=True)  # fmt: skip
    assert "anna@example.com ma już zaproszenie do tego programu" in text_of(twice)


def test_the_guide_editor_shows_service_errors_in_polish(client: FlaskClient, login: Login) -> None:
    login(client, "anna@example.com")
    form = {"title": "", "body_md": "Tekst.", "language": "pl", "action": "save"}
    page = client.post("/guides/new", data=form, headers={"Accept-Language": "pl"})
    assert page.status_code == 400
    body = text_of(page)
    assert "tytuł jest wymagany" in body
    assert "a title is required" not in body and "field 'title'" not in body
    videos = {**form, "title": "Filmy", "videos": "ftp://example.com/x.mp4"}
    page = client.post("/guides/new", data=videos, headers={"Accept-Language": "ru"})
    assert "ссылка на видео должна начинаться с https:// и содержать имя сервера" in text_of(page)


def test_api_errors_carry_the_translated_message(
    client: FlaskClient, web_tandem: Tandem, library: Library
) -> None:
    hr = bearer(web_tandem, HR)
    made = client.post("/api/programmes", json={"slug": "Bad Slug", "name": "X"},
                       headers={**hr, "Accept-Language": "ru"})  # fmt: skip
    assert made.status_code == 400
    message = made.get_json()["error"]["message"]
    assert message.startswith("'Bad Slug' не годится как короткое имя"), message
    weights = client.post("/api/programmes", json={"slug": "autumn", "name": "Autumn",
                          "rhythm_weeks": 13}, headers={**hr, "Accept-Language": "pl"})  # fmt: skip
    assert weights.get_json()["error"]["message"] == "spotkanie co 1 do 12 tygodni"
    short = client.post(
        "/api/programmes",
        json={"slug": "winter", "name": "Zima", "starts": "2025-01-01", "ends": "2025-02-01"},
        headers={**hr, "Accept-Language": "pl"},
    )
    assert short.status_code == 201, short.get_json()
    assert short.get_json()["length_warning"].startswith("Program trwa krócej niż 3 miesiące")
    mentor = bearer(web_tandem, "anna@example.com")
    empty = client.post(f"/api/guides/{library.guide_slug}/revisions/99/restore",
                        headers={**mentor, "Accept-Language": "pl"})  # fmt: skip
    assert empty.status_code == 404
    assert empty.get_json()["error"]["message"] == (
        f"poradnik '{library.guide_slug}' nie ma wersji 99"
    )


def test_a_nested_reason_is_translated_inside_its_frame(app: Flask, web_tandem: Tandem) -> None:
    """A programme file's pair error names the programme and pair, both parts translated."""
    record = ProgrammeRecord(
        slug="spring", name="Spring round",
        pairs=(PairRecord("anna@example.com", "anna@example.com"),),
    )  # fmt: skip
    with web_tandem.sessions() as s:
        try:
            programmes.upsert_programme_record(s, record)
        except ValidationError as error:
            refused = error
        else:
            raise AssertionError("a person paired with themselves was accepted")
    assert str(refused) == ("programme 'spring', pair 1: anna@example.com cannot mentor themselves")
    with app.test_request_context(headers={"Accept-Language": "pl"}):
        assert translate_error(refused) == (
            "program 'spring', para 1: anna@example.com nie może być mentorem samego siebie"
        )
    with app.test_request_context(headers={"Accept-Language": "ru"}):
        assert translate_error(refused).startswith("программа 'spring', пара 1: anna@example.com")


def test_the_people_upload_explains_rejections_in_polish_and_russian(
    client: FlaskClient, login: Login
) -> None:
    import io

    rows = (
        b"name,email,department,manager_email,roles\n"
        b"Nina New,nina@example.com,IT,ghost@example.com,mentor\n"
        b"Bad,bad-mail,IT,,mentor\n"
        b"Olek,olek@example.com,IT,,mentor,extra\n"
    )

    def upload(data: bytes, language: str) -> str:
        return text_of(client.post(
            "/hr/people/upload", data={"file": (io.BytesIO(data), "p.csv")},
            content_type="multipart/form-data", headers={"Accept-Language": language},
        ))  # fmt: skip

    login(client, HR)
    polish = upload(rows, "pl")
    assert "nieznany przełożony ghost@example.com" in polish
    assert "email: 'bad-mail' nie jest poprawnym adresem e-mail" in polish
    assert "wartości: 6, a nagłówek ma kolumn: 5" in polish
    assert "unknown manager" not in polish and "is not a valid" not in polish
    russian = upload(b"nom,courriel\nA,a@x.org\n", "ru")
    assert "Файл отклонён: не хватает столбцов" in russian
    assert "не хватает столбцов: name, email; неизвестные столбцы: nom, courriel" in russian
    assert "ожидаемые столбцы: name, email (обязательные)" in russian
    unclosed = b"name,email\n" + b'Nina,"nina@example.com\n' + b"Olek,olek@example.com\n" * 8000
    polish = upload(unclosed, "pl")
    assert "wiersz 2: wartość jest dłuższa niż 131072 znaków (czy cudzysłów" in polish
    russian = upload(unclosed, "ru")
    assert "строка 2: значение длиннее 131072 символов (не закрыта кавычка?)" in russian
    assert "field" not in polish + russian and "unreadable" not in polish + russian
