"""Leftovers of the English-only interface, now in the reader's language: a failed matching
job's error, a pair's history lines, the import report's reasons, and ``lang`` on the text a
document is written in (not on the interface's labels around it)."""

from __future__ import annotations

import html
from collections.abc import Callable

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from kb.models import MatchingJob, MatchingVector
from kb.runtime import Tandem
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
