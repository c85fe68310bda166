"""People: validated records, upserts (single and batch), passwords, management chains."""

from __future__ import annotations

import functools
import hashlib
import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from kb.errors import NotFound, ValidationError
from kb.i18n import N_
from kb.models import AVAILABILITY, LANGUAGES, ROLES, STYLES, Person, join_list
from kb.services.text import reject_control_characters

EMAIL = re.compile(r"^[^@\s,;<>\"']+@[^@\s,;<>\"']+\.[^@\s,;<>\"']+$")
MIN_PASSWORD = 8
FIELDS = (
    "name", "email", "department", "manager_email", "languages", "roles", "expertise", "goals",
    "opt_in", "capacity", "style", "availability",
)  # fmt: skip
_TRUE = {"yes", "y", "true", "1", "on", "t"}
_FALSE = {"no", "n", "false", "0", "off", "f"}


@dataclass(frozen=True)
class PersonRecord:
    """A person as an import or form states it, already validated and normalised."""

    name: str
    email: str
    department: str = ""
    manager_email: str | None = None
    languages: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    expertise: tuple[str, ...] = ()
    goals: tuple[str, ...] = ()
    opt_in: bool = True
    capacity: int | None = None
    style: str = ""
    availability: tuple[str, ...] = ()

    @property
    def content_hash(self) -> str:
        """Changes whenever any stated field changes; unchanged re-imports write nothing."""
        blob = json.dumps(asdict(self), sort_keys=True, ensure_ascii=False, default=list)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def normalise_email(value: Any, field: str = "email") -> str:
    """A lower-cased, syntactically valid e-mail address or a ValidationError naming ``field``."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(N_("an e-mail address is required"), field=field)
    email = value.strip().lower()
    if len(email) > 254 or not EMAIL.match(email):
        raise ValidationError(
            N_("%(value)r is not a valid e-mail address"), field=field, value=value.strip()
        )
    return email


def _items(value: Any, field: str) -> list[str]:
    """A list field given as a list or a ";"/","-separated string."""
    if value is None:
        return []
    if isinstance(value, str):
        separator = ";" if ";" in value else ","
        return [v.strip() for v in value.split(separator) if v.strip()]
    if isinstance(value, list | tuple):
        if not all(isinstance(v, str | int | float) for v in value):
            raise ValidationError(N_("list items must be plain text"), field=field)
        return [str(v).strip() for v in value if str(v).strip()]
    raise ValidationError(
        N_("expected a list or text, got %(kind)s"), field=field, kind=type(value).__name__
    )


def _phrases(value: Any, field: str) -> list[str]:
    """Free-text phrases: ";"-separated only (phrases themselves may contain commas)."""
    if isinstance(value, str):
        return [v.strip() for v in value.split(";") if v.strip()]
    return _items(value, field)


def _code(value: str) -> str:
    """A code as typed ("Mon AM", "hands on") in its stored form ("mon-am", "hands-on")."""
    return re.sub(r"[\s_]+", "-", value.strip().lower())


def _choices(value: Any, field: str, allowed: Sequence[str]) -> tuple[str, ...]:
    items = [_code(v) for v in _items(value, field)]
    unknown = [v for v in items if v not in allowed]
    if unknown:
        raise ValidationError(
            N_("unknown value(s) %(values)s; use %(choices)s"),
            field=field,
            values=", ".join(repr(u) for u in unknown),
            choices=", ".join(allowed),
        )
    return tuple(dict.fromkeys(items))


def _text(value: Any, field: str, limit: int, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ValidationError(
            N_("expected text, got %(kind)s"), field=field, kind=type(value).__name__
        )
    reject_control_characters(str(value), field)
    text = " ".join(str(value).split())
    if required and not text:
        raise ValidationError(N_("is required"), field=field)
    if len(text) > limit:
        raise ValidationError(
            N_("is %(length)s characters long, the limit is %(limit)s"),
            field=field,
            length=len(text),
            limit=limit,
        )
    return text


def _style(value: Any) -> str:
    """One of :data:`kb.models.STYLES`, or "" when not stated."""
    text = _code(_text(value, "style", 50))
    if text and text not in STYLES:
        raise ValidationError(
            N_("unknown value(s) %(values)s; use %(choices)s"),
            field="style",
            values=repr(text),
            choices=", ".join(STYLES),
        )
    return text


def _bool(value: Any, field: str) -> bool:
    if value is None or value == "":
        return True
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValidationError(N_("%(value)r is not yes/no"), field=field, value=value)


def _capacity(value: Any, field: str = "capacity") -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValidationError(N_("%(value)r is not a whole number"), field=field, value=value)
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        number = int(value)
    else:
        raise ValidationError(N_("%(value)r is not a whole number"), field=field, value=value)
    if number < 0:
        raise ValidationError(N_("must be 0 or more, got %(number)s"), field=field, number=number)
    return number


def person_record(data: Mapping[str, Any]) -> PersonRecord:
    """Validate a mapping (a CSV row, a JSON object, a form) into a :class:`PersonRecord`.

    Raises ValidationError naming the field. Unknown keys are rejected so typos surface.
    """
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise ValidationError(
            N_("unknown field(s) %(fields)s; expected some of %(choices)s"),
            fields=", ".join(unknown),
            choices=", ".join(FIELDS),
        )
    email = normalise_email(data.get("email"))
    manager = data.get("manager_email")
    blank = manager is None or isinstance(manager, str) and not manager.strip()
    manager_email = None if blank else normalise_email(manager, "manager_email")
    return PersonRecord(
        name=_text(data.get("name"), "name", 200, required=True),
        email=email,
        department=_text(data.get("department"), "department", 200),
        manager_email=manager_email,
        languages=_choices(data.get("languages"), "languages", LANGUAGES),
        roles=_choices(data.get("roles"), "roles", ROLES),
        expertise=tuple(_phrases(data.get("expertise"), "expertise")),
        goals=tuple(_phrases(data.get("goals"), "goals")),
        opt_in=_bool(data.get("opt_in"), "opt_in"),
        capacity=_capacity(data.get("capacity")),
        style=_style(data.get("style")),
        availability=_choices(data.get("availability"), "availability", AVAILABILITY),
    )


def find_person(session: Session, email: str) -> Person | None:
    """The person with this e-mail (case-insensitive), or None."""
    return session.scalar(select(Person).where(Person.email == email.strip().lower()))


def get_person_by_email(session: Session, email: str) -> Person:
    person = find_person(session, email)
    if person is None:
        raise NotFound(N_("no person with e-mail %(email)r"), email=email.strip())
    return person


def _apply(person: Person, record: PersonRecord) -> None:
    person.name = record.name
    person.department = record.department
    person.languages = join_list(record.languages)
    person.roles = join_list(record.roles)
    person.expertise = join_list(record.expertise)
    person.goals = join_list(record.goals)
    person.opt_in = record.opt_in
    person.capacity = record.capacity
    person.style = record.style
    person.availability = join_list(record.availability)
    person.content_hash = record.content_hash


def _upsert_fields(session: Session, record: PersonRecord) -> tuple[Person, str]:
    person = find_person(session, record.email)
    if person is None:
        person = Person(email=record.email)
        _apply(person, record)
        session.add(person)
        return person, "created"
    if person.content_hash == record.content_hash:
        return person, "unchanged"
    _apply(person, record)
    return person, "updated"


def upsert_person(session: Session, record: PersonRecord) -> tuple[Person, str]:
    """Create or update one person; the manager must already exist. Status: created, updated
    or unchanged."""
    return upsert_people(session, [record])[0]


def upsert_people(
    session: Session,
    records: Sequence[PersonRecord],
    *,
    source: str | None = None,
    lines: Mapping[str, int] | None = None,
) -> list[tuple[Person, str]]:
    """Create or update a batch of people, then resolve managers (which may be in the batch).

    Unknown managers and manager cycles raise a ValidationError naming the people (and their
    line when ``lines`` maps e-mails to source lines); the caller's transaction should then
    be rolled back.
    """
    lines = lines or {}
    seen: dict[str, int] = {}
    for i, record in enumerate(records):
        if record.email in seen:
            raise ValidationError(
                f"{record.email} appears twice (also at line {lines.get(record.email, '?')})"
                if lines
                else f"{record.email} appears twice (entries {seen[record.email] + 1}, {i + 1})",
                source=source,
            )
        seen[record.email] = i
    results = [_upsert_fields(session, record) for record in records]
    session.flush()
    problems: list[str] = []
    for (person, _status), record in zip(results, records, strict=True):
        manager = find_person(session, record.manager_email) if record.manager_email else None
        if record.manager_email and manager is None:
            where = f"line {lines[record.email]}: " if record.email in lines else ""
            problems.append(f"{where}unknown manager {record.manager_email!r} of {record.email}")
            continue
        manager_id = manager.id if manager is not None else None
        if person.manager_id != manager_id:
            person.manager_id = manager_id
    if problems:
        raise ValidationError("; ".join(problems), source=source, field="manager_email")
    session.flush()
    cycles = _cycles(session, [person for person, _ in results])
    if cycles:
        described = "; ".join(" -> ".join(p.email for p in cycle) for cycle in cycles)
        raise ValidationError(f"manager cycle: {described}", source=source, field="manager_email")
    return results


def _cycles(session: Session, people: Sequence[Person]) -> list[list[Person]]:
    """Distinct manager cycles reachable from ``people`` (each listed once, closed)."""
    cycles: list[list[Person]] = []
    done: set[int] = set()
    for start in people:
        path: list[Person] = []
        index: dict[int, int] = {}
        current: Person | None = start
        while current is not None and current.id not in done:
            if current.id in index:
                cycle = path[index[current.id] :]
                cycles.append([*cycle, current])
                break
            index[current.id] = len(path)
            path.append(current)
            current = session.get(Person, current.manager_id) if current.manager_id else None
        done.update(index)
    return cycles


def management_chain(session: Session, person: Person) -> list[Person]:
    """The person's managers, nearest first; stops (without repeating) at a cycle."""
    chain: list[Person] = []
    seen = {person.id}
    current = person
    while current.manager_id is not None and current.manager_id not in seen:
        manager = session.get(Person, current.manager_id)
        if manager is None:
            break
        chain.append(manager)
        seen.add(manager.id)
        current = manager
    return chain


def hash_password(password: str) -> str:
    """A salted werkzeug hash (scrypt) of a password of at least MIN_PASSWORD characters."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise ValidationError(
            N_("a password needs at least %(limit)s characters"),
            field="password",
            limit=MIN_PASSWORD,
        )
    return generate_password_hash(password)


def set_password(person: Person, password: str) -> None:
    """A new password; every session opened with the old one ends."""
    person.password_hash = hash_password(password)
    end_sessions(person)


def end_sessions(person: Person) -> None:
    """End every session and remember-me cookie of the person (they carry the old version)."""
    person.session_version = (person.session_version or 0) + 1


def deactivate(person: Person) -> None:
    """The account can no longer log in, and its open sessions end."""
    person.active = False
    end_sessions(person)


@functools.cache
def _dummy_hash() -> str:
    """A hash of a random password, made once per process with the real method and cost."""
    return generate_password_hash(secrets.token_urlsafe(16))


def check_password(person: Person, password: str) -> bool:
    """Whether ``password`` is the person's password (False when none is set)."""
    if not person.password_hash:
        return False
    return check_password_hash(person.password_hash, password)


def authenticate(session: Session, email: str, password: str) -> Person | None:
    """The person if e-mail and password match and the account is active, else None.

    Exactly one password hash is checked whatever the outcome (a dummy one for an unknown
    e-mail or an account without a password), so the answer's timing says nothing about
    whether the account exists.
    """
    person = find_person(session, email) if email else None
    stored = person.password_hash if person is not None and person.password_hash else None
    matches = check_password_hash(stored or _dummy_hash(), password)
    if person is None or stored is None or not matches or not person.active:
        return None
    return person
