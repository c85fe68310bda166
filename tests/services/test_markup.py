from __future__ import annotations

import random
import re

import pytest

from kb.services.markup import markdown_to_text, render_markdown


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
