from __future__ import annotations

import datetime as dt

import pytest

from kb.errors import ValidationError
from kb.services.pairs import pairs_for_person
from kb.services.programmes import (
    PairRecord,
    ProgrammeRecord,
    upsert_programme,
    upsert_programme_record,
)


def test_upsert_programme_statuses(session):
    args = dict(slug="autumn", name="Autumn", starts=dt.date(2025, 9, 1), ends=dt.date(2026, 1, 31))
    assert upsert_programme(session, **args)[1] == "created"
    assert upsert_programme(session, **args)[1] == "unchanged"
    assert upsert_programme(session, **{**args, "status": "running"})[1] == "updated"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ({"slug": "Bad Slug", "name": "x"}, "not a slug"),
        ({"slug": "ok", "name": ""}, "name"),
        ({"slug": "ok", "name": "x", "status": "done"}, "unknown status"),
        (
            {"slug": "ok", "name": "x", "starts": dt.date(2025, 5, 1), "ends": dt.date(2025, 1, 1)},
            "ends",
        ),
    ],
)
def test_upsert_programme_validation(session, args, words):
    with pytest.raises(ValidationError, match=words):
        upsert_programme(session, **args)


def test_upsert_programme_record_with_pairs(session, world):
    record = ProgrammeRecord(
        slug="autumn", name="Autumn", status="planned",
        pairs=(PairRecord("mia@example.com", "ola@example.com", status="active"),
               PairRecord("max@example.com", "sam@example.com")),
    )  # fmt: skip
    _, status, counts = upsert_programme_record(session, record)
    assert status == "created" and counts == {"created": 2, "updated": 0, "unchanged": 0}
    _, status, counts = upsert_programme_record(session, record)
    assert status == "unchanged" and counts["unchanged"] == 2
    bad = ProgrammeRecord(
        slug="autumn", name="Autumn", pairs=(PairRecord("ghost@example.com", "ola@example.com"),)
    )
    with pytest.raises(ValidationError, match="pair 1: unknown mentor 'ghost@example.com'"):
        upsert_programme_record(session, bad)


def test_an_import_that_moves_a_mentor_to_a_new_pair_frees_the_place_first(session, world):
    """Max (one place) ends his pair with Ola and starts one with Sam in the same file, the
    start listed first: the end is applied first, so the start fits."""
    record = ProgrammeRecord(
        slug="spring", name="Spring round", status="running",
        pairs=(PairRecord("max@example.com", "sam@example.com", status="active"),
               PairRecord("max@example.com", "ola@example.com", status="ended")),
    )  # fmt: skip
    _, _, counts = upsert_programme_record(session, record)
    assert counts == {"created": 1, "updated": 1, "unchanged": 0}
    assert [p.status for p in pairs_for_person(session, world.mentor2)] == ["active", "ended"]
