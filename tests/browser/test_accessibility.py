"""axe-core over each main page, in English and in Polish: no serious or critical violation.

Reader pages (home, search with results, a guide, a shared insight, login), a pair member's
page, and HR's programme and matching pages. With TANDEM_SCREENSHOTS=1 the Polish search page
and HR's programme page are also written to docs/screenshots/ (the README shows them).
"""

from __future__ import annotations

import pytest

from .conftest import HR_ADMIN, accessibility_problems, login, screenshot

MENTEE = "bogdan@example.com"


def check(tab, paths, locale):
    """Open each path: 200, the page's language, and axe's verdict, all problems at once."""
    problems = []
    for path in paths:
        response = tab.goto(path)
        assert response is not None and response.status == 200, (locale, path)
        assert tab.locator("html").get_attribute("lang") == locale[:2], (locale, path)
        problems += [f"{path}: {p}" for p in accessibility_problems(tab)]
    assert problems == [], locale


@pytest.mark.parametrize("locale", ["en-GB", "pl-PL"])
def test_reader_pages(new_page, live_server, locale, tmp_path):
    tab = new_page(locale=locale)
    library = live_server.library
    paths = ["/", "/search?q=Excel", f"/guides/{library.guide_slug}",
             f"/insights/{library.published_insight_id}", "/login"]  # fmt: skip
    check(tab, paths, locale)
    tab.goto("/search?q=Excel")
    assert tab.locator("ol.results li, .results li").count() > 0  # search with results
    if locale == "pl-PL":
        tab.set_viewport_size({"width": 1000, "height": 700})
        tab.goto("/search?q=Excel")
        screenshot(tab, "search-pl", tmp_path)


@pytest.mark.parametrize("locale", ["en-GB", "pl-PL"])
def test_pair_member_pages(new_page, live_server, locale):
    tab = new_page(locale=locale)
    login(tab, MENTEE)
    check(tab, ["/pair", "/programmes/"], locale)


@pytest.mark.parametrize("locale", ["en-GB", "pl-PL"])
def test_hr_and_matching_pages(new_page, live_server, locale, tmp_path):
    tab = new_page(locale=locale)
    login(tab, HR_ADMIN)
    paths = ["/hr/", "/hr/programmes/spring", "/hr/programmes/spring/proposal",
             "/hr/programmes/spring/gaps", f"/hr/recommend?mentee={MENTEE}",
             "/hr/programmes/spring/enrolment", "/hr/programmes/spring/weights",
             "/hr/audit"]  # fmt: skip
    check(tab, paths, locale)
    if locale == "en-GB":
        tab.set_viewport_size({"width": 1100, "height": 700})
        tab.goto("/hr/programmes/spring")
        screenshot(tab, "hr-programme", tmp_path)
