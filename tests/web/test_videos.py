"""Uploaded video files: a writer uploads one (checked by its first bytes, within the size
limit, streamed to the instance), anyone watches it with its own type, and the uploader's
data export holds its bytes, never another person's video; erasure removes the files."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from kb.errors import ValidationError
from kb.models import AuditEntry, Guide, GuideRevision, VideoReference, VideoUpload
from kb.runtime import Tandem
from kb.services import erasure, people, uploads
from tests.test_cli import instance_env, run

from .test_api import Login

MP4 = b"\x00\x00\x00\x18ftypmp42" + b"anna's own video frames " * 200
WEBM = b"\x1a\x45\xdf\xa3" + b"celina's video frames " * 200


def upload(client: FlaskClient, data: bytes, filename: str) -> str:
    """Post a file to the upload page; the stored name of the newest upload."""
    answer = client.post(
        "/guides/videos", data={"video": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert answer.status_code == 302, answer.get_data(as_text=True)[:500]
    page = client.get("/guides/videos").get_data(as_text=True)
    assert "Video uploaded" in page
    return page.rsplit('<code class="video-line">/guides/videos/', 1)[1].split(" ", 1)[0]


def guide(client: FlaskClient, title: str, name: str, slug: str = "") -> str:
    """Save a draft guide (or a new revision of ``slug``) whose videos are the upload
    ``name`` (none if empty); the guide's slug."""
    videos = f"/guides/videos/{name} | {title} clip" if name else ""
    data = {"title": title, "body_md": f"{title}: how it is done.", "videos": videos}
    answer = client.post(f"/guides/{slug}/edit" if slug else "/guides/new", data=data)
    assert answer.status_code == 302, answer.get_data(as_text=True)[:500]
    return slug or answer.headers["Location"].rsplit("/guides/", 1)[1].split("/")[0]


def publish(client: FlaskClient, slug: str) -> None:
    answer = client.post(f"/guides/{slug}/publish", data={"confirm": "1"})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:500]


def videos_dir(web_tandem: Tandem) -> Path:
    return uploads.videos_dir(web_tandem.settings.instance_dir)


def test_the_export_holds_the_uploaders_own_video_bytes(
    app: Flask, client: FlaskClient, login: Login, web_tandem: Tandem, tmp_path: Path
) -> None:
    login(client, "celina@example.com")
    theirs = upload(client, WEBM, "celina.webm")
    client.post("/logout")
    login(client, "anna@example.com")
    mine = upload(client, MP4, "../../etc/anna video.mp4")
    assert mine.endswith(".mp4") and "anna" not in mine  # a random name, never the file's
    assert sorted(p.name for p in videos_dir(web_tandem).iterdir()) == sorted([mine, theirs])

    assert "1 video file you uploaded" in client.get("/me/data").get_data(as_text=True)
    answer = client.post("/me/data/download")
    assert answer.status_code == 200 and answer.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(answer.get_data()))
    assert archive.read(f"videos/{mine}") == MP4
    assert f"videos/{theirs}" not in archive.namelist()
    assert not any(WEBM[4:30] in archive.read(n) for n in archive.namelist())
    data = json.loads(archive.read("data.json"))
    assert [(v["name"], v["size"], v["content_type"]) for v in data["videos"]] == [
        (mine, len(MP4), "video/mp4")
    ]

    # The command line writes the same zip, straight into its file.
    out = tmp_path / "anna.zip"
    env = instance_env(web_tandem.settings.instance_dir)
    result = run(env, "export-person", "anna@example.com", "--output", str(out))
    assert result.exit_code == 0, result.output
    assert "1 videos" in result.output
    with zipfile.ZipFile(out) as written:
        assert written.read(f"videos/{mine}") == MP4
        assert f"videos/{theirs}" not in written.namelist()


def test_a_video_is_served_with_its_type_and_never_sniffed(
    app: Flask, client: FlaskClient, login: Login
) -> None:
    login(client, "anna@example.com")
    name = upload(client, MP4, "clip.mp4")
    publish(client, guide(client, "Clip guide", name))
    viewer = app.test_client()  # anyone who can read a guide can watch its video
    answer = viewer.get(f"/guides/videos/{name}")
    assert answer.status_code == 200 and answer.get_data() == MP4
    assert answer.mimetype == "video/mp4"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in answer.headers["Content-Security-Policy"]
    assert answer.headers["Cache-Control"].startswith("private")  # no shared cache keeps it
    part = viewer.get(f"/guides/videos/{name}", headers={"Range": "bytes=0-11"})
    assert part.status_code == 206 and part.get_data() == MP4[:12]
    assert viewer.get("/guides/videos/" + "0" * 32 + ".mp4").status_code == 404
    assert viewer.get("/guides/videos/notes.txt").status_code == 404


def test_only_videos_within_the_limit_are_kept(
    app: Flask, client: FlaskClient, login: Login, web_tandem: Tandem
) -> None:
    login(client, "anna@example.com")
    html = b"<html><script>alert(1)</script></html>"
    refused = client.post(
        "/guides/videos", data={"video": (io.BytesIO(html), "clip.mp4")},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert refused.status_code == 400
    assert "Upload an MP4, WebM or Ogg video" in refused.get_data(as_text=True)
    limit = web_tandem.settings.max_upload_bytes
    too_big = client.post(
        "/guides/videos", data={"video": (io.BytesIO(MP4 + bytes(limit)), "big.mp4")},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert too_big.status_code == 413  # the request limit, before anything is read
    with web_tandem.sessions() as s:
        assert s.scalars(select(VideoUpload)).all() == []
        anna = people.find_person(s, "anna@example.com")
        assert anna is not None
        with pytest.raises(ValidationError, match="larger than"):  # the service's own check
            uploads.store_video(s, anna, io.BytesIO(MP4), len(MP4) - 1, videos_dir(web_tandem))
    folder = videos_dir(web_tandem)
    assert not folder.exists() or list(folder.iterdir()) == []  # no partial file left


def test_erasure_removes_the_uploaded_files(
    app: Flask, client: FlaskClient, login: Login, web_tandem: Tandem
) -> None:
    login(client, "celina@example.com")
    theirs = upload(client, WEBM, "celina.webm")
    client.post("/logout")
    login(client, "anna@example.com")
    mine = upload(client, MP4, "anna.mp4")
    with web_tandem.sessions() as s:
        anna = people.find_person(s, "anna@example.com")
        hr = people.find_person(s, "hania@example.com")
        assert anna is not None and hr is not None
        done = erasure.erase_person(s, anna, hr, web_tandem.embedders)
        s.commit()
        assert done.video_names == [mine]
        assert [v.name for v in s.scalars(select(VideoUpload))] == [theirs]
    assert erasure.remove_video_files(videos_dir(web_tandem), done.video_names) == 1
    assert [p.name for p in videos_dir(web_tandem).iterdir()] == [theirs]


def test_a_drafts_video_is_seen_only_by_who_may_see_the_draft_until_it_is_published(
    app: Flask, client: FlaskClient, login: Login
) -> None:
    login(client, "anna@example.com")
    name = upload(client, MP4, "draft clip.mp4")
    url = f"/guides/videos/{name}"
    assert client.get(url).status_code == 200  # the uploader, linked from no guide yet
    celina, anonymous = app.test_client(), app.test_client()
    login(celina, "celina@example.com")
    assert celina.get(url).status_code == 404  # not 403: a guessed name confirms nothing
    slug = guide(client, "Drafted clip", name)
    assert client.get(url).status_code == 200
    assert celina.get(url).status_code == 404 and anonymous.get(url).status_code == 404
    # Pasting a name one may not watch into one's own draft opens nothing: it is refused.
    refused = celina.post("/guides/new", data={"title": "Copied", "body_md": "Copied.",
                                               "videos": f"/guides/videos/{name}"})  # fmt: skip
    assert refused.status_code == 400
    assert f"no video is uploaded as {name}" in refused.get_data(as_text=True)
    assert celina.get(url).status_code == 404
    publish(client, slug)
    assert celina.get(url).get_data() == MP4 and anonymous.get(url).get_data() == MP4
    client.post(f"/guides/{slug}/unpublish")  # a draft again: hidden again
    assert celina.get(url).status_code == 404 and anonymous.get(url).status_code == 404
    assert client.get(url).status_code == 200


def test_the_uploader_deletes_a_video_after_confirming(
    app: Flask, client: FlaskClient, login: Login, web_tandem: Tandem
) -> None:
    login(client, "anna@example.com")
    name = upload(client, MP4, "to go.mp4")
    path = videos_dir(web_tandem) / name
    page = client.get("/guides/videos").get_data(as_text=True)
    assert f'action="/guides/videos/{name}/delete"' in page
    asked = client.post(f"/guides/videos/{name}/delete")  # the first post only asks
    assert asked.status_code == 200 and "Delete the video" in asked.get_data(as_text=True)
    assert path.is_file()
    celina = app.test_client()
    login(celina, "celina@example.com")
    for data in ({}, {"confirm": "1"}):  # another writer: as if there were no such video
        assert celina.post(f"/guides/videos/{name}/delete", data=data).status_code == 404
    assert path.is_file()
    done = client.post(f"/guides/videos/{name}/delete", data={"confirm": "1"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/guides/videos")
    assert "Video deleted" in client.get("/guides/videos").get_data(as_text=True)
    assert not path.exists() and list(videos_dir(web_tandem).iterdir()) == []
    with web_tandem.sessions() as s:
        assert s.scalars(select(VideoUpload)).all() == []
        assert s.scalars(select(AuditEntry)).all() == []  # one's own upload: not an HR action
    assert client.get(f"/guides/videos/{name}").status_code == 404
    assert client.post(f"/guides/videos/{name}/delete", data={"confirm": "1"}).status_code == 404
    archive = zipfile.ZipFile(io.BytesIO(client.post("/me/data/download").get_data()))
    assert json.loads(archive.read("data.json"))["videos"] == []
    assert not [n for n in archive.namelist() if n.startswith("videos/")]


def test_a_video_in_use_is_not_deleted_and_the_page_names_the_guides(
    app: Flask, client: FlaskClient, login: Login, web_tandem: Tandem
) -> None:
    login(client, "anna@example.com")
    name = upload(client, MP4, "used.mp4")
    path = videos_dir(web_tandem) / name
    mine = guide(client, "Pivot tables in a draft", name)
    publish(client, mine)
    celina = app.test_client()
    login(celina, "celina@example.com")
    guide(celina, "Celina's secret draft", name)  # a published video: anyone may link it
    client.post(f"/guides/{mine}/unpublish")
    asked = client.post(f"/guides/videos/{name}/delete")
    html = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "Delete the video" not in html
    assert "Pivot tables in a draft" in html and f"/guides/{mine}/edit" in html
    assert "Celina&#39;s secret draft" not in html and "Celina's secret draft" not in html
    assert "1 guide you cannot open" in html
    refused = client.post(f"/guides/videos/{name}/delete", data={"confirm": "1"})
    assert refused.status_code == 409 and "Pivot tables in a draft" in refused.get_data(
        as_text=True
    )
    assert path.is_file()
    with web_tandem.sessions() as s:
        anna = people.find_person(s, "anna@example.com")
        upload_row = s.scalar(select(VideoUpload))
        assert anna is not None and upload_row is not None
        with pytest.raises(uploads.UploadInUse):  # the service refuses on its own too
            uploads.delete_upload(s, upload_row, anna, videos_dir(web_tandem))
    assert path.is_file()

    # Taken out of the current revisions (older ones keep the line): it may go.
    guide(client, "Pivot tables in a draft", "", slug=mine)
    assert "1 guide you cannot open" in client.post(f"/guides/videos/{name}/delete").get_data(
        as_text=True
    )
    guide(celina, "Celina's secret draft", "", slug="celina-s-secret-draft")
    done = client.post(f"/guides/videos/{name}/delete", data={"confirm": "1"})
    assert done.status_code == 302 and not path.exists()
    with web_tandem.sessions() as s:  # the history is not rewritten
        history = s.scalars(
            select(GuideRevision.videos).join(Guide).where(Guide.slug == mine)
            .order_by(GuideRevision.number)
        ).all()  # fmt: skip
        assert len(history) == 2 and name in history[0] and history[1] == ""


def test_hr_may_delete_someones_video_and_it_is_audited(
    app: Flask, client: FlaskClient, login: Login, web_tandem: Tandem
) -> None:
    login(client, "anna@example.com")
    name = upload(client, MP4, "moderated.mp4")
    hr = app.test_client()
    login(hr, "hania@example.com")
    page = hr.post(f"/guides/videos/{name}/delete").get_data(as_text=True)
    assert "uploaded by Anna" in page and "Delete the video" in page
    assert hr.post(f"/guides/videos/{name}/delete", data={"confirm": "1"}).status_code == 302
    assert not (videos_dir(web_tandem) / name).exists()
    with web_tandem.sessions() as s:
        entry = s.scalar(select(AuditEntry))
        assert entry is not None and entry.action == "video.delete"


def test_a_failed_delete_leaves_the_row_and_the_file_together(
    app: Flask, client: FlaskClient, login: Login, web_tandem: Tandem,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    login(client, "anna@example.com")
    name = upload(client, MP4, "kept.mp4")
    path = videos_dir(web_tandem) / name

    def refuse(*args: object) -> None:
        raise PermissionError("read-only disk")

    with web_tandem.sessions() as s:  # the file cannot be removed: the row stays
        anna = people.find_person(s, "anna@example.com")
        row = s.scalar(select(VideoUpload))
        assert anna is not None and row is not None
        with monkeypatch.context() as patch:
            patch.setattr(uploads.os, "replace", refuse)
            with pytest.raises(PermissionError):
                uploads.delete_upload(s, row, anna, videos_dir(web_tandem))
    with web_tandem.sessions() as s:  # the commit fails: the file is put back
        anna = people.find_person(s, "anna@example.com")
        row = s.scalar(select(VideoUpload))
        assert anna is not None and row is not None
        monkeypatch.setattr(s, "commit", lambda: refuse())
        with pytest.raises(PermissionError):
            uploads.delete_upload(s, row, anna, videos_dir(web_tandem))
    with web_tandem.sessions() as s:
        assert [v.name for v in s.scalars(select(VideoUpload))] == [name]
    assert path.read_bytes() == MP4
    assert [p.name for p in videos_dir(web_tandem).iterdir()] == [name]
    assert client.get(f"/guides/videos/{name}").get_data() == MP4


def test_the_references_follow_every_change_of_a_revisions_videos(
    web_tandem: Tandem, client: FlaskClient, login: Login, app: Flask
) -> None:
    login(client, "anna@example.com")
    first, second = upload(client, MP4, "a.mp4"), upload(client, WEBM, "b.webm")
    slug = guide(client, "Two clips", first)
    with web_tandem.sessions() as s:
        revision = s.scalars(select(GuideRevision).join(Guide).where(Guide.slug == slug)).one()
        revision.videos = f"/guides/videos/{second}\nhttps://youtu.be/x | /guides/videos/{first}"
        s.commit()
        assert [(r.revision_id, r.name) for r in s.scalars(select(VideoReference))] == [
            (revision.id, second)
        ]  # a link elsewhere in a line's title is not a link to the upload
        assert [g.slug for g, current in uploads.guides_linking(s, second) if current] == [slug]
        assert uploads.guides_linking(s, first) == []
        revision.videos = f"/guides/videos/{first}\n/guides/videos/{second} | Again"
        s.commit()  # the kept link keeps its row (no twin breaking the unique pair)
        assert sorted(r.name for r in s.scalars(select(VideoReference))) == sorted([first, second])


def test_an_uploads_name_and_address_have_one_definition_every_part_agrees_on() -> None:
    """The stored name (``<32 hex>.<kind>``) and ``/guides/videos/`` are kb.models'; the
    line parser, the reference index, the upload store and the export all take them from
    there (the migration that built the first references keeps its own frozen copy)."""
    from kb.models import UPLOAD_PREFIX, VIDEO_NAME, VIDEO_TYPES, uploaded_names
    from kb.services.videos import parse_video

    assert set(VIDEO_TYPES) == {"mp4", "webm", "ogv"}
    for kind in VIDEO_TYPES:
        name = f"{'0a' * 16}.{kind}"
        assert VIDEO_NAME.match(name)
        assert parse_video(f"{UPLOAD_PREFIX}{name} | clip").uploaded
        assert uploaded_names(f"{UPLOAD_PREFIX}{name} | clip\n  {UPLOAD_PREFIX}{name}") == [name]
    for wrong in (f"{'0A' * 16}.mp4", f"{'0a' * 15}.mp4", f"{'0a' * 16}.mov", "clip.mp4"):
        assert not VIDEO_NAME.match(wrong)
        assert uploaded_names(f"{UPLOAD_PREFIX}{wrong}") == []
        with pytest.raises(ValidationError):
            parse_video(f"{UPLOAD_PREFIX}{wrong}")
    root = Path(__file__).resolve().parents[2]
    defining = {
        str(path.relative_to(root))
        for folder in ("kb", "ingest", "matching")
        for path in (root / folder).rglob("*.py")
        if "{32}" in path.read_text(encoding="utf-8") and "migrations" not in path.parts
    }
    assert defining == {"kb/models.py"}
