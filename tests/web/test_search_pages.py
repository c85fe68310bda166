"""Search page and JSON API over a real (fake-embedder) search engine."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

Login = Callable[..., Any]


HIT_KEYS = {"doc_key", "doc_type", "doc_id", "title", "snippet_html", "score", "language",
            "tags", "author_name", "doc_date"}  # fmt: skip


def test_search_page_groups_results_with_highlights(client: FlaskClient) -> None:
    page = client.get("/search?q=copilot")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Copilot w Excelu" in html
    assert "<mark>" in html.lower()
    # One result per document, even when several passages matched.
    assert html.count('class="hit hit-guide"') == 1


def test_search_page_without_query_shows_the_form(client: FlaskClient) -> None:
    page = client.get("/search")
    assert page.status_code == 200
    assert 'name="q"' in page.get_data(as_text=True)


def test_api_search_shape(client: FlaskClient) -> None:
    answer = client.get("/api/search?q=copilot&type=guide")
    assert answer.status_code == 200
    assert answer.is_json
    data = answer.get_json()
    assert {"query", "hits", "total", "did_you_mean", "message", "took_ms"} <= set(data)
    assert data["query"] == "copilot"
    assert data["total"] >= 1
    assert HIT_KEYS <= set(data["hits"][0])
    assert all(hit["doc_type"] == "guide" for hit in data["hits"])


def test_filters_narrow_results(client: FlaskClient) -> None:
    everything = client.get("/api/search?q=threads+copilot").get_json()
    only_insights = client.get("/api/search?q=threads+copilot&type=insight").get_json()
    assert {h["doc_type"] for h in everything["hits"]} >= {"guide", "insight"}
    assert {h["doc_type"] for h in only_insights["hits"]} == {"insight"}
    polish = client.get("/api/search?q=threads+copilot&lang=pl").get_json()
    assert {h["language"] for h in polish["hits"]} == {"pl"}


def test_unknown_filter_values_are_ignored(client: FlaskClient) -> None:
    answer = client.get("/api/search?q=copilot&type=bogus&lang=xx&from=notadate&page=-3")
    assert answer.status_code == 200
    assert answer.get_json()["total"] >= 1


@pytest.mark.parametrize(
    "query",
    [
        "?",
        '"',
        "AND OR",
        "x" * 5000,
        "",
        "   ",
        "*",
        "NOT",
        "((",
        "title:foo",
        "\x00",
        '"unbalanced',
        "a" * 300 + " " + "b" * 300,
        "<script>alert(1)</script>",
        "%",
        "ż" * 2000,
    ],
)
@pytest.mark.parametrize("path", ["/search", "/api/search"])
def test_malformed_queries_never_fail(client: FlaskClient, path: str, query: str) -> None:
    answer = client.get(path, query_string={"q": query})
    assert answer.status_code < 500
    assert b"Traceback" not in answer.data
    if path == "/search":  # HTML escapes the echoed query; JSON carries it as data
        assert b"<script>alert(1)</script>" not in answer.data


def test_pagination_links_keep_filters(client: FlaskClient) -> None:
    html = client.get("/search?q=copilot&type=guide&lang=pl&page=1").get_data(as_text=True)
    assert 'value="guide" checked' in html
    assert 'value="pl" checked' in html


def test_logged_in_member_finds_own_notes(client: FlaskClient, login: Login) -> None:
    login(client, "anna@example.com")
    data = client.get("/api/search?q=Zyxelgate").get_json()
    assert any(h["doc_type"] == "note" for h in data["hits"])
    html = client.get("/search?q=Zyxelgate").get_data(as_text=True)
    assert "Budget session" in html


def test_nothing_relevant_page_and_api_agree(tmp_path) -> None:  # noqa: ANN001
    """With a result floor, a query nothing reaches gets an empty page that says so and
    offers the nearest topics; the API reports the same count."""
    from kb.config import load_settings
    from kb.runtime import open_tandem
    from tests.web.conftest import load_library, make_app

    settings = load_settings(
        {},
        {
            "instance_dir": tmp_path / "instance",
            "database_url": f"sqlite:///{tmp_path / 'instance' / 'tandem.sqlite3'}",
            "search_models": ("fake",),
            "import_models": ("fake",),
            "extra": {"search": {"result_floors": {"fake": 0.2}}},
        },
    )
    tandem = open_tandem(settings)
    try:
        load_library(tandem)
        client = make_app(tandem).test_client()
        html = client.get("/search?q=qwzxvbnm").get_data(as_text=True)
        assert "No results" in html and "Nothing in the library is close enough" in html
        assert 'class="closest-topics"' in html and "tag=" in html
        data = client.get("/api/search?q=qwzxvbnm").get_json()
        assert data["total"] == 0 and data["hits"] == [] and data["closest_topics"]
        found = client.get("/api/search?q=copilot").get_json()
        assert found["total"] == len(found["hits"]) >= 1
        page = client.get("/search?q=copilot").get_data(as_text=True)
        assert f"{found['total']} result" in page
    finally:
        tandem.close()


@pytest.mark.parametrize("email", [None, "anna@example.com"])
def test_page_shows_the_apis_documents_in_order_with_its_total(
    app_factory: Callable[..., Any], login: Login, email: str | None
) -> None:
    """What the search page lists is exactly what /api/search answers for the same request:
    its documents (passages of one document together, where the document first appears), in
    its order, with its total and page count. The page's own work (the form's choices,
    grouping, snippets, review-by marks) must never change which results are shown."""
    import html as html_lib
    import math
    import re

    client = app_factory(SEARCH_PAGE_SIZE=2).test_client()
    if email:
        login(client, email)
    compared_pages = later_pages = 0
    for query in ["copilot", "threads copilot", "excel session", "summary prompts", "e-mail"]:
        for page_number in (1, 2, 3):
            args = {"q": query, "page": page_number}
            api = client.get("/api/search", query_string=args).get_json()
            page = client.get("/search", query_string=args).get_data(as_text=True)
            with client.application.test_request_context():
                from kb.views.support import doc_url

                want = list(dict.fromkeys(doc_url(h["doc_type"], h["doc_id"]) for h in api["hits"]))
            shown = [html_lib.unescape(u) for u in re.findall(r'<h3><a href="([^"]+)"[^>]*>', page)]
            assert shown == want, (query, page_number)
            if api["total"]:
                assert f"{api['total']} result" in page
                pages = math.ceil(api["total"] / 2)
                assert ('class="pagination"' in page) == (pages > 1)
            compared_pages += bool(want)
            later_pages += bool(want) and page_number > 1
    assert compared_pages >= 4  # it compared real results
    assert later_pages >= 1 or email is None  # and pages after the first (public: 2 documents)
