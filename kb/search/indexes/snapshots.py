"""Snapshots of the in-memory indexes (sparse BM25, FAISS) for the next process start."""

from __future__ import annotations

import os
import pickle
import uuid
from collections.abc import Callable
from pathlib import Path

from kb.search.indexes.locks import WriteLock


def start_from_snapshot(
    path: Path | None, read: Callable[[Path], bool], build: Callable[[], None]
) -> None:
    """Process start of an in-memory index: ``read`` its snapshot at ``path`` (False: none or
    unreadable), else ``build`` it (which writes the snapshot). Of several processes starting
    together only the first builds; the others wait for the lock and read what it wrote."""
    if path is None:
        build()
        return
    if not read(path):
        with WriteLock(path.with_suffix(".lock")).hold(None):
            if not read(path):  # another process may have just written it
                build()


def read_snapshot(path: Path) -> object | None:
    """What :func:`write_snapshot` stored at ``path``, or None if there is nothing readable."""
    try:
        with path.open("rb") as handle:
            return pickle.load(handle)
    except (OSError, EOFError, pickle.UnpicklingError, ImportError, AttributeError):
        return None


def write_snapshot(path: Path, payload: object, replaces: str | None = None) -> None:
    """Pickle ``payload`` to ``path`` atomically (temp file, rename), then remove the other
    files matching the glob ``replaces``: snapshots of older formats or other configurations
    (gigabytes at a million chunks; a worker still configured that way builds again)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    with temp.open("wb") as handle:
        pickle.dump(payload, handle, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(temp, path)
    for other in path.parent.glob(replaces) if replaces else ():
        if other != path:
            other.unlink(missing_ok=True)
