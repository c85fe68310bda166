"""/api/guides: guides with the pages' permissions.

Published guides are public (anonymous callers too); a draft or archived guide exists only for
its author (anyone else gets the same 404 as for a missing guide). Mentors and HR write; only
the author changes, publishes, unpublishes or restores a guide (for anyone else those routes
answer 404, as the editing pages do); the author or HR archives (HR archiving someone else's
guide is audited). Publishing warns about near-duplicates with 409 unless ``confirm`` is true.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import jsonify
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from kb.errors import NotFound, PermissionDenied, ValidationError
from kb.i18n import N_
from kb.models import LANGUAGES, Guide, GuideRevision, Person, split_list
from kb.services import audit
from kb.services import guides as guide_service
from kb.services.duplicates import near_duplicates, threshold_from
from kb.services.videos import clean_videos, stored_videos
from kb.views.api import api_login_required, bp, json_object
from kb.views.support import current_person, db, tandem

FIELDS = ("title", "body_md", "tags", "language", "videos", "review_by")
MAX_BODY = 200_000


def _when(value: dt.date | dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def guide_json(guide: Guide, *, body: bool = True) -> dict[str, Any]:
    current = guide.current
    found: dict[str, Any] = {
        "slug": guide.slug,
        "title": guide.title,
        "language": guide.language,
        "tags": split_list(guide.tags),
        "status": guide.status,
        "author": {"id": guide.author_id, "name": guide.author.name},
        "published_on": _when(guide.published_on),
        "review_by": _when(guide.review_by),
        "possibly_out_of_date": guide_service.is_overdue(guide),
        "revision": current.number if current else None,
        "updated_at": _when(guide.updated_at),
    }
    if body:
        found["body_md"] = current.body_md if current else ""
        found["videos"] = [v.to_dict() for v in stored_videos(current.videos if current else "")]
    return found


def revision_json(revision: GuideRevision) -> dict[str, Any]:
    return {
        "number": revision.number,
        "title": revision.title,
        "editor": revision.editor.name if revision.editor else None,
        "created_at": _when(revision.created_at),
    }


def _check_fields(body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ValidationError(
            N_("Unknown fields: %(names)s."), field=unknown[0], names=", ".join(unknown)
        )


def _text(body: dict[str, Any], key: str, limit: int) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(N_("%(name)s must be text."), field=key, name=key)
    if len(value) > limit:
        raise ValidationError(N_("%(name)s is too long."), field=key, name=key)
    return value


def _list(body: dict[str, Any], key: str) -> list[str] | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value) and len(value) <= 50:
        return value
    raise ValidationError(N_("%(name)s must be a list of text."), field=key, name=key)


def _review_by(body: dict[str, Any]) -> dt.date | None:
    value = body.get("review_by")
    if value is None or value == "":
        return None
    try:
        if isinstance(value, str):
            return dt.date.fromisoformat(value)
    except ValueError:
        pass
    raise ValidationError(N_("review_by must be a date (YYYY-MM-DD)."), field="review_by")


def _language(body: dict[str, Any], title: str, text: str) -> str:
    value = body.get("language")
    if value is None or value == "":
        return guide_service.suggest_language(title, text)
    if value not in LANGUAGES:
        raise ValidationError(N_("language must be one of pl, ru, en."), field="language")
    return str(value)


def writer() -> Person:
    person = current_person()
    assert person is not None  # api_login_required
    if not guide_service.may_write(person):
        raise PermissionDenied(N_("Only mentors and HR write guides."))
    return person


def own_guide(slug: str) -> tuple[Guide, Person]:
    """A guide the caller wrote; for anyone else its editing routes do not exist (404)."""
    person = current_person()
    assert person is not None  # api_login_required
    guide = guide_service.get_guide(db(), slug, person)
    if guide.author_id != person.id:
        raise NotFound(N_("No such guide."))
    return guide, person


def committed(guide: Guide | None = None) -> None:
    """As the pages: commit, update this process's indexes, queue the matching vectors."""
    db().commit()
    tandem().search.catch_up()
    if guide is not None and guide.status == "published":
        tandem().matching_refresh.submit([guide_service.guide_doc_key(guide)])


@bp.get("/guides")
def list_guides() -> ResponseReturnValue:
    """The guides the caller may see (published ones; their own drafts too), by title."""
    person = current_person()
    found = sorted(guide_service.list_guides(db(), person), key=lambda g: g.title.casefold())
    return jsonify({"guides": [guide_json(g, body=False) for g in found]})


@bp.get("/guides/<slug>")
def get_guide(slug: str) -> ResponseReturnValue:
    guide = guide_service.get_guide(db(), slug, current_person())
    return jsonify(guide_json(guide))


@bp.post("/guides")
@api_login_required
def create_guide() -> ResponseReturnValue:
    """A new draft (mentors and HR). Publish it with POST /api/guides/<slug>/publish."""
    person = writer()
    body = json_object()
    _check_fields(body, FIELDS)
    title = _text(body, "title", 300) or ""
    text = _text(body, "body_md", MAX_BODY) or ""
    guide = guide_service.create_guide(
        db(), person, title=title, body_md=text, language=_language(body, title, text),
        tags=_list(body, "tags") or (), videos=clean_videos(_list(body, "videos") or []),
        review_by=_review_by(body),
    )  # fmt: skip
    committed()
    return jsonify(guide_json(guide)), 201


@bp.patch("/guides/<slug>")
@api_login_required
def change_guide(slug: str) -> ResponseReturnValue:
    """A new revision (author only): the fields given replace the current ones."""
    guide, person = own_guide(slug)
    body = json_object()
    _check_fields(body, FIELDS)
    current = guide.current
    title = _text(body, "title", 300)
    text = _text(body, "body_md", MAX_BODY)
    title = guide.title if title is None else title
    text = (current.body_md if current else "") if text is None else text
    videos = _list(body, "videos")
    guide_service.save_revision(
        db(), guide, person, title=title, body_md=text, embedders=tandem().embedders,
        language=_language(body, title, text) if "language" in body else None,
        tags=_list(body, "tags"),
        videos=clean_videos(videos) if videos is not None else None,
        review_by=_review_by(body) if "review_by" in body else "keep",
    )  # fmt: skip
    committed(guide)
    return jsonify(guide_json(guide))


@bp.post("/guides/<slug>/publish")
@api_login_required
def publish_guide(slug: str) -> ResponseReturnValue:
    """Publish (author only); 409 with the near-duplicates unless ``{"confirm": true}``."""
    guide, person = own_guide(slug)
    body = json_object()
    _check_fields(body, ("confirm",))
    if guide.status != "published":
        if body.get("confirm") is not True:
            engine = tandem().search
            threshold = threshold_from(tandem().settings.extra)
            found = near_duplicates(db(), guide, engine, threshold=threshold)
            if found:
                return jsonify(
                    {
                        "error": gettext("Guides very close in meaning exist."),
                        "duplicates": [
                            {
                                "slug": d.guide.slug,
                                "title": d.guide.title,
                                "similarity": round(d.similarity, 3),
                            }
                            for d in found
                        ],  # fmt: skip
                    }
                ), 409
        guide_service.publish(db(), guide, person, tandem().embedders)
        committed(guide)
    return jsonify(guide_json(guide))


@bp.post("/guides/<slug>/unpublish")
@api_login_required
def unpublish_guide(slug: str) -> ResponseReturnValue:
    guide, person = own_guide(slug)
    guide_service.unpublish(db(), guide, person)
    committed()
    return jsonify(guide_json(guide))


@bp.post("/guides/<slug>/archive")
@api_login_required
def archive_guide(slug: str) -> ResponseReturnValue:
    """Archive (the author or HR); HR archiving someone else's guide is audited."""
    person = current_person()
    assert person is not None
    guide = guide_service.get_guide(db(), slug, person)
    if person.id != guide.author_id and not person.has_role("hr"):
        raise NotFound(N_("No such guide."))
    guide_service.archive(db(), guide, person)
    if person.id != guide.author_id:
        audit.record(db(), person, "guide.archive", "guide", guide.id)
    committed()
    return jsonify(guide_json(guide))


@bp.get("/guides/<slug>/revisions")
def guide_revisions(slug: str) -> ResponseReturnValue:
    """Every revision, newest first, for whoever may see the guide."""
    person = current_person()
    guide = guide_service.get_guide(db(), slug, person)
    found = guide_service.list_revisions(db(), guide, person)
    return jsonify({"revisions": [revision_json(r) for r in reversed(found)]})


@bp.post("/guides/<slug>/revisions/<int:number>/restore")
@api_login_required
def restore_revision(slug: str, number: int) -> ResponseReturnValue:
    """Restore revision ``number`` as a new revision (author only)."""
    guide, person = own_guide(slug)
    guide_service.restore_revision(db(), guide, person, number, tandem().embedders)
    committed(guide)
    return jsonify(guide_json(guide))
