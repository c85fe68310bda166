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
from kb.models import VideoUpload
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
    return page.rsplit("/guides/videos/", 1)[1].split(" ", 1)[0]


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
    viewer = app.test_client()  # anyone who can read a guide can watch its video
    answer = viewer.get(f"/guides/videos/{name}")
    assert answer.status_code == 200 and answer.get_data() == MP4
    assert answer.mimetype == "video/mp4"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in answer.headers["Content-Security-Policy"]
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
