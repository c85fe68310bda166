"""Uploaded videos against every database (SQLite, and PostgreSQL when configured): which
guides link one, deleting it while no current revision does, linking only what exists, a
delete and an edit that links the same video never both passing, and the leftovers of a
delete that a crash interrupted."""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kb.config import Settings
from kb.embedding import FakeEmbedder
from kb.errors import ValidationError
from kb.models import Guide, Person, VideoUpload
from kb.services import guides, uploads
from tests.services.conftest import World

MP4 = b"\x00\x00\x00\x18ftypmp42" + b"mia's own video frames " * 50
Embedders = dict[str, FakeEmbedder]


@pytest.fixture
def directory(settings: Settings) -> Path:
    return uploads.videos_dir(settings.instance_dir)


def store(session: Session, owner: Person, directory: Path, data: bytes = MP4) -> str:
    name = uploads.store_video(session, owner, io.BytesIO(data), 10**6, directory).name
    session.commit()
    return name


def line(name: str) -> str:
    return f"/guides/videos/{name} | clip"


def write_guide(session: Session, author: Person, embedders: Embedders, videos: str) -> Guide:
    guide = guides.create_guide(session, author, title="Clips", body_md="How it is done.",
                                language="en", videos=videos)  # fmt: skip
    session.commit()
    return guide


def edit(session: Session, guide: Guide, author: Person, embedders: Embedders, videos: str) -> None:
    guides.save_revision(session, guide, author, title=guide.title, body_md="How it is done.",
                         embedders=embedders, videos=videos)  # fmt: skip


def test_a_video_goes_only_once_no_current_revision_links_it_and_never_comes_back(
    session: Session, world: World, directory: Path, embedders: Embedders
) -> None:
    name = store(session, world.mentor, directory)
    guide = write_guide(session, world.mentor, embedders, line(name))
    guides.publish(session, guide, world.mentor, embedders)
    session.commit()
    assert uploads.guides_linking(session, name) == [(guide, True)]
    upload = uploads.find_upload(session, name)
    with pytest.raises(uploads.UploadInUse) as refused:
        uploads.delete_upload(session, upload, world.mentor, directory)
    assert refused.value.usage.shown == [guide]
    session.rollback()
    edit(session, guide, world.mentor, embedders, "")
    session.commit()
    assert uploads.guides_linking(session, name) == [(guide, False)]  # revision 1 still links
    uploads.delete_upload(session, upload, world.mentor, directory)
    assert session.scalar(select(VideoUpload)) is None
    assert list(directory.iterdir()) == []
    # Revision 1's line is no way back to a deleted video: neither an edit nor a restore.
    for bring_back in (
        lambda: edit(session, guide, world.mentor, embedders, line(name)),
        lambda: guides.restore_revision(session, guide, world.mentor, 1, embedders),
    ):
        with pytest.raises(ValidationError, match=f"no video is uploaded as {name}"):
            bring_back()
        session.rollback()


def in_thread(work: Callable[[], object]) -> Callable[[], object]:
    """Start ``work``; the returned function waits for it and gives its result or error."""
    result: list[object] = []

    def run() -> None:
        try:
            result.append(work())
        except Exception as error:  # handed to the test, which checks its kind
            result.append(error)

    thread = threading.Thread(target=run)
    thread.start()

    def outcome() -> object:
        thread.join(timeout=60)
        assert not thread.is_alive() and result
        return result[0]

    return outcome


def test_a_delete_waits_for_an_edit_that_links_the_video_then_refuses(
    sessions: sessionmaker[Session], world: World, directory: Path, embedders: Embedders
) -> None:
    with sessions() as s:
        author = s.get(Person, world.mentor.id)
        assert author is not None
        name = store(s, author, directory)
        guide_id = write_guide(s, author, embedders, "").id
    with sessions() as editing:
        author = editing.get(Person, world.mentor.id)
        guide = editing.get(Guide, guide_id)
        assert author is not None and guide is not None
        edit(editing, guide, author, embedders, line(name))  # linked, not yet committed

        def delete() -> object:
            with sessions() as deleting:
                owner = deleting.get(Person, world.mentor.id)
                assert owner is not None
                upload = uploads.find_upload(deleting, name)
                uploads.delete_upload(deleting, upload, owner, directory)
            return "deleted"

        outcome = in_thread(delete)
        time.sleep(0.5)  # the delete waits for the edit's lock on the upload
        editing.commit()
    assert isinstance(outcome(), uploads.UploadInUse)
    assert (directory / name).read_bytes() == MP4
    with sessions() as s:
        assert uploads.guides_linking(s, name)[0][1] is True


def test_an_edit_waits_for_a_delete_of_the_video_it_links_then_refuses(
    sessions: sessionmaker[Session], world: World, directory: Path, embedders: Embedders
) -> None:
    with sessions() as s:
        author = s.get(Person, world.mentor.id)
        assert author is not None
        name = store(s, author, directory)
        guide_id = write_guide(s, author, embedders, "").id
    with sessions() as deleting:
        assert guides.lock_uploads(deleting, [name, "0" * 32 + ".mp4"]) == {name: world.mentor.id}
        deleting.delete(uploads.find_upload(deleting, name))
        deleting.flush()  # the delete's check passed and its row is going, not yet committed

        def link() -> object:
            with sessions() as editing:
                author = editing.get(Person, world.mentor.id)
                guide = editing.get(Guide, guide_id)
                assert author is not None and guide is not None
                edit(editing, guide, author, embedders, line(name))
                editing.commit()
            return "linked"

        outcome = in_thread(link)
        time.sleep(0.5)  # the edit waits for the delete's lock on the upload
        deleting.commit()
    refused = outcome()
    assert isinstance(refused, ValidationError) and name in str(refused)
    with sessions() as s:
        assert uploads.guides_linking(s, name) == []


def crash_mid_delete(directory: Path, name: str) -> Path:
    """What a crash after delete_upload's rename leaves: the file set aside."""
    aside = directory / f".{name}.deleting"
    os.replace(directory / name, aside)
    return aside


@pytest.mark.parametrize("next_step", ["upload", "delete"])
def test_the_next_upload_or_delete_finishes_a_delete_a_crash_interrupted(
    session: Session, world: World, directory: Path, next_step: str
) -> None:
    kept, gone, other = (
        store(session, world.mentor, directory, MP4 + bytes([i])) for i in range(3)
    )
    kept_aside = crash_mid_delete(directory, kept)  # crashed before its commit: the row stays
    gone_aside = crash_mid_delete(directory, gone)  # crashed after its commit: the row went
    session.delete(uploads.find_upload(session, gone))
    session.commit()
    stranger = directory / ".notes.txt.deleting"  # not an upload's name: left alone
    stranger.write_bytes(b"x")
    if next_step == "upload":
        store(session, world.mentor, directory)
    else:
        uploads.delete_upload(session, uploads.find_upload(session, other), world.mentor, directory)
    assert (directory / kept).read_bytes() == MP4 + bytes([0])
    assert not kept_aside.exists() and not gone_aside.exists() and stranger.exists()
    assert not (directory / gone).exists()
    assert uploads.find_upload(session, kept).name == kept
    assert uploads.recover_deletions(session, directory) == []
