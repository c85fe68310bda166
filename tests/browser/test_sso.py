"""Single sign-on in Chromium: the login page's button, the provider's own sign-in page (a real
OpenID provider on loopback, tests/web/oidc_provider.py) and back, logged in; a person without
an account is refused in their language; the login page with the button passes axe; a person
sees their link on their profile and removes it there (axe before and after, English and
Polish)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from web.conftest import load_library
from web.oidc_provider import CLIENT_ID, Provider, serve_provider

from kb.app import create_app
from kb.config import load_settings
from kb.runtime import open_tandem

from .conftest import LiveServer, accessibility_problems, screenshot, serve_app


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with serve_provider() as found:
        yield found


@pytest.fixture(scope="module")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, provider: Provider
) -> Iterator[LiveServer]:
    """The app with single sign-on configured against the loopback provider."""
    folder = tmp_path_factory.mktemp("live-sso")
    settings = load_settings(
        {
            "TANDEM_OIDC_ISSUER": provider.issuer,
            "TANDEM_OIDC_CLIENT_ID": CLIENT_ID,
            "TANDEM_OIDC_CLIENT_SECRET": "s3cret",
            "TANDEM_OIDC_LABEL": "Example ID",
        },
        {
            "instance_dir": folder / "instance",
            "database_url": f"sqlite:///{folder / 'instance' / 'tandem.sqlite3'}",
            "search_models": ("fake",),
            "import_models": ("fake",),
        },
    )
    tandem = open_tandem(settings)
    library = load_library(tandem)
    app = create_app(test_config={"SECRET_KEY": "browser-tests"}, tandem=tandem)
    with serve_app(app, tandem, library) as server:
        yield server


def through_provider(page: Any, provider: Provider, sub: str, button: str) -> None:
    page.goto("/login")
    page.click(f"text={button}")
    page.wait_for_url(f"{provider.issuer}/oauth2/authorize*")
    page.fill("input[name=sub]", sub)
    page.click("button:has-text('Authorize')")
    page.wait_for_load_state()


def test_an_existing_account_signs_in_through_the_provider(
    page: Any, provider: Provider, live_server: LiveServer
) -> None:
    provider.set_user("anna-at-idp", email="anna@example.com", email_verified=True)
    page.goto("/login")
    assert accessibility_problems(page) == []
    screenshot(page, "sso-login")
    through_provider(page, provider, "anna-at-idp", "Sign in with Example ID")
    assert page.url == live_server("/")
    assert page.is_visible("text=Welcome, Anna Mentor.")
    assert page.is_visible("button:has-text('Log out')")


def test_an_unknown_person_is_refused_in_polish(
    new_page: Any, provider: Provider, live_server: LiveServer
) -> None:
    provider.set_user("stranger", email="stranger@example.com", email_verified=True)
    page = new_page(locale="pl-PL")
    page.goto("/login")
    assert accessibility_problems(page) == []
    through_provider(page, provider, "stranger", "Zaloguj się przez Example ID")
    assert "/login/sso/callback" in page.url
    assert page.is_visible("text=W Tandem nie ma konta dla adresu e-mail")
    assert not page.is_visible("button:has-text('Wyloguj')")


def test_a_person_sees_their_link_on_the_profile_and_removes_it(
    page: Any, new_page: Any, provider: Provider, live_server: LiveServer
) -> None:
    provider.set_user("bogdan-at-idp", email="bogdan@example.com", email_verified=True)
    through_provider(page, provider, "bogdan-at-idp", "Sign in with Example ID")
    assert page.url == live_server("/")
    page.goto("/account/profile")
    section = page.locator("#sso")
    assert section.is_visible() and section.inner_text() == "Single sign-on"
    assert page.is_visible(f"text=Linked to Example ID ({provider.issuer}) since")
    assert page.is_visible("text=Last sign-in:")
    assert accessibility_problems(page) == []
    screenshot(page, "sso-profile")
    page.click("button:has-text('Remove my single sign-on link')")
    page.wait_for_load_state()
    assert page.url == live_server("/account/profile#sso")
    assert page.is_visible("text=Your single sign-on link is removed.")
    assert page.locator("#sso").count() == 0
    assert not page.is_visible("button:has-text('Remove my single sign-on link')")
    assert page.is_visible("button:has-text('Log out')")  # this session goes on
    assert accessibility_problems(page) == []

    # Signing in through the provider again links it again; the section in Polish passes axe.
    polish = new_page(locale="pl-PL")
    through_provider(polish, provider, "bogdan-at-idp", "Zaloguj się przez Example ID")
    polish.goto("/account/profile")
    assert polish.locator("#sso").inner_text() == "Logowanie jednokrotne (SSO)"
    assert polish.is_visible(f"text=Powiązane z Example ID ({provider.issuer}) od")
    assert polish.is_visible("button:has-text('Usuń moje powiązanie logowania jednokrotnego')")
    assert accessibility_problems(polish) == []
