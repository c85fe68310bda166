"""Markdown for display (sanitised HTML) and for indexing (plain text): pure functions."""

from __future__ import annotations

import functools
import re
from html.parser import HTMLParser

import nh3
from markdown_it import MarkdownIt

# What rendered markdown may contain: text structure, links, images, tables, code. Never
# scripts, iframes, styles, event handlers or forms; nh3 drops whatever is not listed here.
ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "dd",
    "del",
    "div",
    "dl",
    "dt",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "td": {"align", "colspan", "rowspan"},
    "th": {"align", "colspan", "rowspan"},
    "ol": {"start"},
}
# Links (including video links) stay links; javascript:, data: and friends are removed.
URL_SCHEMES = {"http", "https", "mailto"}
# Tags removed together with their content (not just unwrapped).
DROP_CONTENT_TAGS = {"script", "style", "iframe", "object", "embed", "template", "noscript"}


def _parser() -> MarkdownIt:
    # CommonMark (linear-time parsing, unlike Python-Markdown which is quadratic on unclosed
    # brackets) plus GitHub-style tables and strikethrough. Raw HTML is parsed, then nh3 decides.
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def _to_html(md: str) -> str:
    return _parser().render((md or "").replace("\x00", "\ufffd"))


def render_markdown(md: str) -> str:
    """Markdown as safe HTML for display: sanitised with nh3, links get rel=noopener."""
    return nh3.clean(
        _to_html(md),
        tags=ALLOWED_TAGS,
        clean_content_tags=DROP_CONTENT_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )


_BLOCK_TAGS = {
    "p",
    "div",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "ul",
    "ol",
    "blockquote",
    "pre",
    "table",
    "tr",
    "dl",
    "dt",
    "dd",
    "hr",
    "br",
}
_CELL_TAGS = {"td", "th"}


class _TextExtractor(HTMLParser):
    """Collects visible text; block elements become paragraph breaks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in DROP_CONTENT_TAGS:
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")
        elif tag in _CELL_TAGS:
            self.parts.append(" ")
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.parts.append(f" {alt} ")

    def handle_endtag(self, tag: str) -> None:
        if tag in DROP_CONTENT_TAGS:
            self._skip = max(self._skip - 1, 0)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


_SPACES = re.compile(r"[ \t\f\v]+")
_BREAKS = re.compile(r"\s*\n\s*\n\s*")


def markdown_to_text(md: str) -> str:
    """Plain text of markdown for indexing: markup stripped, link texts and headings kept.

    Paragraphs, headings and list items become paragraphs (blank-line separated) so the
    chunker can cut between them. Memoised for ordinary sizes: an import converts each
    document more than once (planning, then writing).
    """
    if len(md or "") <= _MEMO_MAX_CHARS:
        return _markdown_to_text_memo(md or "")
    return _markdown_to_text(md)


_MEMO_MAX_CHARS = 256 * 1024


def _markdown_to_text(md: str) -> str:
    extractor = _TextExtractor()
    extractor.feed(_to_html(md))
    extractor.close()
    text = "".join(extractor.parts)
    paragraphs = [_SPACES.sub(" ", p).strip() for p in _BREAKS.split(text)]
    paragraphs = [" ".join(p.split("\n")).strip() for p in paragraphs]
    return "\n\n".join(p for p in paragraphs if p)


_markdown_to_text_memo = functools.lru_cache(maxsize=512)(_markdown_to_text)
