"""Writing guides in the browser: editor, preview, drafts, publishing (found by search, also
by another account and another app over the same instance), near-duplicate warning,
revisions (diff, restore), review-by dates, video cards, and the XSS corpus in every field."""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from kb.embedding import text_hash
from kb.models import ChangeLog, Chunk, Guide
from kb.runtime import Tandem
from kb.services import match_vectors, people
from matching import service as matching
from matching.service import PoolCache

Login = Callable[..., Any]

BODY = (
    "# Meeting notes with Copilot\n\n"
    "Ask Copilot for a **summary** of the Quillfeather meeting in three bullet points.\n\n"
    "- check the names\n- check the numbers\n"
)


def form(**values: str) -> dict[str, str]:
    base = {"title": "Quillfeather summaries", "body_md": BODY, "tags": "ai, meetings",
            "language": "", "videos": "", "review_by": "", "action": "save"}  # fmt: skip
    return {**base, **values}


def slug_of(answer: Any) -> str:
    match = re.search(r"/guides/([a-z0-9-]+)/edit", answer.headers["Location"])
    assert match, answer.headers.get("Location")
    return match.group(1)


def search_titles(client: FlaskClient, query: str) -> list[str]:
    hits = client.get("/api/search", query_string={"q": query}).get_json()["hits"]
    return [h["title"] for h in hits]


def test_editor_needs_a_writer(client: FlaskClient, login: Login) -> None:
    assert client.get("/guides/new").status_code == 302  # to the login page
    login(client, "bogdan@example.com")  # a mentee
    assert client.get("/guides/new").status_code == 403
    client.post("/logout")
    login(client, "anna@example.com")
    page = client.get("/guides/new")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="csrf_token"' in html
    # existing tags are suggested without JavaScript: a datalist and tick boxes
    assert '<option value="excel">' in html and 'name="tag" value="excel"' in html


def test_preview_renders_through_the_sanitiser_and_saves_nothing(
    client: FlaskClient, login: Login, web_tandem: Tandem
) -> None:
    login(client, "anna@example.com")
    with web_tandem.sessions() as s:
        before = s.query(Guide).count()
    page = client.post(
        "/guides/new",
        data=form(action="preview", body_md=BODY + "\n<script>alert(1)</script>\n",
                  videos="https://youtu.be/abc | Summaries in Teams | 2:30"),
    )  # fmt: skip
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<strong>summary</strong>" in html
    assert "<script>alert(1)" not in html
    assert "Summaries in Teams" in html and "YouTube" in html and "2:30" in html
    assert "The text looks like: English." in html
    polish = client.post(
        "/guides/new", data=form(action="preview"), headers={"Accept-Language": "pl"}
    ).get_data(as_text=True)
    assert "Rozpoznany język tekstu: angielski." in polish
    with web_tandem.sessions() as s:
        assert s.query(Guide).count() == before


def test_a_heading_repeating_the_title_is_shown_once(
    client: FlaskClient, login: Login, web_tandem: Tandem
) -> None:
    login(client, "anna@example.com")
    data = form(title="Meeting notes with  COPILOT")  # BODY opens with that heading
    preview = client.post("/guides/new", data={**data, "action": "preview"})
    html = preview.get_data(as_text=True)
    assert html.count("<h1") == 2  # the editor's own heading, then the previewed title
    assert "<h1>Meeting notes with Copilot</h1>" not in html
    assert "<strong>summary</strong>" in html

    slug = slug_of(client.post("/guides/new", data=data))
    page = client.get(f"/guides/{slug}").get_data(as_text=True)
    assert page.count("<h1") == 1 and "Meeting notes with COPILOT</h1>" in page
    assert "<strong>summary</strong>" in page
    with web_tandem.sessions() as s:
        guide = s.scalar(select(Guide).where(Guide.slug == slug))
        assert guide is not None and guide.current is not None
        assert guide.current.body_md.startswith("# Meeting notes with Copilot\n")

    # a first heading that says something else stays
    other = form(title="Summaries", body_md="# Why summaries\n\nBecause.")
    page = client.get(f"/guides/{slug_of(client.post('/guides/new', data=other))}")
    assert "<h1>Why summaries</h1>" in page.get_data(as_text=True)


def test_draft_publish_edit_restore_and_search(
    client: FlaskClient, login: Login, app_factory: Callable[..., Flask], web_tandem: Tandem
) -> None:
    login(client, "anna@example.com")
    answer = client.post("/guides/new", data=form())
    assert answer.status_code == 302
    slug = slug_of(answer)
    with web_tandem.sessions() as s:
        guide = s.scalar(select(Guide).where(Guide.slug == slug))
        assert guide is not None and guide.status == "draft" and guide.language == "en"
        assert guide.tags == "ai;meetings"
        assert not s.scalars(select(Chunk).where(Chunk.doc_key == f"guide:{guide.id}")).all()
        guide_id = guide.id

    # a draft: its author sees it, nobody else does, search does not know it
    assert client.get(f"/guides/{slug}").status_code == 200
    other = app_factory().test_client()
    login(other, "bogdan@example.com")
    assert other.get(f"/guides/{slug}").status_code == 404
    assert "Quillfeather summaries" not in search_titles(other, "Quillfeather")
    assert "Quillfeather summaries" not in search_titles(client, "Quillfeather")

    # publish: found by search from another account, in another app (another "worker")
    published = client.post(f"/guides/{slug}/publish")
    assert published.status_code == 302 and published.headers["Location"].endswith(slug)
    assert "Quillfeather summaries" in search_titles(other, "Quillfeather")
    with web_tandem.sessions() as s:
        log = s.scalars(select(ChangeLog).where(ChangeLog.doc_key == f"guide:{guide_id}")).all()
        assert [row.op for row in log] == ["upsert"]

    # edit: a new revision, re-indexed
    edited = form(title="Quillfeather summaries", body_md=BODY.replace("three", "five"))
    assert client.post(f"/guides/{slug}/edit", data=edited).status_code == 302
    diff = client.get(f"/guides/{slug}/diff", query_string={"from": 1, "to": 2})
    html = diff.get_data(as_text=True)
    assert "<del>- Ask Copilot for a **summary** of the Quillfeather meeting in three" in html
    assert "<ins>+ Ask Copilot for a **summary** of the Quillfeather meeting in five" in html

    # restore revision 1 as revision 3
    history = client.get(f"/guides/{slug}/revisions").get_data(as_text=True)
    assert "Anna Mentor" in history and "Restore revision 1" in history
    assert client.post(f"/guides/{slug}/revisions/1/restore").status_code == 302
    with web_tandem.sessions() as s:
        guide = s.get(Guide, guide_id)
        assert guide is not None
        assert [r.number for r in guide.revisions] == [1, 2, 3]
        assert guide.revisions[-1].body_md == BODY
        chunk_text = " ".join(
            c.text for c in s.scalars(select(Chunk).where(Chunk.doc_key == f"guide:{guide_id}"))
        )
        assert "three bullet points" in chunk_text

    # someone else may neither edit, restore nor unpublish it
    assert other.get(f"/guides/{slug}/edit").status_code == 404
    assert other.post(f"/guides/{slug}/revisions/1/restore").status_code == 404
    assert other.post(f"/guides/{slug}/unpublish").status_code == 404
    assert other.post(f"/guides/{slug}/archive").status_code == 404

    # unpublish: gone from search; archive: stays gone
    assert client.post(f"/guides/{slug}/unpublish").status_code == 302
    assert "Quillfeather summaries" not in search_titles(other, "Quillfeather")
    assert other.get(f"/guides/{slug}").status_code == 404
    assert client.post(f"/guides/{slug}/archive").status_code == 302
    with web_tandem.sessions() as s:
        guide = s.get(Guide, guide_id)
        assert guide is not None and guide.status == "archived"


def test_language_is_detected_unless_chosen(client: FlaskClient, login: Login,
                                            web_tandem: Tandem) -> None:  # fmt: skip
    login(client, "anna@example.com")
    polish = form(title="Jak pisać prompty", body_md="Copilot pomaga pisać, ale sprawdzaj źródła.")
    slug = slug_of(client.post("/guides/new", data=polish))
    russian = form(title="Промпты", body_md="Пишите запросы коротко.", language="en")
    chosen = slug_of(client.post("/guides/new", data=russian))
    with web_tandem.sessions() as s:
        languages = {slug: lang for slug, lang in s.execute(select(Guide.slug, Guide.language))}
    assert languages[slug] == "pl"
    assert languages[chosen] == "en"


def test_invalid_input_is_shown_again_with_the_reason(client: FlaskClient, login: Login) -> None:
    login(client, "anna@example.com")
    page = client.post("/guides/new", data=form(title="", videos="javascript:alert(1)"))
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    assert "title" in html and "Quillfeather" in html  # the text typed is kept
    bad_video = client.post("/guides/new", data=form(videos="javascript:alert(1) | x"))
    assert bad_video.status_code == 400
    assert "https://" in bad_video.get_data(as_text=True)
    bad_date = client.post("/guides/new", data=form(review_by="someday"))
    assert bad_date.status_code == 400


def test_near_duplicates_are_listed_before_publishing(
    client: FlaskClient, login: Login, library: Any, web_tandem: Tandem
) -> None:
    """The fake embedder gives identical texts identical vectors: a copy is a duplicate."""
    login(client, "celina@example.com")
    copy = form(
        title="Copilot w Excelu",
        body_md="# Copilot w Excelu\n\nCopilot pomaga pisać formuły w Excelu."
        "\n\n<script>alert('x')</script>\n\n**Ważne**: sprawdzaj wyniki.",
        language="pl",
        action="publish",
    )
    page = client.post("/guides/new", data=copy)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Before you publish" in html
    assert f'href="/guides/{library.guide_slug}"' in html
    with web_tandem.sessions() as s:
        copied = s.scalars(select(Guide).where(Guide.author.has(email="celina@example.com")))
        guide = next(g for g in copied if g.title == "Copilot w Excelu")
        assert guide.status == "draft"
        slug = guide.slug
    # two actions of one size: publish anyway, or back to the editor (the quieter one)
    actions = html.split('<div class="actions">', 1)[1].split("</div>", 1)[0]
    assert f'<a class="button secondary" href="/guides/{slug}/edit">' in actions
    assert "small" not in actions
    # the author can still publish
    answer = client.post(f"/guides/{slug}/publish", data={"confirm": "1"})
    assert answer.status_code == 302
    with web_tandem.sessions() as s:
        assert s.scalar(select(Guide.status).where(Guide.slug == slug)) == "published"


def test_an_unrelated_guide_publishes_without_a_warning(client: FlaskClient, login: Login) -> None:
    login(client, "anna@example.com")
    answer = client.post("/guides/new", data=form(action="publish"))
    assert answer.status_code == 302
    assert client.get(answer.headers["Location"]).status_code == 200


def test_review_by_date_marks_the_guide(client: FlaskClient, login: Login,
                                        app_factory: Callable[..., Flask]) -> None:  # fmt: skip
    login(client, "anna@example.com")
    past = (dt.date.today() - dt.timedelta(days=3)).isoformat()
    answer = client.post("/guides/new", data=form(action="publish", review_by=past))
    slug = answer.headers["Location"].rsplit("/", 1)[-1]
    mine = client.get("/guides/mine").get_data(as_text=True)
    assert "Due for review" in mine and "Quillfeather summaries" in mine
    reader = app_factory().test_client()
    login(reader, "bogdan@example.com")
    page = reader.get(f"/guides/{slug}").get_data(as_text=True)
    assert "Possibly out of date" in page
    results = reader.get("/search", query_string={"q": "Quillfeather"}).get_data(as_text=True)
    assert "possibly out of date" in results
    hits = reader.get("/api/search", query_string={"q": "Quillfeather"}).get_json()["hits"]
    assert [h["possibly_out_of_date"] for h in hits if h["title"] == "Quillfeather summaries"] == [
        True
    ]
    # a future date: not marked
    future = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    client.post(f"/guides/{slug}/edit", data=form(review_by=future))
    assert "Possibly out of date" not in reader.get(f"/guides/{slug}").get_data(as_text=True)


XSS = [
    "<script>alert('t')</script>",
    "<img src=x onerror=alert('t')>",
    "<svg onload=alert('t')><script>alert('t')</script></svg>",
    "[click](javascript:alert('t'))",
    "[click](JaVaScRiPt:alert('t'))",
    "![x](javascript:alert('t'))",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgndCcpPC9zY3JpcHQ+)",
    "<a href=\"javascript:alert('t')\">x</a>",
    "<iframe src=javascript:alert('t')></iframe>",
    "\"><script>alert('t')</script>",
    "<details open ontoggle=alert('t')>",
    "[x](&#106;avascript:alert('t'))",
]


class Executable(HTMLParser):
    """Collects what a browser would run: script-like elements, event-handler attributes,
    script or data URLs in links and sources (parsed as the browser parses, not by regex)."""

    ELEMENTS = frozenset({"script", "iframe", "svg", "object", "embed", "math", "base"})
    URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "xlink:href", "srcdoc"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.ELEMENTS:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}>")
            url = re.sub(r"[\x00-\x20]", "", value or "").lower()
            if name in self.URL_ATTRIBUTES and url.startswith(
                ("javascript:", "data:", "vbscript:")
            ):
                self.found.append(f"<{tag} {name}={value}>")


def executable(html: str) -> list[str]:
    parser = Executable()
    parser.feed(html)
    parser.close()
    return parser.found


@pytest.mark.parametrize("payload", XSS)
def test_xss_corpus_executes_nothing(client: FlaskClient, login: Login, payload: str) -> None:
    """Every field shown again (title, body, tags, videos) on every page that shows it."""
    login(client, "anna@example.com")
    baseline = executable(client.get("/guides/new").get_data(as_text=True))
    assert baseline == []
    data = form(
        title=f"XSS {payload}",
        body_md=f"Text {payload}\n\n{payload}",
        tags=f"xss, {payload}",
        videos=f"https://youtu.be/x | {payload} | 1:00",
    )
    preview = client.post("/guides/new", data={**data, "action": "preview"})
    assert executable(preview.get_data(as_text=True)) == []
    answer = client.post("/guides/new", data={**data, "action": "publish"})
    assert answer.status_code in (200, 302)
    slug = answer.headers.get("Location", "").rsplit("/", 1)[-1]
    if answer.status_code == 200:  # a near-duplicate warning page
        assert executable(answer.get_data(as_text=True)) == []
        slug = re.findall(r"/guides/([a-z0-9-]+)/publish", answer.get_data(as_text=True))[0]
        client.post(f"/guides/{slug}/publish", data={"confirm": "1"})
    client.post(f"/guides/{slug}/edit", data={**data, "body_md": "changed " + data["body_md"]})
    for path in (f"/guides/{slug}", f"/guides/{slug}/edit", f"/guides/{slug}/revisions",
                 f"/guides/{slug}/diff", "/guides", "/guides/mine", "/search?q=XSS"):  # fmt: skip
        html = client.get(path).get_data(as_text=True)
        assert executable(html) == [], path
    hits = client.get("/api/search", query_string={"q": "XSS"}).get_json()["hits"]
    assert all(executable(h["snippet_html"]) == [] for h in hits)


def test_video_cards_show_title_host_and_duration(client: FlaskClient, login: Login) -> None:
    login(client, "anna@example.com")
    videos = ("https://www.youtube.com/watch?v=abc | Copilot in Excel | 3:05\n"
              "https://vimeo.com/12345\n")  # fmt: skip
    answer = client.post("/guides/new", data=form(action="publish", videos=videos))
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Copilot in Excel" in page and "YouTube" in page and "3:05" in page
    assert 'href="https://vimeo.com/12345"' in page and "Vimeo" in page


def test_hr_archives_a_guide_with_an_audit_entry(
    client: FlaskClient, login: Login, library: Any, web_tandem: Tandem
) -> None:
    from kb.models import AuditEntry

    login(client, "hania@example.com")
    assert client.get(f"/guides/{library.guide_slug}/edit").status_code == 404  # not hers
    assert client.post(f"/guides/{library.guide_slug}/archive").status_code == 302
    with web_tandem.sessions() as s:
        guide = s.scalar(select(Guide).where(Guide.slug == library.guide_slug))
        assert guide is not None and guide.status == "archived"
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action == "guide.archive")).all()
        assert [(e.target_type, e.target_id) for e in entries] == [("guide", guide.id)]
    assert "Copilot w Excelu" not in search_titles(client, "Copilot Excelu")


class GatedEmbedder:
    """The matching model behind a gate: embeds only once the test opens it."""

    def __init__(self, inner: Any, gate: threading.Event) -> None:
        self.inner, self.gate, self.name, self.dim = inner, gate, inner.name, inner.dim
        self.calls = 0

    def embed_queries(self, texts: Any) -> Any:
        self.calls += 1
        assert self.gate.wait(30), "the test never opened the gate"
        return self.inner.embed_queries(texts)

    def embed_passages(self, texts: Any) -> Any:
        return self.embed_queries(texts)


def test_publish_answers_searchable_and_matching_vectors_follow(
    client: FlaskClient, login: Login, app_factory: Callable[..., Flask], web_tandem: Tandem
) -> None:
    """The publish request does not wait for matching's models: the guide is found by search
    when it answers; its matching vectors are stored just after by the worker's refresher
    thread, and matching then sees the new guide as its author's evidence."""
    with web_tandem.sessions() as s:  # Anna (the author) has a free place for Ewa
        people.upsert_person(s, people.PersonRecord(
            name="Anna Mentor", email="anna@example.com", roles=("mentor",),
            languages=("pl", "en"), capacity=2))  # fmt: skip
        people.upsert_person(s, people.PersonRecord(
            name="Ewa Nowicka", email="ewa@example.com", roles=("mentee",),
            languages=("pl", "en"), goals=("zeppelin hangar logistics",)))  # fmt: skip
        s.commit()
    match_vectors.catch_up(web_tandem.sessions, web_tandem.matching_embedders)
    gate = threading.Event()
    gated = {s: GatedEmbedder(e, gate) for s, e in web_tandem.matching_embedders.items()}
    web_tandem._refresher = match_vectors.Refresher(web_tandem.sessions, gated)
    cache = PoolCache()

    login(client, "anna@example.com")
    body = "Zeppelin hangar logistics: mooring masts, helium checks and ground crews."
    slug = slug_of(client.post("/guides/new", data=form(title="Zeppelin hangars", body_md=body)))
    published = client.post(f"/guides/{slug}/publish", data={"confirm": "1"})
    assert published.status_code == 302 and published.headers["Location"].endswith(slug)
    other = app_factory().test_client()  # another worker
    assert "Zeppelin hangars" in search_titles(other, "zeppelin")
    with web_tandem.sessions() as s:
        doc_key = f"guide:{s.scalar(select(Guide.id).where(Guide.slug == slug))}"
        hashes = {text_hash(t) for t in match_vectors.chunk_texts(s, [doc_key])}
        assert hashes
        for embedder in gated.values():  # queued, not stored: the request did not wait
            assert not match_vectors.stored_hashes(s, hashes, embedder.name)
        _, before = cache.get(s, web_tandem.matching_embedders)
        assert before.missing_vectors >= len(hashes)

    gate.set()
    assert web_tandem.matching_refresh.wait(30)
    assert all(e.calls for e in gated.values())
    with web_tandem.sessions() as s:
        for embedder in gated.values():
            assert match_vectors.stored_hashes(s, hashes, embedder.name) == hashes
        _, after = cache.get(s, web_tandem.matching_embedders)  # rebuilt: the vectors count
        assert after is not before and after.missing_vectors == 0
        found = matching.recommend_mentors(
            s, web_tandem.matching_embedders, "ewa@example.com", cache=cache
        )
    anna = next(c for c in found.candidates if c.person.email == "anna@example.com")
    cited = {r.title for r in anna.reasons}
    assert "Zeppelin hangars" in cited, cited
