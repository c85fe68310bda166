"""Guides: drafts, revisions, publishing (which makes them searchable), archiving.

Who may do what: the author writes, revises, publishes and unpublishes; HR may archive any
guide. Published guides are visible to everyone, drafts only to their author, archived guides
to their author and HR; to anyone else a hidden guide does not exist (NotFound).
Only published guides have chunks (doc_key ``guide:ID``): their text is the markdown of the
current revision as plain text.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from kb.embedding import Embedder
from kb.errors import NotFound, PermissionDenied, ValidationError
from kb.i18n import N_
from kb.models import (
    LANGUAGES,
    Guide,
    GuideRevision,
    Person,
    VideoReference,
    VideoUpload,
    join_list,
    split_list,
    uploaded_names,
)
from kb.search.analysis import guess_language
from kb.services.content import remove_chunks, replace_chunks
from kb.services.markup import drop_title_heading, markdown_to_text, render_markdown
from kb.services.text import reject_control_characters
from kb.services.videos import clean_videos

__all__ = [
    "archive", "create_guide", "diff_revisions", "get_guide", "get_revision", "guide_doc_key",
    "guide_text", "import_guide", "index_guide", "is_overdue", "list_guides", "list_revisions",
    "may_see", "may_write", "overdue_ids", "publish", "render_body", "render_markdown",
    "restore_revision",
    "save_revision", "shows_upload", "slugify", "suggest_language", "tag_suggestions", "unpublish",
]  # fmt: skip

MAX_TITLE = 300
MAX_TAGS = 500
# Slugs that name pages under /guides/ rather than a guide.
RESERVED_SLUGS = frozenset({"new", "mine", "videos", "id"})
_CYRILLIC = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        "a b v g d e e zh z i i k l m n o p r s t u f kh ts ch sh shch - y - e yu ya".split(),
        strict=True,
    )
) | {"ъ": "", "ь": ""}


def slugify(text: str) -> str:
    """A URL slug: ASCII letters, digits and '-' (Polish and Russian letters transliterated)."""
    out = []
    for ch in text.lower().replace("ł", "l"):
        out.append(_CYRILLIC.get(ch, ch))
    ascii_text = unicodedata.normalize("NFKD", "".join(out)).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")
    return slug[:80].rstrip("-") or "guide"


def guide_doc_key(guide: Guide) -> str:
    return f"guide:{guide.id}"


def clean_title(title: str) -> str:
    reject_control_characters(title or "", "title")
    title = " ".join((title or "").split())
    if not title:
        raise ValidationError(N_("a title is required"), field="title")
    if len(title) > MAX_TITLE:
        raise ValidationError(
            N_("the title is %(length)s characters long, the limit is %(limit)s"),
            field="title",
            length=len(title),
            limit=MAX_TITLE,
        )
    return title


def clean_body(body_md: str | None) -> str:
    """A markdown body: control characters other than tabs and line breaks are refused."""
    return reject_control_characters(body_md or "", "body_md")


def clean_language(language: str) -> str:
    if language not in LANGUAGES:
        raise ValidationError(
            N_("unknown language %(language)r; use %(choices)s"),
            field="language",
            language=language,
            choices=", ".join(LANGUAGES),
        )
    return language


def clean_tags(tags: Sequence[str] | str | None) -> str:
    """Tags as stored: lower-case, de-duplicated, ";"-separated."""
    items = split_list(tags.replace(",", ";")) if isinstance(tags, str) else list(tags or ())
    joined = join_list(list(dict.fromkeys(t.strip().lower() for t in items if t.strip())))
    if len(joined) > MAX_TAGS:
        raise ValidationError(
            N_("tags take more than %(limit)s characters"), field="tags", limit=MAX_TAGS
        )
    return joined


def _visible(guide: Guide, user: Person | None) -> bool:
    if guide.status == "published":
        return True
    if user is None:
        return False
    if guide.status == "archived":
        return user.id == guide.author_id or user.has_role("hr")
    return user.id == guide.author_id


def may_see(guide: Guide, user: Person | None) -> bool:
    """Whether ``user`` may see the guide and its revisions (see module doc)."""
    return _visible(guide, user)


def shows_upload(session: Session, name: str, user: Person | None) -> bool:
    """Whether ``user`` may see a guide with a revision that links to the uploaded video
    ``name`` (one query over the indexed ``video_reference`` rows)."""
    linking = session.scalars(
        select(Guide).where(
            Guide.id.in_(
                select(GuideRevision.guide_id)
                .join(VideoReference, VideoReference.revision_id == GuideRevision.id)
                .where(VideoReference.name == name)
            )
        )
    )
    return any(_visible(guide, user) for guide in linking)


def lock_uploads(session: Session, names: Iterable[str]) -> dict[str, int]:
    """The uploads among ``names`` that exist (name: owner id), each locked until the
    transaction ends, so that deleting a video and linking a guide to it never both pass
    their checks (kb.services.uploads.delete_upload takes the same lock).

    The lock is an UPDATE that changes nothing: on PostgreSQL it holds the row as SELECT ...
    FOR UPDATE would; on SQLite, which has no row locks and whose driver opens no
    transaction for a bare SELECT, it takes the database's write lock. Names are locked in
    order, so two transactions locking the same names cannot deadlock."""
    found: dict[str, int] = {}
    for name in sorted(set(names)):
        owner = session.execute(
            update(VideoUpload)
            .where(VideoUpload.name == name)
            .values(size=VideoUpload.size)
            .returning(VideoUpload.owner_id),
            execution_options={"synchronize_session": False},
        ).scalar()
        if owner is not None:
            found[name] = owner
    return found


def _check_upload_links(session: Session, videos: str, editor: Person) -> None:
    """A guide may link only to uploaded videos that exist and its editor may watch (their
    own, or one a guide they may see links to already): pasting a leaked name into one's own
    draft must not open someone's unpublished video, and an old revision's link to a deleted
    video must not bring it back. Any other name is as missing. The uploads stay locked until
    the edit commits, so none of them can be deleted in between."""
    names = uploaded_names(videos)
    owners = lock_uploads(session, names)
    for name in names:
        owner = owners.get(name)
        if owner is None or (owner != editor.id and not shows_upload(session, name, editor)):
            raise ValidationError(N_("no video is uploaded as %(name)s"), field="videos", name=name)


# What only a guide's author may do, and the refusal for everyone else.
AUTHOR_ONLY = {
    "edit": N_("only the author of a guide can edit it"),
    "publish": N_("only the author of a guide can publish it"),
    "unpublish": N_("only the author of a guide can unpublish it"),
    "restore": N_("only the author of a guide can restore it"),
}
GUIDE_NOT_FOUND = N_("guide %(slug)r not found")


def _require_author(
    guide: Guide, user: Person, action: Literal["edit", "publish", "unpublish", "restore"]
) -> None:
    if not _visible(guide, user):
        raise NotFound(GUIDE_NOT_FOUND, slug=guide.slug)
    if user.id != guide.author_id:
        raise PermissionDenied(AUTHOR_ONLY[action])


def may_write(user: Person | None) -> bool:
    """Who may start a guide: mentors (the programme's authors) and HR."""
    return user is not None and (user.has_role("mentor") or user.has_role("hr"))


def _unique_slug(session: Session, base: str) -> str:
    slug, n = base, 2
    if slug in RESERVED_SLUGS:
        slug = f"{base}-{n}"
        n += 1
    while session.scalar(select(Guide.id).where(Guide.slug == slug)) is not None:
        slug, n = f"{base}-{n}", n + 1
    return slug


def create_guide(
    session: Session,
    author: Person,
    *,
    title: str,
    body_md: str,
    language: str,
    tags: Sequence[str] | str | None = (),
    slug: str | None = None,
    source_path: str | None = None,
    videos: str = "",
    review_by: dt.date | None = None,
) -> Guide:
    """A new draft guide with revision 1. An explicit ``slug`` must be free (imports name it
    after the file); without one a free slug is made from the title."""
    title = clean_title(title)
    if slug is not None:
        if slug != slugify(slug) or slug in RESERVED_SLUGS:
            raise ValidationError(
                N_("%(slug)r is not a slug; try %(suggestion)r"),
                field="slug",
                slug=slug,
                suggestion=slugify(slug),
            )
        if session.scalar(select(Guide.id).where(Guide.slug == slug)) is not None:
            raise ValidationError(N_("the slug %(slug)r is already taken"), field="slug", slug=slug)
    else:
        slug = _unique_slug(session, slugify(title))
    videos = clean_videos(videos)
    _check_upload_links(session, videos, author)
    guide = Guide(
        slug=slug, author_id=author.id, title=title, language=clean_language(language),
        tags=clean_tags(tags), status="draft", source_path=source_path, review_by=review_by,
    )  # fmt: skip
    guide.revisions.append(
        GuideRevision(
            number=1,
            title=title,
            body_md=clean_body(body_md),
            videos=videos,
            editor_id=author.id,
        )  # fmt: skip
    )
    session.add(guide)
    session.flush()
    return guide


def guide_text(guide: Guide) -> str:
    """What search indexes for a guide: its current markdown as plain text."""
    current = guide.current
    return markdown_to_text(current.body_md) if current else ""


def render_body(title: str, body_md: str) -> str:
    """A guide's body as safe HTML for a page that shows ``title`` as its heading: a first
    heading repeating the title is left out (the stored text keeps it; search indexes it)."""
    return render_markdown(drop_title_heading(body_md, title))


def index_guide(session: Session, guide: Guide, embedders: Mapping[str, Embedder]) -> bool:
    """Bring the guide's chunks in line with its state: published -> chunks, else none."""
    key = guide_doc_key(guide)
    if guide.status != "published":
        return remove_chunks(session, key)
    return replace_chunks(
        session, doc_key=key, doc_type="guide", doc_id=guide.id, title=guide.title,
        text=guide_text(guide), language=guide.language, tags=guide.tags,
        author_id=guide.author_id, doc_date=guide.published_on, pair_id=None,
        embedders=embedders,
    )  # fmt: skip


def save_revision(
    session: Session,
    guide: Guide,
    editor: Person,
    *,
    title: str,
    body_md: str,
    embedders: Mapping[str, Embedder],
    language: str | None = None,
    tags: Sequence[str] | str | None = None,
    videos: str | None = None,
    review_by: dt.date | None | Literal["keep"] = "keep",
) -> GuideRevision:
    """Save an edit as revision n+1 (author only); a published guide is re-indexed.

    An edit that changes neither title, body nor videos adds no revision (language, tags and
    the review-by date live on the guide itself). ``videos=None`` keeps the current ones.
    Returns the current revision.
    """
    _require_author(guide, editor, "edit")
    title = clean_title(title)
    body_md = clean_body(body_md)
    current = guide.current
    if videos is not None:
        videos = clean_videos(videos)
        _check_upload_links(session, videos, editor)
    else:
        videos = current.videos if current else ""
    if language is not None:
        guide.language = clean_language(language)
    if tags is not None:
        guide.tags = clean_tags(tags)
    if review_by != "keep":
        guide.review_by = review_by
    if (
        current is None
        or current.title != title
        or current.body_md != body_md
        or current.videos != videos
    ):
        number = (
            session.scalar(
                select(func.max(GuideRevision.number)).where(GuideRevision.guide_id == guide.id)
            )
            or 0
        ) + 1
        guide.revisions.append(
            GuideRevision(
                number=number, title=title, body_md=body_md, videos=videos, editor_id=editor.id
            )
        )
        guide.title = title
    session.flush()
    index_guide(session, guide, embedders)
    return guide.revisions[-1]


def publish(
    session: Session,
    guide: Guide,
    user: Person,
    embedders: Mapping[str, Embedder],
    *,
    published_on: dt.date | None = None,
) -> Guide:
    """Make a guide public and searchable (author only)."""
    _require_author(guide, user, "publish")
    if not guide_text(guide).strip():
        raise ValidationError(N_("an empty guide cannot be published"), field="body_md")
    guide.status = "published"
    if published_on is not None or guide.published_on is None:
        guide.published_on = published_on or dt.date.today()
    session.flush()
    index_guide(session, guide, embedders)
    return guide


def unpublish(session: Session, guide: Guide, user: Person) -> Guide:
    """Back to draft (author only): no longer visible to others nor searchable."""
    _require_author(guide, user, "unpublish")
    guide.status = "draft"
    session.flush()
    remove_chunks(session, guide_doc_key(guide))
    return guide


def archive(session: Session, guide: Guide, user: Person) -> Guide:
    """Retire a guide (its author or HR): kept for the record, gone from search."""
    if not _visible(guide, user):
        raise NotFound(GUIDE_NOT_FOUND, slug=guide.slug)
    if user.id != guide.author_id and not user.has_role("hr"):
        raise PermissionDenied(N_("only the author or HR can archive a guide"))
    guide.status = "archived"
    session.flush()
    remove_chunks(session, guide_doc_key(guide))
    return guide


def get_guide(session: Session, slug: str, user: Person | None) -> Guide:
    """A guide the user may see (see module doc); otherwise NotFound."""
    guide = session.scalar(select(Guide).where(Guide.slug == slug))
    if guide is None or not _visible(guide, user):
        raise NotFound(GUIDE_NOT_FOUND, slug=slug)
    return guide


def list_revisions(session: Session, guide: Guide, user: Person | None) -> list[GuideRevision]:
    """All revisions, oldest first, for whoever may see the guide."""
    if not _visible(guide, user):
        raise NotFound(GUIDE_NOT_FOUND, slug=guide.slug)
    return list(
        session.scalars(
            select(GuideRevision)
            .where(GuideRevision.guide_id == guide.id)
            .order_by(GuideRevision.number)
        )
    )


def list_guides(
    session: Session,
    user: Person | None,
    *,
    status: str | None = None,
    author: Person | None = None,
) -> list[Guide]:
    """Guides the user may see, newest first, optionally by status or author."""
    query = select(Guide).order_by(Guide.updated_at.desc(), Guide.id.desc())
    if status is not None:
        query = query.where(Guide.status == status)
    if author is not None:
        query = query.where(Guide.author_id == author.id)
    return [g for g in session.scalars(query) if _visible(g, user)]


def import_guide(
    session: Session,
    author: Person,
    *,
    title: str,
    body_md: str,
    language: str,
    tags: Sequence[str] | str | None,
    slug: str,
    source_path: str,
    published: bool,
    published_on: dt.date | None,
    content_hash: str,
    embedders: Mapping[str, Embedder],
) -> tuple[Guide, str]:
    """Create or update the guide imported from ``source_path`` (the file is the authority).

    A changed body or title adds a revision; visibility maps to published/draft, except that
    a guide HR archived stays archived. Indexes once at the end. Status: created / updated.
    """
    guide = session.scalar(select(Guide).where(Guide.source_path == source_path))
    title = clean_title(title)
    if guide is None:
        guide = create_guide(
            session, author, title=title, body_md=body_md, language=language, tags=tags,
            slug=slug, source_path=source_path,
        )  # fmt: skip
        status = "created"
    else:
        status = "updated"
        guide.author_id = author.id
        guide.language = clean_language(language)
        guide.tags = clean_tags(tags)
        current = guide.current
        if current is None or current.title != title or current.body_md != body_md:
            number = max((r.number for r in guide.revisions), default=0) + 1
            guide.revisions.append(
                GuideRevision(
                    number=number, title=title, body_md=clean_body(body_md), editor_id=author.id
                )
            )
            guide.title = title
    if guide.status != "archived":
        if published and not guide_text(guide).strip():
            raise ValidationError(N_("an empty guide cannot be published"), field="body_md")
        guide.status = "published" if published else "draft"
    if published and (published_on is not None or guide.published_on is None):
        guide.published_on = published_on or dt.date.today()
    guide.content_hash = content_hash
    session.flush()
    index_guide(session, guide, embedders)
    return guide, status


def get_revision(session: Session, guide: Guide, number: int, user: Person | None) -> GuideRevision:
    """Revision ``number`` of a guide the user may see; otherwise NotFound."""
    if not _visible(guide, user):
        raise NotFound(GUIDE_NOT_FOUND, slug=guide.slug)
    revision = session.scalar(
        select(GuideRevision).where(
            GuideRevision.guide_id == guide.id, GuideRevision.number == number
        )
    )
    if revision is None:
        raise NotFound(
            N_("guide %(slug)r has no revision %(number)s"), slug=guide.slug, number=number
        )
    return revision


def restore_revision(
    session: Session,
    guide: Guide,
    editor: Person,
    number: int,
    embedders: Mapping[str, Embedder],
) -> GuideRevision:
    """Make an old revision's title, body and videos current again, as a new revision (the
    history is never rewritten). Author only; a published guide is re-indexed."""
    _require_author(guide, editor, "restore")
    old = get_revision(session, guide, number, editor)
    return save_revision(
        session, guide, editor, title=old.title, body_md=old.body_md, videos=old.videos,
        embedders=embedders,
    )  # fmt: skip


@dataclass(frozen=True)
class DiffLine:
    """One line of a diff: kind is "add", "remove", "same" or "gap" (skipped lines)."""

    kind: str
    text: str


def _revision_lines(revision: GuideRevision) -> list[str]:
    lines = [f"# {revision.title}", ""] + revision.body_md.splitlines()
    if revision.videos:
        lines += ["", "Videos:"] + revision.videos.splitlines()
    return lines


def diff_revisions(old: GuideRevision, new: GuideRevision, context: int = 3) -> list[DiffLine]:
    """A line diff from ``old`` to ``new`` (title, body, videos) with ``context`` lines around
    each change. Plain text: the page escapes it like any other text."""
    out: list[DiffLine] = []
    a, b = _revision_lines(old), _revision_lines(new)
    for group in difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(context):
        if out:
            out.append(DiffLine("gap", ""))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out.extend(DiffLine("same", line) for line in a[i1:i2])
                continue
            out.extend(DiffLine("remove", line) for line in a[i1:i2])
            out.extend(DiffLine("add", line) for line in b[j1:j2])
    return out


def suggest_language(title: str, body_md: str) -> str:
    """The language a new guide is most likely written in (the search's own heuristic)."""
    return guess_language(f"{title} {markdown_to_text(body_md or '')[:5000]}")


def tag_suggestions(session: Session, user: Person | None, limit: int = 200) -> list[str]:
    """Tags already in use on guides the user can see, most used first (ties by name)."""
    query = select(Guide.tags).where(Guide.tags != "")
    if user is None:
        query = query.where(Guide.status == "published")
    else:
        query = query.where((Guide.status == "published") | (Guide.author_id == user.id))
    counts: dict[str, int] = {}
    for tags in session.scalars(query):
        for tag in split_list(tags):
            counts[tag] = counts.get(tag, 0) + 1
    return sorted(counts, key=lambda t: (-counts[t], t))[:limit]


def is_overdue(guide: Guide, today: dt.date | None = None) -> bool:
    """Past its review-by date: shown as possibly out of date."""
    return guide.review_by is not None and guide.review_by < (today or dt.date.today())


def overdue_ids(
    session: Session, guide_ids: Sequence[int], today: dt.date | None = None
) -> set[int]:
    """Which of these guides are past their review-by date (one query, for result lists)."""
    if not guide_ids:
        return set()
    day = today or dt.date.today()
    return set(
        session.scalars(
            select(Guide.id).where(
                Guide.id.in_(list(guide_ids)),
                Guide.review_by.is_not(None),
                Guide.review_by < day,
            )
        )
    )
