"""Guides (published to all, drafts to their author) and shared insights (once published)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from kb.errors import NotFound
from kb.models import Guide, Person, split_list
from kb.search.hybrid import Hit
from kb.services.guides import get_guide, list_guides, render_markdown
from kb.services.notes import get_insight, insight_title
from kb.views.support import current_person, db, tandem

bp = Blueprint("guides", __name__)


def related_hits(doc_key: str, person: Person | None) -> list[Hit]:
    """Nearest documents; none when the document has no indexed text (an empty guide)."""
    try:
        return tandem().search.related(doc_key, person, limit=5)
    except NotFound:
        return []


@bp.route("/guides")
def index() -> ResponseReturnValue:
    guides = sorted(list_guides(db(), current_person()), key=lambda g: g.title.casefold())
    return render_template("guides/index.html", guides=guides)


@bp.route("/guides/<slug>")
def view(slug: str) -> ResponseReturnValue:
    person = current_person()
    guide = get_guide(db(), slug, person)
    revision = guide.current
    body_html = render_markdown(revision.body_md if revision else "")
    related = related_hits(f"guide:{guide.id}", person) if guide.status == "published" else []
    return render_template(
        "guides/view.html",
        guide=guide,
        revision=revision,
        body_html=body_html,
        tags=split_list(guide.tags),
        related=related,
    )


@bp.route("/guides/id/<int:guide_id>")
def by_id(guide_id: int) -> ResponseReturnValue:
    guide = db().get(Guide, guide_id)
    if guide is None:
        raise NotFound("No such guide.")
    guide = get_guide(db(), guide.slug, current_person())  # same visibility rule
    return redirect(url_for("guides.view", slug=guide.slug))


@bp.route("/insights/<int:insight_id>")
def insight(insight_id: int) -> ResponseReturnValue:
    """An insight: public once published, else only for its pair. Nothing of the note."""
    person = current_person()
    found = get_insight(db(), insight_id, person)
    note = found.note
    return render_template(
        "guides/insight.html",
        insight=found,
        title=insight_title(found.text),
        language=note.language,
        related=related_hits(f"insight:{found.id}", person) if found.published else [],
    )
