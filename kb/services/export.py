"""A person's own data, to take away (GDPR Arts. 15 and 20): JSON plus markdown, in a zip.

What is in it: the profile, enrolments and pairs (the partner by name only), every guide the
person wrote with its revisions, the notes and insights of the person's own pairs (written by
either member: they are the pair's shared record), sessions planned, feedback and help requests
the person gave, and the person's inbox.

What is never in it: another pair's notes, insights or feedback; anyone's password hash,
session version or e-mail address other than the person's own; HR's handling of a help request
beyond its status and outcome. The functions only read; the caller commits (an audit entry).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import shutil
import unicodedata
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from kb.models import (
    VIDEO_NAME,
    ApiToken,
    Enrolment,
    Feedback,
    Guide,
    HelpRequest,
    InboxMessage,
    Meeting,
    Pair,
    Person,
    SessionNote,
    SsoIdentity,
    VideoUpload,
    split_list,
)
from kb.services.feedback import question_text

FORMAT = "tandem-person-export/1"
CHUNK = 1024 * 1024  # video files are copied into the zip this much at a time


def _when(value: dt.date | dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _profile(person: Person) -> dict[str, Any]:
    return {
        "id": person.id,
        "email": person.email,
        "name": person.name,
        "department": person.department,
        "manager": person.manager.name if person.manager is not None else None,
        "roles": split_list(person.roles),
        "languages": split_list(person.languages),
        "interface_language": person.ui_language,
        "expertise": split_list(person.expertise),
        "goals": split_list(person.goals),
        "show_goals_on_public_page": person.show_goals,
        "open_to_mentoring": person.opt_in,
        "capacity": person.capacity,
        "style": person.style,
        "availability": person.availability,
        "active": person.active,
        "created_at": _when(person.created_at),
        "updated_at": _when(person.updated_at),
    }


def _pairs(session: Session, person: Person) -> list[Pair]:
    return list(
        session.scalars(
            select(Pair)
            .where(or_(Pair.mentor_id == person.id, Pair.mentee_id == person.id))
            .order_by(Pair.id)
        )
    )


def _pair(pair: Pair, person: Person) -> dict[str, Any]:
    mentor = pair.mentor_id == person.id
    partner = pair.mentee if mentor else pair.mentor
    return {
        "id": pair.id,
        "programme": pair.programme.name,
        "your_role": "mentor" if mentor else "mentee",
        "partner": partner.name,
        "status": pair.status,
        "started": _when(pair.started),
        "ended": _when(pair.ended),
        "you_accepted_the_agreement_at": _when(
            pair.mentor_agreed_at if mentor else pair.mentee_agreed_at
        ),
    }


def _enrolments(session: Session, person: Person) -> list[dict[str, Any]]:
    found = session.scalars(
        select(Enrolment).where(Enrolment.person_id == person.id).order_by(Enrolment.id)
    )
    return [
        {
            "programme": e.programme.name,
            "role": e.role,
            "status": e.status,
            "source": e.source,
            "motivation": e.motivation,
            "expertise": e.expertise,
            "ready": e.ready,
            "prepared_on": _when(e.prepared_on),
            "created_at": _when(e.created_at),
        }
        for e in found
    ]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _guides(session: Session, person: Person) -> list[dict[str, Any]]:
    found = session.scalars(select(Guide).where(Guide.author_id == person.id).order_by(Guide.id))
    result = []
    for guide in found:
        current = guide.current
        result.append(
            {
                "slug": guide.slug,
                "title": guide.title,
                "language": guide.language,
                "tags": split_list(guide.tags),
                "status": guide.status,
                "published_on": _when(guide.published_on),
                "review_by": _when(guide.review_by),
                "videos": _lines(current.videos if current is not None else ""),
                "created_at": _when(guide.created_at),
                "updated_at": _when(guide.updated_at),
                "body_md": current.body_md if current is not None else "",
                "revisions": [
                    {
                        "number": r.number,
                        "title": r.title,
                        "created_at": _when(r.created_at),
                        "videos": _lines(r.videos),
                        "body_md": r.body_md,
                    }
                    for r in guide.revisions
                ],
            }
        )
    return result


def _insight(note: SessionNote) -> dict[str, Any] | None:
    insight = note.insight
    if insight is None:
        return None
    return {
        "id": insight.id,
        "note_id": note.id,
        "text": insight.text,
        "published": insight.published,
        "mentor_agreed_at": _when(insight.mentor_consent_at),
        "mentee_agreed_at": _when(insight.mentee_consent_at),
        "created_at": _when(insight.created_at),
    }


def _notes(session: Session, pair_ids: list[int]) -> list[SessionNote]:
    if not pair_ids:
        return []
    return list(
        session.scalars(
            select(SessionNote)
            .where(SessionNote.pair_id.in_(pair_ids))
            .order_by(SessionNote.pair_id, SessionNote.session_date, SessionNote.id)
        )
    )


def _note(note: SessionNote, person: Person) -> dict[str, Any]:
    return {
        "id": note.id,
        "pair_id": note.pair_id,
        "programme": note.pair.programme.name,
        "author": "you" if note.author_id == person.id else note.author.name,
        "title": note.title,
        "language": note.language,
        "tags": split_list(note.tags),
        "session_date": _when(note.session_date),
        "created_at": _when(note.created_at),
        "updated_at": _when(note.updated_at),
        "body_md": note.body_md,
    }


def _feedback(f: Feedback) -> dict[str, Any]:
    """A questionnaire answer (with its question, in English) or a goal self-rating."""
    question = f.question
    return {
        "pair_id": f.pair_id,
        "kind": "answer" if f.question_id is not None else "self-rating",
        "round": f.round,
        "role": f.role,
        "question": question_text(question, "en") if question is not None else None,
        "goal": f.goal,
        "area": f.area,
        "rating": f.rating,
        "comment": f.comment,
        "created_at": _when(f.created_at),
        "updated_at": _when(f.updated_at),
    }


def person_data(session: Session, person: Person, *, now: dt.datetime | None = None) -> dict:
    """Everything the export holds for ``person``, as JSON-ready values."""
    pairs = _pairs(session, person)
    pair_ids = [p.id for p in pairs]
    notes = _notes(session, pair_ids)
    feedback = session.scalars(
        select(Feedback).where(Feedback.author_id == person.id).order_by(Feedback.id)
    )
    meetings: list[Meeting] = list(
        session.scalars(
            select(Meeting).where(Meeting.pair_id.in_(pair_ids)).order_by(Meeting.starts_at)
        )
    )
    help_requests = session.scalars(
        select(HelpRequest).where(HelpRequest.asker_id == person.id).order_by(HelpRequest.id)
    )
    inbox = session.scalars(
        select(InboxMessage).where(InboxMessage.person_id == person.id).order_by(InboxMessage.id)
    )
    tokens = session.scalars(
        select(ApiToken).where(ApiToken.person_id == person.id).order_by(ApiToken.id)
    )
    sso_links = session.scalars(
        select(SsoIdentity).where(SsoIdentity.person_id == person.id).order_by(SsoIdentity.id)
    )
    videos = session.scalars(  # only the files this person uploaded
        select(VideoUpload).where(VideoUpload.owner_id == person.id).order_by(VideoUpload.id)
    )
    return {
        "format": FORMAT,
        "exported_at": _when(now or dt.datetime.now(dt.UTC).replace(tzinfo=None)),
        "profile": _profile(person),
        "enrolments": _enrolments(session, person),
        "pairs": [_pair(p, person) for p in pairs],
        "guides": _guides(session, person),
        "notes": [_note(n, person) for n in notes],
        "insights": [i for i in (_insight(n) for n in notes) if i is not None],
        "feedback": [_feedback(f) for f in feedback],
        "sessions": [
            {
                "pair_id": m.pair_id,
                "starts_at": _when(m.starts_at),
                "minutes": m.minutes,
                "tags": split_list(m.tags),
                "status": m.status,
            }
            for m in meetings
        ],
        "help_requests": [
            {
                "pair_id": h.pair_id,
                "reason": h.reason,
                "text": h.text,
                "partner_may_know_it_was_you": h.reveal,
                "status": h.status,
                "outcome": h.outcome,
                "created_at": _when(h.created_at),
            }
            for h in help_requests
        ],
        "api_tokens": [  # never the token: only its name and first characters exist
            {
                "name": t.name,
                "prefix": t.prefix,
                "created_at": _when(t.created_at),
                "last_used_at": _when(t.last_used_at),
                "revoked_at": _when(t.revoked_at),
            }
            for t in tokens
        ],
        "sso_identities": [  # single sign-on: the provider's identifiers for this person
            {
                "issuer": i.issuer,
                "subject": i.subject,
                "linked_at": _when(i.linked_at),
                "last_login_at": _when(i.last_login_at),
            }
            for i in sso_links
        ],
        "videos": [  # the files themselves are in the zip, under videos/
            {
                "name": v.name,
                "url": f"/guides/videos/{v.name}",
                "content_type": v.content_type,
                "size": v.size,
                "uploaded_at": _when(v.created_at),
                "file": f"videos/{v.name}",
            }
            for v in videos
        ],
        "inbox": [
            {
                "kind": m.kind,
                "params": json.loads(m.params or "{}"),
                "link": m.link,
                "created_at": _when(m.created_at),
                "read_at": _when(m.read_at),
            }
            for m in inbox
        ],
    }


# -- markdown and the zip ----------------------------------------------------------------------


def file_slug(text: str, limit: int = 60) -> str:
    """An ASCII file-name part: letters, digits and dashes (pure)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:limit].rstrip("-") or "untitled"


def _field_lines(fields: list[tuple[str, object]]) -> str:
    lines = []
    for label, value in fields:
        if value in (None, "", []):
            continue
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        lines.append(f"- **{label}**: {shown}")
    return "\n".join(lines)


def profile_markdown(data: dict) -> str:
    p = data["profile"]
    fields = [(key.replace("_", " ").capitalize(), value) for key, value in p.items()]
    parts = [f"# {p['name']}", _field_lines(fields)]
    if data["pairs"]:
        parts.append("## Pairs")
        parts.extend(
            f"- {x['programme']}: {x['your_role']} with {x['partner']} ({x['status']})"
            for x in data["pairs"]
        )
    if data["enrolments"]:
        parts.append("## Enrolments")
        parts.extend(f"- {e['programme']}: {e['role']}, {e['status']}" for e in data["enrolments"])
    return "\n\n".join(parts) + "\n"


def guide_markdown(guide: dict) -> str:
    fields = [
        ("Status", guide["status"]),
        ("Language", guide["language"]),
        ("Tags", guide["tags"]),
        ("Published on", guide["published_on"]),
        ("Review by", guide["review_by"]),
        ("Videos", guide["videos"]),
        ("Revisions", len(guide["revisions"])),
    ]
    return f"# {guide['title']}\n\n{_field_lines(fields)}\n\n---\n\n{guide['body_md']}\n"


def note_markdown(note: dict, insight: dict | None) -> str:
    fields = [
        ("Programme", note["programme"]),
        ("Session date", note["session_date"]),
        ("Written by", note["author"]),
        ("Language", note["language"]),
        ("Tags", note["tags"]),
    ]
    text = f"# {note['title']}\n\n{_field_lines(fields)}\n\n---\n\n{note['body_md']}\n"
    if insight is not None:
        state = "public" if insight["published"] else "waiting for consent"
        quoted = "\n".join("> " + line for line in insight["text"].splitlines())
        text += f"\n## Shared insight ({state})\n\n{quoted}\n"
    return text


def feedback_markdown(data: dict) -> str:
    lines = ["# Feedback you gave", ""]
    for f in data["feedback"]:
        about = f["question"] or (f"goal “{f['goal']}”" if f["goal"] else "")
        where = ", ".join(x for x in (f["round"], about) if x)
        rating = f", rating {f['rating']}" if f["rating"] is not None else ""
        lines.append(
            f"- {f['created_at']}, pair {f['pair_id']}{', ' + where if where else ''}{rating}"
        )
        if f["comment"]:
            lines.extend("  > " + line for line in f["comment"].splitlines())
    if not data["feedback"]:
        lines.append("None.")
    return "\n".join(lines) + "\n"


README = """# Your data in Tandem

Exported {exported_at} (UTC) for {name}.

- `data.json`: everything below, machine-readable ({format}).
- `profile.md`: your profile, pairs and enrolments.
- `guides/`: every guide you wrote (drafts too); all revisions are in `data.json`.
- `notes/`: the session notes of your pairs, with their shared insights.
- `feedback.md`: the feedback you gave.
- `videos/`: the video files you uploaded (listed in `data.json` under `videos`).

Session planning, help requests you sent and your inbox are in `data.json`.
"""


def export_zip(data: dict, videos_dir: Path | None = None) -> bytes:
    """The zip a person downloads, in memory (small exports and tests; see write_export)."""
    buffer = io.BytesIO()
    write_export(data, buffer, videos_dir)
    return buffer.getvalue()


def write_export(data: dict, target: BinaryIO, videos_dir: Path | None = None) -> None:
    """Write the zip a person downloads into ``target``: ``data.json`` plus markdown files,
    and with ``videos_dir`` the video files of ``data["videos"]`` (the person's own uploads),
    copied from disk in chunks, never whole in memory. A file missing on disk, or larger
    than its recorded size (the upload limit held when it was stored), is left out and the
    README says so."""
    stamp = dt.datetime.fromisoformat(data["exported_at"])
    date_time = (stamp.year, stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second)
    insights = {i["note_id"]: i for i in data["insights"]}
    videos: list[tuple[str, Path]] = []
    left_out: list[str] = []
    for video in data.get("videos", []):
        path = videos_dir / video["name"] if videos_dir is not None else None
        if (
            path is not None
            and VIDEO_NAME.match(video["name"])
            and path.is_file()
            and path.stat().st_size <= video["size"]
        ):
            videos.append((video["file"], path))
        else:
            left_out.append(video["name"])
    readme = README.format(name=data["profile"]["name"], **data)
    if left_out:
        readme += (
            "\nVideo files left out (missing or changed on the server): "
            + ", ".join(left_out)
            + ".\n"
        )
    files: list[tuple[str, str]] = [
        ("README.md", readme),
        ("data.json", json.dumps(data, ensure_ascii=False, indent=2) + "\n"),
        ("profile.md", profile_markdown(data)),
        ("feedback.md", feedback_markdown(data)),
    ]
    files += [
        (f"guides/{i:03d}-{file_slug(g['slug'])}.md", guide_markdown(g))
        for i, g in enumerate(data["guides"], 1)
    ]
    files += [
        (f"notes/{n['id']:05d}-{file_slug(n['title'])}.md", note_markdown(n, insights.get(n["id"])))
        for n in data["notes"]
    ]
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files:
            info = zipfile.ZipInfo(name, date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text.encode("utf-8"))
        for name, path in videos:
            info = zipfile.ZipInfo(name, date_time)
            info.compress_type = zipfile.ZIP_STORED  # video is compressed already
            with path.open("rb") as source, archive.open(info, "w", force_zip64=True) as out:
                shutil.copyfileobj(source, out, CHUNK)


def export_file_name(person: Person, on: dt.date) -> str:
    return f"tandem-data-{file_slug(person.name, 40)}-{on.isoformat()}.zip"
