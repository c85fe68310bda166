"""``tandem check``: compare the database (the source of truth) with every derived index and
say, in plain words, where they differ; optionally repair (catch up or rebuild).

What is compared, for one instance:

- **Whoosh** (on disk, shared by all processes): the generation exists, was built by this
  schema and opens; the chunk ids it holds (each once) and their documents equal the
  database's chunks; its change-log position is not behind.
- **Sparse BM25 and FAISS** (in each process's memory, started from a snapshot): the snapshot
  reads back; loaded and caught up with the log (as a starting worker does), the sparse index
  holds exactly the database's chunks, and each search model's FAISS index exactly the public
  chunks with a stored vector of that model (in the languages it speaks), each vector equal
  to the stored one, the per-language mean vectors equal to those of the stored vectors and
  the filter attributes equal to the database's.
- **Matching vectors**: every goal, stated expertise and public chunk text has one per
  matching model.

Documents changed after an index's log position are left out of the comparison (a running
instance writes while the check reads): they are what a catch-up applies. Running workers'
memory is not visible from here; they apply the same log as the check does.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from whoosh.index import EmptyIndexError, IndexVersionError
from whoosh.index import IndexError as WhooshIndexError

from kb.embedding import Embedder, text_hash
from kb.models import Chunk, ChunkEmbedding, Person
from kb.search.centring import LanguageMeans
from kb.search.indexes.changelog import LogState, fetch_changes, newest_change
from kb.search.indexes.fulltext import FullTextIndex
from kb.search.indexes.snapshots import READ_ERRORS
from kb.search.indexes.sparsestore import SparseStore
from kb.search.indexes.store import MemoryStore
from kb.search.indexes.vectors import VectorBackend
from kb.search.indexes.vectorstore import VectorStore, public_meta
from kb.search.indexes.whooshstore import WhooshStore, read_state
from kb.search.ranking import SearchConfig
from kb.search.records import ChunkRecord
from kb.services import match_vectors

if TYPE_CHECKING:
    from kb.runtime import Tandem

WHOOSH_ERRORS = (*READ_ERRORS, EmptyIndexError, IndexVersionError, WhooshIndexError)
VECTOR_TOLERANCE = 1e-5  # FAISS keeps float32 vectors as given (HNSW flat storage too)
MEANS_TOLERANCE = 1e-3  # running sums in float64 after adds and removes
EXAMPLES = 5  # ids named in a finding


class Exit(IntEnum):
    """``tandem check``'s exit codes."""

    CONSISTENT = 0
    DIFFERENT = 1  # content differs, an index or snapshot is missing or damaged
    BEHIND = 3  # only behind the change log: a catch-up (or the next search) applies it


class Repair(IntEnum):
    """What fixes a finding, weakest first (a store gets the strongest of its findings)."""

    NONE = 0
    SNAPSHOT = 1  # write the caught-up snapshot
    CATCH_UP = 2  # apply the change log
    REBUILD = 3  # build again from the database
    EMBED = 4  # compute the missing matching vectors


@dataclass(frozen=True)
class Finding:
    """One difference between the database and an index, in plain words."""

    index: str  # "whoosh", "sparse", "vectors", "vectors:<model>", "matching"
    message: str
    repair: Repair
    behind_only: bool = False  # a lag, not wrong content


@dataclass
class CheckReport:
    """The findings of one check, and the sizes it compared."""

    findings: list[Finding] = field(default_factory=list)
    sizes: dict[str, object] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    took_s: float = 0.0

    @property
    def exit_code(self) -> Exit:
        if any(not f.behind_only for f in self.findings):
            return Exit.DIFFERENT
        return Exit.BEHIND if self.findings else Exit.CONSISTENT

    def add(self, index: str, message: str, repair: Repair, behind_only: bool = False) -> None:
        self.findings.append(Finding(index, message, repair, behind_only))

    def to_dict(self) -> dict[str, object]:
        return {
            "consistent": not self.findings,
            "exit_code": int(self.exit_code),
            "findings": [
                {
                    "index": f.index,
                    "message": f.message,
                    "repair": f.repair.name.lower(),
                    "behind_only": f.behind_only,
                }
                for f in self.findings
            ],  # fmt: skip
            "sizes": self.sizes,
            "notes": self.notes,
            "took_s": round(self.took_s, 3),
        }


def _ids(values: Sequence[int] | set[int]) -> str:
    """A few ids for a message ("12, 40, 41 and 7 more")."""
    ordered = sorted(values)
    shown = ", ".join(str(i) for i in ordered[:EXAMPLES])
    more = len(ordered) - EXAMPLES
    return f"{shown} and {more} more" if more > 0 else shown


def _compare_ids(
    report: CheckReport, index: str, what: str, expected: set[int], actual: Counter[int]
) -> bool:
    """Report chunks missing from / extra in / doubled in an index; True if they agree."""
    missing = expected - set(actual)
    extra = set(actual) - expected
    doubled = {i for i, n in actual.items() if n > 1}
    if missing:
        report.add(index, f"{len(missing)} {what} in the database missing from the index "
                   f"(chunk ids {_ids(missing)})", Repair.REBUILD)  # fmt: skip
    if extra:
        report.add(index, f"{len(extra)} chunk(s) in the index that the database does not "
                   f"have (chunk ids {_ids(extra)})", Repair.REBUILD)  # fmt: skip
    if doubled:
        report.add(index, f"{len(doubled)} chunk(s) held more than once (chunk ids "
                   f"{_ids(doubled)})", Repair.REBUILD)  # fmt: skip
    return not (missing or extra or doubled)


def _pending(session: Session, state: LogState) -> set[str]:
    """Documents changed after ``state``: left out of a comparison, a catch-up applies them."""
    return {key for _, key in fetch_changes(session, state)}


def _behind(report: CheckReport, index: str, session: Session, state: LogState,
            repair: Repair = Repair.CATCH_UP) -> set[str]:  # fmt: skip
    changes = fetch_changes(session, state)
    pending = {key for _, key in changes}
    if changes:
        report.add(index, f"behind the change log by {len(changes)} change(s) to "
                   f"{len(pending)} document(s)", repair, behind_only=True)  # fmt: skip
    return pending


# -- the stores ------------------------------------------------------------------------------


def check_whoosh(report: CheckReport, store: WhooshStore, sessions: sessionmaker[Session]) -> None:
    generation = store.current_generation()
    if generation is None or not generation.is_dir():
        report.add("whoosh", f"no index at {store.link}", Repair.REBUILD)
        return
    state, extra = read_state(generation)
    if not extra:
        report.add("whoosh", f"{generation.name} has no readable applied.json", Repair.REBUILD)
        return
    if not store.usable():
        report.add("whoosh", f"{generation.name} was built by another schema version",
                   Repair.REBUILD)  # fmt: skip
        return
    held: Counter[int] = Counter()
    doc_of: dict[int, str] = {}
    try:
        index = FullTextIndex.open(generation, store.bm25)
        try:
            with index.ix.searcher() as searcher:
                for stored in searcher.all_stored_fields():
                    chunk_id = int(stored["chunk_id"])
                    held[chunk_id] += 1
                    doc_of[chunk_id] = str(stored.get("doc_key", ""))
        finally:
            index.close()
    except WHOOSH_ERRORS as exc:
        report.add("whoosh", f"{generation.name} cannot be read ({type(exc).__name__}: {exc})",
                   Repair.REBUILD)  # fmt: skip
        return
    with sessions() as session:
        chunks = {int(i): str(k) for i, k in session.execute(select(Chunk.id, Chunk.doc_key))}
        pending = _behind(report, "whoosh", session, state)
    expected = {i for i, key in chunks.items() if key not in pending}
    actual = Counter({i: n for i, n in held.items() if doc_of.get(i) not in pending})
    report.sizes["whoosh"] = {"chunks": len(held), "database_chunks": len(chunks)}
    if _compare_ids(report, "whoosh", "chunk(s)", expected, actual):
        wrong = {i for i in expected if doc_of.get(i) != chunks[i]}
        if wrong:
            report.add("whoosh", f"{len(wrong)} chunk(s) filed under the wrong document "
                       f"(chunk ids {_ids(wrong)})", Repair.REBUILD)  # fmt: skip


def _start(report: CheckReport, store: MemoryStore) -> bool:
    """Load ``store`` as a starting worker would, from its snapshot; then apply the log."""
    if not store.from_snapshot():
        where = store.snapshot_path.name if store.snapshot_path else "(none configured)"
        report.add(store.name, f"the snapshot {where} is missing or unreadable (every "
                   "worker start builds the index from the database)", Repair.REBUILD)  # fmt: skip
        return False
    with store.sessions() as session:
        lag = len(fetch_changes(session, store.state()))
    if lag:
        report.notes.append(
            f"{store.name}: the snapshot is {lag} change(s) behind the log; "
            "starting workers apply them (--repair writes a current one)"
        )
        report.add(store.name, f"snapshot behind the change log by {lag} change(s)",
                   Repair.SNAPSHOT, behind_only=True)  # fmt: skip
    store.catch_up()
    return True


def check_sparse(report: CheckReport, store: SparseStore) -> None:
    if not _start(report, store):
        return
    index = store.index
    rows = np.flatnonzero(index.rows.view("alive")).tolist()
    held = Counter(index.rows.meta[r].chunk_id for r in rows)
    doc_of = {index.rows.meta[r].chunk_id: index.rows.meta[r].doc_key for r in rows}
    with store.sessions() as session:
        chunks = {int(i): str(k) for i, k in session.execute(select(Chunk.id, Chunk.doc_key))}
        pending = _pending(session, store.state())
    report.sizes["sparse"] = {"chunks": len(held), "database_chunks": len(chunks)}
    expected = {i for i, key in chunks.items() if key not in pending}
    actual = Counter({i: n for i, n in held.items() if doc_of[i] not in pending})
    if _compare_ids(report, "sparse", "chunk(s)", expected, actual):
        wrong = {i for i in expected if doc_of[i] != chunks[i]}
        if wrong:
            report.add("sparse", f"{len(wrong)} chunk(s) filed under the wrong document "
                       f"(chunk ids {_ids(wrong)})", Repair.REBUILD)  # fmt: skip


def _stored_vectors(session: Session, model: str, ids: Sequence[int]) -> dict[int, np.ndarray]:
    out: dict[int, np.ndarray] = {}
    for i in range(0, len(ids), 500):
        rows = session.execute(
            select(ChunkEmbedding.chunk_id, ChunkEmbedding.vector).where(
                ChunkEmbedding.model == model, ChunkEmbedding.chunk_id.in_(ids[i : i + 500])
            )
        )
        out.update((int(c), np.frombuffer(v, dtype=np.float32)) for c, v in rows)
    return out


def check_vectors(report: CheckReport, store: VectorStore) -> None:
    if not _start(report, store):
        return
    with store.sessions() as session:
        metas = {r.chunk_id: r for r in public_meta(session)}
        pending = _pending(session, store.state())
        wrong_meta = {
            i for i, r in store.records.items()
            if r.doc_key not in pending and metas.get(i) not in (None, r)
        }  # fmt: skip
        if wrong_meta:
            report.add("vectors", f"{len(wrong_meta)} chunk(s) with filter attributes (author, "
                       f"tags, date, ...) unlike the database's (chunk ids {_ids(wrong_meta)})",
                       Repair.REBUILD)  # fmt: skip
        sizes: dict[str, object] = {}
        for spec, model in store.model_names.items():
            name = f"vectors:{spec}"
            spoken = {i: r for i, r in metas.items()
                      if r.doc_key not in pending
                      and store.config.speaks(spec, r.index_language)}  # fmt: skip
            have = set(
                session.scalars(
                    select(ChunkEmbedding.chunk_id).where(ChunkEmbedding.model == model)
                )
            )
            lacking = {i for i in spoken if i not in have}
            if lacking:
                report.add(name, f"{len(lacking)} public chunk(s) have no stored vector of "
                           f"{model}: search by meaning cannot find them (chunk ids "
                           f"{_ids(lacking)}; re-import their documents)", Repair.NONE)  # fmt: skip
            expected = {i for i in spoken if i in have}
            backend = store.backends.get(spec)
            held = _live(backend)
            actual = Counter({i: n for i, n in held.items()
                              if store.records.get(i) is None
                              or store.records[i].doc_key not in pending})  # fmt: skip
            sizes[spec] = {"vectors": sum(held.values()), "expected": len(expected)}
            if not _compare_ids(report, name, "public chunk(s) with a vector", expected, actual):
                continue
            if backend is None or not expected:
                continue
            _compare_vectors(report, name, session, model, backend, spoken, expected)
            means = store.means.get(spec)
            _compare_means(report, name, session, model, means, spoken, expected, backend.dim)
        report.sizes["vectors"] = sizes


def _live(backend: VectorBackend | None) -> Counter[int]:
    """How often each chunk id is live in a FAISS backend."""
    if backend is None:
        return Counter()
    chunk_of, dead = backend.labels()
    live = np.ones(len(chunk_of), dtype=bool)
    live[dead] = False
    return Counter(chunk_of[live].tolist())


def _compare_vectors(report: CheckReport, name: str, session: Session, model: str,
                     backend: VectorBackend, spoken: Mapping[int, ChunkRecord],
                     expected: set[int]) -> None:  # fmt: skip
    ids = sorted(expected)
    wrong: set[int] = set()
    for start in range(0, len(ids), 2000):
        part = ids[start : start + 2000]
        stored = _stored_vectors(session, model, part)
        live, held = backend.vectors(part)
        for chunk_id, vector in zip(live, held, strict=True):
            truth = stored[chunk_id]
            if truth.shape[0] > vector.shape[0] or not np.allclose(
                vector[: truth.shape[0]], truth, atol=VECTOR_TOLERANCE
            ):
                wrong.add(chunk_id)
    if wrong:
        report.add(name, f"{len(wrong)} vector(s) differ from the stored ones (chunk ids "
                   f"{_ids(wrong)})", Repair.REBUILD)  # fmt: skip


def _compare_means(report: CheckReport, name: str, session: Session, model: str,
                   means: LanguageMeans | None, spoken: Mapping[int, ChunkRecord],
                   expected: set[int], dim: int) -> None:  # fmt: skip
    ids = sorted(expected)
    truth: LanguageMeans | None = None
    for start in range(0, len(ids), 2000):
        stored = _stored_vectors(session, model, ids[start : start + 2000])
        if not stored:
            continue
        keys = sorted(stored)
        matrix = np.vstack([stored[i] for i in keys])
        if truth is None:
            truth = LanguageMeans(matrix.shape[1])
        truth.add(matrix, [spoken[i].index_language for i in keys])
    if truth is None:
        return
    if (
        means is None
        or not np.array_equal(means.counts, truth.counts)
        or not np.allclose(means.sums, truth.sums, atol=MEANS_TOLERANCE)
    ):
        report.add(name, "the per-language mean vectors differ from those of the stored "
                   "vectors (cross-language scores would be shifted)", Repair.REBUILD)  # fmt: skip


def check_matching(report: CheckReport, sessions: sessionmaker[Session],
                   embedders: Mapping[str, Embedder]) -> None:  # fmt: skip
    """Goals, stated expertise and public chunk texts without a matching vector."""
    with sessions() as session:
        texts = match_vectors.person_texts(session.scalars(select(Person)))
        texts += match_vectors.chunk_texts(session)
        hashes = {text_hash(t) for t in texts}
        counts: dict[str, int] = {}
        for embedder in embedders.values():
            have = match_vectors.stored_hashes(session, hashes, embedder.name)
            counts[embedder.name] = len(have)
            if len(have) < len(hashes):
                report.add("matching", f"{len(hashes) - len(have)} of {len(hashes)} texts "
                           f"(goals, expertise, public chunks) have no matching vector of "
                           f"{embedder.name}", Repair.EMBED)  # fmt: skip
    report.sizes["matching"] = {"texts": len(hashes), "vectors": counts}


# -- check and repair --------------------------------------------------------------------------


@dataclass
class Indexes:
    """The stores of one instance as ``tandem check`` opens them (no worker's memory)."""

    whoosh: WhooshStore
    sparse: SparseStore
    vectors: VectorStore
    sessions: sessionmaker[Session]
    matching: Mapping[str, Embedder]

    def close(self) -> None:
        for store in (self.whoosh, self.sparse, self.vectors):
            store.close()


def check(indexes: Indexes) -> CheckReport:
    """Compare every derived index with the database (reads only; writes nothing)."""
    started = time.perf_counter()
    report = CheckReport()
    with indexes.sessions() as session:
        report.sizes["change_log"] = newest_change(session)
    check_whoosh(report, indexes.whoosh, indexes.sessions)
    check_sparse(report, indexes.sparse)
    check_vectors(report, indexes.vectors)
    check_matching(report, indexes.sessions, indexes.matching)
    report.took_s = time.perf_counter() - started
    return report


def repair(indexes: Indexes, report: CheckReport,
           say: Callable[[str], None] = lambda _: None) -> list[str]:  # fmt: skip
    """Fix what ``report`` found, each store by its strongest repair; returns what was done."""
    wanted: dict[str, Repair] = {}
    for finding in report.findings:
        kind = finding.index.split(":")[0]
        wanted[kind] = max(wanted.get(kind, Repair.NONE), finding.repair)
    done: list[str] = []
    stores: dict[str, WhooshStore | MemoryStore] = {
        "whoosh": indexes.whoosh, "sparse": indexes.sparse, "vectors": indexes.vectors,
    }  # fmt: skip
    for name, action in wanted.items():
        store = stores.get(name)
        if action == Repair.REBUILD and store is not None:
            say(f"{name}: rebuilding from the database ...")
            store.rebuild()
            done.append(f"{name}: rebuilt from the database")
        elif action == Repair.CATCH_UP and store is not None:
            changed = store.catch_up(block=True)
            done.append(f"{name}: applied the change log ({changed} document(s))")
        elif action == Repair.SNAPSHOT and isinstance(store, MemoryStore):
            store.catch_up()
            store.write_snapshot()
            done.append(f"{name}: wrote a current snapshot")
        elif action == Repair.EMBED:
            say("matching: computing the missing vectors ...")
            added = match_vectors.catch_up(indexes.sessions, indexes.matching)
            done.append(f"matching: computed {added} vector(s)")
    return done


def open_indexes(tandem: Tandem) -> Indexes:
    """The instance's stores, configured as its search engine configures them, not loaded."""
    settings = tandem.settings
    config = SearchConfig.from_mapping(
        tuple(settings.search_models), settings.extra.get("search", {})
    )
    names = {spec: tandem.embedders[spec].name for spec in config.models}
    return Indexes(
        whoosh=WhooshStore(settings.index_dir, tandem.sessions, config.bm25, list(names.values())),
        sparse=SparseStore(tandem.sessions, config.bm25, settings.index_dir),
        vectors=VectorStore(tandem.sessions, names, config, settings.index_dir),
        sessions=tandem.sessions,
        matching=tandem.matching_embedders,
    )
