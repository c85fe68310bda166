"""HR's people CSV upload: the dry run writes nothing and says why rows are rejected; the
same file applied twice changes nothing the second time."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ingest.people_upload import (
    KEEP_SECONDS,
    _unreadable,
    apply_upload,
    forget_file,
    keep_for_confirmation,
    kept_file,
    plan_upload,
)
from kb.errors import ValidationError
from kb.i18n import Text
from kb.models import AuditEntry, Person
from kb.services.people import person_record, upsert_people

HEADER = "name,email,department,manager_email,roles,languages\n"
GOOD = (
    HEADER
    + "Olga Boss,olga@x.org,Board,,mentee,en\n"
    + "Pawel Young,pawel@x.org,IT,olga@x.org,mentor,pl;en\n"
    + "Known Person,known@x.org,Sales,,mentee,en\n"
    + "Bad Mail,not-an-email,IT,,mentor,en\n"
    + "Lost Report,lost@x.org,IT,ghost@x.org,mentee,en\n"
    + "Under Lost,under@x.org,IT,lost@x.org,mentee,en\n"
    + "Twice,pawel@x.org,IT,,mentor,en\n"
).encode()


@pytest.fixture
def known(session: Session) -> Person:
    person = upsert_people(session, [person_record(
        {"name": "Known Person", "email": "known@x.org", "department": "Old dept",
         "roles": "mentee", "languages": "en"})])[0][0]  # fmt: skip
    session.commit()
    return person


def people_count(session: Session) -> int:
    return session.scalar(select(func.count(Person.id))) or 0


def test_dry_run_writes_nothing_and_says_why(session: Session, known: Person) -> None:
    before = people_count(session)
    plan = plan_upload(session, GOOD)
    assert people_count(session) == before
    got = {(row.line, row.action) for row in plan.rows}
    assert got == {
        (2, "created"),
        (3, "created"),
        (4, "updated"),
        (5, "rejected"),
        (6, "rejected"),
        (7, "rejected"),
        (8, "rejected"),
    }
    reasons = {row.line: row.reason for row in plan.rows}
    assert "e-mail" in reasons[5] or "email" in reasons[5]
    assert reasons[6] == "unknown manager ghost@x.org"
    assert reasons[7] == "unknown manager lost@x.org"  # its manager's row was rejected
    assert reasons[8] == "repeats line 3"


@pytest.mark.parametrize(
    "data, problem",
    [
        (b"nom,courriel\nA,a@x.org\n", "missing column(s) name, email"),
        (HEADER.encode() + b"Zo\xe9,zoe@x.org,IT,,mentee,en\n", "not valid UTF-8"),
        (HEADER.encode() + b"x" * 1_100_000, "the limit is"),
        (b"", "the file is empty"),
    ],
)
def test_file_level_problems_reject_the_whole_file(
    session: Session, data: bytes, problem: str
) -> None:
    plan = plan_upload(session, data)
    assert problem in plan.problem and plan.rows == []
    with pytest.raises(ValidationError):
        apply_upload(session, data, None)


# A quotation mark opened on line 3 and never closed: the rest of the file is one value.
UNCLOSED = (
    HEADER + "Olga Boss,olga@x.org,Board,,mentee,en\n" + 'Known Person,"known@x.org,Sales\n'
    + "Filler,filler@x.org,IT,,mentee,en\n" * 5000
).encode()  # fmt: skip


def test_an_unreadable_csv_names_the_line_in_hrs_language_and_stores_nothing(
    session: Session, known: Person
) -> None:
    plan = plan_upload(session, UNCLOSED)
    assert plan.rows == []
    assert str(plan.problem) == (
        f"line 3: a value is longer than {csv.field_size_limit()} characters"
        " (is a quotation mark not closed?)"
    )
    assert isinstance(plan.problem, Text) and "field limit" not in str(plan.problem)
    people = {p.email: (p.updated_at, p.content_hash) for p in session.scalars(select(Person))}
    with pytest.raises(ValidationError, match="line 3: a value is longer"):
        apply_upload(session, UNCLOSED, None)
    session.commit()
    assert {
        p.email: (p.updated_at, p.content_hash) for p in session.scalars(select(Person))
    } == people
    assert session.scalar(select(func.count(AuditEntry.id))) == 0
    # Any other csv.Error (a file that passed the UTF-8 and control character checks has not
    # been seen to raise one) still names the line, never Python's English text.
    other = _unreadable(csv.Error("line contains NUL"), 7)
    assert str(other) == "line 7: the CSV cannot be read from here (check its quotation marks)"


def test_uploading_the_same_file_twice_changes_nothing(session: Session, known: Person) -> None:
    first = apply_upload(session, GOOD, None)
    session.commit()
    assert first.counts == {"created": 2, "updated": 1, "unchanged": 0, "rejected": 4}
    pawel = session.scalar(select(Person).where(Person.email == "pawel@x.org"))
    assert pawel is not None and pawel.manager is not None and pawel.manager.email == "olga@x.org"
    snapshot = {
        p.email: (p.updated_at, p.content_hash, p.manager_id)
        for p in session.scalars(select(Person))
    }
    second = apply_upload(session, GOOD, None)
    session.commit()
    assert second.counts == {"created": 0, "updated": 0, "unchanged": 3, "rejected": 4}
    assert {
        p.email: (p.updated_at, p.content_hash, p.manager_id)
        for p in session.scalars(select(Person))
    } == snapshot
    entries = list(session.scalars(select(AuditEntry).where(AuditEntry.action == "people.upload")))
    assert len(entries) == 2


def test_a_kept_file_is_returned_once_and_expires(tmp_path: Path) -> None:
    folder = tmp_path / "uploads"
    digest = keep_for_confirmation(folder, GOOD)
    assert kept_file(folder, digest) == GOOD
    assert (folder / f"{digest}.csv").stat().st_mode & 0o077 == 0  # owner only: names, e-mails
    assert kept_file(folder, "../" + digest) is None and kept_file(folder, "0" * 64) is None
    (folder / f"{digest}.csv").write_bytes(b"changed behind our back")
    assert kept_file(folder, digest) is None  # the bytes no longer match the digest
    digest = keep_for_confirmation(folder, GOOD)
    forget_file(folder, digest)
    assert kept_file(folder, digest) is None
    old = keep_for_confirmation(folder, b"old,file\n")
    stale = folder / f"{old}.csv"
    os.utime(stale, (0, 0))
    keep_for_confirmation(folder, GOOD, now=KEEP_SECONDS + 10)  # a later upload prunes it
    assert not stale.exists() and kept_file(folder, digest) == GOOD


def test_rows_with_an_unknown_style_or_slot_are_rejected_naming_the_field(
    session: Session,
) -> None:
    data = (
        b"name,email,roles,style,availability\n"
        b"Good Row,good@x.org,mentee,Hands on,Mon AM;thu-pm\n"
        b"Bad Style,style@x.org,mentee,casual,mon-am\n"
        b"Bad Slot,slot@x.org,mentee,informal,mon-am;sat-pm\n"
    )
    plan = plan_upload(session, data)
    rows = {row.line: row for row in plan.rows}
    assert rows[2].action == "created"
    assert (rows[3].action, rows[4].action) == ("rejected", "rejected")
    assert str(rows[3].reason).startswith("style: unknown value(s) 'casual'")
    assert str(rows[4].reason).startswith("availability: unknown value(s) 'sat-pm'")
    apply_upload(session, data, None)
    good = session.scalar(select(Person).where(Person.email == "good@x.org"))
    assert good is not None and (good.style, good.availability) == ("hands-on", "mon-am;thu-pm")
