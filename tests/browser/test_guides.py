"""Writing a guide in the browser: write, preview, publish, edit, restore, found by another
account; the XSS corpus in every field runs nothing; the editor pages pass axe."""

from __future__ import annotations

from .conftest import accessibility_problems, login, screenshot

BODY = (
    "# Tabele przestawne z Copilotem\n\n"
    "Poproś Copilota o tabelę przestawną z danych **Marmoset** i sprawdź sumy.\n"
)


def test_a_mentor_writes_previews_publishes_edits_and_restores(page, new_page, tmp_path):
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    login(page, "celina@example.com")
    page.goto("/guides/new")
    page.fill("input[name=title]", "Marmoset pivot tables")
    page.fill("textarea[name=body_md]", BODY + "\n<img src=x onerror=alert(1)>\n")
    page.fill("input[name=tags]", "excel, pivot")
    page.fill("textarea[name=videos]", "https://youtu.be/abc | Pivot in 2 minutes | 2:00")
    page.get_by_role("button", name="Preview").click()
    page.wait_for_load_state()
    preview = page.locator(".preview")
    assert preview.locator("strong", has_text="Marmoset").is_visible()
    assert "Pivot in 2 minutes" in preview.inner_text()
    assert "PL" in page.locator("#language-hint").inner_text()  # detected from the text
    assert accessibility_problems(page) == []
    screenshot(page, "guide-editor", tmp_path)

    page.get_by_role("button", name="Save and publish").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Tabele przestawne z Copilotem").is_visible() or (
        page.get_by_role("heading", name="Marmoset pivot tables").is_visible()
    )
    slug = page.url.rstrip("/").rsplit("/", 1)[-1]

    page.goto(f"/guides/{slug}/edit")
    page.fill("textarea[name=body_md]", BODY.replace("sprawdź sumy", "nie sprawdzaj niczego"))
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_load_state()

    page.goto(f"/guides/{slug}/revisions")
    assert accessibility_problems(page) == []
    page.get_by_role("button", name="Compare").click()
    page.wait_for_load_state()
    assert "nie sprawdzaj niczego" in page.locator("pre.diff ins").all_inner_texts()[0]
    page.goto(f"/guides/{slug}/revisions")
    page.get_by_role("button", name="Restore revision 1").click()
    page.wait_for_load_state()
    assert "restored as revision 3" in page.content()

    reader = new_page()
    login(reader, "bogdan@example.com")
    reader.goto("/search?q=Marmoset")
    reader.get_by_role("link", name="Marmoset pivot tables").first.click()
    reader.wait_for_load_state()
    assert "sprawdź sumy" in reader.content()
    assert "nie sprawdzaj" not in reader.content()
    assert "Pivot in 2 minutes" in reader.content()
    assert dialogs == []


XSS = [
    "<script>alert('title')</script>",
    "<img src=x onerror=alert('img')>",
    "<svg onload=alert('svg')></svg>",
    "[link](javascript:alert('link'))",
    "![img](javascript:alert('image'))",
    "[data](data:text/html,<script>alert('data')</script>)",
    "<a href=\"javascript:alert('a')\">a</a>",
]


def test_the_xss_corpus_runs_nothing_in_a_real_browser(page, live_server):
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    login(page, "anna@example.com")
    corpus = "\n\n".join(XSS)
    page.goto("/guides/new")
    page.fill("input[name=title]", "XSS " + XSS[0] + XSS[1])
    page.fill("textarea[name=body_md]", corpus)
    page.fill("input[name=tags]", ", ".join(["xss", *XSS[:3]]))
    page.fill("textarea[name=videos]", "https://youtu.be/x | " + XSS[2] + XSS[1] + " | 1:00")
    page.get_by_role("button", name="Preview").click()
    page.wait_for_load_state()
    page.get_by_role("button", name="Save and publish").click()
    page.wait_for_load_state()
    if "Before you publish" in page.content():
        page.get_by_role("button", name="Publish anyway").click()
        page.wait_for_load_state()
    slug = page.url.rstrip("/").rsplit("/", 1)[-1]
    for path in (f"/guides/{slug}", f"/guides/{slug}/edit", f"/guides/{slug}/revisions",
                 "/guides", "/guides/mine", "/search?q=XSS"):  # fmt: skip
        page.goto(path)
        for link in page.locator("main a[href^='javascript:'], main a[href^='data:']").all():
            raise AssertionError(f"{path}: script link {link.get_attribute('href')}")
    assert dialogs == []


def test_my_guides_page_passes_axe(page, live_server):
    login(page, "anna@example.com")
    page.goto("/guides/mine")
    assert accessibility_problems(page) == []
