from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

import kb.services.content as content
from ingest.pipeline import import_paths, source_key
from kb.models import ChangeLog, Chunk, Guide, Pair, Person, SessionNote


def run(sessions, paths, embedders, **kwargs):
    return import_paths(sessions, [Path(p) for p in paths], embedders, **kwargs)


def _log(sessions) -> list[tuple[str, str]]:
    with sessions() as s:
        return [(r.doc_key, r.op) for r in s.scalars(select(ChangeLog).order_by(ChangeLog.id))]


def test_imports_a_library(sessions, library, embedders):
    report = run(sessions, [library], embedders)
    assert report.rejected == []
    assert len(report.imported) == 7 and report.updated == report.unchanged == []
    assert [i.kind for i in report.imported][:2] == ["people", "programmes"]
    assert report.count("guide") == 2 and report.count("note") == 3
    with sessions() as s:
        people = {p.email: p for p in s.scalars(select(Person))}
        assert len(people) == 5
        assert people["olga.ivanova@example.com"].manager.email == "piotr.nowak@example.com"
        assert len(s.scalars(select(Pair)).all()) == 2
        published = s.scalar(select(Guide).where(Guide.slug == "prompt-basics"))
        draft = s.scalar(select(Guide).where(Guide.slug == "power-bi-draft"))
        assert published.status == "published" and published.published_on == dt.date(2026, 2, 1)
        assert published.source_path == "guides/prompt-basics.md"
        assert draft.status == "draft" and draft.tags == "power-bi;dashboards"
        keys = {c.doc_key for c in s.scalars(select(Chunk))}
        assert f"guide:{published.id}" in keys and f"guide:{draft.id}" not in keys
        notes = s.scalars(select(SessionNote).order_by(SessionNote.session_date)).all()
        for note in notes:
            [chunk] = s.scalars(select(Chunk).where(Chunk.doc_key == f"note:{note.id}")).all()
            assert chunk.pair_id == note.pair_id is not None
        shared, proposed = notes[1].insight, notes[2].insight
        assert shared.published and not proposed.published
        assert proposed.mentor_consent_at is not None and proposed.mentee_consent_at is None
        [insight_chunk] = s.scalars(select(Chunk).where(Chunk.doc_type == "insight")).all()
        assert insight_chunk.doc_key == f"insight:{shared.id}" and insight_chunk.pair_id is None
        assert (
            insight_chunk.text
            == "Ask Copilot to explain a formula before you ask it to change one."
        )
        assert "Quuxbridge" not in insight_chunk.title + insight_chunk.text + insight_chunk.tags
        secret = s.scalars(select(Chunk).where(Chunk.text.contains("Quuxbridge"))).all()
        assert secret and all(c.doc_type == "note" and c.pair_id for c in secret)


def test_reimport_changes_nothing(sessions, library, counting_embedders, counting, snapshot):
    run(sessions, [library], counting_embedders)
    before, log = snapshot(), _log(sessions)
    calls = counting.calls
    report = run(sessions, [library], counting_embedders)
    assert report.imported == report.updated == report.rejected == []
    assert len(report.unchanged) == 7
    assert snapshot() == before and _log(sessions) == log
    assert counting.calls == calls  # nothing embedded


def test_changed_guide_updates_in_place(sessions, library, counting_embedders, counting):
    run(sessions, [library], counting_embedders)
    path = library / "guides" / "prompt-basics.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("Always check numbers", "Always check every number"), "utf-8")
    log = _log(sessions)
    counting.passages.clear()
    report = run(sessions, [library], counting_embedders)
    assert [(i.path, i.kind) for i in report.updated] == [("guides/prompt-basics.md", "guide")]
    assert len(report.unchanged) == 6
    with sessions() as s:
        guide = s.scalar(select(Guide).where(Guide.slug == "prompt-basics"))
        assert [r.number for r in guide.revisions] == [1, 2]
        chunks = s.scalars(select(Chunk).where(Chunk.doc_key == f"guide:{guide.id}")).all()
        assert any("Always check every number" in c.text for c in chunks)
        assert not any("Always check numbers" in c.text for c in chunks)
        assert len(s.scalars(select(Guide)).all()) == 2
    assert _log(sessions) == [*log, (f"guide:{guide.id}", "upsert")]
    assert counting.passages and all("every number" in t for t in counting.passages)


def test_changed_note_and_insight_update_in_place(sessions, library, embedders):
    run(sessions, [library], embedders)
    path = library / "notes" / "mia-piotr-02.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("explain a formula", "explain any formula"), "utf-8")
    report = run(sessions, [library / "notes"], embedders)  # a folder on its own: same keys
    assert [i.path for i in report.updated] == ["notes/mia-piotr-02.md"]
    with sessions() as s:
        assert len(s.scalars(select(SessionNote)).all()) == 3
        [chunk] = s.scalars(select(Chunk).where(Chunk.doc_type == "insight")).all()
        assert "explain any formula" in chunk.text


def test_single_file_import_matches_the_library_import(sessions, library, embedders):
    run(sessions, [library], embedders)
    path = library / "guides" / "prompt-basics.md"
    path.write_text(path.read_text("utf-8") + "\nOne more line.\n", "utf-8")
    report = run(sessions, [path], embedders)
    assert [i.path for i in report.updated] == ["guides/prompt-basics.md"]
    assert report.rejected == []


def test_draft_to_public_and_back(sessions, library, embedders):
    run(sessions, [library], embedders)
    path = library / "guides" / "power-bi-draft.md"
    path.write_text(path.read_text("utf-8").replace("visibility: draft", "visibility: public"))
    run(sessions, [path], embedders)
    with sessions() as s:
        guide = s.scalar(select(Guide).where(Guide.slug == "power-bi-draft"))
        assert guide.status == "published"
        assert s.scalars(select(Chunk).where(Chunk.doc_key == f"guide:{guide.id}")).all()
    path.write_text(path.read_text("utf-8").replace("visibility: public", "visibility: draft"))
    run(sessions, [path], embedders)
    assert _log(sessions)[-1] == (f"guide:{guide.id}", "delete")


def test_failure_in_the_middle_of_a_write_leaves_nothing(
    sessions, library, embedders, monkeypatch, snapshot
):
    run(sessions, [library / "people.csv", library / "programme.json"], embedders)
    before, log = snapshot(), _log(sessions)
    real = content.write_chunks

    def failing(session, **kwargs):
        real(session, **kwargs)  # the note row and its chunks are inserted ...
        raise OperationalError("INSERT", {}, Exception("disk I/O error"))  # ... then it fails

    monkeypatch.setattr(content, "write_chunks", failing)
    report = run(sessions, [library / "notes" / "mia-piotr-01.md"], embedders)
    [rejected] = report.rejected
    assert rejected.path == "notes/mia-piotr-01.md"
    assert "database error: disk I/O error" in rejected.reason
    assert "Quuxbridge" not in rejected.reason
    assert snapshot() == before and _log(sessions) == log


def test_one_bad_file_does_not_stop_the_batch(sessions, library, embedders):
    (library / "guides" / "broken.md").write_text("no front matter here\n", "utf-8")
    report = run(sessions, [library], embedders)
    assert [r.path for r in report.rejected] == ["guides/broken.md"]
    assert "missing front matter" in report.rejected[0].reason
    assert len(report.imported) == 7


def test_missing_paths_and_unknown_json_are_reported(sessions, tmp_path, embedders):
    odd = tmp_path / "odd.json"
    odd.write_text('{"teams": []}', "utf-8")
    report = run(sessions, [tmp_path / "nope", odd], embedders)
    reasons = {Path(r.path).name: r.reason for r in report.rejected}
    assert reasons["nope"] == "no such file or directory"
    assert "unknown JSON file" in reasons["odd.json"]


def test_report_text_and_dict(sessions, library, embedders):
    (library / "guides" / "broken.md").write_text("---\ntitle: [\n---\n", "utf-8")
    report = run(sessions, [library], embedders)
    data = report.to_dict()
    assert data["counts"] == {"imported": 7, "updated": 0, "unchanged": 0, "rejected": 1}
    assert data["rejected"][0]["path"] == "guides/broken.md"
    text = report.summary()
    assert text.startswith("Imported 7, updated 0, unchanged 0, rejected 1.")
    assert "guides/broken.md: line 3: invalid YAML" in text


def test_progress_bar_goes_to_stderr(sessions, library, embedders, capsys):
    run(sessions, [library], embedders, progress=True)
    captured = capsys.readouterr()
    assert "importing" in captured.err and "importing" not in captured.out


def test_people_json_and_programme_updates(sessions, tmp_path, embedders):
    people = tmp_path / "people.json"
    people.write_text(
        json.dumps(
            {
                "people": [
                    {"name": "A Mentor", "email": "a@x.org", "roles": ["mentor"]},
                    {"name": "C Manager", "email": "c@x.org", "roles": ["mentor"]},
                    {
                        "name": "B",
                        "email": "b@x.org",
                        "roles": "mentee",
                        "manager_email": "c@x.org",
                    },
                ]
            }
        ),
        "utf-8",
    )
    programme = tmp_path / "programme.json"

    def programme_file(status: str) -> str:
        pair = {"mentor": "a@x.org", "mentee": "b@x.org", "status": status}
        return json.dumps({"programmes": [{"slug": "p", "name": "P", "pairs": [pair]}]})

    programme.write_text(programme_file("proposed"), "utf-8")
    report = run(sessions, [tmp_path], embedders)
    assert [i.kind for i in report.imported] == ["people", "programmes"]
    programme.write_text(programme_file("active"), "utf-8")
    report = run(sessions, [tmp_path], embedders)
    assert [i.kind for i in report.updated] == ["programmes"]
    assert [i.kind for i in report.unchanged] == ["people"]
    with sessions() as s:
        assert s.scalar(select(Pair.status)) == "active"


def test_programme_file_refuses_a_pair_in_the_management_chain(sessions, tmp_path, embedders):
    """B's manager C cannot mentor B: the file is rejected with the reason, nothing stored."""
    (tmp_path / "people.json").write_text(json.dumps({"people": [
        {"name": "C Manager", "email": "c@x.org", "roles": ["mentor"]},
        {"name": "B", "email": "b@x.org", "roles": "mentee", "manager_email": "c@x.org"},
    ]}), "utf-8")  # fmt: skip
    pair = {"mentor": "c@x.org", "mentee": "b@x.org", "status": "active"}
    (tmp_path / "programme.json").write_text(
        json.dumps({"programmes": [{"slug": "p", "name": "P", "pairs": [pair]}]}), "utf-8"
    )
    report = run(sessions, [tmp_path], embedders)
    assert any("management chain" in r.reason for r in report.rejected)
    with sessions() as s:
        assert s.scalar(select(Pair.id)) is None


def test_source_key_is_anchored_at_guides_or_notes(tmp_path):
    root = tmp_path / "lib"
    assert source_key(root / "guides" / "en" / "a.md", root) == "guides/en/a.md"
    assert source_key(root / "misc" / "a.md", root) == "misc/a.md"
    assert source_key(root / "misc" / "a.md", root / "misc") == "a.md"


def test_a_newly_configured_model_gets_vectors_without_touching_content(
    sessions, library, embedders, fake_embedder
):
    from kb.embedding import FakeEmbedder
    from kb.models import ChunkEmbedding

    run(sessions, [library], embedders)
    both = {**embedders, "small": FakeEmbedder(dim=16, name="small")}
    report = run(sessions, [library], both)
    assert report.rejected == [] and report.imported == []
    assert {i.kind for i in report.updated} == {"guide", "note"}  # people/programmes unchanged
    with sessions() as s:
        chunks = len(s.scalars(select(Chunk)).all())
        for model in (fake_embedder.name, "small"):
            rows = s.scalars(select(ChunkEmbedding).where(ChunkEmbedding.model == model)).all()
            assert len(rows) == chunks
        guide = s.scalar(select(Guide).where(Guide.slug == "prompt-basics"))
        assert len(guide.revisions) == 1  # no new revision: the text did not change
    assert len(run(sessions, [library], both).unchanged) == 7
