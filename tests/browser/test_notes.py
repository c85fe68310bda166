"""Session notes and shared insights in the browser (issue 16).

A mentee writes a note with the programme's template, the mentor adds to it, the mentee offers
an excerpt and the mentor agrees: the insight becomes public and a third account finds it by
search, while the note's own words never reach anyone outside the pair. Either member can then
withdraw it. A member downloads their own data, which holds nothing of another pair. The
note pages are checked with axe-core in English and in Polish.
"""

from __future__ import annotations

import json
import re
import zipfile

import pytest

from .conftest import accessibility_problems, login, screenshot

MENTEE = "bogdan@example.com"
MENTOR = "anna@example.com"
OUTSIDER = "celina@example.com"  # a mentor of another pair

PRIVATE_WORD = "Plumbozauber"  # in the note only, never in the excerpt
SHARED_WORD = "Frobnicatrix"  # in the note and in the excerpt
PIXEL = "https://tracker.example/p.gif"
EXCERPT = f"{SHARED_WORD} shortcuts in Excel save us an hour every week."


def search_text(page, query: str) -> str:
    """The text of the search results (the hits, not the echoed query)."""
    page.goto(f"/search?q={query}")
    hits = page.locator("ol.hits")
    return hits.inner_text() if hits.count() else ""


def test_a_pair_writes_a_note_shares_an_insight_and_withdraws_it(page, new_page, tmp_path):
    # The mentee writes a note with the template's sections.
    login(page, MENTEE)
    page.goto("/pair")
    page.get_by_role("link", name="Write a note").first.click()
    page.fill("#note-title", "Excel shortcuts session")
    page.fill("#note-date", "2024-05-08")
    page.fill("#note-learned", f"{SHARED_WORD} shortcuts for pivot tables.")
    page.fill("#note-tried", f"The {PRIVATE_WORD} budget file from finance.")
    page.get_by_role("button", name="Save note").click()
    page.wait_for_load_state()
    assert re.search(r"/notes/\d+$", page.url), page.url
    note_path = page.url.removeprefix(page.url.split("/notes/")[0])
    body = page.locator(".doc-body")
    assert body.get_by_role("heading", name="What we learned").is_visible()
    assert body.get_by_role("heading", name="What we tried").is_visible()
    assert PRIVATE_WORD in body.inner_text()

    # The mentor opens it from the pair page and adds next steps.
    mentor = new_page()
    login(mentor, MENTOR)
    mentor.goto("/pair")
    mentor.get_by_role("link", name="Excel shortcuts session").click()
    mentor.get_by_role("link", name="Edit note").click()
    body_md = mentor.locator("#note-body")
    body_md.fill(
        body_md.input_value()
        + "\n\n## Next steps\n\nTry the shortcuts on real reports."
        + f"\n\n![chart]({PIXEL})"  # a tracking pixel, say
    )
    mentor.get_by_role("button", name="Save note").click()
    mentor.wait_for_load_state()
    assert mentor.locator(".doc-body").get_by_role("heading", name="Next steps").is_visible()

    # The remote image is a link, and opening the note requests nothing from its host (the
    # harness bypasses the page's CSP, so this is the rendering's doing, not the CSP's).
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(note_path)
    assert page.locator(f".doc-body a[href='{PIXEL}']").count() == 1
    assert page.locator(".doc-body img").count() == 0
    assert [url for url in requested if "tracker.example" in url] == []

    # The mentee checks the excerpt (the exact public text, with a personal-data warning),
    # then offers a clean one.
    page.goto(note_path)
    page.fill("#insight-text", f"{EXCERPT} Ask anna@example.com.")
    page.get_by_role("button", name="Check the excerpt").click()
    page.wait_for_load_state()
    assert "anna@example.com" in page.locator(".insight-preview").inner_text()
    assert "anna@example.com" in page.locator("ul.personal-data").inner_text()
    page.fill("#insight-text", EXCERPT)
    page.get_by_role("button", name="Check the excerpt").click()
    page.wait_for_load_state()
    assert page.locator("ul.personal-data").count() == 0
    page.get_by_role("button", name="Offer as insight").click()
    page.wait_for_load_state()
    assert "becomes public once both of you agree" in page.content()

    # Not public yet: the outsider finds neither the excerpt nor the note.
    outsider = new_page()
    login(outsider, OUTSIDER)
    assert SHARED_WORD not in search_text(outsider, SHARED_WORD)
    assert PRIVATE_WORD not in search_text(outsider, PRIVATE_WORD)

    # The mentor sees it waiting for consent, reads the exact text and agrees.
    mentor.goto("/pair")
    pending = mentor.get_by_role("region", name="Waiting for your consent")
    pending.get_by_role("link").filter(has_text=SHARED_WORD).click()
    mentor.wait_for_load_state()
    assert mentor.locator("blockquote.insight-text").inner_text().strip() == EXCERPT
    mentor.get_by_role("button", name="I agree to publish this").click()
    mentor.wait_for_load_state()
    assert "the insight is now public" in mentor.content()
    screenshot(mentor, "note-insight-published", tmp_path)

    # Public: the outsider (and an anonymous reader) find the excerpt, never the note.
    found = search_text(outsider, SHARED_WORD)
    assert SHARED_WORD in found
    assert PRIVATE_WORD not in found and "Excel shortcuts session" not in found
    outsider.locator("ol.hits a").filter(has_text=SHARED_WORD).first.click()
    outsider.wait_for_load_state()
    shown = outsider.locator("main").inner_text()
    assert EXCERPT in shown and PRIVATE_WORD not in shown
    assert PRIVATE_WORD not in search_text(outsider, PRIVATE_WORD)
    anonymous = new_page()
    assert SHARED_WORD in search_text(anonymous, SHARED_WORD)
    response = outsider.goto(note_path)
    assert response is not None and response.status == 404
    assert PRIVATE_WORD not in outsider.content()

    # Either member withdraws: the mentee unpublishes, and search forgets it at once.
    page.goto(note_path)
    page.get_by_role("button", name="Unpublish").click()
    page.wait_for_load_state()
    assert SHARED_WORD not in search_text(outsider, SHARED_WORD)
    assert SHARED_WORD not in search_text(anonymous, SHARED_WORD)


@pytest.mark.parametrize("locale", ["en-GB", "pl-PL"])
def test_note_pages_have_no_serious_accessibility_problems(new_page, live_server, locale):
    tab = new_page(locale=locale)
    login(tab, MENTEE)
    note = live_server.library.pending_note_id  # with an insight waiting for consent
    tab.goto("/pair")
    new_note = tab.locator("a[href*='/notes/new']").first.get_attribute("href")
    assert new_note is not None
    for path in ("/pair", new_note, f"/notes/{note}", f"/notes/{note}/edit", "/me/data"):
        response = tab.goto(path)
        assert response is not None and response.status == 200, path
        assert tab.locator("html").get_attribute("lang") == locale[:2], path
        assert accessibility_problems(tab) == [], (locale, path)


def test_a_member_downloads_their_own_data_and_never_another_pairs(new_page, live_server):
    tab = new_page()
    login(tab, OUTSIDER)
    tab.get_by_role("link", name="Your data").click()
    with tab.expect_download() as started:
        tab.get_by_role("button", name="Download my data (zip)").click()
    download = started.value
    assert download.suggested_filename.endswith(".zip")
    with zipfile.ZipFile(download.path()) as archive:
        text = "\n".join(archive.read(n).decode("utf-8") for n in archive.namelist())
        data = json.loads(archive.read("data.json"))
    assert data["profile"]["email"] == OUTSIDER
    assert "Zyxelgate" not in text and PRIVATE_WORD not in text  # Anna and Bogdan's notes
