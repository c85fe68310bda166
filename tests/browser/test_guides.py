"""Writing a guide in the browser: write, preview, publish, edit, restore, found by another
account; the editor and the guide page pass axe in Polish and English; an XSS corpus in the
title, body, tags and videos runs nothing.

The browser contexts bypass the Content-Security-Policy (so axe can be injected): an injected
script would run here, so the sanitiser alone is what these tests exercise.
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import accessibility_problems, login, screenshot

BODY = (
    "# Tabele przestawne z Copilotem\n\n"
    "Poproś Copilota o tabelę przestawną z danych **Marmoset** i sprawdź sumy.\n"
)


def watch_dialogs(page: Any) -> list[str]:
    """Every alert/confirm/prompt the page opens (each would be a script that ran)."""
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    return dialogs


def test_a_mentor_writes_previews_publishes_edits_and_restores(page, new_page, tmp_path):
    dialogs = watch_dialogs(page)
    login(page, "celina@example.com")
    page.goto("/guides/new")
    page.fill("input[name=title]", "Marmoset pivot tables")
    page.fill("textarea[name=body_md]", BODY)
    page.fill("input[name=tags]", "excel, pivot")
    page.fill("textarea[name=videos]", "https://youtu.be/abc | Pivot in 2 minutes | 2:00")
    page.get_by_role("button", name="Preview").click()
    page.wait_for_load_state()
    preview = page.locator(".preview")
    assert preview.locator("strong", has_text="Marmoset").is_visible()
    assert "Pivot in 2 minutes" in preview.inner_text()
    assert "Polish" in page.locator("#language-hint").inner_text()  # detected from the text
    # the form keeps what was typed: previewing loses nothing
    assert page.input_value("input[name=title]") == "Marmoset pivot tables"
    assert "sprawdź sumy" in page.input_value("textarea[name=body_md]")
    assert accessibility_problems(page) == []
    screenshot(page, "guide-editor", tmp_path)

    page.get_by_role("button", name="Save and publish").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Marmoset pivot tables").first.is_visible()
    slug = page.url.rstrip("/").rsplit("/", 1)[-1]
    assert slug and slug != "publish"

    page.goto(f"/guides/{slug}/edit")
    page.fill("textarea[name=body_md]", BODY.replace("sprawdź sumy", "nie sprawdzaj niczego"))
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_load_state()
    page.goto(f"/guides/{slug}")
    assert "nie sprawdzaj niczego" in page.content()  # the edit is live

    page.goto(f"/guides/{slug}/revisions")
    assert accessibility_problems(page) == []
    page.get_by_role("button", name="Compare").click()
    page.wait_for_load_state()
    assert "nie sprawdzaj niczego" in " ".join(page.locator("pre.diff ins").all_inner_texts())
    page.goto(f"/guides/{slug}/revisions")
    page.get_by_role("button", name="Restore revision 1").click()
    page.wait_for_load_state()
    assert "restored as revision 3" in page.content()

    # Another account finds the restored guide by search and reads revision 1's text.
    reader = new_page()
    reader_dialogs = watch_dialogs(reader)
    login(reader, "bogdan@example.com")
    reader.goto("/search?q=Marmoset")
    reader.get_by_role("link", name="Marmoset pivot tables").first.click()
    reader.wait_for_load_state()
    assert reader.url.rstrip("/").endswith(f"/guides/{slug}")
    assert "sprawdź sumy" in reader.content()
    assert "nie sprawdzaj" not in reader.content()
    assert "Pivot in 2 minutes" in reader.content()
    # ... and has no way to edit it: someone else's guide has no editing pages
    assert reader.locator(f"a[href$='/guides/{slug}/edit']").count() == 0
    assert reader.goto(f"/guides/{slug}/edit").status == 404
    assert dialogs == [] and reader_dialogs == []


@pytest.mark.parametrize(
    ("locale", "lang", "heading", "save"),
    [("en-GB", "en", "Write a guide", "Save and publish"),
     ("pl-PL", "pl", "Napisz poradnik", "Zapisz i opublikuj")],
)  # fmt: skip
def test_the_editor_and_the_guide_page_pass_axe_in_both_languages(
    new_page, live_server, locale, lang, heading, save
):
    page = new_page(locale=locale)
    login(page, "anna@example.com")
    page.goto("/guides/new")
    assert page.locator("html").get_attribute("lang") == lang
    assert page.get_by_role("heading", name=heading).is_visible()  # translated, not just tagged
    assert page.get_by_role("button", name=save).is_visible()
    assert accessibility_problems(page) == []
    page.goto(f"/guides/{live_server.library.guide_slug}/edit")
    assert accessibility_problems(page) == []
    page.goto(f"/guides/{live_server.library.guide_slug}")
    assert page.locator("html").get_attribute("lang") == lang
    assert page.get_by_role("heading", name="Copilot w Excelu").first.is_visible()
    assert accessibility_problems(page) == []
    page.goto("/guides/mine")
    assert accessibility_problems(page) == []


# Each payload tries to run script: if one does, it opens a dialog or sets window.pwned.
XSS = [
    "<script>alert('script');window.pwned=1</script>",
    "<img src=x onerror=\"alert('img');window.pwned=1\">",
    "<svg onload=\"alert('svg');window.pwned=1\"><circle r=5></circle></svg>",
    "<svg><script>alert('svg-script')</script></svg>",
    "<iframe src=\"javascript:alert('iframe')\"></iframe>",
    "<object data=\"data:text/html,<script>alert('object')</script>\"></object>",
    "<a href=\"javascript:alert('a')\" id=xss-anchor>anchor</a>",
    "<a href=\"JaVaScRiPt:alert('case')\">case</a>",
    "<a href=\"&#106;avascript:alert('entity')\">entity</a>",
    "<div style=\"background:url(javascript:alert('style'))\" onclick=alert('div')>div</div>",
    "<details open ontoggle=\"alert('toggle')\">details</details>",
    "<math><a xlink:href=\"javascript:alert('math')\">math</a></math>",
    "[link](javascript:alert('link'))",
    "[spaced](  javascript:alert('spaced'))",
    "[entity](&#x6A;avascript:alert('md-entity'))",
    "![image](javascript:alert('image'))",
    "![alt\" onerror=\"alert('alt')](x.png)",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgnZGF0YScpPC9zY3JpcHQ+)",
    "[ref link][r]\n\n[r]: javascript:alert('reference')",
    "<https://example.org/\"onmouseover=\"alert('autolink')>",
    "```html\n<script>alert('code')</script>\n```",
]

# What must not exist in the page's <main> after rendering the corpus.
INJECTED = """() => {
  const main = document.querySelector('main') || document.body;
  const found = [];
  for (const el of main.querySelectorAll('*')) {
    const tag = el.tagName.toLowerCase();
    if (['script', 'iframe', 'object', 'embed', 'svg', 'math', 'style', 'details',
         'base', 'meta', 'link', 'frame'].includes(tag)) found.push(tag);
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      const value = attr.value.replace(/[\\s\\u0000-\\u001f]/g, '').toLowerCase();
      if (name.startsWith('on')) found.push(tag + '[' + name + ']');
      if (name === 'style' && value.includes('javascript:')) found.push(tag + '[style]');
      if (['href', 'src', 'data', 'action', 'formaction', 'xlink:href'].includes(name)
          && (value.startsWith('javascript:') || value.startsWith('vbscript:')
              || value.startsWith('data:'))) found.push(tag + '[' + name + '=' + value + ']');
    }
  }
  if (window.pwned) found.push('window.pwned');
  if (main.querySelector('#xss-anchor')) found.push('#xss-anchor');
  return found;
}"""


def injected(page: Any) -> list[str]:
    # hovering and clicking the rendered body would fire handlers that slipped through
    for element in page.locator("main .doc-body a").all()[:40]:
        element.hover(timeout=2_000)
    return list(page.evaluate(INJECTED))


def test_the_xss_corpus_runs_nothing_in_a_real_browser(page, live_server):
    dialogs = watch_dialogs(page)
    login(page, "anna@example.com")
    corpus = "\n\n".join(XSS)
    page.goto("/guides/new")
    page.fill("input[name=title]", "XSS " + XSS[0] + XSS[1] + XSS[2])
    page.fill("textarea[name=body_md]", corpus)
    page.fill("input[name=tags]", ", ".join(["xss", *XSS[:3], XSS[6]]))
    page.fill(
        "textarea[name=videos]",
        "https://youtu.be/x | " + XSS[2] + XSS[1] + " | 1:00\n"
        "javascript:alert('video') | bad link | 1:00",
    )
    page.get_by_role("button", name="Preview").click()
    page.wait_for_load_state()
    assert injected(page) == [], "preview"
    # The bad video link is refused with a message: fix it and publish.
    page.fill("textarea[name=videos]", "https://youtu.be/x | " + XSS[2] + XSS[1] + " | 1:00")
    page.get_by_role("button", name="Save and publish").click()
    page.wait_for_load_state()
    if page.get_by_role("button", name="Publish anyway").count():
        page.get_by_role("button", name="Publish anyway").click()
        page.wait_for_load_state()
    slug = page.url.rstrip("/").rsplit("/", 1)[-1]
    assert page.url.rstrip("/").endswith(f"/guides/{slug}") and slug != "new"
    # The payloads are shown as text, not dropped silently: the title is readable.
    assert "<script>" in page.locator("h1").first.inner_text()
    for path in (f"/guides/{slug}", f"/guides/{slug}/edit", f"/guides/{slug}/revisions",
                 f"/guides/{slug}/diff?from=1&to=1", "/guides", "/guides/mine",
                 "/search?q=XSS"):  # fmt: skip
        page.goto(path)
        page.wait_for_load_state()
        assert injected(page) == [], path
    reader = new_reader(page, live_server)
    reader_dialogs = watch_dialogs(reader)
    reader.goto(f"/guides/{slug}")
    assert injected(reader) == [], "reader"
    assert dialogs == [] and reader_dialogs == []
    # Control: the same checks do see a script that runs (the CSP is bypassed here).
    reader.evaluate(
        """() => document.querySelector('main').insertAdjacentHTML('beforeend',
        '<img src=x onerror="alert(1);window.pwned=1">')"""
    )
    reader.wait_for_function("() => window.pwned === 1")
    assert "img[onerror]" in injected(reader) and reader_dialogs == ["1"]
    reader.close()


def new_reader(page: Any, live_server: Any) -> Any:
    """A second tab of a separate, logged-in browser context (someone else)."""
    context = page.context.browser.new_context(base_url=live_server.url, bypass_csp=True)
    reader = context.new_page()
    login(reader, "bogdan@example.com")
    return reader


def test_a_mentor_uploads_plays_and_deletes_a_video(page, new_page, live_server, tmp_path):
    """The upload page works without JavaScript (a plain multipart form), passes axe in
    English and Polish, and the uploaded file is served as a video to the uploader's other
    browser but not to someone else while no guide links to it; deleting it asks first."""
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(2048))
    login(page, "celina@example.com")
    page.goto("/guides/mine")
    page.get_by_role("link", name="My videos").click()
    page.wait_for_load_state()
    assert accessibility_problems(page) == []
    page.set_input_files("input[name=video]", str(video))
    page.get_by_role("button", name="Upload").click()
    page.wait_for_load_state()
    assert "Video uploaded" in page.inner_text("main")
    link = page.locator("main li a").first
    href = link.get_attribute("href")
    assert href and href.startswith("/guides/videos/") and href.endswith(".mp4")
    assert accessibility_problems(page) == []
    screenshot(page, "guide-videos", tmp_path)
    polish = new_page(locale="pl-PL")
    login(polish, "celina@example.com")
    polish.goto("/guides/videos")
    assert polish.get_by_role("heading", name="Moje filmy").is_visible()
    assert accessibility_problems(polish) == []
    answer = polish.request.get(href)
    assert answer.status == 200 and answer.headers["content-type"] == "video/mp4"
    assert answer.body() == video.read_bytes()
    other = new_page()
    login(other, "bogdan@example.com")
    assert other.request.get(href).status == 404  # linked from no guide: the uploader's alone

    page.get_by_role("button", name="Delete…").first.click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Delete a video").is_visible()
    assert accessibility_problems(page) == []
    page.get_by_role("button", name="Delete the video").click()
    page.wait_for_load_state()
    assert "Video deleted" in page.inner_text("main")
    assert polish.request.get(href).status == 404
