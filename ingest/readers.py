"""Readers: files -> validated records, or a ValidationError naming the file, line and field.

Markdown documents (guides and notes) carry YAML front matter between ``---`` lines:

    type        guide | note (default: from a guides/ or notes/ folder, else note if `pair`)
    title       required, at most 300 characters
    author      required, e-mail of a known person (checked by the pipeline)
    language    required, pl | ru | en
    tags        list, or a comma-separated string
    date        YYYY-MM-DD (guides: publication date, notes: session date)
    visibility  guides: public | draft (default public); notes: private | shared (default private)
    pair        notes only, required: [mentor_email, mentee_email]
    insight     notes only: the excerpt offered for everyone; with `visibility: shared` both
                members already consented (published), otherwise only the author has
    slug        guides only, optional (default: the file name)
    programme   notes only, optional: slug of the programme, when the two were paired twice

Unknown fields are ignored (other tools may add their own). People come from CSV (header with
at least ``name,email``) or JSON (a list, or ``{"people": [...]}``); programmes from JSON
``{"programmes": [{slug, name, starts, ends, status, pairs: [{mentor, mentee, status,
started, ended}]}]}``.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kb.errors import ValidationError
from kb.models import LANGUAGES, PAIR_STATUSES, PROGRAMME_STATUSES
from kb.services.guides import MAX_TAGS, MAX_TITLE, clean_tags
from kb.services.markup import MarkupError, check_markdown
from kb.services.people import FIELDS, PersonRecord, normalise_email, person_record
from kb.services.programmes import PairRecord, ProgrammeRecord
from kb.services.text import control_character_problem

DEFAULT_MAX_BYTES = 2 * 1024 * 1024
# People and programme files of a large organisation can be big; they are not user uploads.
DATA_MAX_BYTES = 64 * 1024 * 1024
MAX_LISTED_ERRORS = 20
REQUIRED_COLUMNS = ("name", "email")
GUIDE_VISIBILITY = ("public", "draft")
NOTE_VISIBILITY = ("private", "shared")


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MiB"
    if n >= 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n} bytes"


def read_text(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[str, str]:
    """A file's text and the SHA-256 of its bytes; refuses oversized and non-UTF-8 files."""
    source = str(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ValidationError(
                f"file is {_size(size)} ({size} bytes), larger than the limit of "
                f"{_size(max_bytes)} ({max_bytes} bytes)",
                source=source,
            )
        data = path.read_bytes()
    except OSError as error:
        raise ValidationError(f"cannot read the file: {error.strerror}", source=source) from error
    if len(data) > max_bytes:  # grew while we looked
        raise ValidationError(f"file is larger than the limit of {_size(max_bytes)}", source=source)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ValidationError(
            f"not valid UTF-8 at byte {error.start} (save the file as UTF-8)",
            source=source,
            line=line,
        ) from error
    problem = control_character_problem(text)
    if problem is not None:
        reason, line = problem
        raise ValidationError(reason, source=source, line=line)
    return text.removeprefix("\ufeff"), hashlib.sha256(data).hexdigest()


# -- markdown with front matter -----------------------------------------------------------


# libyaml's parser when present (several times faster than the pure-Python one).
try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:
    from yaml import SafeLoader as _SafeLoader


class _Loader(_SafeLoader):
    """Safe YAML without implicit timestamps: dates stay text and get our own messages."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class MarkdownFile:
    """A markdown file split into its front matter and body."""

    path: Path
    meta: dict[str, Any]
    body: str
    field_lines: dict[str, int]
    content_hash: str

    def error(self, message: str, field: str | None = None) -> ValidationError:
        line = self.field_lines.get(field) if field else None
        return ValidationError(message, source=str(self.path), field=field, line=line)


def _yaml_error(error: yaml.YAMLError, source: str, first_line: int) -> ValidationError:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    line = mark.line + first_line if mark is not None else None
    return ValidationError(f"invalid YAML in front matter: {problem}", source=source, line=line)


def parse_front_matter(text: str, source: str) -> tuple[dict[str, Any], dict[str, int], str]:
    """Front matter (a mapping), the file line of each top-level field, and the body."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise ValidationError(
            "missing front matter: the file must start with a '---' line, then fields such as "
            "title, author and language, then another '---' line",
            source=source,
            line=1,
        )
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "...")), None)
    if end is None:
        raise ValidationError(
            "front matter is not closed: no '---' line after the opening one", source=source,
            line=1,
        )  # fmt: skip
    yaml_text = "".join(lines[1:end])
    loader = _Loader(yaml_text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as error:
        raise _yaml_error(error, source, first_line=2) from error
    except (ValueError, TypeError, RecursionError) as error:
        raise ValidationError(f"invalid YAML in front matter: {error}", source=source) from error
    finally:
        loader.dispose()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValidationError(
            "front matter must be fields ('name: value' lines), not a list or a single value",
            source=source,
            line=2,
        )
    field_lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, _ in node.value:
            if isinstance(key_node.value, str):
                field_lines[key_node.value] = key_node.start_mark.line + 2
    meta = {str(k).strip().lower(): v for k, v in data.items()}
    return meta, field_lines, "".join(lines[end + 1 :])


def read_markdown(path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> MarkdownFile:
    """Read a markdown file with YAML front matter (size, encoding and syntax checked)."""
    path = Path(path)
    text, digest = read_text(path, max_bytes=max_bytes)
    meta, field_lines, body = parse_front_matter(text, str(path))
    return MarkdownFile(path, meta, body, field_lines, digest)


@dataclass(frozen=True)
class GuideSource:
    path: Path
    title: str
    author_email: str
    language: str
    tags: tuple[str, ...]
    date: dt.date | None
    published: bool
    slug: str | None
    body_md: str
    content_hash: str
    kind: str = "guide"
    lines: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class NoteSource:
    path: Path
    title: str
    author_email: str
    language: str
    tags: tuple[str, ...]
    date: dt.date | None
    shared: bool
    pair: tuple[str, str]
    programme: str | None
    insight: str | None
    body_md: str
    content_hash: str
    kind: str = "note"
    lines: Mapping[str, int] = field(default_factory=dict)


def parse_date(value: Any, field: str = "date") -> dt.date | None:
    """A date from YYYY-MM-DD text (or a date); None when empty."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    try:
        return dt.date.fromisoformat(text[:10] if len(text) > 10 and text[10] in "T " else text)
    except ValueError:
        raise ValidationError(f"{text!r} is not a date (use YYYY-MM-DD)", field=field) from None


def _field(doc: MarkdownFile, name: str, value: Any, check) -> Any:  # noqa: ANN001
    """Run ``check(value)``; re-raise its ValidationError pointing at the field's line."""
    try:
        return check(value)
    except ValidationError as error:
        raise doc.error(error.reason, field=name) from error


def _required_text(doc: MarkdownFile, name: str) -> str:
    value = doc.meta.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise doc.error(f"missing required field '{name}'", field=name)
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise doc.error(f"'{name}' must be text", field=name)
    return " ".join(str(value).split())


def _tags(value: Any) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        items = value.replace(";", ",").split(",")
    elif isinstance(value, list):
        if not all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in value):
            raise ValidationError("tags must be a list of words", field="tags")
        items = [str(v) for v in value]
    else:
        raise ValidationError("tags must be a list or a comma-separated text", field="tags")
    tags = tuple(t for t in clean_tags(items).split(";") if t)
    if len(";".join(tags)) > MAX_TAGS:
        raise ValidationError(f"tags take more than {MAX_TAGS} characters", field="tags")
    return tags


def _pair(value: Any) -> tuple[str, str]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or len(items) != 2:
        raise ValidationError("pair must be [mentor_email, mentee_email]", field="pair")
    first, second = (normalise_email(v, "pair") for v in items)
    if first == second:
        raise ValidationError("the two members of a pair must differ", field="pair")
    return first, second


def _kind(doc: MarkdownFile, kind: str | None) -> str:
    stated = doc.meta.get("type")
    if stated is not None:
        stated = str(stated).strip().lower()
        if stated not in ("guide", "note"):
            raise doc.error(f"unknown type {stated!r}; use guide or note", field="type")
        return stated
    if kind:
        return kind
    folders = [part.lower() for part in doc.path.parts[:-1]]
    for part in reversed(folders):
        if part in ("guides", "guide"):
            return "guide"
        if part in ("notes", "note"):
            return "note"
    return "note" if "pair" in doc.meta else "guide"


def document_from_markdown(doc: MarkdownFile, kind: str | None = None) -> GuideSource | NoteSource:
    """Validate front matter fields into a guide or a note; a body the renderer could not
    show whole (nested too deep) is refused with the reason."""
    kind = _kind(doc, kind)
    try:
        check_markdown(doc.body)
    except MarkupError as error:
        raise doc.error(f"the text cannot be shown whole: {error}") from error
    title = _required_text(doc, "title")
    if len(title) > MAX_TITLE:
        raise doc.error(f"title is {len(title)} characters long, the limit is {MAX_TITLE}", "title")
    author = _field(doc, "author", _required_text(doc, "author"),
                    lambda v: normalise_email(v, "author"))  # fmt: skip
    language = _required_text(doc, "language").lower()
    if language not in LANGUAGES:
        raise doc.error(f"unknown language {language!r}; use {', '.join(LANGUAGES)}", "language")
    tags = _field(doc, "tags", doc.meta.get("tags"), _tags)
    date = _field(doc, "date", doc.meta.get("date"), parse_date)
    visibility = doc.meta.get("visibility")
    visibility = str(visibility).strip().lower() if visibility not in (None, "") else None
    insight = doc.meta.get("insight")
    if kind == "guide":
        if visibility is not None and visibility not in GUIDE_VISIBILITY:
            raise doc.error(
                f"unknown visibility {visibility!r} for a guide; use public or draft", "visibility"
            )
        for only_notes in ("pair", "insight"):
            if only_notes in doc.meta:
                raise doc.error(f"'{only_notes}' is for notes only", field=only_notes)
        slug = doc.meta.get("slug")
        return GuideSource(
            path=doc.path, title=title, author_email=author, language=language, tags=tags,
            date=date, published=visibility != "draft",
            slug=str(slug).strip() if slug not in (None, "") else None, body_md=doc.body,
            content_hash=doc.content_hash, lines=doc.field_lines,
        )  # fmt: skip
    if visibility is not None and visibility not in NOTE_VISIBILITY:
        raise doc.error(
            f"unknown visibility {visibility!r} for a note; use private or shared", "visibility"
        )
    if doc.meta.get("pair") in (None, "", []):
        raise doc.error("missing required field 'pair' ([mentor_email, mentee_email])", "pair")
    pair = _field(doc, "pair", doc.meta.get("pair"), _pair)
    if author not in pair:
        raise doc.error(f"the author {author} is not a member of the pair", field="author")
    if insight is not None and not isinstance(insight, str):
        raise doc.error("insight must be text", field="insight")
    insight = insight.strip() if insight else None
    shared = visibility == "shared"
    if shared and not insight:
        raise doc.error(
            "a shared note needs an 'insight' (the excerpt both members agreed to publish)",
            field="visibility",
        )
    programme = doc.meta.get("programme")
    return NoteSource(
        path=doc.path, title=title, author_email=author, language=language, tags=tags,
        date=date, shared=shared, pair=pair,
        programme=str(programme).strip() if programme not in (None, "") else None,
        insight=insight, body_md=doc.body, content_hash=doc.content_hash, lines=doc.field_lines,
    )  # fmt: skip


def read_document(
    path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES, kind: str | None = None
) -> GuideSource | NoteSource:
    """A guide or note file, fully validated (except that people exist: the pipeline knows)."""
    return document_from_markdown(read_markdown(path, max_bytes=max_bytes), kind)


# -- people -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonRow:
    """A validated person and where it came from (a CSV line, or a JSON entry number)."""

    record: PersonRecord
    line: int | None = None
    entry: int | None = None


def _row_problems(source: str, problems: list[str], noun: str) -> ValidationError:
    shown = problems[:MAX_LISTED_ERRORS]
    more = len(problems) - len(shown)
    suffix = f"; and {more} more" if more else ""
    return ValidationError(f"{len(problems)} invalid {noun}: " + "; ".join(shown) + suffix,
                           source=source)  # fmt: skip


def _expected_columns() -> str:
    optional = [f for f in FIELDS if f not in REQUIRED_COLUMNS]
    return f"expected columns: {', '.join(REQUIRED_COLUMNS)} (required) and {', '.join(optional)}"


def read_people_csv(path: str | Path, *, max_bytes: int = DATA_MAX_BYTES) -> list[PersonRow]:
    """People from a CSV file with a header row; all row problems are reported at once."""
    path = Path(path)
    source = str(path)
    text, _ = read_text(path, max_bytes=max_bytes)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as error:
        raise ValidationError(f"unreadable CSV: {error}", source=source, line=1) from error
    if not header or not any(h.strip() for h in header):
        raise ValidationError(f"the file is empty; {_expected_columns()}", source=source, line=1)
    columns = [h.strip().lower() for h in header]
    duplicates = sorted({c for c in columns if columns.count(c) > 1 and c})
    unknown = [c for c in columns if c not in FIELDS]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if duplicates or unknown or missing:
        parts = []
        if missing:
            parts.append(f"missing column(s) {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown column(s) {', '.join(repr(c) for c in unknown)}")
        if duplicates:
            parts.append(f"repeated column(s) {', '.join(duplicates)}")
        raise ValidationError(f"{'; '.join(parts)}; {_expected_columns()}", source=source, line=1)
    rows: list[PersonRow] = []
    problems: list[str] = []
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            problems.append(f"line {reader.line_num}: unreadable CSV ({error})")
            break
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(columns):
            problems.append(
                f"line {line}: {len(values)} values, but the header has {len(columns)} columns"
            )
            continue
        try:
            record = person_record(dict(zip(columns, values, strict=True)))
        except ValidationError as error:
            field = f"field '{error.field}': " if error.field else ""
            problems.append(f"line {line}: {field}{error.reason}")
            continue
        rows.append(PersonRow(record, line=line))
    if problems:
        raise _row_problems(source, problems, "rows" if len(problems) > 1 else "row")
    return rows


def load_json(path: Path, max_bytes: int = DATA_MAX_BYTES) -> Any:
    """Parsed JSON, or a ValidationError naming the file and line."""
    text, _ = read_text(path, max_bytes=max_bytes)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ValidationError(f"invalid JSON: {error.msg} (column {error.colno})",
                              source=str(path), line=error.lineno) from error  # fmt: skip


def json_kind(data: Any) -> str | None:
    """Which kind of JSON file this is: 'people', 'programmes' or None."""
    if isinstance(data, list):
        return "people"
    if isinstance(data, dict):
        if "programmes" in data:
            return "programmes"
        if "people" in data:
            return "people"
    return None


def people_from_json(data: Any, source: str) -> list[PersonRow]:
    items = data.get("people") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ValidationError('expected a list of people, or {"people": [...]}', source=source)
    rows: list[PersonRow] = []
    problems: list[str] = []
    for i, item in enumerate(items, start=1):
        if not isinstance(item, Mapping):
            problems.append(f"entry {i}: expected an object with name, email, ...")
            continue
        try:
            rows.append(PersonRow(person_record(dict(item)), entry=i))
        except ValidationError as error:
            who = f" ({item.get('email')})" if isinstance(item.get("email"), str) else ""
            field = f"field '{error.field}': " if error.field else ""
            problems.append(f"entry {i}{who}: {field}{error.reason}")
    if problems:
        raise _row_problems(source, problems, "entries" if len(problems) > 1 else "entry")
    return rows


def read_people_json(path: str | Path, *, max_bytes: int = DATA_MAX_BYTES) -> list[PersonRow]:
    """People from JSON: a list of objects with the CSV's keys, or ``{"people": [...]}``."""
    path = Path(path)
    return people_from_json(load_json(path, max_bytes), str(path))


# -- programmes ---------------------------------------------------------------------------


def _choice(value: Any, field: str, allowed: tuple[str, ...], default: str) -> str:
    if value in (None, ""):
        return default
    text = str(value).strip().lower()
    if text not in allowed:
        raise ValidationError(f"unknown {field} {text!r}; use {', '.join(allowed)}", field=field)
    return text


def _pair_record(item: Any) -> PairRecord:
    if not isinstance(item, Mapping):
        raise ValidationError("expected an object with mentor and mentee")
    unknown = sorted(set(item) - {"mentor", "mentee", "status", "started", "ended"})
    if unknown:
        raise ValidationError(f"unknown field(s) {', '.join(unknown)}")
    return PairRecord(
        mentor_email=normalise_email(item.get("mentor"), "mentor"),
        mentee_email=normalise_email(item.get("mentee"), "mentee"),
        status=_choice(item.get("status"), "status", PAIR_STATUSES, "proposed"),
        started=parse_date(item.get("started"), "started"),
        ended=parse_date(item.get("ended"), "ended"),
    )


def programmes_from_json(data: Any, source: str) -> list[ProgrammeRecord]:
    items = data.get("programmes") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ValidationError('expected {"programmes": [...]}', source=source)
    records: list[ProgrammeRecord] = []
    problems: list[str] = []
    for i, item in enumerate(items, start=1):
        where = f"programme {i}"
        try:
            if not isinstance(item, Mapping):
                raise ValidationError("expected an object with slug, name and pairs")
            if isinstance(item.get("slug"), str):
                where = f"programme {i} ({item['slug']})"
            slug = item.get("slug")
            if not isinstance(slug, str) or not slug.strip():
                raise ValidationError("missing required field 'slug'", field="slug")
            name = item.get("name")
            if not isinstance(name, str) or not name.strip():
                raise ValidationError("missing required field 'name'", field="name")
            pairs_data = item.get("pairs") or []
            if not isinstance(pairs_data, list):
                raise ValidationError("pairs must be a list", field="pairs")
            pairs = []
            for j, pair in enumerate(pairs_data, start=1):
                try:
                    pairs.append(_pair_record(pair))
                except ValidationError as error:
                    field = f"field '{error.field}': " if error.field else ""
                    raise ValidationError(f"pair {j}: {field}{error.reason}") from error
            records.append(
                ProgrammeRecord(
                    slug=slug.strip(),
                    name=name.strip(),
                    starts=parse_date(item.get("starts"), "starts"),
                    ends=parse_date(item.get("ends"), "ends"),
                    status=_choice(item.get("status"), "status", PROGRAMME_STATUSES, "planned"),
                    pairs=tuple(pairs),
                )  # fmt: skip
            )
        except ValidationError as error:
            field = f"field '{error.field}': " if error.field else ""
            problems.append(f"{where}: {field}{error.reason}")
    if problems:
        raise _row_problems(source, problems, "programmes" if len(problems) > 1 else "programme")
    return records


def read_programmes_json(
    path: str | Path, *, max_bytes: int = DATA_MAX_BYTES
) -> list[ProgrammeRecord]:
    """Programmes with their pairs from JSON (see the module docstring)."""
    path = Path(path)
    return programmes_from_json(load_json(path, max_bytes), str(path))
