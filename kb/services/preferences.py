"""A person's own settings that are not part of their matching profile."""

from __future__ import annotations

from sqlalchemy.orm import Session

from kb.errors import ValidationError
from kb.i18n import LOCALES, N_
from kb.models import Person


def set_interface_language(session: Session, person: Person, code: str | None) -> None:
    """Set (or clear, with None or "") the language the interface speaks to ``person``."""
    if code and code not in LOCALES:
        raise ValidationError(N_("Unknown language."), field="ui_language")
    person.ui_language = code or None
    session.flush()
