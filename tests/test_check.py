"""``tandem check``: each test damages one derived index in its own way, then sees the check
report it (exit code and words) and ``--repair`` fix it.

The demo library is loaded once; each test works on a copy of that instance.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import delete, select, update

from kb.config import load_settings
from kb.models import Chunk, ChunkEmbedding, MatchingVector
from kb.runtime import open_tandem
from kb.search.indexes.fulltext import FullTextIndex
from kb.search.indexes.whooshstore import STATE_FILE, read_state
from kb.services.integrity import open_indexes
from tests.test_cli import GUIDE, instance_env, private_note_member, run


@pytest.fixture(scope="module")
def demo_instance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("check-demo") / "instance"
    result = run(instance_env(folder), "demo")
    assert result.exit_code == 0, result.output
    return folder


@pytest.fixture
def env(demo_instance: Path, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A private copy of the demo instance (symlinks kept: Whoosh's generation link)."""
    folder = tmp_path / "instance"
    shutil.copytree(demo_instance, folder, symlinks=True)
    yield instance_env(folder)


def check(env: dict[str, str], *args: str) -> tuple[int, dict[str, Any]]:
    result = run(env, "check", "--json", *args)
    return result.exit_code, json.loads(result.output)


def messages(report: dict[str, Any]) -> str:
    return "\n".join(f"{f['index']}: {f['message']}" for f in report["findings"])


def tandem_of(env: dict[str, str]):  # noqa: ANN201
    return open_tandem(load_settings(env))


def assert_repaired(env: dict[str, str]) -> None:
    code, report = check(env, "--repair")
    assert code == 0, messages(report)
    assert report["repaired"]
    code, report = check(env)
    assert code == 0 and report["consistent"], messages(report)


def test_a_fresh_instance_is_consistent(env: dict[str, str]) -> None:
    result = run(env, "check")
    assert result.exit_code == 0, result.output
    assert "Consistent" in result.output
    code, report = check(env)
    assert code == 0 and report["findings"] == []
    assert report["sizes"]["whoosh"]["chunks"] == report["sizes"]["whoosh"]["database_chunks"]


def test_whoosh_missing_a_chunk(env: dict[str, str]) -> None:
    with tandem_of(env) as tandem, tandem.sessions() as session:
        victim = session.scalars(select(Chunk.id).order_by(Chunk.id)).first()
        index_dir = tandem.settings.index_dir
    index = FullTextIndex.open(index_dir / "whoosh")
    with index.writer() as writer:
        writer.delete_by_term("chunk_id", str(victim))
    index.close()
    code, report = check(env)
    assert code == 1
    assert f"1 chunk(s) in the database missing from the index (chunk ids {victim})" in (
        messages(report)
    )
    assert report["findings"][0]["index"] == "whoosh"
    assert_repaired(env)


def test_whoosh_behind_the_log_is_exit_3_and_caught_up(env: dict[str, str]) -> None:
    with tandem_of(env) as tandem:
        store = open_indexes(tandem).whoosh
        generation = store.current_generation()
        assert generation is not None
        data = json.loads((generation / STATE_FILE).read_text())
        data["last_id"] -= 5
        (generation / STATE_FILE).write_text(json.dumps(data))
    code, report = check(env)
    assert code == 3, messages(report)
    assert "whoosh: behind the change log by 5 change(s)" in messages(report)
    code, report = check(env, "--repair")
    assert code == 0, messages(report)
    assert "applied the change log" in report["repaired"][0]
    assert read_state(generation)[0].last_id == data["last_id"] + 5


def test_whoosh_index_gone_or_damaged(env: dict[str, str]) -> None:
    index_dir = Path(env["TANDEM_INSTANCE"]) / "index"
    target = index_dir / (index_dir / "whoosh").readlink()
    for segment in target.glob("*.seg"):
        segment.write_bytes(b"not a segment")
    for toc in target.glob("*.toc"):
        toc.write_bytes(b"\x00garbage")
    code, report = check(env)
    assert code == 1
    assert "whoosh" in messages(report) and "cannot be read" in messages(report)
    assert_repaired(env)
    (index_dir / "whoosh").unlink()
    code, report = check(env)
    assert code == 1 and "no index at" in messages(report)
    assert_repaired(env)


def test_a_write_that_bypassed_the_change_log(env: dict[str, str]) -> None:
    """A chunk row changed behind the log's back (a manual SQL edit): every index disagrees."""
    with tandem_of(env) as tandem, tandem.sessions() as session:
        victim = session.scalars(
            select(Chunk.id).where(Chunk.doc_type == "guide").order_by(Chunk.id)
        ).first()
        session.execute(delete(Chunk).where(Chunk.id == victim))
        session.commit()
    code, report = check(env)
    assert code == 1
    text = messages(report)
    for index in ("whoosh", "sparse", "vectors:fake"):
        assert (
            f"{index}: 1 chunk(s) in the index that the database does not have (chunk ids "
            f"{victim})" in text
        ), text
    assert_repaired(env)


def test_sparse_snapshot_unreadable(env: dict[str, str]) -> None:
    index_dir = Path(env["TANDEM_INSTANCE"]) / "index"
    for data in index_dir.glob("sparse-*.npz"):
        data.write_bytes(data.read_bytes()[:100])
    code, report = check(env)
    assert code == 1
    assert "sparse: the snapshot sparse.json is missing or unreadable" in messages(report)
    assert_repaired(env)


def test_faiss_holds_a_wrong_vector_and_misses_one(env: dict[str, str]) -> None:
    with tandem_of(env) as tandem:
        store = open_indexes(tandem).vectors
        assert store.from_snapshot()
        backend = store.backends["fake"]
        assert backend is not None
        chunk_of, dead = backend.labels()
        wrong, gone = (int(c) for c in sorted(set(chunk_of.tolist()))[:2])
        live, held = backend.vectors([wrong])
        backend.add([wrong], -held)  # another vector for the same chunk
        backend.remove([gone])
        store.write_snapshot()
    code, report = check(env)
    assert code == 1
    text = messages(report)
    assert (
        f"vectors:fake: 1 public chunk(s) with a vector in the database missing from the "
        f"index (chunk ids {gone})" in text
    ), text
    code, report = check(env, "--repair")
    assert code == 0, messages(report)
    assert report["repaired"] == ["vectors: rebuilt from the database"]


def test_faiss_vector_differs_from_the_stored_one(env: dict[str, str]) -> None:
    with tandem_of(env) as tandem:
        store = open_indexes(tandem).vectors
        assert store.from_snapshot()
        backend = store.backends["fake"]
        assert backend is not None
        chunk_id = int(backend.labels()[0][0])
        live, held = backend.vectors([chunk_id])
        backend.add([chunk_id], held * 0.5)
        store.write_snapshot()
    code, report = check(env)
    assert code == 1
    assert f"vectors:fake: 1 vector(s) differ from the stored ones (chunk ids {chunk_id})" in (
        messages(report)
    )
    assert_repaired(env)


def test_stored_vector_changed_in_the_database(env: dict[str, str]) -> None:
    """The database's vector changed without a log entry: FAISS and the language means
    disagree with it."""
    with tandem_of(env) as tandem, tandem.sessions() as session:
        chunk_id, blob = session.execute(
            select(ChunkEmbedding.chunk_id, ChunkEmbedding.vector)
            .join(Chunk)
            .where(Chunk.doc_type == "guide")
            .order_by(ChunkEmbedding.chunk_id)
        ).first()
        vector = np.frombuffer(blob, np.float32)[::-1].copy()
        session.execute(
            update(ChunkEmbedding)
            .where(ChunkEmbedding.chunk_id == chunk_id)
            .values(vector=vector.tobytes())
        )
        session.commit()
    code, report = check(env)
    assert code == 1
    text = messages(report)
    assert "1 vector(s) differ from the stored ones" in text
    assert "mean vectors differ" in text
    assert_repaired(env)


def test_missing_matching_vectors_are_computed(env: dict[str, str]) -> None:
    with tandem_of(env) as tandem, tandem.sessions() as session:
        removed = session.execute(delete(MatchingVector).where(MatchingVector.text_hash < "4"))
        session.commit()
        assert removed.rowcount > 0
    code, report = check(env)
    assert code == 1
    assert "have no matching vector of" in messages(report)
    code, report = check(env, "--repair")
    assert code == 0, messages(report)
    assert report["repaired"] == [f"matching: computed {removed.rowcount} vector(s)"]


def test_snapshot_behind_after_writes_is_reported_not_failed_over(env: dict[str, str]) -> None:
    """Writes after the snapshot: a worker applies them at start; --repair writes a current
    snapshot. The content after catch-up matches."""
    guide = Path(env["TANDEM_INSTANCE"]).parent / "guide.md"
    guide.write_text(GUIDE.format(author=private_note_member(env)))
    result = run(env, "ingest", str(guide))
    assert result.exit_code == 0, result.output
    code, report = check(env)
    assert code == 3, messages(report)
    assert {f["index"] for f in report["findings"]} == {"sparse", "vectors"}
    code, report = check(env, "--repair")
    assert code == 0
    assert sorted(report["repaired"]) == [
        "sparse: wrote a current snapshot",
        "vectors: wrote a current snapshot",
    ]


def test_text_output_names_the_problem(env: dict[str, str]) -> None:
    (Path(env["TANDEM_INSTANCE"]) / "index" / "sparse.json").unlink()
    result = run(env, "check")
    assert result.exit_code == 1
    assert "DIFFERS  sparse: the snapshot sparse.json is missing or unreadable" in result.output
    assert "tandem check --repair" in result.output
    result = run(env, "check", "--repair")
    assert result.exit_code == 0, result.output
    assert "repaired: sparse: rebuilt from the database" in result.output
    assert "Consistent" in result.output


def test_unreachable_database_is_one_clear_line(tmp_path: Path) -> None:
    env = {
        **instance_env(tmp_path / "instance"),
        "DATABASE_URL": "postgresql+psycopg://tandem:pw@127.0.0.1:1/x?connect_timeout=2",
    }
    result = run(env, "check")
    assert result.exit_code == 1
    assert "the database could not be reached" in result.output
    assert "Traceback" not in result.output and ":pw@" not in result.output
