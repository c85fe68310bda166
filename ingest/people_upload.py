"""HR's people CSV upload in the browser: a dry run that says, row by row, what would be
created, updated, left unchanged or rejected (and why), then the same plan applied once HR
confirms. Nothing is written by the dry run; applying the same file twice changes nothing
(a row whose content hash matches the stored person is "unchanged").

A file-level problem (oversized, not UTF-8, wrong columns, unreadable CSV) rejects the whole
file; a row-level problem (a bad e-mail, an unknown manager, a repeated e-mail) rejects that
row only, and a row whose manager is a rejected row is rejected too.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from ingest.readers import FIELDS, REQUIRED_COLUMNS
from kb.errors import ValidationError
from kb.i18n import N_, Text, Texts, reason_of
from kb.models import Person
from kb.services import audit
from kb.services.people import PersonRecord, find_person, person_record, upsert_people
from kb.services.text import control_character_problem

# An HR system's export of a few thousand people; below the site's request limit
# (TANDEM_MAX_UPLOAD_BYTES, 2 MiB) so that a file just over it gets this module's clear message.
UPLOAD_MAX_BYTES = 1024 * 1024
# How long a dry run's file waits for HR's confirmation before it is deleted.
KEEP_SECONDS = 24 * 3600
_DIGEST = re.compile(r"[0-9a-f]{64}")


@dataclass
class PlannedRow:
    line: int
    email: str
    action: str  # created | updated | unchanged | rejected
    reason: str = ""  # a kb.i18n.Text when set: the page shows it in HR's language
    record: PersonRecord | None = None


@dataclass
class UploadPlan:
    """What applying the file would do; ``problem`` set: the whole file is rejected."""

    digest: str
    problem: str = ""  # a kb.i18n.Text when set
    rows: list[PlannedRow] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for row in self.rows if row.action == action)

    @property
    def counts(self) -> dict[str, int]:
        return {a: self.count(a) for a in ("created", "updated", "unchanged", "rejected")}

    @property
    def writable(self) -> list[PlannedRow]:
        return [row for row in self.rows if row.action in ("created", "updated")]


def _expected_columns() -> Text:
    optional = [f for f in FIELDS if f not in REQUIRED_COLUMNS]
    return Text(N_("expected columns: %(required)s (required) and %(optional)s"),
                required=", ".join(REQUIRED_COLUMNS), optional=", ".join(optional))  # fmt: skip


def _text(data: bytes, max_bytes: int) -> str:
    if len(data) > max_bytes:
        raise ValidationError(N_("the file has %(size)s bytes; the limit is %(limit)s"),
                              size=len(data), limit=max_bytes)  # fmt: skip
    if not data.strip():
        raise ValidationError(N_("the file is empty; %(expected)s"), expected=_expected_columns())
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ValidationError(
            N_("line %(number)s: not valid UTF-8 at byte %(byte)s (save the file as UTF-8)"),
            number=line,
            byte=error.start,
        ) from error
    problem = control_character_problem(text)
    if problem is not None:
        raise ValidationError(N_("line %(number)s: %(problem)s"), number=problem[1],
                              problem=problem[0])  # fmt: skip
    return text.removeprefix("\ufeff")


def _unreadable(error: csv.Error, line: int) -> Text:
    """A csv.Error as a reason in HR's language, at the line where the row it stopped in
    starts (Python's own text is English). A UTF-8 file without control characters can only
    fail on a value over the csv field limit, in practice an opening quotation mark never
    closed (the rest of the file becomes one value); any other error gets the general one."""
    if "field larger than field limit" in str(error):
        return Text(
            N_("line %(number)s: a value is longer than %(limit)s characters (is a quotation "
               "mark not closed?)"),
            number=line,
            limit=csv.field_size_limit(),
        )  # fmt: skip
    return Text(N_("line %(number)s: the CSV cannot be read from here (check its quotation "
                   "marks)"), number=line)  # fmt: skip


def plan_upload(session: Session, data: bytes, *, max_bytes: int = UPLOAD_MAX_BYTES) -> UploadPlan:
    """The dry run: reads the database, writes nothing."""
    plan = UploadPlan(digest=hashlib.sha256(data).hexdigest())
    starts = 1  # the line the row being read starts on (reader.line_num is where it ends)
    try:
        text = _text(data, max_bytes)
        reader = csv.reader(io.StringIO(text, newline=""))
        header = next(reader, None) or []
        starts = reader.line_num + 1
        columns = [h.strip().lower() for h in header]
        unknown = [c for c in columns if c not in FIELDS]
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        if unknown or missing or repeated:
            parts = [
                Text(template, columns=", ".join(names))
                for template, names in (
                    (N_("missing column(s) %(columns)s"), missing),
                    (N_("unknown column(s) %(columns)s"), unknown),
                    (N_("repeated column(s) %(columns)s"), repeated),
                )
                if names
            ]
            raise ValidationError(N_("%(problems)s; %(expected)s"),
                                  problems=Texts(parts, separator="; "),
                                  expected=_expected_columns())  # fmt: skip
        seen: dict[str, int] = {}
        for values in reader:
            line = reader.line_num
            starts = line + 1
            if not any(v.strip() for v in values):
                continue
            email = (
                values[columns.index("email")].strip().lower()
                if len(values) == len(columns)
                else ""
            )
            if len(values) != len(columns):
                plan.rows.append(
                    PlannedRow(
                        line,
                        email,
                        "rejected",
                        Text(
                            N_("%(values)s values, but the header has %(columns)s columns"),
                            values=len(values),
                            columns=len(columns),
                        ),  # fmt: skip
                    )
                )
                continue
            try:
                record = person_record(dict(zip(columns, values, strict=True)))
            except ValidationError as error:
                reason = reason_of(error)
                if error.field:
                    reason = Text(N_("%(field)s: %(reason)s"), field=error.field, reason=reason)
                plan.rows.append(PlannedRow(line, email, "rejected", reason))
                continue
            if record.email in seen:
                repeats = Text(N_("repeats line %(line)s"), line=seen[record.email])
                plan.rows.append(PlannedRow(line, record.email, "rejected", repeats))
                continue
            seen[record.email] = line
            plan.rows.append(PlannedRow(line, record.email, "", record=record))
    except (ValidationError, csv.Error) as error:
        if isinstance(error, ValidationError):
            plan.problem = reason_of(error)
        else:
            plan.problem = _unreadable(error, starts)
        plan.rows = []
        return plan
    _classify(session, plan)
    return plan


def _classify(session: Session, plan: UploadPlan) -> None:
    """Managers must be known (in the database or a valid row of the file); then each valid
    row is created, updated or unchanged against the stored person."""
    valid = {row.email: row for row in plan.rows if row.record is not None}
    changed = True
    while changed:  # a row whose manager was rejected is rejected too
        changed = False
        for email, row in list(valid.items()):
            manager = row.record.manager_email if row.record else None
            if manager and manager not in valid and find_person(session, manager) is None:
                row.reason = Text(N_("unknown manager %(email)s"), email=manager)
                row.action, row.record = "rejected", None
                del valid[email]
                changed = True
    for row in valid.values():
        assert row.record is not None
        stored = find_person(session, row.email)
        if stored is None:
            row.action = "created"
        elif stored.content_hash == row.record.content_hash:
            row.action = "unchanged"
        else:
            row.action = "updated"


def apply_upload(
    session: Session, data: bytes, actor: Person | None, *, max_bytes: int = UPLOAD_MAX_BYTES
) -> UploadPlan:
    """Apply the plan of ``data`` (computed again, so what is written is what the dry run of
    this data shows): created and updated rows are written, rejected rows skipped. Audited."""
    plan = plan_upload(session, data, max_bytes=max_bytes)
    if plan.problem:
        raise ValidationError(plan.problem)
    records = [row.record for row in plan.writable if row.record is not None]
    if records:
        upsert_people(session, records)
    audit.record(
        session,
        actor,
        "people.upload",
        "people",
        None,
        None,
        {**plan.counts, "file_sha256": plan.digest},
    )
    return plan


# --- the file between the dry run and the confirmation ------------------------------------------
# The dry run's bytes are kept on the server (owner-only, named by their SHA-256) so that the
# confirmation applies exactly the file HR saw; they are deleted once applied, and any left
# unconfirmed are deleted after KEEP_SECONDS (they hold names and e-mail addresses).


def keep_for_confirmation(folder: Path, data: bytes, *, now: float | None = None) -> str:
    """Store ``data`` until confirmed; returns its digest. Prunes stale files."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    now = time.time() if now is None else now
    for old in folder.glob("*.csv"):
        try:
            if now - old.stat().st_mtime > KEEP_SECONDS:
                old.unlink()
        except FileNotFoundError:
            pass
    digest = hashlib.sha256(data).hexdigest()
    path = folder / f"{digest}.csv"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    return digest


def kept_file(folder: Path, digest: str) -> bytes | None:
    """The bytes kept under ``digest``, or None (unknown, expired or tampered digest)."""
    if not _DIGEST.fullmatch(digest):
        return None
    path = folder / f"{digest}.csv"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    if hashlib.sha256(data).hexdigest() != digest:
        return None
    return data


def forget_file(folder: Path, digest: str) -> None:
    if _DIGEST.fullmatch(digest):
        (folder / f"{digest}.csv").unlink(missing_ok=True)
