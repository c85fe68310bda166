"""How long a starting worker takes to read the in-memory indexes' snapshots.

    python -m bench.snapshot_load /tmp/snapload --chunks 5000 [--hnsw] [--repeat 20]

Fills ``<folder>/tandem.sqlite3`` once with a synthetic library (random words from a
Zipf-distributed vocabulary in en/pl/ru, one note in ten, random 384-d unit vectors), builds the
sparse BM25 and vector stores once (which writes their snapshots under ``<folder>/index``),
then reads each snapshot ``--repeat`` times into a fresh store. CPU time of the read (not wall
time: the figure stays comparable on a shared machine), minimum and median in ms, and the
snapshot's size on disk.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from bench.paths import run_main
from kb.db import create_schema, make_engine, make_session_factory
from kb.models import ChangeLog, Chunk, ChunkEmbedding
from kb.search.indexes.snapshots import snapshot_bytes
from kb.search.indexes.sparsestore import SparseStore
from kb.search.indexes.store import MemoryStore
from kb.search.indexes.vectorstore import VectorStore
from kb.search.ranking import SearchConfig

DIM = 384


def fill(sessions: sessionmaker[Session], chunks: int, seed: int = 1) -> None:
    """A synthetic library of ``chunks`` chunks (three per document) with vectors."""
    rng = np.random.default_rng(seed)
    letters = list("abcdefghijklmnoprstuwyz")
    words = ["".join(rng.choice(letters, size=rng.integers(3, 10))) for _ in range(20_000)]
    odds = 1.0 / np.arange(1, len(words) + 1)
    odds /= odds.sum()
    rows, vectors = [], []
    for i in range(1, chunks + 1):
        note = i % 10 == 0
        doc = i // 3 + 1
        kind = "note" if note else "guide"
        rows.append({
            "id": i, "doc_key": f"{kind}:{doc}", "doc_type": kind, "doc_id": doc,
            "position": i, "title": f"title {i}",
            "text": " ".join(words[w] for w in rng.choice(len(words), size=120, p=odds)),
            "text_hash": str(i), "language": ("en", "pl", "ru")[i % 3],
            "tags": "ai;excel" if i % 2 else "", "author_id": None,
            "doc_date": dt.date(2024, 1, 1) + dt.timedelta(days=i % 300), "pair_id": None,
        })  # fmt: skip
        vector = rng.normal(size=DIM).astype(np.float32)
        vectors.append({"chunk_id": i, "model": "fake",
                        "vector": (vector / np.linalg.norm(vector)).tobytes()})  # fmt: skip
    with sessions() as session:
        session.execute(insert(Chunk), rows)
        session.execute(insert(ChunkEmbedding), vectors)
        keys = sorted({row["doc_key"] for row in rows})
        session.execute(insert(ChangeLog), [{"doc_key": k, "op": "upsert"} for k in keys])
        session.commit()


def time_reads(make: Callable[[], MemoryStore], repeat: int) -> dict[str, float]:
    """CPU ms of reading the store's snapshot into a fresh store, ``repeat`` times."""
    runs = []
    for _ in range(repeat):
        store = make()
        path = store.snapshot_path
        assert path is not None
        gc.collect()
        started = time.process_time()
        if not store._read_snapshot(path):
            raise SystemExit(f"{path}: snapshot not readable")
        runs.append((time.process_time() - started) * 1000)
    return {"min_ms": round(min(runs), 1), "median_ms": round(statistics.median(runs), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--chunks", type=int, default=5000)
    parser.add_argument("--hnsw", action="store_true", help="HNSW vector index (else exact)")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    database = args.folder / "tandem.sqlite3"
    fresh = not database.exists()
    engine = make_engine(f"sqlite:///{database}")
    sessions = make_session_factory(engine)
    if fresh:
        create_schema(engine)
        fill(sessions, args.chunks)
    config = SearchConfig(models=("fake",), hnsw_threshold=1 if args.hnsw else 50_000)
    snapshots = args.folder / "index"
    stores: dict[str, Callable[[], MemoryStore]] = {
        "sparse": lambda: SparseStore(sessions, config.bm25, snapshots),
        "vectors": lambda: VectorStore(sessions, {"fake": "fake"}, config, snapshots),
    }
    with sessions() as session:  # the library's own size (--chunks only fills a new one)
        chunks = session.scalar(select(func.count()).select_from(Chunk))
    figures: dict[str, object] = {"chunks": chunks, "hnsw": args.hnsw}
    for name, make in stores.items():
        store = make()
        store.load()  # builds (and writes the snapshot) if there is none yet
        assert store.snapshot_path is not None
        figures[name] = {**time_reads(make, args.repeat),
                         "mb": round(snapshot_bytes(store.snapshot_path) / 2**20, 1)}  # fmt: skip
    print(json.dumps(figures))


if __name__ == "__main__":
    run_main(main)
