"""Reading in the browser: search, a guide, the pair's private note, and who may not see it."""

from __future__ import annotations

import pytest

from .conftest import accessibility_problems, login, screenshot


def test_anonymous_search_finds_the_guide_and_its_script_never_runs(page, live_server):
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto("/search?q=Copilot")
    link = page.get_by_role("link", name="Copilot w Excelu").first
    link.click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Copilot w Excelu").first.is_visible()
    assert "sprawdzaj wyniki" in page.content()
    assert dialogs == []  # the <script> in the guide's markdown was not executed


def test_a_pair_member_reads_the_private_note_and_another_mentor_cannot(
    page, new_page, live_server
):
    note = f"/notes/{live_server.library.private_note_id}"
    login(page, "bogdan@example.com")
    page.goto(note)
    assert "Zyxelgate" in page.content()

    other = new_page()
    login(other, "celina@example.com")
    response = other.goto(note)
    assert response is not None and response.status in (403, 404)
    assert "Zyxelgate" not in other.content()
    other.goto("/search?q=Zyxelgate")
    assert "Zyxelgate budget" not in other.content()


@pytest.mark.parametrize(
    "path",
    ["/", "/search?q=Excel", "/guides", "/login"],
)
def test_public_pages_have_no_serious_accessibility_problems(page, live_server, path):
    page.goto(path)
    assert accessibility_problems(page) == []


def test_logged_in_pages_have_no_serious_accessibility_problems(page, live_server, tmp_path):
    login(page, "bogdan@example.com")
    for path in ("/pair", f"/notes/{live_server.library.private_note_id}"):
        page.goto(path)
        assert accessibility_problems(page) == [], path
    screenshot(page, "note", tmp_path)
