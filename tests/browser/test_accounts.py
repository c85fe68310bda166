"""Accounts in the browser: HR invites an imported person, who sets a password, logs in, edits
their profile (XSS payloads included) and switches the language; HR resets and deactivates an
account; the account pages pass axe in Polish and English."""

from __future__ import annotations

from typing import Any

import pytest

from kb.services import people

from .conftest import HR_ADMIN, PASSWORD, accessibility_problems, login, screenshot

XSS = [
    "<script>alert('x1')</script>",
    "<img src=x onerror=alert('x2')>",
    "<svg onload=alert('x3')>",
    "javascript:alert('x4')",
    "[click](javascript:alert('x5'))",
    '"><iframe src="data:text/html,<script>alert(6)</script>">',
]


def add_person(live_server: Any, email: str, name: str, roles: tuple[str, ...]) -> int:
    with live_server.tandem.sessions() as s:
        record = people.PersonRecord(name=name, email=email, roles=roles, languages=("pl",))
        found, _ = people.upsert_person(s, record)
        s.commit()
        return found.id


def person_id(live_server: Any, email: str) -> int:
    with live_server.tandem.sessions() as s:
        found = people.find_person(s, email)
        assert found is not None
        return found.id


def issue_link(hr: Any, target_id: int, button: str) -> str:
    hr.goto(f"/account/people/{target_id}")
    hr.get_by_role("button", name=button).click()
    hr.wait_for_load_state()
    link = hr.locator("#account-link").inner_text().strip()
    assert "/account/set-password?token=" in link
    return link


def watch_dialogs(page: Any) -> list[str]:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    return dialogs


def test_an_invited_person_sets_a_password_edits_the_profile_and_switches_language(
    page: Any, new_page: Any, live_server: Any, tmp_path: Any
) -> None:
    new_id = add_person(live_server, "nowa@example.com", "Nowa Mentorka", ("mentor",))
    login(page, HR_ADMIN)
    page.goto("/account/people/?q=nowa")
    page.get_by_role("link", name="Nowa Mentorka").click()
    page.wait_for_load_state()
    assert page.locator("#account-state").inner_text().strip() == "no password yet"
    link = issue_link(page, new_id, "Make an invitation link")
    screenshot(page, "accounts-invitation", tmp_path)

    person = new_page()
    dialogs = watch_dialogs(person)
    person.goto(link)
    person.fill("input[name=password]", "nowe hasło 123")
    person.fill("input[name=confirm]", "nowe hasło 123")
    person.get_by_role("button", name="Set my password").click()
    person.wait_for_load_state()
    assert "/login" in person.url
    login(person, "nowa@example.com", "nowe hasło 123")
    # The link was for one use only.
    response = person.goto(link)
    assert response is not None and response.status == 404

    person.goto("/account/profile")
    person.fill("textarea[name=expertise]", "Power BI; " + "; ".join(XSS))
    person.fill("textarea[name=goals]", "public speaking; " + XSS[0])
    person.select_option("select[name=style]", "reflective")
    person.get_by_label("Tuesday afternoon").check()
    person.fill("input[name=capacity]", "2")
    person.check("input[name=show_goals]")
    person.get_by_role("button", name="Save my profile").click()
    person.wait_for_load_state()
    assert "Your profile is saved." in person.content()
    assert person.locator("textarea[name=expertise]").input_value().startswith("Power BI")
    assert person.get_by_label("Tuesday afternoon").is_checked()
    assert person.locator("select[name=style]").input_value() == "reflective"
    person.goto(f"/people/{new_id}")
    assert "public speaking" in person.content()  # goals shown: she chose to
    assert person.locator("main script, main img, main svg, main iframe").count() == 0
    page.goto(f"/people/{new_id}")  # and HR sees the same page
    assert dialogs == []

    person.goto("/account/profile")
    person.get_by_role("button", name="Polski").click()
    person.wait_for_load_state()
    assert person.get_by_role("heading", name="Twój profil").is_visible()
    assert person.locator("html").get_attribute("lang") == "pl"
    screenshot(person, "accounts-profile-pl", tmp_path)
    assert dialogs == []


def test_hr_resets_and_deactivates_an_account(page: Any, new_page: Any, live_server: Any) -> None:
    target_id = add_person(live_server, "reset@example.com", "Reset Osoba", ("mentee",))
    with live_server.tandem.sessions() as s:
        found = s.get(people.Person, target_id)
        people.set_password(found, PASSWORD)
        s.commit()
    victim = new_page()
    login(victim, "reset@example.com")

    login(page, HR_ADMIN)
    link = issue_link(page, target_id, "Reset the password")
    victim.goto("/account/profile")
    assert "/login" in victim.url  # the reset ended the open session
    other = new_page()
    other.goto("/login")
    other.fill("input[name=email]", "reset@example.com")
    other.fill("input[name=password]", PASSWORD)
    other.click("main form button[type=submit]")
    other.wait_for_load_state()
    assert "/login" in other.url  # the old password no longer works

    victim.goto(link)
    victim.fill("input[name=password]", "after reset 42")
    victim.fill("input[name=confirm]", "after reset 42")
    victim.get_by_role("button", name="Set my password").click()
    victim.wait_for_load_state()
    login(victim, "reset@example.com", "after reset 42")

    page.goto(f"/account/people/{target_id}")
    page.get_by_role("button", name="Deactivate the account").click()
    page.wait_for_load_state()
    assert page.locator("#account-state").inner_text().strip() == "deactivated"
    victim.goto("/account/profile")
    assert "/login" in victim.url  # deactivation ended the session too
    with live_server.tandem.sessions() as s:
        from kb.models import AuditEntry

        actions = [e.action for e in s.query(AuditEntry).filter_by(target_id=target_id).all()]
    assert actions == ["account.reset", "account.deactivate"]


@pytest.mark.parametrize("locale", ["en-GB", "pl-PL"])
def test_account_pages_have_no_serious_accessibility_problems(
    new_page: Any, live_server: Any, locale: str
) -> None:
    page = new_page(locale=locale)
    target_id = add_person(live_server, f"axe-{locale}@example.com", "Axe Osoba", ("mentee",))
    login(page, HR_ADMIN)
    expected_lang = locale[:2]
    paths = [
        "/account/profile",
        "/account/password",
        "/account/tokens",
        f"/people/{person_id(live_server, 'anna@example.com')}",
        "/account/people/",
        f"/account/people/{target_id}",
    ]
    for path in paths:
        page.goto(path)
        assert page.locator("html").get_attribute("lang") == expected_lang, path
        assert accessibility_problems(page) == [], path
    page.locator("form[action$='/link'] button[type=submit]").click()
    page.wait_for_load_state()
    assert accessibility_problems(page) == [], "link shown"
    link = page.locator("#account-link").inner_text().strip()
    visitor = new_page(locale=locale)
    visitor.goto(link)
    assert accessibility_problems(visitor) == [], "set-password page"
