"""Search page and JSON search API (same parameters, same permission rules)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, current_app, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from kb.errors import QueryError
from kb.models import DOC_TYPES, LANGUAGES, Person
from kb.search.hybrid import Hit, SearchFilters, SearchResults
from kb.services.guides import overdue_ids
from kb.views.i18n import translate_error
from kb.views.listing import public_facets
from kb.views.support import current_person, db, parse_date, parse_page, tandem

bp = Blueprint("search", __name__)

MAX_TAGS = 10


@dataclass
class SearchRequest:
    """The search parameters of one request, validated; ``args`` rebuilds links."""

    query: str
    filters: SearchFilters
    page: int
    args: dict[str, Any] = field(default_factory=dict)

    def link_args(self, **changes: Any) -> dict[str, Any]:
        merged = {**self.args, **changes}
        return {k: v for k, v in merged.items() if v not in (None, "", [], ())}


def parse_search(args: MultiDict[str, str]) -> SearchRequest:
    """Query parameters -> query text, filters and page. Unknown values are dropped."""
    query = args.get("q", "")
    types = tuple(t for t in dict.fromkeys(args.getlist("type")) if t in DOC_TYPES)
    languages = tuple(lang for lang in dict.fromkeys(args.getlist("lang")) if lang in LANGUAGES)
    tags = tuple(t.strip() for t in dict.fromkeys(args.getlist("tag")) if t.strip())[:MAX_TAGS]
    author = (args.get("author") or "").strip()[:254] or None
    date_from = parse_date(args.get("from"))
    date_to = parse_date(args.get("to"))
    filters = SearchFilters(
        doc_types=types,
        tags=tags,
        languages=languages,
        author_email=author_email(author),
        date_from=date_from,
        date_to=date_to,
    )
    page = parse_page(args.get("page"))
    kept = {
        "q": query,
        "type": list(types),
        "lang": list(languages),
        "tag": list(tags),
        "author": author,
        "from": date_from.isoformat() if date_from else None,
        "to": date_to.isoformat() if date_to else None,
    }
    return SearchRequest(query=query, filters=filters, page=page, args=kept)


def author_email(author: str | None) -> str | None:
    """The author filter names a person by id (pages never show e-mail addresses); an e-mail
    address is accepted too. An id of nobody keeps the value, which then matches nothing."""
    if author and author.isdigit() and len(author) <= 18:
        person = db().get(Person, int(author))
        if person is not None:
            return person.email
    return author


def has_filters(filters: SearchFilters) -> bool:
    return bool(
        filters.doc_types
        or filters.tags
        or filters.languages
        or filters.author_email
        or filters.date_from
        or filters.date_to
    )


def run_search(req: SearchRequest) -> SearchResults:
    size = int(current_app.config["SEARCH_PAGE_SIZE"])
    return tandem().search.search(
        req.query,
        current_person(),
        req.filters,
        limit=size,
        offset=(req.page - 1) * size,
    )


def group_hits(hits: list[Hit]) -> list[list[Hit]]:
    """Hits of the same document together, in the order the document first appears."""
    groups: dict[str, list[Hit]] = {}
    for hit in hits:
        groups.setdefault(hit.doc_key, []).append(hit)
    return list(groups.values())


def overdue_guides(hits: list[Hit]) -> set[int]:
    """Guides among the hits that are past their review-by date."""
    return overdue_ids(db(), [h.doc_id for h in hits if h.doc_type == "guide"])


@bp.route("/search")
def search_page() -> ResponseReturnValue:
    req = parse_search(request.args)
    facets = public_facets(db())
    results: SearchResults | None = None
    error: str | None = None
    status = 200
    if req.query.strip() or has_filters(req.filters):
        try:
            results = run_search(req)
        except QueryError as exc:
            error, status = translate_error(exc), 400
    pages = 0
    if results is not None:
        pages = math.ceil(results.total / int(current_app.config["SEARCH_PAGE_SIZE"]))
    return (
        render_template(
            "search/results.html",
            req=req,
            results=results,
            groups=group_hits(results.hits) if results else [],
            overdue=overdue_guides(results.hits) if results else set(),
            pages=pages,
            error=error,
            facets=facets,
            doc_types=DOC_TYPES,
            languages=LANGUAGES,
        ),
        status,
    )


@bp.route("/api/search")
def search_api() -> ResponseReturnValue:
    req = parse_search(request.args)
    results = run_search(req)  # QueryError becomes a JSON 400 in the error handler
    body = results.to_dict()
    overdue = overdue_guides(results.hits)
    for hit, shown in zip(results.hits, body["hits"], strict=True):
        shown["possibly_out_of_date"] = hit.doc_type == "guide" and hit.doc_id in overdue
    body["page"] = req.page
    body["page_size"] = int(current_app.config["SEARCH_PAGE_SIZE"])
    return jsonify(body)
