"""Short video files uploaded for guides: checked, stored in the instance, found again.

A file is accepted only if its first bytes say it is an MP4, WebM or Ogg video (never by
its name or the browser's claimed type) and it is no larger than the limit (the settings'
``max_upload_bytes``). It is copied in chunks (never whole in memory) to a temporary file
in ``INSTANCE/videos`` and renamed to a random name (``<32 hex>.<mp4|webm|ogv>``, the form
:mod:`kb.services.videos` accepts as ``/guides/videos/NAME``), so the uploader's file name
never reaches the disk. The row records whose it is: their data export holds the file.

Who may watch one (:func:`watchable_upload`): its uploader, and whoever may see a guide
with a revision that links to it (a published guide: everyone; a draft: its author; an
archived one: its author and HR), found through the indexed ``video_reference`` rows. To
anyone else it does not exist (NotFound, so a guessed name confirms nothing). Its uploader
and HR (who moderate guides) may delete it (:func:`delete_upload`) unless the current
revision of a guide still links to it; the row stays locked from that check to the commit,
and an edit linking a video takes the same lock (:func:`kb.services.guides.lock_uploads`).
A delete a crash interrupted is finished by the next upload or delete
(:func:`recover_deletions`).
"""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from kb.errors import NotFound, PermissionDenied, TandemError, ValidationError
from kb.i18n import N_
from kb.models import (
    VIDEO_NAME,
    VIDEO_TYPES,
    Guide,
    GuideRevision,
    Person,
    VideoReference,
    VideoUpload,
)
from kb.services import audit
from kb.services.guides import lock_uploads, may_see, shows_upload

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
MAX_UPLOADS = 50  # per person: a guide holds at most 10 videos
DELETING = ".deleting"  # the suffix of a file set aside while its delete commits


def videos_dir(instance_dir: Path) -> Path:
    return instance_dir / "videos"


def sniff(head: bytes) -> str | None:
    """The file kind (``mp4``, ``webm``, ``ogv``) its first bytes show, else None."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: WebM (Matroska)
        return "webm"
    if head.startswith(b"OggS"):
        return "ogv"
    return None


def store_video(
    session: Session, owner: Person, stream: IO[bytes], limit: int, directory: Path
) -> VideoUpload:
    """Store an uploaded video of ``owner`` (a writer of guides), refused with a reason when
    it is not a video or larger than ``limit`` bytes. The caller commits; if it does not,
    the file stays unreferenced (and unserved)."""
    if not (owner.has_role("mentor") or owner.has_role("hr")):
        raise PermissionDenied(N_("Only mentors and HR write guides."))
    count = len(
        list(session.scalars(select(VideoUpload.id).where(VideoUpload.owner_id == owner.id)))
    )
    if count >= MAX_UPLOADS:
        raise ValidationError(
            N_("You have uploaded %(most)s videos already; remove one first."), most=MAX_UPLOADS
        )
    head = stream.read(12)
    kind = sniff(head)
    if kind is None:
        raise ValidationError(N_("Upload an MP4, WebM or Ogg video."), field="video")
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{uuid.uuid4().hex}.{kind}"
    partial = directory / f".{name}.part"
    size = 0
    try:
        with open(partial, "xb") as out:
            chunk = head
            while chunk:
                size += len(chunk)
                if size > limit:
                    raise ValidationError(
                        N_("The video is larger than %(limit)s MB."),
                        field="video", limit=round(limit / 1024 / 1024, 1),
                    )  # fmt: skip
                out.write(chunk)
                chunk = stream.read(CHUNK)
        os.replace(partial, directory / name)
    finally:
        partial.unlink(missing_ok=True)
    recover_deletions(session, directory)
    upload = VideoUpload(owner_id=owner.id, name=name, content_type=VIDEO_TYPES[kind], size=size)
    session.add(upload)
    session.flush()
    return upload


def find_upload(session: Session, name: str) -> VideoUpload:
    """The upload stored as ``NAME``, whoever may watch it; NotFound for any other name."""
    found = None
    if VIDEO_NAME.match(name):
        found = session.scalar(select(VideoUpload).where(VideoUpload.name == name))
    if found is None:
        raise NotFound(N_("No such video."))
    return found


def uploads_of(session: Session, person: Person) -> list[VideoUpload]:
    """The person's own uploads, oldest first."""
    return list(
        session.scalars(
            select(VideoUpload).where(VideoUpload.owner_id == person.id).order_by(VideoUpload.id)
        )
    )


def file_of(upload: VideoUpload, directory: Path) -> Path:
    """Where the upload's bytes are (its name was checked when it was stored)."""
    return directory / upload.name


NO_SUCH_VIDEO = N_("No such video.")


def guides_linking(session: Session, name: str) -> list[tuple[Guide, bool]]:
    """The guides with a revision that links to the upload ``name`` (one query over the
    indexed references), each with whether its current revision does; by title."""
    latest = (
        select(func.max(GuideRevision.number))
        .where(GuideRevision.guide_id == Guide.id)
        .correlate(Guide)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Guide, func.max(case((GuideRevision.number == latest, 1), else_=0)))
        .join(GuideRevision, GuideRevision.guide_id == Guide.id)
        .join(VideoReference, VideoReference.revision_id == GuideRevision.id)
        .where(VideoReference.name == name)
        .group_by(Guide.id)
    ).all()
    return sorted(
        ((guide, bool(current)) for guide, current in rows),
        key=lambda pair: (pair[0].title.casefold(), pair[0].id),
    )


def may_watch(session: Session, upload: VideoUpload, user: Person | None) -> bool:
    """Its uploader, and whoever may see a guide with a revision that links to it."""
    if user is not None and user.id == upload.owner_id:
        return True
    return shows_upload(session, upload.name, user)


def watchable_upload(session: Session, name: str, user: Person | None) -> VideoUpload:
    """The upload ``name`` if ``user`` may watch it; NotFound otherwise (never 403: a
    guessed name must not learn that a file exists)."""
    upload = find_upload(session, name)
    if not may_watch(session, upload, user):
        raise NotFound(NO_SUCH_VIDEO)
    return upload


def may_delete(upload: VideoUpload, user: Person) -> bool:
    """Its uploader, and HR (who moderate guides: they may archive any)."""
    return user.id == upload.owner_id or user.has_role("hr")


@dataclass(frozen=True)
class Usage:
    """The guides whose current revision links to an upload: those the asker may see (by
    name) and how many others."""

    shown: list[Guide]
    hidden: int

    def __bool__(self) -> bool:
        return bool(self.shown) or self.hidden > 0


def usage(session: Session, upload: VideoUpload, user: Person) -> Usage:
    """Where the upload is in use now (the current revision of a guide, any status)."""
    current = [guide for guide, now in guides_linking(session, upload.name) if now]
    shown = [guide for guide in current if may_see(guide, user)]
    return Usage(shown=shown, hidden=len(current) - len(shown))


class UploadInUse(TandemError):
    """The upload cannot go: the current revision of a guide links to it."""

    status = 409

    def __init__(self, in_use: Usage) -> None:
        super().__init__(N_("A guide still shows this video; remove its line from it first."))
        self.usage = in_use


def delete_upload(session: Session, upload: VideoUpload, user: Person, directory: Path) -> None:
    """Delete an upload (its uploader or HR), its row and its file as one step, and commit.

    Refused (:class:`UploadInUse`) while the current revision of any guide links to it: the
    author removes the line first (a new revision), so no published guide loses a video
    behind its readers' back; older revisions keep their line, which then shows no video.
    The row is locked first (:func:`kb.services.guides.lock_uploads`, which an edit linking
    a video takes too), so no guide can link it between the check and the commit.
    The file is first renamed aside: if that fails nothing has changed; if the commit
    fails it is put back; only after the commit is it removed (a crash in between leaves
    ``.NAME.deleting``, which :func:`recover_deletions` finishes). HR removing someone
    else's upload is audited.
    """
    if not may_delete(upload, user):  # as archiving a guide: to others it is not there
        raise NotFound(NO_SUCH_VIDEO)
    if upload.name not in lock_uploads(session, [upload.name]):  # deleted meanwhile
        raise NotFound(NO_SUCH_VIDEO)
    in_use = usage(session, upload, user)
    if in_use:
        raise UploadInUse(in_use)
    path = file_of(upload, directory)
    moved = _aside(directory, upload.name)
    aside: Path | None = moved
    try:
        os.replace(path, moved)
    except FileNotFoundError:
        aside = None  # already gone from the disk: only the row remains to delete
    if user.id != upload.owner_id:
        audit.record(
            session, user, "video.delete", "video_upload", upload.id,
            detail={"owner_id": upload.owner_id, "size": upload.size},
        )  # fmt: skip
    session.delete(upload)
    committed = False
    try:
        session.commit()
        committed = True
    finally:
        if not committed:
            if aside is not None:
                _put_back(aside, path)
            session.rollback()
    if aside is not None:
        try:
            aside.unlink(missing_ok=True)  # missing: recover_deletions elsewhere removed it
        except OSError as error:  # the row is gone, so the file is no longer served
            log.warning("deleted upload %s left its file %s: %s", upload.name, aside, error)
    recover_deletions(session, directory)
    session.commit()


def _aside(directory: Path, name: str) -> Path:
    """Where a file being deleted waits for the commit: not a stored name, so never served."""
    return directory / f".{name}{DELETING}"


def _put_back(aside: Path, path: Path) -> None:
    try:
        os.replace(aside, path)
    except FileNotFoundError:  # recover_deletions in another process put it back already
        pass


def recover_deletions(session: Session, directory: Path) -> list[str]:
    """Finish the deletes a crash interrupted between renaming a file aside and removing it:
    ``.NAME.deleting`` goes back to ``NAME`` while the upload's row exists (its delete never
    committed) and is removed once the row is gone. The rows are locked first, as
    :func:`delete_upload` locks them, so a delete still under way in another process is
    waited for, never undone. Runs after each delete and upload (the caller commits); returns
    the names it put back or removed."""
    leftovers = {
        path.name[1 : -len(DELETING)]: path
        for path in directory.glob(f".*{DELETING}")
        if VIDEO_NAME.match(path.name[1 : -len(DELETING)])
    }
    if not leftovers:
        return []
    existing = lock_uploads(session, leftovers)
    done: list[str] = []
    for name, aside in sorted(leftovers.items()):
        try:
            if name not in existing:
                aside.unlink()
            elif (directory / name).exists():  # both: the one served stays
                aside.unlink()
            else:
                os.replace(aside, directory / name)
        except FileNotFoundError:  # a delete elsewhere finished it while we waited
            continue
        except OSError as error:  # kept for the next run; the file is not served meanwhile
            log.warning("could not recover the deleted upload %s: %s", name, error)
            continue
        done.append(name)
    return done
