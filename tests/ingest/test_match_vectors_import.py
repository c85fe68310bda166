"""Imports store matching vectors with the content, never for a private note."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from ingest.pipeline import import_paths
from kb.chunking import embedding_text
from kb.embedding import text_hash
from kb.models import Chunk, MatchingVector, Person, SessionNote
from kb.services import match_vectors
from matching.service import read_snapshot


def stored(sessions, model: str = "fake") -> set[str]:
    with sessions() as s:
        return set(
            s.scalars(
                select(MatchingVector.text_hash).where(
                    MatchingVector.model == model, MatchingVector.side == "query"
                )
            )
        )


def test_an_import_embeds_every_goal_expertise_and_public_chunk(sessions, library, embedders):
    report = import_paths(sessions, [library], embedders, matching=embedders)
    assert report.rejected == []
    hashes = stored(sessions)
    with sessions() as s:
        snapshot = read_snapshot(s)
        wanted = {text_hash(g) for p in snapshot.participants for g in p.goals}
        wanted |= {text_hash(e.embedding_text) for p in snapshot.participants for e in p.evidence}
        assert wanted and wanted <= hashes  # everything matching reads is stored
        kinds = {e.kind for p in snapshot.participants for e in p.evidence}
        assert {"expertise", "guide", "insight"} <= kinds
        # A private note's own text never gets a matching vector.
        notes = s.scalars(select(Chunk).where(Chunk.doc_type == "note")).all()
        assert notes
        assert not {text_hash(embedding_text(c.title, c.text)) for c in notes} & hashes
        bodies = [n.body_md for n in s.scalars(select(SessionNote))]
        assert not {text_hash(b) for b in bodies} & hashes
    assert match_vectors.catch_up(sessions, embedders) == 0  # nothing was left for later


def test_a_profile_change_brings_its_vectors_in_the_same_import(sessions, library, embedders):
    import_paths(sessions, [library], embedders, matching=embedders)
    people = library / "people.csv"
    text = people.read_text(encoding="utf-8")
    with sessions() as s:
        someone = s.scalars(select(Person).where(Person.goals != "")).first()
        old_goals = someone.goals
    people.write_text(
        text.replace(old_goals.split(";")[0], "learn to negotiate with Qwertyx"), encoding="utf-8"
    )
    report = import_paths(sessions, [Path(people)], embedders, matching=embedders)
    assert report.rejected == [] and report.updated
    assert text_hash("learn to negotiate with Qwertyx") in stored(sessions)


def test_without_matching_models_an_import_stores_no_matching_vectors(sessions, library, embedders):
    import_paths(sessions, [library], embedders)
    assert stored(sessions) == set()
    added = match_vectors.catch_up(sessions, embedders)
    assert added > 0 and len(stored(sessions)) == added
