"""Markdown for display (sanitised HTML) and for indexing (plain text): pure functions."""

from __future__ import annotations

import functools
import hashlib
import re
import threading
import unicodedata
from collections import OrderedDict
from html.parser import HTMLParser

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml

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


# Nesting: markdown (lists, quotes) deeper than MAX_NESTING levels, or raw HTML elements
# nested deeper than MAX_HTML_DEPTH, is refused (the parser would otherwise drop the rest of
# the document, and the sanitiser's work grows with the square of the HTML depth).
MAX_NESTING = 32
MAX_HTML_DEPTH = 64
# Raw HTML elements that swallow what follows when they are not closed (raw-text and
# foreign elements). Closed, they are dropped with their content as before; unclosed, the
# raw HTML is shown as text, so the rest of the document stays on the page and in the index.
SWALLOWING = (
    "script|style|iframe|noscript|template|object|applet|textarea|title|xmp|plaintext"
    "|noembed|noframes|frameset|svg|math|select"
)
_OPENING = re.compile(rf"<\s*({SWALLOWING})(?=[\s/>]|$)", re.IGNORECASE)


def _closes(name: str, text: str) -> bool:
    return (
        name.lower() != "plaintext"
        and re.search(rf"</\s*{name}\s*>", text, re.IGNORECASE) is not None
    )


# Elements an HTML parser closes by itself; they never deepen the tree without bound.
_SELF_CLOSING = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
    "source", "track", "wbr", "p", "li", "dt", "dd", "tr", "td", "th", "thead", "tbody", "tfoot",
    "option", "optgroup", "rb", "rt", "rp", "colgroup", "caption",
}  # fmt: skip


class MarkupError(ValueError):
    """A document the renderer refuses rather than show or index only in part."""


def _html_is_closed(content: str, after: str) -> bool:
    """Whether raw HTML ends cleanly: every swallowing element it opens is closed (in it, or
    in ``after``, the raw HTML that follows in the same paragraph), and no comment, tag or
    attribute quote is left open to carry on into the rest of the document."""
    for match in _OPENING.finditer(content):
        if not _closes(match.group(1), content[match.end() :] + after):
            return False
    stripped = content.lstrip()
    if stripped.startswith(("<?", "<!")) and not stripped.startswith("<!--"):
        return False  # declarations and processing instructions: shown as text
    checker = HTMLParser(convert_charrefs=False)
    checker.feed(content)
    return not checker.rawdata.strip()


def _escape_unclosed_html(renderer: object, tokens: list, idx: int, options: object,
                          env: object) -> str:  # fmt: skip
    content = tokens[idx].content
    after = "".join(t.content for t in tokens[idx + 1 :] if t.type == "html_inline")
    return content if _html_is_closed(content, after) else escapeHtml(content)


def _remote(src: str) -> bool:
    return bool(re.match(r"^\s*(?:[a-z][a-z0-9+.-]*:|//)", src, re.IGNORECASE))


def _image_as_link(renderer: object, tokens: list, idx: int, options: object,
                   env: object) -> str:  # fmt: skip
    """Private content loads no remote image (no tracking pixel): a link to it instead."""
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    alt = "".join(child.content for child in token.children or []) or "image"
    if not _remote(src):
        return f'<img src="{escapeHtml(src)}" alt="{escapeHtml(alt)}">'
    return f'<a href="{escapeHtml(src)}">{escapeHtml(alt)} (remote image, not loaded)</a>'


def _parser(remote_images: bool = True) -> MarkdownIt:
    # CommonMark (linear-time parsing, unlike Python-Markdown which is quadratic on unclosed
    # brackets) plus GitHub-style tables and strikethrough. Raw HTML is parsed, then nh3
    # decides; raw HTML that would swallow the rest of the document is shown as text.
    parser = MarkdownIt("commonmark", {"html": True, "maxNesting": MAX_NESTING + 8})
    parser.enable(["table", "strikethrough"])
    parser.add_render_rule("html_block", _escape_unclosed_html)
    parser.add_render_rule("html_inline", _escape_unclosed_html)
    if not remote_images:
        parser.add_render_rule("image", _image_as_link)
    return parser


class _DepthCounter(HTMLParser):
    """The deepest element nesting of an HTML text (a linear scan)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.depth = 0
        self.deepest = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _SELF_CLOSING:
            self.depth += 1
            self.deepest = max(self.deepest, self.depth)

    def handle_endtag(self, tag: str) -> None:
        if tag not in _SELF_CLOSING:
            self.depth = max(self.depth - 1, 0)


def _to_html_uncached(md: str, remote_images: bool = True) -> str:
    """Markdown to unsanitised HTML; MarkupError when it nests too deep to keep every part."""
    parser = _parser(remote_images)
    tokens = parser.parse((md or "").replace("\x00", "\ufffd"))
    if tokens and max(t.level for t in tokens) > MAX_NESTING:
        raise MarkupError(f"lists or quotes are nested more than {MAX_NESTING} levels deep")
    html = parser.renderer.render(tokens, parser.options, {})
    counter = _DepthCounter()
    counter.feed(html)
    counter.close()
    if counter.deepest > MAX_HTML_DEPTH:
        raise MarkupError(f"HTML elements are nested more than {MAX_HTML_DEPTH} levels deep")
    return html


# An import checks a document, converts it to index text and may render it: one parse (few
# kept: documents are up to 2 MB).
_to_html = functools.lru_cache(maxsize=4)(_to_html_uncached)


def check_markdown(md: str) -> None:
    """Raise MarkupError (with the reason) for a document that cannot be shown whole."""
    _to_html(md, True)


def _plain_html(md: str, reason: str) -> str:
    """A document the renderer refuses, shown whole as text with the reason."""
    return (
        f'<p class="markup-problem">Shown as plain text: {escapeHtml(reason)}.</p>'
        f'<pre class="plain">{escapeHtml(md)}</pre>'
    )


def _remote_src_filter(element: str, attribute: str, value: str) -> str | None:
    """Raw HTML images in private content keep no remote source."""
    if element == "img" and attribute == "src" and _remote(value):
        return None
    return value


def _render(md: str, remote_images: bool) -> str:
    try:
        html = _to_html(md, remote_images)
    except MarkupError as error:
        return _plain_html(md, str(error))
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        clean_content_tags=DROP_CONTENT_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        attribute_filter=None if remote_images else _remote_src_filter,
    )


class _RenderCache:
    """Rendered HTML by content hash, bounded by the characters it holds (least recently used
    goes first): a page view of unchanged content costs a lookup, not a render."""

    def __init__(self, max_chars: int = 64 * 1024 * 1024) -> None:
        self.max_chars = max_chars
        self.entries: OrderedDict[tuple[str, bool], str] = OrderedDict()
        self.chars = 0
        self.renders = 0
        self.lock = threading.Lock()

    def get(self, md: str, remote_images: bool) -> str:
        key = (hashlib.sha256(md.encode("utf-8", "surrogatepass")).hexdigest(), remote_images)
        with self.lock:
            if key in self.entries:
                self.entries.move_to_end(key)
                return self.entries[key]
        html = _render(md, remote_images)
        with self.lock:
            self.renders += 1
            if key not in self.entries and len(html) <= self.max_chars:
                self.entries[key] = html
                self.chars += len(html)
                while self.chars > self.max_chars:
                    _, dropped = self.entries.popitem(last=False)
                    self.chars -= len(dropped)
        return html


RENDER_CACHE = _RenderCache()


def render_markdown(md: str, *, remote_images: bool = True) -> str:
    """Markdown as safe HTML for display: sanitised with nh3, links get rel=noopener.

    Every piece of text stays: unclosed raw HTML that would swallow the rest is shown as text
    (closed script, style and similar elements are dropped with their content), and a
    document nested too deep is shown as plain text with the reason. ``remote_images=False``
    (private notes) turns remote images into links, so opening the note loads nothing from
    elsewhere. Results are cached by content hash.
    """
    return RENDER_CACHE.get(md or "", remote_images)


def _folded(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def drop_title_heading(md: str, title: str) -> str:
    """``md`` without a first-level heading that opens it and repeats ``title`` (compared
    without regard to case or spacing; ATX ``# Title`` or setext ``Title`` over ``===``).

    A page that shows the title as its own heading renders the body through this, so the
    title is not shown twice; the stored text keeps its heading. Anything else is returned
    unchanged, including a leading heading that says something other than the title.
    """
    if not md or not title.strip():
        return md or ""
    text = md.replace("\r\n", "\n").replace("\r", "\n")
    # The first block ends at the first blank line: parse only that much, not the document.
    start = len(text) - len(text.lstrip("\n"))
    end = text.find("\n\n", start)
    head = text[: end if end >= 0 else len(text)][: start + _HEAD_CHARS]
    tokens = _HEADINGS.parse(head)
    if len(tokens) < 2 or tokens[0].type != "heading_open" or tokens[0].tag != "h1":
        return md
    inline, lines = tokens[1], tokens[0].map
    words = "".join(
        child.content for child in inline.children or [] if child.type in ("text", "code_inline")
    )
    if lines is None or _folded(words) != _folded(title):
        return md
    return "\n".join(text.split("\n")[lines[1] :]).lstrip("\n")


_HEAD_CHARS = 4000  # far longer than any title
# Only the block structure and inline text of a heading are needed to find it.
_HEADINGS = MarkdownIt("commonmark", {"html": True, "maxNesting": MAX_NESTING + 8})


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
    return _markdown_to_text_big(md)


_MEMO_MAX_CHARS = 256 * 1024


def _markdown_to_text(md: str) -> str:
    try:
        html = _to_html(md, True)
    except MarkupError:
        return "\n\n".join(p for p in (" ".join(b.split()) for b in _BREAKS.split(md)) if p)
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    text = "".join(extractor.parts)
    paragraphs = [_SPACES.sub(" ", p).strip() for p in _BREAKS.split(text)]
    paragraphs = [" ".join(p.split("\n")).strip() for p in paragraphs]
    return "\n\n".join(p for p in paragraphs if p)


_markdown_to_text_memo = functools.lru_cache(maxsize=512)(_markdown_to_text)
# Big documents too are converted once per import, not once per step (few kept: up to 2 MB).
_markdown_to_text_big = functools.lru_cache(maxsize=4)(_markdown_to_text)
