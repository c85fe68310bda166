"""The audit log: one ``AuditEntry`` per HR or administrator action, added to the caller's
session so it is written in the same transaction as the change it describes (a rolled-back
change leaves no entry, a committed one always has its entry).

``detail`` holds names, numbers and dates only: keys that could carry note text, passwords,
tokens or mail bodies are refused, and so are long strings.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from kb.errors import ValidationError
from kb.models import AuditEntry, Person

# A detail key with one of these words could carry what the log must never hold, unless it
# ends in a word that makes it a number or a date ("note_id", "note_count" are fine).
FORBIDDEN_WORDS = frozenset(
    {
        "password",
        "passwd",
        "token",
        "secret",
        "body",
        "note",
        "notes",
        "text",
        "comment",
        "comments",
        "answer",
        "answers",
        "motivation",
        "content",
        "message",
        "mail",
    }
)
HARMLESS_ENDINGS = frozenset({"id", "ids", "count", "at", "on", "date", "version"})
MAX_VALUE_CHARS = 200  # a name, a slug, a status or a date; never a paragraph
MAX_DETAIL_CHARS = 2000
Scalar = str | int | float | bool | None


def _clean_value(key: str, value: object) -> object:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        if len(value) > MAX_VALUE_CHARS:
            raise ValidationError(f"audit detail {key!r} is too long for the log", field=key)
        return value
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, list | tuple):
        return [_clean_value(key, v) for v in value]
    if isinstance(value, Mapping):
        return clean_detail(value)
    raise ValidationError(f"audit detail {key!r} is not a name, number or date", field=key)


def _forbidden(key: str) -> bool:
    words = [w for w in re.split(r"[^a-z]+", key.lower()) if w]
    if words and words[-1] in HARMLESS_ENDINGS:
        return False
    return not words or any(w in FORBIDDEN_WORDS for w in words)


def clean_detail(detail: Mapping[str, object] | None) -> dict[str, object]:
    """``detail`` as the log stores it, or ValidationError if it could leak content."""
    cleaned: dict[str, object] = {}
    for key, value in (detail or {}).items():
        if _forbidden(str(key)):
            raise ValidationError(f"audit detail may not hold {key!r}", field=str(key))
        cleaned[str(key)] = _clean_value(str(key), value)
    return cleaned


def record(
    session: Session,
    actor: Person | None,
    action: str,
    target_type: str,
    target_id: int | None,
    programme_id: int | None = None,
    detail: Mapping[str, object] | None = None,
) -> AuditEntry:
    """Add one entry to ``session`` (flushed, not committed: the caller's commit keeps it
    together with the change). ``actor`` None: the command line or an import."""
    text = json.dumps(clean_detail(detail), ensure_ascii=False, sort_keys=True)
    if len(text) > MAX_DETAIL_CHARS:
        raise ValidationError("audit detail is too large for the log")
    entry = AuditEntry(
        actor_id=actor.id if actor is not None else None,
        action=action[:60],
        target_type=target_type[:30],
        target_id=target_id,
        programme_id=programme_id,
        detail=text,
    )
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class AuditFilter:
    """What the viewer asks for; empty fields do not filter."""

    actor_id: int | None = None
    action: str | None = None
    programme_id: int | None = None
    since: dt.date | None = None  # inclusive
    until: dt.date | None = None  # inclusive (the whole day)


def entries(
    session: Session, where: AuditFilter, limit: int = 200, offset: int = 0
) -> tuple[list[AuditEntry], int]:
    """Entries matching ``where``, newest first (at most ``limit``), and how many match."""
    query = select(AuditEntry)
    if where.actor_id is not None:
        query = query.where(AuditEntry.actor_id == where.actor_id)
    if where.action:
        query = query.where(AuditEntry.action == where.action)
    if where.programme_id is not None:
        query = query.where(AuditEntry.programme_id == where.programme_id)
    if where.since is not None:
        query = query.where(AuditEntry.at >= dt.datetime.combine(where.since, dt.time()))
    if where.until is not None:
        end = dt.datetime.combine(where.until + dt.timedelta(days=1), dt.time())
        query = query.where(AuditEntry.at < end)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.options(selectinload(AuditEntry.actor), selectinload(AuditEntry.programme))
        .order_by(AuditEntry.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), total


def actions(session: Session) -> list[str]:
    """Every action the log holds (for the viewer's filter)."""
    return list(session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))


def actors(session: Session) -> list[Person]:
    """Everyone who has an entry (for the viewer's filter)."""
    ids = select(AuditEntry.actor_id).where(AuditEntry.actor_id.is_not(None)).distinct()
    return list(session.scalars(select(Person).where(Person.id.in_(ids)).order_by(Person.name)))


def detail_of(entry: AuditEntry) -> dict[str, object]:
    try:
        value = json.loads(entry.detail or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def describe(detail: Mapping[str, object]) -> str:
    """A detail as one short line, "key: value; ..." (values already safe)."""
    parts: Sequence[str] = [f"{k}: {_shown(v)}" for k, v in sorted(detail.items())]
    return "; ".join(parts)


def _shown(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(_shown(v) for v in value)
    return "—" if value is None else str(value)
