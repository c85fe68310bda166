"""Short video files uploaded for guides: checked, stored in the instance, found again.

A file is accepted only if its first bytes say it is an MP4, WebM or Ogg video (never by
its name or the browser's claimed type) and it is no larger than the limit (the settings'
``max_upload_bytes``). It is copied in chunks (never whole in memory) to a temporary file
in ``INSTANCE/videos`` and renamed to a random name (``<32 hex>.<mp4|webm|ogv>``, the form
:mod:`kb.services.videos` accepts as ``/guides/videos/NAME``), so the uploader's file name
never reaches the disk. The row records whose it is: their data export holds the file.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.errors import NotFound, PermissionDenied, ValidationError
from kb.i18n import N_
from kb.models import Person, VideoUpload

CHUNK = 64 * 1024
TYPES = {"mp4": "video/mp4", "webm": "video/webm", "ogv": "video/ogg"}
NAME = re.compile(r"^[a-f0-9]{32}\.(?:mp4|webm|ogv)$")
MAX_UPLOADS = 50  # per person: a guide holds at most 10 videos


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
    upload = VideoUpload(owner_id=owner.id, name=name, content_type=TYPES[kind], size=size)
    session.add(upload)
    session.flush()
    return upload


def find_upload(session: Session, name: str) -> VideoUpload:
    """The upload served at ``/guides/videos/NAME``; NotFound for any other name."""
    found = None
    if NAME.match(name):
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
