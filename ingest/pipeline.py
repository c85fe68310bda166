"""Import files into the knowledge base: read -> validate -> chunk -> embed -> store.

Order: people (CSV/JSON), then programmes and pairs (JSON), then guides, then notes (markdown),
so references resolve. Each file is one transaction: a file that fails (unreadable, invalid,
unknown author, a database error) is rolled back completely and reported, and the batch goes
on. A people file is all-or-nothing as a whole (its rows may name each other as managers).

Re-imports are cheap: a document whose file bytes are unchanged (and whose chunks carry
vectors for every configured model) is reported as unchanged and nothing is written. For the
rest, all passages not yet stored are embedded in large batches across documents *before* the
write transactions start (no model runs while SQLite's write lock is held), and passages whose
text did not change keep their stored vectors.

Source paths: a document is matched to its earlier import by ``source_path``: the path from
the nearest ``guides/`` or ``notes/`` folder (``guides/en-prompts.md``), or, for files outside
such folders, the path relative to the import root (the directory given, or a file's folder).
Both stay the same whether the library is imported whole, folder by folder or file by file, and
on any machine or checkout, unlike absolute paths (which would duplicate every document when the
repository moves).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ingest.readers import (
    DATA_MAX_BYTES,
    DEFAULT_MAX_BYTES,
    GuideSource,
    NoteSource,
    json_kind,
    load_json,
    people_from_json,
    programmes_from_json,
    read_document,
    read_people_csv,
)
from kb.db import import_lock, transaction
from kb.embedding import Embedder, text_hash
from kb.errors import NotFound, TandemError, ValidationError
from kb.models import Guide, Pair, Person, SessionNote, join_list
from kb.services import match_vectors
from kb.services.content import EMBED_BATCH, doc_models, plan_chunks, preload_embedders
from kb.services.guides import guide_doc_key, import_guide, slugify
from kb.services.markup import markdown_to_text
from kb.services.notes import import_note, insight_doc_key, insight_title, note_doc_key
from kb.services.pairs import pair_of
from kb.services.people import find_person, upsert_people
from kb.services.programmes import upsert_programme_record

SUFFIXES = (".md", ".markdown", ".csv", ".json")
ANCHORS = ("guides", "notes")
# Documents planned and embedded together: big batches for the model, bounded memory.
DOCS_PER_ROUND = 256


@dataclass
class ImportItem:
    """One file (or document) and what happened to it."""

    path: str
    kind: str
    detail: str = ""


@dataclass
class Rejection:
    path: str
    reason: str


@dataclass
class ImportReport:
    """What an import did, file by file."""

    imported: list[ImportItem] = field(default_factory=list)
    updated: list[ImportItem] = field(default_factory=list)
    unchanged: list[ImportItem] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.rejected

    def count(self, kind: str) -> int:
        """Files of a kind imported or updated (``guide``, ``note``, ``people``, ...)."""
        return sum(1 for item in self.imported + self.updated if item.kind == kind)

    def summary(self) -> str:
        lines = [
            f"Imported {len(self.imported)}, updated {len(self.updated)}, "
            f"unchanged {len(self.unchanged)}, rejected {len(self.rejected)}."
        ]
        for title, items in (("Imported", self.imported), ("Updated", self.updated)):
            if items:
                lines.append(f"{title}:")
                lines.extend(
                    f"  {i.path} ({i.kind}{': ' + i.detail if i.detail else ''})" for i in items
                )
        if self.rejected:
            lines.append("Rejected:")
            lines.extend(f"  {r.path}: {r.reason}" for r in self.rejected)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "imported": [asdict(i) for i in self.imported],
            "updated": [asdict(i) for i in self.updated],
            "unchanged": [asdict(i) for i in self.unchanged],
            "rejected": [asdict(r) for r in self.rejected],
            "counts": {
                "imported": len(self.imported),
                "updated": len(self.updated),
                "unchanged": len(self.unchanged),
                "rejected": len(self.rejected),
            },
        }

    def add(self, status: str, item: ImportItem) -> None:
        {"created": self.imported, "updated": self.updated, "unchanged": self.unchanged}[
            status
        ].append(item)


@dataclass(frozen=True)
class SourceFile:
    path: Path
    key: str  # stable source path (see module docstring)


def source_key(path: Path, root: Path) -> str:
    """The stable identity of an imported file (see the module docstring)."""
    parts = path.parts
    for i in range(len(parts) - 2, -1, -1):
        if parts[i].lower() in ANCHORS:
            return "/".join(parts[i:])
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name


def collect_files(
    paths: Iterable[str | Path], root: str | Path | None = None
) -> tuple[list[SourceFile], list[Rejection]]:
    """Files to import (directories recursively; hidden files skipped), each with its key."""
    found: dict[Path, SourceFile] = {}
    missing: list[Rejection] = []
    for given in paths:
        path = Path(given)
        if not path.exists():
            missing.append(Rejection(str(path), "no such file or directory"))
            continue
        path = path.resolve()
        base = (
            Path(root).resolve() if root is not None else (path if path.is_dir() else path.parent)
        )
        if path.is_dir():
            candidates = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        elif path.suffix.lower() in SUFFIXES:
            candidates = [path]
        else:
            missing.append(
                Rejection(str(given), f"unsupported file type; use {', '.join(SUFFIXES)}")
            )
            continue
        for candidate in candidates:
            found.setdefault(candidate, SourceFile(candidate, source_key(candidate, base)))
    return list(found.values()), missing


def _describe(error: Exception, lines: Mapping[str, int] | None = None) -> str:
    """A reason for the report: where (line, field) and what. Database errors are reported
    without their SQL and parameters, which could carry a private note's text into logs."""
    if isinstance(error, ValidationError):
        line = error.line
        if line is None and error.field and lines:
            line = lines.get(error.field)
        where = ", ".join(
            part
            for part in (
                f"line {line}" if line else "",
                f"field '{error.field}'" if error.field else "",
            )
            if part
        )
        return f"{where}: {error.reason}" if where else error.reason
    if isinstance(error, IntegrityError):
        return (
            "another import or edit saved this document at the same moment; "
            "import it again (nothing of it was saved this time)"
        )
    if isinstance(error, SQLAlchemyError):
        original = getattr(error, "orig", None)
        text = str(original).splitlines()[0] if original is not None else type(error).__name__
        return f"database error: {text}"
    if isinstance(error, OSError):
        return f"cannot read the file: {error.strerror or error}"
    return str(error)


_FAILURES = (TandemError, SQLAlchemyError, OSError)


def _status_of(statuses: Sequence[str]) -> str:
    if statuses and all(s == "unchanged" for s in statuses):
        return "unchanged"
    if statuses and all(s == "created" for s in statuses):
        return "created"
    return "updated"


def _counts(statuses: Sequence[str]) -> str:
    return ", ".join(
        f"{statuses.count(s)} {s}" for s in ("created", "updated", "unchanged") if s in statuses
    )


def import_people_file(
    factory: sessionmaker[Session],
    file: SourceFile,
    report: ImportReport,
    data: Any = None,
    matching: Mapping[str, Embedder] | None = None,
) -> None:
    """One people file (CSV, or JSON already parsed as ``data``), all rows in one transaction,
    with the matching vectors of their goals and stated expertise (embedded before it)."""
    try:
        if data is None:
            rows = read_people_csv(file.path, max_bytes=DATA_MAX_BYTES)
        else:
            rows = people_from_json(data, str(file.path))
        lines = {row.record.email: row.line for row in rows if row.line is not None}
        vectors: match_vectors.Vectors = {}
        if matching:
            texts = match_vectors.profile_texts(
                (join_list(r.record.expertise), join_list(r.record.goals)) for r in rows
            )
            with factory() as session:
                vectors = match_vectors.compute(session, texts, matching)
        with transaction(factory) as session:
            results = upsert_people(
                session, [row.record for row in rows], source=str(file.path), lines=lines
            )
            match_vectors.write(session, vectors)
    except _FAILURES as error:
        report.rejected.append(Rejection(file.key, _describe(error)))
        return
    statuses = [status for _, status in results]
    report.add(_status_of(statuses), ImportItem(file.key, "people", _counts(statuses)))


def import_programmes_file(
    factory: sessionmaker[Session], file: SourceFile, report: ImportReport, data: Any
) -> None:
    """One programmes file with its pairs, in one transaction."""
    try:
        records = programmes_from_json(data, str(file.path))
        statuses: list[str] = []
        pair_statuses: list[str] = []
        with transaction(factory) as session:
            for record in records:
                _, status, counts = upsert_programme_record(session, record)
                statuses.append(status)
                for key, n in counts.items():
                    pair_statuses.extend([key] * n)
    except _FAILURES as error:
        report.rejected.append(Rejection(file.key, _describe(error)))
        return
    detail = f"{_counts(statuses)}; pairs: {_counts(pair_statuses) or 'none'}"
    report.add(_status_of(statuses + pair_statuses), ImportItem(file.key, "programmes", detail))


@dataclass
class _Planned:
    file: SourceFile
    doc: GuideSource | NoteSource
    texts: list[str]
    author_id: int = 0
    pair_id: int | None = None


def _doc_keys(session: Session, doc: GuideSource | NoteSource, key: str) -> list[str] | None:
    """Chunk keys the stored version of this document should have, or None if not stored."""
    if isinstance(doc, GuideSource):
        guide = session.scalar(select(Guide).where(Guide.source_path == key))
        if guide is None or guide.content_hash != doc.content_hash:
            return None
        return [guide_doc_key(guide)] if guide.status == "published" else []
    note = session.scalar(select(SessionNote).where(SessionNote.source_path == key))
    if note is None or note.content_hash != doc.content_hash:
        return None
    keys = [note_doc_key(note)]
    if note.insight is not None and note.insight.published:
        keys.append(insight_doc_key(note.insight))
    return keys


def _texts(doc: GuideSource | NoteSource) -> list[str]:
    """Every embedding text the document's chunks will need (for the batch phase)."""
    texts: list[str] = []
    if isinstance(doc, GuideSource):
        if doc.published:
            texts += [p.embed_text for p in plan_chunks(doc.title, markdown_to_text(doc.body_md))]
        return texts
    texts += [p.embed_text for p in plan_chunks(doc.title, markdown_to_text(doc.body_md))]
    if doc.insight and doc.shared:
        title = insight_title(doc.insight)
        texts += [p.embed_text for p in plan_chunks(title, markdown_to_text(doc.insight))]
    return texts


def _evidence_texts(doc: GuideSource | NoteSource) -> list[str]:
    """The document's texts that are matching evidence: a published guide's chunks and a
    shared insight's; never a note's own text."""
    if isinstance(doc, GuideSource):
        if not doc.published:
            return []
        return [p.embed_text for p in plan_chunks(doc.title, markdown_to_text(doc.body_md))]
    if doc.insight and doc.shared:
        title = insight_title(doc.insight)
        return [p.embed_text for p in plan_chunks(title, markdown_to_text(doc.insight))]
    return []


def _own_vectors(vectors: match_vectors.Vectors, texts: Sequence[str]) -> match_vectors.Vectors:
    """The part of a round's matching vectors that belongs to one document's texts."""
    keys = {text_hash(t) for t in texts}
    return {model: {k: v for k, v in rows.items() if k in keys} for model, rows in vectors.items()}


def _check_references(
    session: Session, doc: GuideSource | NoteSource, people: dict[str, int | None]
) -> tuple[int, int | None]:
    """Ids of the author and (for notes) the pair; a ValidationError naming the field when one
    is unknown. ``people`` caches e-mail -> id for the round."""
    if doc.author_email not in people:
        person = find_person(session, doc.author_email)
        people[doc.author_email] = person.id if person is not None else None
    author_id = people[doc.author_email]
    if author_id is None:
        raise ValidationError(f"unknown author {doc.author_email!r}", field="author")
    if not isinstance(doc, NoteSource):
        return author_id, None
    try:
        pair = pair_of(session, doc.pair[0], doc.pair[1], doc.programme)
    except NotFound as error:
        raise ValidationError(str(error), field="pair") from error
    return author_id, pair.id


def _apply(
    session: Session,
    planned: _Planned,
    embedders: Mapping[str, Embedder],
) -> str:
    doc, key = planned.doc, planned.file.key
    # Ids were resolved in the planning phase; a person deleted since then is caught here.
    author = session.get(Person, planned.author_id)
    if author is None:
        raise ValidationError(f"unknown author {doc.author_email!r}", field="author")
    if isinstance(doc, GuideSource):
        slug = doc.slug or slugify(Path(key).stem)
        taken = session.scalar(select(Guide).where(Guide.slug == slug))
        if taken is not None and taken.source_path != key:
            origin = (
                f"imported from {taken.source_path}" if taken.source_path else "made on the web"
            )
            raise ValidationError(
                f"the slug {slug!r} is already used by another guide ({origin}); "
                "rename the file or set 'slug:' in the front matter",
                field="slug",
            )
        _, status = import_guide(
            session, author, title=doc.title, body_md=doc.body_md, language=doc.language,
            tags=doc.tags, slug=slug, source_path=key, published=doc.published,
            published_on=doc.date, content_hash=doc.content_hash, embedders=embedders,
        )  # fmt: skip
        return status
    pair = session.get(Pair, planned.pair_id) if planned.pair_id is not None else None
    if pair is None:
        raise ValidationError(f"{doc.pair[0]} and {doc.pair[1]} are not a pair", field="pair")
    _, status = import_note(
        session, pair, author, title=doc.title, body_md=doc.body_md, language=doc.language,
        tags=doc.tags, session_date=doc.date, source_path=key, content_hash=doc.content_hash,
        insight=doc.insight, shared=doc.shared, embedders=embedders,
    )  # fmt: skip
    return status


def import_documents(
    factory: sessionmaker[Session],
    files: Sequence[SourceFile],
    embedders: Mapping[str, Embedder],
    report: ImportReport,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    batch_size: int = EMBED_BATCH,
    docs_per_round: int = DOCS_PER_ROUND,
    progress: Any = None,
    matching: Mapping[str, Embedder] | None = None,
) -> None:
    """Guides then notes, in rounds: check and plan, embed the round in batches (search and
    matching vectors), write each document in its own transaction."""
    docs: list[tuple[SourceFile, GuideSource | NoteSource]] = []
    for file in files:
        try:
            docs.append((file, read_document(file.path, max_bytes=max_bytes)))
        except ValidationError as error:
            report.rejected.append(Rejection(file.key, _describe(error)))
            _tick(progress)
    docs.sort(key=lambda item: (item[1].kind != "guide", item[0].key))
    model_names = {e.name for e in embedders.values()}
    for start in range(0, len(docs), docs_per_round):
        round_docs = docs[start : start + docs_per_round]
        todo: list[_Planned] = []
        with factory() as session:
            stored_keys: dict[str, list[str]] = {}
            people: dict[str, int | None] = {}
            for file, doc in round_docs:
                try:
                    author_id, pair_id = _check_references(session, doc, people)
                except _FAILURES as error:
                    report.rejected.append(Rejection(file.key, _describe(error, doc.lines)))
                    _tick(progress)
                    continue
                keys = _doc_keys(session, doc, file.key)
                if keys is not None:
                    stored_keys[file.key] = keys
                todo.append(_Planned(file, doc, [], author_id, pair_id))
            complete = doc_models(session, [k for keys in stored_keys.values() for k in keys])
            pending: list[_Planned] = []
            for item in todo:
                keys = stored_keys.get(item.file.key)
                if keys is not None and all(complete.get(k, set()) >= model_names for k in keys):
                    report.unchanged.append(ImportItem(item.file.key, item.doc.kind))
                    _tick(progress)
                    continue
                item.texts = _texts(item.doc)
                pending.append(item)
            preloaded = preload_embedders(
                session,
                [t for item in pending for t in item.texts],
                embedders,
                batch_size=batch_size,
                progress=progress is not None,
            )
            evidence: match_vectors.Vectors = {}
            if matching:
                evidence = match_vectors.compute(
                    session, [t for item in pending for t in _evidence_texts(item.doc)], matching,
                    batch_size=batch_size,
                )  # fmt: skip
            session.rollback()  # end the read transaction before the writes start
        for item in pending:
            try:
                with transaction(factory) as session:
                    status = _apply(session, item, preloaded)
                    match_vectors.write(session, _own_vectors(evidence, _evidence_texts(item.doc)))
            except _FAILURES as error:
                report.rejected.append(Rejection(item.file.key, _describe(error, item.doc.lines)))
            else:
                report.add(status, ImportItem(item.file.key, item.doc.kind))
            _tick(progress)


def _tick(progress: Any) -> None:
    if progress is not None:
        progress.update(1)


def import_paths(
    session_factory: sessionmaker[Session],
    paths: Iterable[str | Path],
    embedders: Mapping[str, Embedder],
    progress: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
    *,
    root: str | Path | None = None,
    batch_size: int = EMBED_BATCH,
    docs_per_round: int = DOCS_PER_ROUND,
    matching: Mapping[str, Embedder] | None = None,
) -> ImportReport:
    """Import files and directories (``.md``, ``.csv``, ``.json``); see the module docstring.

    Imports into one database run one at a time (``kb.db.import_lock``): two imports of the
    same folder at once give the second a report of unchanged files, not a collision.

    ``max_bytes`` limits markdown files (people and programme files may be larger). Never
    raises for a bad file: every problem is in ``report.rejected`` with the file and reason.
    With ``matching`` (the matching models), goals, stated expertise and public chunks get
    their matching vectors in the transaction that writes them; anything stored earlier
    without them is embedded at the end (:func:`kb.services.match_vectors.catch_up`).
    """
    engine = session_factory.kw.get("bind")
    if engine is None:
        raise TypeError("import_paths needs a sessionmaker bound to an engine")
    with import_lock(engine):
        return _import_paths(
            session_factory, paths, embedders, progress, max_bytes, root=root,
            batch_size=batch_size, docs_per_round=docs_per_round, matching=matching,
        )  # fmt: skip


def _import_paths(
    session_factory: sessionmaker[Session],
    paths: Iterable[str | Path],
    embedders: Mapping[str, Embedder],
    progress: bool,
    max_bytes: int,
    *,
    root: str | Path | None,
    batch_size: int,
    docs_per_round: int,
    matching: Mapping[str, Embedder] | None,
) -> ImportReport:
    report = ImportReport()
    files, missing = collect_files(paths, root)
    report.rejected.extend(missing)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(files), desc="importing", unit="file", file=sys.stderr)
    try:
        people: list[tuple[SourceFile, Any]] = []
        programmes: list[tuple[SourceFile, Any]] = []
        documents: list[SourceFile] = []
        for file in files:
            suffix = file.path.suffix.lower()
            if suffix == ".csv":
                people.append((file, None))
            elif suffix == ".json":
                try:
                    data = load_json(file.path, DATA_MAX_BYTES)
                except ValidationError as error:
                    report.rejected.append(Rejection(file.key, _describe(error)))
                    _tick(bar)
                    continue
                kind = json_kind(data)
                if kind == "people":
                    people.append((file, data))
                elif kind == "programmes":
                    programmes.append((file, data))
                else:
                    report.rejected.append(
                        Rejection(
                            file.key,
                            'unknown JSON file: expected {"people": [...]}, a list of people, '
                            'or {"programmes": [...]}',
                        )
                    )
                    _tick(bar)
            else:
                documents.append(file)
        for file, data in people:
            import_people_file(session_factory, file, report, data, matching)
            _tick(bar)
        for file, data in programmes:
            import_programmes_file(session_factory, file, report, data)
            _tick(bar)
        import_documents(
            session_factory, documents, embedders, report, max_bytes=max_bytes,
            batch_size=batch_size, docs_per_round=docs_per_round, progress=bar,
            matching=matching,
        )  # fmt: skip
        if matching:
            match_vectors.catch_up(session_factory, matching, batch_size=batch_size)
    finally:
        if bar is not None:
            bar.close()
    return report
