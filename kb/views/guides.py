"""Guides (published to all, drafts to their author) and shared insights (once published).

Mentors and HR write guides here: an editor with a server-side preview, drafts, publishing
(with a near-duplicate warning), unpublishing, archiving, revisions with diffs and restore.
Every page works without JavaScript; every form posts a CSRF token.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import login_required

from kb.errors import NotFound, PermissionDenied, ValidationError
from kb.i18n import N_
from kb.models import LANGUAGES, Guide, Person, split_list
from kb.search.hybrid import Hit
from kb.services import audit, uploads
from kb.services import guides as guide_service
from kb.services.duplicates import NearDuplicate, near_duplicates, threshold_from
from kb.services.guides import get_guide, list_guides
from kb.services.notes import get_insight, insight_title
from kb.services.videos import UPLOAD_PREFIX, parse_videos, stored_videos
from kb.views.i18n import translate_error
from kb.views.support import current_person, db, tandem

bp = Blueprint("guides", __name__)

MAX_BODY = 200_000


def related_hits(doc_key: str, person: Person | None) -> list[Hit]:
    """Nearest documents; none when the document has no indexed text (an empty guide)."""
    try:
        return tandem().search.related(doc_key, person, limit=5)
    except NotFound:
        return []


def writer() -> Person:
    """The logged-in person if they may write guides (mentors and HR), else 403."""
    person = current_person()
    assert person is not None  # login_required
    if not guide_service.may_write(person):
        raise PermissionDenied(_("Only mentors and HR write guides."))
    return person


def committed(guide: Guide | None = None) -> None:
    """Commit and bring this process's search indexes up to date (other workers catch up
    from the change log before their next search): the guide is searchable when the request
    answers. A published guide's matching vectors (matching quotes public guides) are stored
    just after, by this process's refresher thread (kb.services.match_vectors.Refresher)."""
    db().commit()
    tandem().search.catch_up()
    if guide is not None and guide.status == "published":
        tandem().matching_refresh.submit([guide_service.guide_doc_key(guide)])


@bp.route("/guides")
def index() -> ResponseReturnValue:
    person = current_person()
    guides = sorted(list_guides(db(), person), key=lambda g: g.title.casefold())
    return render_template(
        "guides/index.html",
        guides=guides,
        may_write=guide_service.may_write(person),
        overdue={g.id for g in guides if guide_service.is_overdue(g)},
    )


@bp.route("/guides/mine")
@login_required
def mine() -> ResponseReturnValue:
    person = current_person()
    assert person is not None
    guides = list_guides(db(), person, author=person)
    overdue = [g for g in guides if guide_service.is_overdue(g) and g.status != "archived"]
    return render_template(
        "guides/mine.html",
        guides=guides,
        overdue=overdue,
        overdue_ids={g.id for g in overdue},
        may_write=guide_service.may_write(person),
    )


@bp.route("/guides/<slug>")
def view(slug: str) -> ResponseReturnValue:
    person = current_person()
    guide = get_guide(db(), slug, person)
    revision = guide.current
    title = revision.title if revision else guide.title
    body_html = guide_service.render_body(title, revision.body_md if revision else "")
    related = related_hits(f"guide:{guide.id}", person) if guide.status == "published" else []
    return render_template(
        "guides/view.html",
        guide=guide,
        revision=revision,
        body_html=body_html,
        tags=split_list(guide.tags),
        related=related,
        videos=stored_videos(revision.videos if revision else ""),
        overdue=guide_service.is_overdue(guide),
        is_author=person is not None and person.id == guide.author_id,
        may_archive=person is not None
        and guide.status != "archived"
        and (person.id == guide.author_id or person.has_role("hr")),
    )


@bp.route("/guides/id/<int:guide_id>")
def by_id(guide_id: int) -> ResponseReturnValue:
    guide = db().get(Guide, guide_id)
    if guide is None:
        raise NotFound(_("No such guide."))
    guide = get_guide(db(), guide.slug, current_person())  # same visibility rule
    return redirect(url_for("guides.view", slug=guide.slug))


# -- the editor ----------------------------------------------------------------------------


class Draft:
    """What the editor form holds: parsed from a POST or taken from a guide."""

    def __init__(self, **values: str) -> None:
        self.title = values.get("title", "")
        self.body_md = values.get("body_md", "")
        self.tags = values.get("tags", "")
        self.language = values.get("language", "")
        self.videos = values.get("videos", "")
        self.review_by = values.get("review_by", "")

    @classmethod
    def from_form(cls) -> Draft:
        form = request.form
        picked = [t for t in form.getlist("tag") if t.strip()]
        typed = form.get("tags", "")
        tags = "; ".join([*picked, *([typed] if typed.strip() else [])])
        return cls(
            title=form.get("title", "")[:1000],
            body_md=form.get("body_md", "")[:MAX_BODY],
            tags=tags[:2000],
            language=form.get("language", ""),
            videos=form.get("videos", "")[:10_000],
            review_by=form.get("review_by", "").strip(),
        )

    @classmethod
    def from_guide(cls, guide: Guide) -> Draft:
        current = guide.current
        return cls(
            title=guide.title,
            body_md=current.body_md if current else "",
            tags=", ".join(split_list(guide.tags)),
            language=guide.language,
            videos=current.videos if current else "",
            review_by=guide.review_by.isoformat() if guide.review_by else "",
        )

    def resolved_language(self) -> str:
        """The chosen language, or the one the text is written in."""
        if self.language in LANGUAGES:
            return self.language
        return guide_service.suggest_language(self.title, self.body_md)

    def review_date(self) -> dt.date | None:
        if not self.review_by:
            return None
        try:
            return dt.date.fromisoformat(self.review_by)
        except ValueError:
            raise ValidationError(
                _("Give the review-by date as YYYY-MM-DD."), field="review_by"
            ) from None


def editor_page(
    draft: Draft,
    guide: Guide | None,
    *,
    preview: bool = False,
    error: str | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    preview_html = None
    preview_videos: list[Any] = []
    if preview:
        preview_html = guide_service.render_body(draft.title, draft.body_md)
        try:
            preview_videos = parse_videos(draft.videos)
        except ValidationError as exc:
            error = error or translate_error(exc)
    person = current_person()
    chosen = set(split_list(draft.tags.replace(",", ";")))
    return (
        render_template(
            "guides/edit.html",
            draft=draft,
            guide=guide,
            preview_html=preview_html,
            preview_videos=preview_videos,
            detected=guide_service.suggest_language(draft.title, draft.body_md)
            if draft.title or draft.body_md
            else None,
            error=error,
            languages=LANGUAGES,
            suggestions=[
                t for t in guide_service.tag_suggestions(db(), person, limit=40) if t not in chosen
            ],
        ),
        status,
    )


@bp.route("/guides/new", methods=["GET", "POST"])
@login_required
def new() -> ResponseReturnValue:
    person = writer()
    if request.method == "GET":
        return editor_page(Draft(), None)
    draft = Draft.from_form()
    action = request.form.get("action", "save")
    if action == "preview":
        return editor_page(draft, None, preview=True)
    try:
        guide = guide_service.create_guide(
            db(), person, title=draft.title, body_md=draft.body_md,
            language=draft.resolved_language(), tags=draft.tags, videos=draft.videos,
            review_by=draft.review_date(),
        )  # fmt: skip
    except ValidationError as exc:
        db().rollback()
        return editor_page(draft, None, error=translate_error(exc), status=400)
    committed()
    if action == "publish":
        return publish_or_warn(guide, person)
    flash(_("Draft saved. Only you can see it."), "info")
    return redirect(url_for("guides.edit", slug=guide.slug))


# --- uploaded videos ----------------------------------------------------------------------------


@bp.route("/guides/videos", methods=["GET", "POST"])
@login_required
def videos() -> ResponseReturnValue:
    """Upload a short video file (mentors and HR) and list one's own, each with the line to
    paste into a guide's videos; the file is checked by its first bytes and streamed to disk."""
    person = writer()
    settings = tandem().settings
    status = 200
    if request.method == "POST":
        file = request.files.get("video")
        try:
            if file is None or not file.filename:
                raise ValidationError(N_("Choose a video file."), field="video")
            upload = uploads.store_video(
                db(), person, file.stream, settings.max_upload_bytes,
                uploads.videos_dir(settings.instance_dir),
            )  # fmt: skip
        except ValidationError as error:
            db().rollback()
            flash(translate_error(error), "error")
            status = 400
        else:
            db().commit()
            flash(_("Video uploaded. Paste its line into a guide's videos."), "info")
            return redirect(url_for("guides.videos") + f"#video-{upload.id}")
    return render_template(
        "guides/videos.html", uploads=uploads.uploads_of(db(), person),
        limit_mb=round(settings.max_upload_bytes / 1024 / 1024, 1), prefix=UPLOAD_PREFIX,
    ), status  # fmt: skip


@bp.route("/guides/videos/<name>")
def video_file(name: str) -> ResponseReturnValue:
    """An uploaded video, to its uploader and whoever may see a guide linking to it (404 for
    anyone else), with its own type (checked at upload), never run as anything else; ranges
    work so a browser can seek."""
    upload = uploads.watchable_upload(db(), name, current_person())
    path = uploads.file_of(upload, uploads.videos_dir(tandem().settings.instance_dir))
    if not path.is_file():
        raise NotFound(N_("No such video."))
    answer = send_file(path, mimetype=upload.content_type, conditional=True, max_age=3600)
    answer.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    answer.headers["Content-Disposition"] = "inline"
    # Who may watch it depends on the asker and can change (a guide unpublished, the video
    # deleted): only the asker's own browser may keep a copy, never a shared cache.
    answer.headers["Cache-Control"] = "private, max-age=3600"
    return answer


@bp.route("/guides/videos/<name>/delete", methods=["POST"])
@login_required
def delete_video(name: str) -> ResponseReturnValue:
    """Delete an upload (its uploader or HR): the first post shows what goes and where the
    video is still in use; the confirmed one (``confirm=1``) deletes the row and the file."""
    person = current_person()
    assert person is not None
    upload = uploads.find_upload(db(), name)
    if not uploads.may_delete(upload, person):
        raise NotFound(N_("No such video."))
    in_use = uploads.usage(db(), upload, person)
    if request.form.get("confirm") == "1" and not in_use:
        try:
            uploads.delete_upload(
                db(), upload, person, uploads.videos_dir(tandem().settings.instance_dir)
            )
        except uploads.UploadInUse as error:  # a guide took it up in the meantime
            in_use = error.usage
        else:
            flash(_("Video deleted."), "info")
            return redirect(url_for("guides.videos"))
    status = 409 if in_use and request.form.get("confirm") == "1" else 200
    return render_template(
        "guides/video_delete.html", upload=upload, usage=in_use, prefix=UPLOAD_PREFIX,
        own=upload.owner_id == person.id,
    ), status  # fmt: skip


def own_guide(slug: str) -> tuple[Guide, Person]:
    """A guide the logged-in person wrote; for anyone else its editing pages do not exist."""
    person = current_person()
    assert person is not None  # login_required
    guide = get_guide(db(), slug, person)
    if guide.author_id != person.id:
        # Someone else's guide has no editing pages for you (as a missing one: 404).
        raise NotFound(_("Only the author can change this guide."))
    return guide, person


@bp.route("/guides/<slug>/edit", methods=["GET", "POST"])
@login_required
def edit(slug: str) -> ResponseReturnValue:
    guide, person = own_guide(slug)
    if request.method == "GET":
        return editor_page(Draft.from_guide(guide), guide)
    draft = Draft.from_form()
    action = request.form.get("action", "save")
    if action == "preview":
        return editor_page(draft, guide, preview=True)
    try:
        guide_service.save_revision(
            db(), guide, person, title=draft.title, body_md=draft.body_md,
            language=draft.resolved_language(), tags=draft.tags, videos=draft.videos,
            review_by=draft.review_date(), embedders=tandem().embedders,
        )  # fmt: skip
    except ValidationError as exc:
        db().rollback()
        return editor_page(draft, guide, error=translate_error(exc), status=400)
    committed(guide)
    if action == "publish" and guide.status != "published":
        return publish_or_warn(guide, person)
    flash(_("Saved."), "info")
    return redirect(url_for("guides.edit", slug=guide.slug))


def duplicates_of(guide: Guide) -> list[NearDuplicate]:
    engine = tandem().search
    threshold = threshold_from(tandem().settings.extra)
    return near_duplicates(db(), guide, engine, threshold=threshold)


def publish_or_warn(guide: Guide, person: Person, confirmed: bool = False) -> ResponseReturnValue:
    """Publish, unless guides very close in meaning exist and the author has not seen them."""
    if not confirmed:
        found = duplicates_of(guide)
        if found:
            return render_template("guides/publish.html", guide=guide, duplicates=found)
    try:
        guide_service.publish(db(), guide, person, tandem().embedders)
    except ValidationError as exc:
        db().rollback()
        flash(translate_error(exc), "error")
        return redirect(url_for("guides.edit", slug=guide.slug))
    committed(guide)
    flash(_("Published: everyone can find this guide now."), "info")
    return redirect(url_for("guides.view", slug=guide.slug))


@bp.route("/guides/<slug>/publish", methods=["POST"])
@login_required
def publish(slug: str) -> ResponseReturnValue:
    guide, person = own_guide(slug)
    if guide.status == "published":
        return redirect(url_for("guides.view", slug=guide.slug))
    return publish_or_warn(guide, person, confirmed=request.form.get("confirm") == "1")


@bp.route("/guides/<slug>/unpublish", methods=["POST"])
@login_required
def unpublish(slug: str) -> ResponseReturnValue:
    guide, person = own_guide(slug)
    guide_service.unpublish(db(), guide, person)
    committed()
    flash(_("Unpublished: the guide is a draft again, visible only to you."), "info")
    return redirect(url_for("guides.edit", slug=guide.slug))


@bp.route("/guides/<slug>/archive", methods=["POST"])
@login_required
def archive(slug: str) -> ResponseReturnValue:
    person = current_person()
    assert person is not None
    guide = get_guide(db(), slug, person)
    if person.id != guide.author_id and not person.has_role("hr"):
        raise NotFound(_("Only the author or HR can archive this guide."))
    guide_service.archive(db(), guide, person)
    if person.id != guide.author_id:  # HR retiring someone's guide: an HR action
        audit.record(db(), person, "guide.archive", "guide", guide.id)
    committed()
    flash(_("Archived: the guide is kept for the record and gone from search."), "info")
    return redirect(url_for("guides.view", slug=guide.slug))


# -- revisions -----------------------------------------------------------------------------


@bp.route("/guides/<slug>/revisions")
def revisions(slug: str) -> ResponseReturnValue:
    person = current_person()
    guide = get_guide(db(), slug, person)
    found = guide_service.list_revisions(db(), guide, person)
    return render_template(
        "guides/revisions.html",
        guide=guide,
        revisions=list(reversed(found)),
        is_author=person is not None and person.id == guide.author_id,
    )


def revision_number(name: str, default: int) -> int:
    value = request.args.get(name, "")
    if not value:
        return default
    if not value.isdigit() or len(value) > 9:
        abort(400)
    return int(value)


@bp.route("/guides/<slug>/diff")
def diff(slug: str) -> ResponseReturnValue:
    person = current_person()
    guide = get_guide(db(), slug, person)
    newest = guide.current.number if guide.current else 1
    old_number = revision_number("from", max(newest - 1, 1))
    new_number = revision_number("to", newest)
    old = guide_service.get_revision(db(), guide, old_number, person)
    new = guide_service.get_revision(db(), guide, new_number, person)
    return render_template(
        "guides/diff.html",
        guide=guide,
        old=old,
        new=new,
        lines=guide_service.diff_revisions(old, new),
        revisions=guide_service.list_revisions(db(), guide, person),
    )


@bp.route("/guides/<slug>/revisions/<int:number>/restore", methods=["POST"])
@login_required
def restore(slug: str, number: int) -> ResponseReturnValue:
    guide, person = own_guide(slug)
    revision = guide_service.restore_revision(db(), guide, person, number, tandem().embedders)
    committed(guide)
    flash(
        _(
            "Revision %(old)s restored as revision %(new)s.",
            old=number,
            new=revision.number,
        ),
        "info",
    )
    return redirect(url_for("guides.revisions", slug=guide.slug))


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
