"""The profile form's working style (a select) and availability (a box per weekday and part
of day): translated labels, stored as codes, invalid values refused with nothing changed, and
matching reads what was saved."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from kb.models import AVAILABILITY, STYLES
from kb.runtime import Tandem
from kb.services import people
from matching.service import read_snapshot

Login = Callable[..., Any]


def stored(tandem: Tandem, email: str) -> tuple[str, str, str]:
    with tandem.sessions() as s:
        found = people.find_person(s, email)
        assert found is not None
        return found.style, found.availability, found.expertise


def set_stored(tandem: Tandem, email: str, **values: str) -> None:
    with tandem.sessions() as s:
        found = people.find_person(s, email)
        assert found is not None
        for name, value in values.items():
            setattr(found, name, value)
        s.commit()


def signed_in(app: Flask, login: Login, email: str = "bogdan@example.com") -> FlaskClient:
    client = app.test_client()
    login(client, email)
    return client


def test_the_form_offers_every_style_and_slot_with_english_labels(
    app: Flask, web_tandem: Tandem, login: Login
) -> None:
    set_stored(web_tandem, "bogdan@example.com", style="reflective", availability="mon-am;thu-pm")
    page = signed_in(app, login).get("/account/profile").get_data(as_text=True)
    options = re.findall(r'<option (?:selected )?value="([^"]*)"', page.split('name="style"')[1])
    assert options[: len(STYLES) + 1] == ["", *STYLES]
    assert re.search(r'<option selected value="reflective">Reflective</option>', page)
    boxes = re.findall(r'name="availability" type="checkbox" value="([a-z-]+)"', page)
    assert boxes == list(AVAILABILITY)
    checked = re.findall(r'checked id="[^"]+" name="availability" type="checkbox" value="([^"]+)"',
                         page)  # fmt: skip
    assert checked == ["mon-am", "thu-pm"]
    assert '<span class="visually-hidden">Thursday</span> afternoon</label>' in page
    assert 'name="style" type="text"' not in page and "Hands-on" in page


def test_saving_stores_codes_and_matching_reads_them(
    app: Flask, web_tandem: Tandem, login: Login
) -> None:
    client = signed_in(app, login)
    answer = client.post("/account/profile", data={
        "languages": ["pl"], "opt_in": "y", "style": "hands-on",
        "availability": ["thu-pm", "mon-am"],
    })  # fmt: skip
    assert answer.status_code == 302
    style, slots, _ = stored(web_tandem, "bogdan@example.com")
    assert (style, slots) == ("hands-on", "mon-am;thu-pm")
    with web_tandem.sessions() as s:
        bogdan = next(p for p in read_snapshot(s).participants if p.email == "bogdan@example.com")
    assert bogdan.style == "hands-on" and bogdan.availability == {"mon-am", "thu-pm"}
    # Clearing both is allowed: "not stated".
    assert (
        client.post("/account/profile", data={"languages": ["pl"], "opt_in": "y"}).status_code
        == 302
    )
    assert stored(web_tandem, "bogdan@example.com")[:2] == ("", "")


def test_an_invalid_style_or_slot_is_refused_naming_the_field_and_nothing_changes(
    app: Flask, web_tandem: Tandem, login: Login
) -> None:
    set_stored(web_tandem, "bogdan@example.com", style="informal", availability="tue-am")
    before = stored(web_tandem, "bogdan@example.com")
    client = signed_in(app, login)
    for bad, words in (
        ({"style": "casual"}, "Working style: &#39;casual&#39; is not one of the choices."),
        ({"availability": ["tue-am", "sat-am"]},
         "When I can meet: &#39;sat-am&#39; is not one of the choices."),
    ):  # fmt: skip
        answer = client.post("/account/profile", data={
            "expertise": "Something new", "languages": ["pl"], "opt_in": "y",
            "style": "informal", "availability": ["tue-am"], **bad,
        })  # fmt: skip
        assert answer.status_code == 400
        assert words in answer.get_data(as_text=True)
        assert stored(web_tandem, "bogdan@example.com") == before


def test_polish_labels(app: Flask, web_tandem: Tandem, login: Login) -> None:
    set_stored(web_tandem, "bogdan@example.com", ui_language="pl", style="structured")
    client = signed_in(app, login)
    page = client.get("/account/profile").get_data(as_text=True)
    assert "Styl pracy" in page and "Kiedy mogę się spotkać" in page
    assert '<option selected value="structured">Uporządkowany</option>' in page
    assert '<span class="visually-hidden">Poniedziałek</span> rano</label>' in page
    assert "po południu" in page and "Piątek" in page
    for code in ("hands-on", "mon-am", "structured<"):
        assert f">{code}" not in page
    bad = client.post("/account/profile", data={"languages": ["pl"], "style": "casual"})
    assert "Styl pracy: &#39;casual&#39;" in bad.get_data(as_text=True)


def test_a_value_stored_before_the_closed_sets_is_named_and_kept_by_other_edits(
    app: Flask, web_tandem: Tandem, login: Login
) -> None:
    set_stored(web_tandem, "bogdan@example.com", style="casual", availability="mon-am;Tue")
    client = signed_in(app, login)
    page = client.get("/account/profile").get_data(as_text=True)
    assert "Stored before this list existed: casual." in page
    assert "Stored before this list existed: Tue." in page
    answer = client.post("/account/profile", data={
        "expertise": "Excel", "languages": ["pl"], "opt_in": "y", "availability": ["mon-am"],
    })  # fmt: skip
    assert answer.status_code == 302
    assert stored(web_tandem, "bogdan@example.com") == ("casual", "mon-am;Tue", "Excel")
    # Choosing here replaces them.
    client.post("/account/profile", data={
        "languages": ["pl"], "opt_in": "y", "style": "informal", "availability": ["fri-pm"],
    })  # fmt: skip
    assert stored(web_tandem, "bogdan@example.com")[:2] == ("informal", "fri-pm")
