"""Snapshots of the in-memory indexes (sparse BM25, FAISS) for the next process start.

A snapshot is plain data, never live objects: a small JSON header (``<name>.json``: what
wrote it, its format version, the log position and other small facts) naming its data files,
written under a fresh token so that no file is rewritten in place: ``<name>-<token>.npz``
(numpy arrays, no pickled objects) and ``<name>-<token>-<n>.faiss`` (``faiss.write_index``).
The header is replaced last (temp file, rename), so it always names complete files; then
the index's older snapshot files go (earlier snapshots, and the pickles of older releases).

Reading gives None on anything unexpected (no header, another format or version, a missing
or damaged file): the caller rebuilds from the database, which is the source of truth.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from kb.models import split_list
from kb.search.indexes.locks import WriteLock
from kb.search.records import ChunkRecord

# Files a snapshot is made of (lock files next to them are left alone), and pickles of old.
SNAPSHOT_SUFFIXES = (".json", ".npz", ".faiss", ".pickle")
# What reading a snapshot may raise when a file is missing, truncated or not what it claims.
READ_ERRORS = (
    OSError, EOFError, ValueError, KeyError, IndexError, TypeError, AttributeError, RuntimeError,
    zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError,
)  # fmt: skip


@dataclass
class Snapshot:
    """What a snapshot holds: its header, its arrays and its FAISS indexes (by key)."""

    header: dict[str, Any]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    indexes: dict[str, faiss.Index] = field(default_factory=dict)


def start_from_snapshot(
    path: Path | None, read: Callable[[Path], bool], build: Callable[[], None]
) -> None:
    """Process start of an in-memory index: ``read`` its snapshot at ``path`` (False: none or
    unusable), else ``build`` it (which writes the snapshot). Of several processes starting
    together only the first builds; the others wait for the lock and read what it wrote."""
    if path is None:
        build()
        return
    if not read(path):
        with WriteLock(path.with_suffix(".lock")).hold(None):
            if not read(path):  # another process may have just written it
                build()


def write_snapshot(path: Path, snapshot: Snapshot, family: str) -> None:
    """Write ``snapshot`` with its header at ``path`` (``<name>.json``), then remove the
    other snapshot files whose name starts with ``<family>-``: earlier snapshots, snapshots
    of other configurations or formats, pickles of older releases (gigabytes at a million
    chunks; a worker still configured that way builds again)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    stem = f"{path.stem}-{uuid.uuid4().hex[:12]}"
    files: dict[str, str] = {}
    if snapshot.arrays:
        files["arrays"] = f"{stem}.npz"
        arrays: dict[str, Any] = snapshot.arrays
        np.savez(path.with_name(files["arrays"]), **arrays)
    for n, (key, index) in enumerate(snapshot.indexes.items()):
        files[f"faiss:{key}"] = f"{stem}-{n}.faiss"
        faiss.write_index(index, str(path.with_name(files[f"faiss:{key}"])))
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    with temp.open("w", encoding="utf-8") as handle:
        json.dump({**snapshot.header, "files": files}, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)
    keep = {path.name, *files.values()}
    for other in path.parent.glob(f"{family}-*"):
        if other.suffix in SNAPSHOT_SUFFIXES and other.name not in keep and other.is_file():
            other.unlink(missing_ok=True)


def read_snapshot(path: Path, expected: Mapping[str, object]) -> Snapshot | None:
    """The snapshot whose header is at ``path`` if its header has every ``expected`` value
    (format, version, configuration) and its files read back; else None."""
    try:
        header = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(header, dict) or any(header.get(k) != v for k, v in expected.items()):
            return None
        files = header["files"]
        snapshot = Snapshot(header)
        if "arrays" in files:
            with np.load(path.with_name(files["arrays"]), allow_pickle=False) as stored:
                snapshot.arrays = {name: stored[name] for name in stored.files}
        for name, file in files.items():
            if name.startswith("faiss:"):
                snapshot.indexes[name[len("faiss:") :]] = faiss.read_index(
                    str(path.with_name(file))
                )
        return snapshot
    except READ_ERRORS:
        return None


def snapshot_bytes(path: Path) -> int:
    """The size on disk of the snapshot whose header is at ``path`` (0: none)."""
    try:
        files = json.loads(path.read_text(encoding="utf-8"))["files"]
        return path.stat().st_size + sum(path.with_name(f).stat().st_size for f in files.values())
    except READ_ERRORS:
        return 0


# -- columns of plain data -------------------------------------------------------------------


def pack_strings(prefix: str, values: Sequence[str]) -> dict[str, np.ndarray]:
    """Strings as UTF-8 bytes: one per line (``<prefix>.lines``) when none holds a line
    break, which reads back fastest; else all run together with the end of each in
    characters (``<prefix>.data``, ``<prefix>.ends``)."""
    joined = "\n".join(values)
    if values and joined.count("\n") == len(values) - 1:
        return {f"{prefix}.lines": np.frombuffer(joined.encode("utf-8"), dtype=np.uint8)}
    ends = np.cumsum(np.fromiter(map(len, values), dtype=np.int64, count=len(values)))
    data = np.frombuffer("".join(values).encode("utf-8"), dtype=np.uint8)
    return {f"{prefix}.data": data, f"{prefix}.ends": ends}


def unpack_strings(arrays: Mapping[str, np.ndarray], prefix: str) -> list[str]:
    """What :func:`pack_strings` stored under ``prefix``."""
    if f"{prefix}.lines" in arrays:
        return arrays[f"{prefix}.lines"].tobytes().decode("utf-8").split("\n")
    text = arrays[f"{prefix}.data"].tobytes().decode("utf-8")
    bounds = arrays[f"{prefix}.ends"].tolist()
    return [text[a:b] for a, b in zip([0, *bounds][:-1], bounds, strict=True)]


def pack_category(prefix: str, values: Iterable[str]) -> dict[str, np.ndarray]:
    """A column of often repeated strings: the distinct ones and a code per row."""
    table: dict[str, int] = {}
    codes = np.fromiter((table.setdefault(v, len(table)) for v in values), dtype=np.int32)
    return {f"{prefix}.codes": codes, **pack_strings(f"{prefix}.values", list(table))}


def unpack_category(
    arrays: Mapping[str, np.ndarray], prefix: str, convert: Callable[[str], Any] = str
) -> list[Any]:
    """Each row's value, ``convert``-ed once per distinct value (rows share the result)."""
    table = [convert(v) for v in unpack_strings(arrays, f"{prefix}.values")]
    return [table[c] for c in arrays[f"{prefix}.codes"].tolist()]


def pack_records(prefix: str, records: Sequence[ChunkRecord]) -> dict[str, np.ndarray]:
    """The filter attributes of chunk records (not title or text) as arrays."""
    arrays = {
        f"{prefix}.chunk_id": np.fromiter((r.chunk_id for r in records), np.int64, len(records)),
        f"{prefix}.author_id": np.fromiter(
            (-1 if r.author_id is None else r.author_id for r in records), np.int64, len(records)
        ),
        f"{prefix}.pair_id": np.fromiter(
            (-1 if r.pair_id is None else r.pair_id for r in records), np.int64, len(records)
        ),
        f"{prefix}.doc_date": np.fromiter(
            (0 if r.doc_date is None else r.doc_date.toordinal() for r in records),
            np.int64,
            len(records),
        ),  # fmt: skip
    }
    arrays.update(pack_category(f"{prefix}.doc_key", (r.doc_key for r in records)))
    arrays.update(pack_category(f"{prefix}.doc_type", (r.doc_type for r in records)))
    arrays.update(pack_category(f"{prefix}.language", (r.language for r in records)))
    arrays.update(pack_category(f"{prefix}.tags", (";".join(r.tags) for r in records)))
    return arrays


def unpack_records(arrays: Mapping[str, np.ndarray], prefix: str) -> list[ChunkRecord]:
    """What :func:`pack_records` stored, as records with empty title and text."""
    dates = arrays[f"{prefix}.doc_date"]
    days = {d: dt.date.fromordinal(d) if d else None for d in np.unique(dates).tolist()}
    columns = zip(
        arrays[f"{prefix}.chunk_id"].tolist(),
        unpack_category(arrays, f"{prefix}.doc_key"),
        unpack_category(arrays, f"{prefix}.doc_type"),
        unpack_category(arrays, f"{prefix}.language"),
        unpack_category(arrays, f"{prefix}.tags", lambda v: tuple(split_list(v))),
        _optional(arrays[f"{prefix}.author_id"]),
        [days[d] for d in dates.tolist()],
        _optional(arrays[f"{prefix}.pair_id"]),
        strict=True,
    )
    return [ChunkRecord(i, key, kind, language, "", "", tags, author, day, pair)
            for i, key, kind, language, tags, author, day, pair in columns]  # fmt: skip


def _optional(ids: np.ndarray) -> list[int | None]:
    """Ids stored with -1 for none."""
    return [None if i < 0 else i for i in ids.tolist()]
