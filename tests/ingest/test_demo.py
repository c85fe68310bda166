"""The shipped demo library imports cleanly, re-imports as unchanged, and keeps notes private."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from ingest.demo import DEMO_DIR, DEMO_PASSWORD, demo_paths, load_demo
from kb.models import ChangeLog, Chunk, Guide, Person, SessionNote
from kb.services.people import check_password

pytestmark = pytest.mark.skipif(
    not (DEMO_DIR / "people.csv").exists(), reason="the demo library is not there"
)


def test_demo_imports_and_reimports_unchanged(sessions, embedders):
    report = load_demo(sessions, embedders)
    assert report.rejected == [], report.summary()
    assert len(report.imported) > 0
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Person)) > 0
        assert s.scalar(select(func.count()).select_from(Guide)) > 0
        assert s.scalar(select(func.count()).select_from(Chunk)) > 0
        person = s.scalars(select(Person)).first()
        assert check_password(person, DEMO_PASSWORD)
        log = s.scalar(select(func.count()).select_from(ChangeLog))
        # The one private note with the made-up word stays a private note chunk.
        secret = s.scalars(select(Chunk).where(Chunk.text.contains("Zyxelgate"))).all()
        assert all(c.doc_type == "note" and c.pair_id is not None for c in secret)
        if (DEMO_DIR / "notes").exists():
            assert s.scalar(select(func.count()).select_from(SessionNote)) > 0
    again = load_demo(sessions, embedders)
    assert again.imported == again.updated == again.rejected == []
    assert len(again.unchanged) == len(report.imported)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(ChangeLog)) == log


def test_broken_folder_is_not_part_of_the_demo():
    assert all(path.name != "broken" for path in demo_paths())
