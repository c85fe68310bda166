"""Resetting an instance: its content and indexes go, the instance opens afresh."""

from __future__ import annotations

from sqlalchemy import func, select

from kb.config import Settings
from kb.models import Person
from kb.runtime import open_tandem
from kb.services import people
from kb.services.instance import reset_instance


def test_reset_drops_content_and_indexes_and_reopens(settings: Settings) -> None:
    tandem = open_tandem(settings)
    with tandem.sessions() as s:
        people.upsert_person(s, people.PersonRecord(name="Ala", email="ala@example.com"))
        s.commit()
    marker = settings.index_dir / "stale"
    marker.write_text("an old index file")
    fresh = reset_instance(tandem)
    try:
        assert fresh is not tandem and fresh.settings == settings
        with fresh.sessions() as s:
            assert s.scalar(select(func.count()).select_from(Person)) == 0
            people.upsert_person(s, people.PersonRecord(name="Ola", email="ola@example.com"))
            s.commit()  # the schema is back
        assert not marker.exists() and settings.index_dir.is_dir()
    finally:
        fresh.close()
