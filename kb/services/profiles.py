"""A person's own profile: what they may change about themselves, and what others may see.

Changes are validated like an import (:func:`kb.services.people.person_record`), and the
person's goal and expertise phrases get their matching vectors in the same transaction, so
the next matching request already uses the new profile.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from kb.embedding import Embedder
from kb.errors import ValidationError
from kb.i18n import N_
from kb.models import Guide, Pair, Person, SessionNote, SharedInsight, split_list
from kb.services import match_vectors, preferences
from kb.services.people import _bool, person_record

# What a person may change about themselves (name, e-mail, department, manager and roles
# come from HR).
EDITABLE = (
    "expertise", "goals", "languages", "capacity", "style", "availability", "opt_in",
    "ui_language", "show_goals",
)  # fmt: skip
IMPORTED = ("name", "email", "department", "languages", "roles", "expertise", "goals",
            "opt_in", "capacity", "style", "availability")  # fmt: skip


def own_profile(person: Person) -> dict[str, Any]:
    """The person's profile as they see it themselves (and as /api/me answers)."""
    return {
        "id": person.id,
        "name": person.name,
        "email": person.email,
        "department": person.department,
        "roles": split_list(person.roles),
        "languages": split_list(person.languages),
        "expertise": split_list(person.expertise),
        "goals": split_list(person.goals),
        "show_goals": bool(person.show_goals),
        "opt_in": bool(person.opt_in),
        "capacity": person.capacity,
        "style": person.style,
        "availability": split_list(person.availability),
        "ui_language": person.ui_language,
    }


def update_profile(
    session: Session,
    person: Person,
    changes: Mapping[str, Any],
    embedders: Mapping[str, Embedder],
) -> Person:
    """Apply ``changes`` (some of :data:`EDITABLE`) to the person's own profile and store
    the matching vectors of its phrases. Raises ValidationError naming the field; the
    caller commits (or rolls back)."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise ValidationError(
            N_("These fields cannot be changed here: %(fields)s."), fields=", ".join(unknown)
        )
    current: dict[str, Any] = {
        "name": person.name,
        "email": person.email,
        "department": person.department,
        "languages": person.languages,
        "roles": person.roles,
        "expertise": person.expertise,
        "goals": person.goals,
        "opt_in": person.opt_in,
        "capacity": person.capacity,
    }
    # Style and availability are checked only when they change: a value stored before they
    # became closed code sets stays as it is until its owner picks a new one.
    current.update({k: v for k, v in changes.items() if k in IMPORTED})
    record = person_record(current)
    if record.capacity is not None and "capacity" in changes and not person.has_role("mentor"):
        raise ValidationError(N_("Only mentors have a capacity."), field="capacity")
    if record.capacity is not None and record.capacity > 20:
        raise ValidationError(N_("A capacity of at most 20 mentees."), field="capacity")
    person.languages = ";".join(record.languages)
    person.expertise = ";".join(record.expertise)
    person.goals = ";".join(record.goals)
    person.opt_in = record.opt_in
    person.capacity = record.capacity
    if "style" in changes:
        person.style = record.style
    if "availability" in changes:
        person.availability = ";".join(record.availability)
    if "show_goals" in changes:
        person.show_goals = _bool(changes["show_goals"], "show_goals")
    if "ui_language" in changes:
        code = changes["ui_language"]
        if code is not None and not isinstance(code, str):
            raise ValidationError(N_("Unknown language."), field="ui_language")
        preferences.set_interface_language(session, person, code)
    session.flush()
    match_vectors.store(session, match_vectors.person_texts([person]), embedders)
    return person


def public_profile(session: Session, person: Person, viewer: Person | None) -> dict[str, Any]:
    """What anyone may see of ``person``: name, department, languages, stated expertise,
    published guides and public shared insights; goals only when the person chose to show
    them; the e-mail only to the person themselves and HR. Never notes."""
    guides = list(
        session.scalars(
            select(Guide)
            .where(Guide.author_id == person.id, Guide.status == "published")
            .order_by(Guide.published_on.desc(), Guide.id.desc())
        )
    )
    insights = list(
        session.scalars(
            select(SharedInsight)
            .join(SessionNote, SharedInsight.note_id == SessionNote.id)
            .join(Pair, SessionNote.pair_id == Pair.id)
            .where(
                or_(Pair.mentor_id == person.id, Pair.mentee_id == person.id),
                SharedInsight.mentor_consent_at.is_not(None),
                SharedInsight.mentee_consent_at.is_not(None),
            )
            .order_by(SharedInsight.id.desc())
        )
    )
    own_or_hr = viewer is not None and (viewer.id == person.id or viewer.has_role("hr"))
    return {
        "id": person.id,
        "name": person.name,
        "department": person.department,
        "languages": split_list(person.languages),
        "expertise": split_list(person.expertise),
        "goals": split_list(person.goals) if person.show_goals or own_or_hr else None,
        "roles": [r for r in split_list(person.roles) if r in ("mentor", "mentee")],
        "email": person.email if own_or_hr else None,
        "guides": guides,
        "insights": insights,
    }
