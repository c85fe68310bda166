from __future__ import annotations

import random
import re

import pytest

from kb.services.markup import drop_title_heading, markdown_to_text, render_markdown


def test_render_keeps_structure_and_links():
    html = render_markdown("# Title\n\nSee [the video](https://youtu.be/abc) and **this**.")
    assert "<h1>Title</h1>" in html and "<strong>this</strong>" in html
    assert 'href="https://youtu.be/abc"' in html and 'rel="noopener noreferrer nofollow"' in html


@pytest.mark.parametrize(
    "evil",
    [
        "<script>alert(1)</script>",
        '<iframe src="https://evil.example"></iframe>',
        "[click](javascript:alert(1))",
        '<a href="javascript:alert(1)">click</a>',
        '<img src=x onerror="alert(1)">',
        '<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>',
        '<div style="background:url(javascript:alert(1))" onclick="x()">x</div>',
    ],
)
def test_render_removes_active_content(evil):
    html = render_markdown(f"Hello\n\n{evil}\n\nbye").lower()
    for bad in ("<script", "<iframe", "onerror", "onclick", "style="):
        assert bad not in html
    assert not re.search(r"(href|src)\s*=\s*[\"']?\s*(javascript|data):", html)


def test_text_keeps_headings_and_link_texts_without_markup():
    text = markdown_to_text(
        "# Heading\n\nA [link text](https://x.org) and `code`.\n\n- one\n- two\n\n"
        "<script>secret()</script>\n\n| a | b |\n|---|---|\n| c | d |"
    )
    assert text.split("\n\n")[0] == "Heading"
    assert "link text" in text and "code" in text and "one" in text and "two" in text
    assert "https://" not in text and "secret()" not in text and "|" not in text


def test_broken_markdown_never_crashes():
    rng = random.Random(7)
    alphabet = "[]()<>*_`#>-!|\\\n :/a"
    samples = [
        "[" * 3000,
        "[x](y " * 2000,
        "<a " * 2000,
        ">" * 3000,
        "```\nunterminated",
        "\x00",
        "| a |\n|",
        "<div><p>unclosed",
    ]
    samples += ["".join(rng.choice(alphabet) for _ in range(400)) for _ in range(50)]
    for md in samples:
        assert isinstance(render_markdown(md), str)
        assert isinstance(markdown_to_text(md), str)


# Issue 18, finding 6: no silent content loss. Every test ends with a word that must survive.

LAST = "Lastword"


def assert_kept(md: str) -> None:
    html = render_markdown(md)
    assert LAST in html, html[-300:]
    assert LAST in markdown_to_text(md)
    # The rest is rendered, not shown as escaped markup of the following paragraphs.
    assert "&lt;/p&gt;" not in html and "&lt;p&gt;" not in html


def test_deeply_nested_list_keeps_what_follows():
    nested = "".join("  " * i + f"- level {i}\n" for i in range(12))
    assert_kept(f"{nested}\nAfter the list, {LAST}.\n")
    text = markdown_to_text(nested)
    assert all(f"level {i}" in text for i in range(12))


@pytest.mark.parametrize(
    "tag",
    ["script", "style", "iframe", "noscript", "template", "object", "textarea", "title", "xmp",
     "plaintext", "noembed", "noframes", "svg", "math", "select"],
)  # fmt: skip
@pytest.mark.parametrize("where", ["inline", "block"])
def test_unclosed_raw_html_keeps_what_follows(tag: str, where: str):
    opening = f"Some prose <{tag}> inline." if where == "inline" else f"<{tag}>"
    md = f"Before.\n\n{opening}\n\nA paragraph.\n\n- a list item\n\nAt the end, {LAST}.\n"
    assert_kept(md)
    html = render_markdown(md).lower()
    assert f"<{tag}" not in html  # shown as text, never as an element


@pytest.mark.parametrize(
    "opening",
    ["<!-- never closed", '<div>\n<a title="never closed', "<?php unfinished", "<![CDATA["],
)
def test_unclosed_comments_tags_and_quotes_keep_what_follows(opening: str):
    assert_kept(f"Before.\n\n{opening}\n\nA paragraph.\n\nAt the end, {LAST}.\n")


def test_closed_script_and_comments_are_dropped_with_their_content():
    md = f"<script>\nsteal()\n</script>\n\nText <!-- hidden --> and <style>p{{}}</style> {LAST}."
    html = render_markdown(md)
    assert "steal()" not in html and "hidden" not in html and "p{}" not in html
    assert LAST in html


def test_nesting_over_the_limit_is_shown_as_text_with_the_reason():
    from kb.services.markup import MAX_NESTING, MarkupError, check_markdown

    deep = "".join("  " * i + f"- level {i}\n" for i in range(MAX_NESTING)) + f"\n{LAST}\n"
    with pytest.raises(MarkupError, match="nested more than"):
        check_markdown(deep)
    html = render_markdown(deep)
    assert "nested more than" in html and LAST in html and "level 0" in html
    assert LAST in markdown_to_text(deep)
    quotes = ">" * 200 + f" {LAST}"
    assert LAST in render_markdown(quotes) and LAST in markdown_to_text(quotes)
    divs = "<div>" * 5000 + LAST
    with pytest.raises(MarkupError, match="HTML elements are nested"):
        check_markdown(divs)
    assert LAST in render_markdown(divs)


# Finding 7: cost. Work is measured (parser steps, renders), never wall time.


def test_rendered_html_is_cached_by_content():
    from kb.services.markup import RENDER_CACHE

    md = f"# A cached page\n\n{'[' * 5000} {LAST}"
    before = RENDER_CACHE.renders
    first = render_markdown(md)
    assert RENDER_CACHE.renders == before + 1
    for _ in range(5):
        assert render_markdown(md) == first
    assert RENDER_CACHE.renders == before + 1
    render_markdown(md + " changed")
    assert RENDER_CACHE.renders == before + 2


@pytest.mark.parametrize("unit", ["[", "![", "*a", "<a ", "[x](y ", "`", "_a "])
def test_render_work_grows_linearly_with_input(unit: str, monkeypatch: pytest.MonkeyPatch):
    """The inline parser's steps per input character stay the same when the input grows
    eight times (a quadratic pattern would multiply them by eight)."""
    import markdown_it.parser_inline as inline

    from kb.services.markup import _to_html_uncached as _to_html

    steps = 0
    tokenize = inline.ParserInline.tokenize
    skip = inline.ParserInline.skipToken

    def count_skip(self, state):  # noqa: ANN001, ANN202
        nonlocal steps
        steps += 1
        return skip(self, state)

    def count_tokenize(self, state):  # noqa: ANN001, ANN202
        nonlocal steps
        steps += state.posMax - state.pos
        return tokenize(self, state)

    monkeypatch.setattr(inline.ParserInline, "skipToken", count_skip)
    monkeypatch.setattr(inline.ParserInline, "tokenize", count_tokenize)
    per_char = []
    for size in (2_000, 16_000):
        steps = 0
        md = unit * (size // len(unit))
        html = _to_html(md)
        per_char.append(steps / len(md))
        assert len(html) < 12 * len(md) + 100  # output bounded by input too
    assert per_char[1] <= per_char[0] * 1.2 + 1, per_char


# Finding 9: remote images in private content.


def test_private_render_loads_no_remote_image():
    md = (
        "![pixel](https://tracker.example/p.gif) and ![local](/static/favicon.svg)\n\n"
        '<img src="https://tracker.example/q.gif" alt="raw"> and '
        '<img src="//tracker.example/r.gif">'
    )
    private = render_markdown(md, remote_images=False)
    assert not re.search(r"<img[^>]+src=\"?(https?:)?//", private)
    assert 'href="https://tracker.example/p.gif"' in private  # still reachable, as a link
    assert '<img src="/static/favicon.svg"' in private
    public = render_markdown(md)
    assert '<img src="https://tracker.example/p.gif"' in public


@pytest.mark.parametrize(
    ("md", "title", "left"),
    [
        ("# Hello  World\n\nBody\n\n# Hello World", "hello world", "Body\n\n# Hello World"),
        ("\n  # *Hello* World #\r\n\r\nBody", "Hello World", "Body"),
        ("Hello World\n===\nBody", "Hello World", "Body"),
        ("# Hello World", "Hello World", ""),
    ],
)
def test_a_leading_heading_repeating_the_title_is_dropped(md, title, left):
    assert drop_title_heading(md, title) == left


@pytest.mark.parametrize(
    "md",
    [
        "## Hello World\n\nBody",  # not a first-level heading
        "# Hello, other world\n\nBody",  # says something else
        "Intro\n\n# Hello World",  # not at the start
        "> # Hello World\n\nBody",  # quoted
        "```\n# Hello World\n\n```",  # code
        "    # Hello World\n\nBody",  # indented code
    ],
)
def test_other_openings_are_kept(md):
    assert drop_title_heading(md, "Hello World") == md
