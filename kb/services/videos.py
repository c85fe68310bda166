"""Video links of a guide: parsed, checked and shown as cards (pure functions).

The syntax, one video per line (in the editor's "Videos" field, in a guide file's front
matter ``videos:`` list, and stored as such on each revision)::

    https://www.youtube.com/watch?v=abc123 | Copilot in Excel in 3 minutes | 3:05

The title and the duration are optional (``URL``, ``URL | title``). A duration is ``m:ss``
or ``h:mm:ss``. Only ``https://`` and ``http://`` links to a named host are accepted, so a
card can never carry a ``javascript:`` or ``data:`` URL; ``/guides/videos/<name>`` links
to a video uploaded to this instance.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from kb.errors import ValidationError
from kb.i18n import N_
from kb.models import UPLOAD_PREFIX, VIDEO_NAME
from kb.services.text import reject_control_characters

MAX_VIDEOS = 10
MAX_URL = 500
MAX_VIDEO_TITLE = 200
_DURATION = re.compile(r"^(?:(\d{1,2}):)?([0-5]?\d):([0-5]\d)$")
_HOST = re.compile(r"^[a-z0-9.-]+(?::\d{1,5})?$")
# Friendly names of the hosts people use most; any other host is shown as its domain.
HOST_NAMES = {
    "youtube.com": "YouTube",
    "youtu.be": "YouTube",
    "vimeo.com": "Vimeo",
    "loom.com": "Loom",
    "microsoftstream.com": "Microsoft Stream",
    "sharepoint.com": "SharePoint",
    "tiktok.com": "TikTok",
    "instagram.com": "Instagram",
}


@dataclass(frozen=True)
class Video:
    """One video card: where it is, what it is called, how long it lasts."""

    url: str
    title: str
    host: str
    duration: str = ""

    @property
    def uploaded(self) -> bool:
        return self.url.startswith(UPLOAD_PREFIX)

    def line(self) -> str:
        return " | ".join(part for part in (self.url, self.title, self.duration) if part)

    def to_dict(self) -> dict[str, str]:
        return {"url": self.url, "title": self.title, "host": self.host, "duration": self.duration}


def host_name(url: str) -> str:
    """ "YouTube" for youtube.com and its subdomains; otherwise the bare domain."""
    host = (urlsplit(url).hostname or "").lower()
    if host.startswith("www."):
        host = host[4:]
    for domain, name in HOST_NAMES.items():
        if host == domain or host.endswith("." + domain):
            return name
    return host


def parse_video(line: str, *, number: int = 1) -> Video:
    """One line of the syntax above, or a ValidationError naming the line."""
    reject_control_characters(line, "videos")
    parts = [p.strip() for p in line.split("|")]
    if len(parts) > 3:
        raise ValidationError(
            N_("use at most 'URL | title | duration'"), field="videos", line=number
        )
    url, title, duration = (parts + ["", ""])[:3]
    if len(url) > MAX_URL or any(ch.isspace() for ch in url):
        raise ValidationError(N_("the link is too long or has spaces"), field="videos", line=number)
    if url.startswith(UPLOAD_PREFIX):
        if not VIDEO_NAME.match(url[len(UPLOAD_PREFIX) :]):
            raise ValidationError(N_("not an uploaded video of this site"), field="videos",
                                  line=number)  # fmt: skip
        host = ""
    else:
        split = urlsplit(url)
        if split.scheme.lower() not in ("https", "http") or not _HOST.match(
            (split.netloc or "").lower()
        ):
            raise ValidationError(
                N_("a video link must start with https:// and name a host"), field="videos",
                line=number,
            )  # fmt: skip
        host = host_name(url)
    title = " ".join(title.split())
    if len(title) > MAX_VIDEO_TITLE:
        raise ValidationError(N_("the title is longer than %(limit)s characters"),
                              field="videos", line=number, limit=MAX_VIDEO_TITLE)  # fmt: skip
    if duration and not _DURATION.match(duration):
        raise ValidationError(
            N_("the duration %(duration)r is not m:ss or h:mm:ss"),
            field="videos",
            line=number,
            duration=duration,
        )
    return Video(url=url, title=title or host or "Video", host=host, duration=duration)


def parse_videos(text: str | Iterable[str] | None) -> list[Video]:
    """Every non-empty line; at most MAX_VIDEOS."""
    lines = text.splitlines() if isinstance(text, str) else list(text or ())
    videos = [parse_video(line, number=i) for i, line in enumerate(lines, 1) if line.strip()]
    if len(videos) > MAX_VIDEOS:
        raise ValidationError(
            N_("at most %(limit)s videos per guide"), field="videos", limit=MAX_VIDEOS
        )
    return videos


def clean_videos(text: str | Iterable[str] | None) -> str:
    """The stored form: one normalised line per video."""
    return "\n".join(video.line() for video in parse_videos(text))


def stored_videos(text: str | None) -> list[Video]:
    """Videos of a stored revision; a line that no longer parses is left out, not shown raw."""
    videos = []
    for line in (text or "").splitlines():
        try:
            videos.append(parse_video(line))
        except ValidationError:
            continue
    return videos
