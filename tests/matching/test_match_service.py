"""Matching over the database with the fake embedder: recommendations, proposals, HR
decisions, gaps, bad input, and privacy of session notes."""

from __future__ import annotations

import json

import match_factories as f
import pytest
from sqlalchemy import func, select

from kb.chunking import embedding_text
from kb.embedding import text_hash
from kb.errors import ConfigError, NotFound, PermissionDenied, ValidationError
from kb.models import Chunk, MatchingVector, Pair, Person
from kb.services import match_vectors
from kb.services import pairs as pair_service
from matching import service
from matching.results import to_data

SECRET = "Zyxelgate"


@pytest.fixture
def world(session, embedders):
    """A small organisation: HR, seniors (mentees), young mentors, one programme."""
    hr = f.person(session, "hr@x.com", roles="hr")
    director = f.person(
        session,
        "director@x.com",
        roles="mentee",
        department="Board",
        goals="understand generative AI for strategy",
        languages="en",
    )
    lead = f.person(
        session,
        "lead@x.com",
        roles="mentor",
        capacity=2,
        manager=director,
        department="Finance",
        expertise="automate weekly reports in Excel;Copilot in Excel",
    )
    senior = f.person(
        session,
        "senior@x.com",
        roles="mentee",
        manager=lead,
        department="Finance",
        languages="en;pl",
        style="structured",
        availability="mon-am;tue-pm",
        expertise="budget negotiation;running a finance team",
        goals="automate my weekly reports;write prompts for ChatGPT",
    )
    excel = f.person(
        session,
        "excel@x.com",
        roles="mentor",
        capacity=1,
        department="IT",
        style="structured",
        availability="mon-am",
        expertise="Excel formulas;Power Query",
        goals="learn budget negotiation",
    )
    video = f.person(
        session,
        "video@x.com",
        roles="mentor",
        capacity=2,
        department="Marketing",
        expertise="video editing on a phone;TikTok reels",
    )
    polish = f.person(
        session,
        "polish@x.com",
        roles="mentor",
        capacity=1,
        languages="pl",
        department="IT",
        expertise="automatyzacja raportów w Excelu",
    )
    prompts = f.person(
        session,
        "prompts@x.com",
        roles="mentor",
        capacity=1,
        department="HR",
        expertise="prompt writing for ChatGPT;AI assistants at work",
    )
    other = f.person(
        session,
        "other@x.com",
        roles="mentee",
        department="Sales",
        goals="edit short videos on my phone;post TikTok reels",
    )
    f.guide(
        session,
        excel,
        "Copilot in Excel: first steps",
        "Copilot in Excel can automate weekly reports. Ask it to build a summary table "
        "of the week and a chart. Check every number it writes.",
    )
    f.guide(
        session,
        excel,
        "Draft about reports",
        "Unfinished draft on automating reports.",
        status="draft",
    )
    prog = f.programme(session, "spring")
    old = f.programme(session, "autumn")
    old_pair = f.pair(session, old, excel, other, status="ended")
    # A private note of the excel mentor: highly relevant text, must never be evidence.
    f.note(
        session,
        old_pair,
        excel,
        f"{SECRET} meeting",
        f"{SECRET}: we automated the weekly reports with ChatGPT prompts together.",
    )
    f.note(
        session,
        old_pair,
        excel,
        "Shared one",
        "private body text",
        insight="Automating the weekly report in Excel saved two hours a week.",
    )
    session.commit()
    f.store_vectors(session, embedders)
    return {
        "hr": hr,
        "director": director,
        "lead": lead,
        "senior": senior,
        "excel": excel,
        "video": video,
        "polish": polish,
        "prompts": prompts,
        "other": other,
        "prog": prog,
    }


def dump(result) -> str:
    return json.dumps(to_data(result), ensure_ascii=False)


def test_recommend_mentors_ranks_by_evidence_and_explains(session, embedders, world) -> None:
    result = service.recommend_mentors(session, embedders, "senior@x.com", limit=5)
    emails = [c.person.email for c in result.candidates]
    assert emails[0] == "excel@x.com"
    assert "lead@x.com" not in emails  # the mentee's own manager
    assert result.excluded.get("management chain") == 1
    top = result.candidates[0]
    kinds = {r.kind for r in top.reasons}
    assert "guide" in kinds or "insight" in kinds
    guide_reasons = [r for r in top.reasons if r.kind == "guide"]
    assert guide_reasons and guide_reasons[0].title == "Copilot in Excel: first steps"
    assert all(len(r.evidence) <= 120 for r in top.reasons)
    # Two-way: the young mentor wants to learn budget negotiation, the senior knows it.
    assert top.teach_back is not None and top.teach_back > 0
    assert top.teach_back_reasons[0].goal == "learn budget negotiation"
    data = json.loads(dump(result))
    assert data["candidates"][0]["email"] == "excel@x.com"
    assert data["candidates"][0]["reasons"][0]["text"]


def test_common_language_is_required(session, embedders, world) -> None:
    world["senior"].languages = "en"
    session.commit()
    result = service.recommend_mentors(session, embedders, "senior@x.com", limit=10)
    assert "polish@x.com" not in [c.person.email for c in result.candidates]
    assert result.excluded.get("no common language") == 1


def test_recommend_mentees_for_a_mentor(session, embedders, world) -> None:
    result = service.recommend_mentees(session, embedders, "video@x.com")
    assert [c.person.email for c in result.candidates][0] == "other@x.com"
    with pytest.raises(ValidationError, match="not a mentor"):
        service.recommend_mentees(session, embedders, "senior@x.com")
    with pytest.raises(NotFound):
        service.recommend_mentors(session, embedders, "nobody@x.com")


def test_private_notes_never_reach_any_output(session, embedders, world) -> None:
    outputs = [
        service.recommend_mentors(session, embedders, "senior@x.com", limit=10),
        service.recommend_mentees(session, embedders, "excel@x.com", limit=10),
        service.propose(session, embedders, "spring"),
        service.gaps(session, embedders, "spring", threshold=1.0),
    ]
    for result in outputs:
        text = dump(result)
        assert SECRET.lower() not in text.lower()
        assert "private body text" not in text
        assert "Unfinished draft" not in text and "Draft about reports" not in text
    snapshot = service.read_snapshot(session)
    for participant in snapshot.participants:
        for item in participant.evidence:
            assert SECRET not in item.text and SECRET not in item.title
            assert "private body text" not in item.text
    # The consented insight excerpt is evidence, credited to the mentor, and quoted.
    excel = next(p for p in snapshot.participants if p.email == "excel@x.com")
    assert [e.kind for e in excel.evidence].count("insight") == 1
    top = outputs[0].candidates[0]
    assert top.person.email == "excel@x.com"
    assert any(r.kind == "insight" and "two hours" in r.evidence for r in top.reasons)


def test_unconsented_insight_is_not_evidence(session, embedders, world) -> None:
    pair = session.scalar(select(Pair).where(Pair.status == "ended"))
    f.note(session, pair, world["excel"], "n", "body", insight="Quokka dashboards", consented=False)
    session.commit()
    snapshot = service.read_snapshot(session)
    texts = [e.text for p in snapshot.participants for e in p.evidence]
    assert not any("Quokka" in t for t in texts)
    assert any("saved two hours" in t for t in texts)


def test_proposal_respects_every_hard_constraint(session, embedders, world) -> None:
    proposal = service.propose(session, embedders, "spring")
    pairs = {(p.mentor.email, p.mentee.email) for p in proposal.pairs}
    assert ("lead@x.com", "senior@x.com") not in pairs  # manager
    assert ("excel@x.com", "other@x.com") not in pairs  # ran before (autumn)
    load: dict[str, int] = {}
    for mentor, _ in pairs:
        load[mentor] = load.get(mentor, 0) + 1
    capacity = {
        "lead@x.com": 2,
        "excel@x.com": 1,
        "video@x.com": 2,
        "polish@x.com": 1,
        "prompts@x.com": 1,
    }
    assert all(load[m] <= capacity[m] for m in load)
    mentees = [p.mentee.email for p in proposal.pairs]
    assert len(mentees) == len(set(mentees))
    assert ("excel@x.com", "senior@x.com") in pairs
    assert ("video@x.com", "other@x.com") in pairs
    assert proposal.certified
    matched = set(mentees)
    listed = {u.person.email for u in proposal.unmatched_mentees}
    assert matched | listed == {"senior@x.com", "other@x.com", "director@x.com"}
    assert all(u.reason for u in proposal.unmatched_mentees)


def test_apply_lock_reject_and_rerun(session, embedders, world) -> None:
    proposal = service.propose(session, embedders, "spring")
    with pytest.raises(PermissionDenied):
        service.apply_proposal(session, proposal, world["senior"])
    created = service.apply_proposal(session, proposal, world["hr"])
    session.commit()
    assert len(created) == len(proposal.pairs)
    assert all(p.status == "proposed" for p in created)
    # HR rejects the top pair and locks another one; a re-run honours both.
    pair_service.reject_pair(session, "spring", "excel@x.com", "senior@x.com", world["hr"])
    service.lock_pair(session, "spring", "prompts@x.com", "director@x.com", world["hr"])
    session.commit()
    again = service.propose(session, embedders, "spring")
    pairs = {(p.mentor.email, p.mentee.email): p for p in again.pairs}
    assert ("excel@x.com", "senior@x.com") not in pairs
    assert pairs[("prompts@x.com", "director@x.com")].locked
    service.apply_proposal(session, again, world["hr"])
    session.commit()
    stored = {
        (p.mentor.email, p.mentee.email, p.status)
        for p in session.scalars(select(Pair).where(Pair.programme_id == world["prog"].id))
    }
    assert ("excel@x.com", "senior@x.com", "rejected") in stored
    assert ("prompts@x.com", "director@x.com", "proposed") in stored
    # Each pair's trail says what HR (through matching or by hand) did to it.
    trail = {
        (p.mentor.email, p.mentee.email): [(c.what, c.actor_id) for c in p.changes]
        for p in session.scalars(select(Pair).where(Pair.programme_id == world["prog"].id))
    }
    hr = world["hr"].id
    assert trail[("excel@x.com", "senior@x.com")][-1] == ("status proposed → rejected", hr)
    locked = trail[("prompts@x.com", "director@x.com")]
    assert ("locked", hr) in locked and locked[0][0] in (
        "proposed by matching",
        "created as proposed",
    )
    assert all(t and t[0][1] == hr for t in trail.values())
    with pytest.raises(ValidationError, match="management chain"):
        service.lock_pair(session, "spring", "lead@x.com", "senior@x.com", world["hr"])
    with pytest.raises(PermissionDenied):
        pair_service.reject_pair(session, "spring", "video@x.com", "other@x.com", world["excel"])


def test_apply_stores_nothing_when_the_proposal_is_stale(session, embedders, world) -> None:
    proposal = service.propose(session, embedders, "spring")
    assert proposal.pairs
    proposal.pairs[-1].mentee = type(proposal.pairs[-1].mentee)(0, "gone@x.com", "Gone")
    before = session.scalar(select(func.count(Pair.id)))
    with pytest.raises(ValidationError, match="unknown person"):
        service.apply_proposal(session, proposal, world["hr"])
    session.rollback()
    assert session.scalar(select(func.count(Pair.id))) == before


def test_nobody_matchable_gives_reasons_not_an_exception(session, embedders, world) -> None:
    for key in ("lead", "excel", "video", "polish", "prompts"):
        world[key].capacity = 0
    session.commit()
    proposal = service.propose(session, embedders, "spring")
    assert proposal.pairs == []
    assert {u.person.email for u in proposal.unmatched_mentees} == {
        "senior@x.com",
        "other@x.com",
        "director@x.com",
    }
    assert all("no" in u.reason for u in proposal.unmatched_mentees)
    assert all(u.reason.startswith("capacity 0") for u in proposal.unmatched_mentors)
    json.loads(dump(proposal))


def test_missing_goals_and_mentors_without_evidence(session, embedders, world) -> None:
    world["senior"].goals = " ; "
    f.person(session, "blank@x.com", roles="mentor", capacity=1)
    session.commit()
    result = service.recommend_mentors(session, embedders, "senior@x.com")
    assert result.candidates == [] and "no goals" in result.message
    proposal = service.propose(session, embedders, "spring")
    reasons = {u.person.email: u.reason for u in proposal.unmatched_mentees}
    assert "no goals" in reasons["senior@x.com"]
    mentors = {u.person.email: u.reason for u in proposal.unmatched_mentors}
    assert "no evidence" in mentors["blank@x.com"]


def test_manager_cycle_is_a_clear_error_and_nothing_is_stored(session, embedders, world) -> None:
    world["director"].manager_id = world["senior"].id  # senior -> lead -> director -> senior
    session.commit()
    before = session.scalar(select(func.count(Pair.id)))
    with pytest.raises(ValidationError, match="management cycle") as caught:
        service.propose(session, embedders, "spring")
    assert "senior@x.com" in str(caught.value) and "director@x.com" in str(caught.value)
    assert session.scalar(select(func.count(Pair.id))) == before


def test_gaps_group_uncovered_goals(session, embedders, world) -> None:
    world[
        "director"
    ].goals = "learn SAP accounting basics;SAP accounting for beginners;automate weekly reports"
    session.commit()
    f.store_vectors(session, embedders)
    themes = service.gaps(session, embedders, "spring", threshold=0.15)
    goals = [g.goal for t in themes for g in t.goals]
    assert "learn SAP accounting basics" in goals
    assert "automate weekly reports" not in goals
    sap = next(t for t in themes if any("SAP" in g.goal for g in t.goals))
    assert len(sap.goals) == 2 and "SAP" in sap.theme
    assert json.loads(dump(themes))[0]["suggestion"]
    with pytest.raises(ValidationError):
        service.gaps(session, embedders, "spring", threshold=2)
    with pytest.raises(NotFound):
        service.gaps(session, embedders, "nope")


def test_weights_change_the_score_and_are_validated(session, embedders, world) -> None:
    plain = service.recommend_mentors(session, embedders, "senior@x.com")
    no_soft = service.recommend_mentors(
        session,
        embedders,
        "senior@x.com",
        weights={"other_department": 0, "style": 0, "availability": 0, "teach_back": 0},
    )
    first = {c.person.email: c.score for c in plain.candidates}
    second = {c.person.email: c.score for c in no_soft.candidates}
    assert first["excel@x.com"] > second["excel@x.com"]
    with pytest.raises(ValidationError, match="unknown weight"):
        service.propose(session, embedders, "spring", weights={"age": 1})


class RaisingEmbedder:
    """A model that must never run: stands in for the real one on the request path."""

    def __init__(self, name: str) -> None:
        self.name = name

    def embed_queries(self, texts):
        raise AssertionError(f"a request embedded {len(texts)} text(s)")

    embed_passages = embed_queries


def test_requests_load_stored_vectors_and_run_no_model(session, embedders, world) -> None:
    never = {spec: RaisingEmbedder(e.name) for spec, e in embedders.items()}
    with_model = [
        service.recommend_mentors(session, embedders, "senior@x.com", limit=5),
        service.recommend_mentees(session, embedders, "video@x.com"),
        service.propose(session, embedders, "spring"),
        service.gaps(session, embedders, "spring", threshold=0.15),
    ]
    without = [
        service.recommend_mentors(session, never, "senior@x.com", limit=5),
        service.recommend_mentees(session, never, "video@x.com"),
        service.propose(session, never, "spring"),
        service.gaps(session, never, "spring", threshold=0.15),
    ]
    for result in (with_model[2], without[2]):
        result.stats.pop("seconds")  # timings differ from run to run
    for a, b in zip(with_model, without, strict=True):
        assert dump(a) == dump(b)
    assert without[2].stats["missing_vectors"] == 0


def test_a_text_without_a_stored_vector_is_counted_not_embedded(session, embedders, world) -> None:
    world["director"].goals = "learn Zorblax forecasting"
    session.commit()
    never = {spec: RaisingEmbedder(e.name) for spec, e in embedders.items()}
    proposal = service.propose(session, never, "spring")
    assert proposal.stats["missing_vectors"] == 1


def test_no_stored_vectors_at_all_is_a_clear_error(session, embedders, world) -> None:
    session.execute(MatchingVector.__table__.delete())
    session.commit()
    with pytest.raises(ConfigError, match="match-vectors"):
        service.recommend_mentors(session, embedders, "senior@x.com")


def test_the_pool_is_kept_until_the_data_changes(session, embedders, world) -> None:
    cache = service.PoolCache()
    _, first = cache.get(session, embedders)
    _, again = cache.get(session, embedders)
    assert again is first
    world["senior"].goals = "automate my weekly reports"
    session.commit()
    f.store_vectors(session, embedders)
    _, changed = cache.get(session, embedders)
    assert changed is not first
    assert "write prompts for ChatGPT" not in changed.goals.texts


def test_private_notes_never_get_matching_vectors(session, embedders, world) -> None:
    texts = match_vectors.chunk_texts(session) + match_vectors.person_texts(
        session.scalars(select(Person))
    )
    assert texts and not any(SECRET in t or "private body text" in t for t in texts)
    match_vectors.store(session, texts, embedders)
    session.commit()
    notes = session.scalars(select(Chunk).where(Chunk.doc_type == "note")).all()
    note_hashes = {text_hash(embedding_text(c.title, c.text)) for c in notes}
    note_hashes |= {text_hash(c.text) for c in notes}
    stored = set(session.scalars(select(MatchingVector.text_hash)))
    assert stored and not note_hashes & stored


def test_a_programme_with_enrolments_pairs_only_enrolled_people(session, embedders, world):
    """Once a programme has an enrolment list, the proposal pairs enrolled people only; an
    invited person who has not agreed (or whom HR has not accepted) stays out."""
    from kb.models import Enrolment

    prog = world["prog"]
    for key, role, status in (
        ("excel", "mentor", "enrolled"),
        ("senior", "mentee", "enrolled"),
        ("prompts", "mentor", "invited"),
        ("other", "mentee", "agreed"),
    ):
        session.add(
            Enrolment(programme_id=prog.id, person_id=world[key].id, role=role, status=status)
        )
    session.commit()
    result = service.propose(session, embedders, "spring")
    emails = {p.mentor.email for p in result.pairs} | {p.mentee.email for p in result.pairs}
    assert emails <= {"excel@x.com", "senior@x.com"}
    assert [(p.mentor.email, p.mentee.email) for p in result.pairs] == [
        ("excel@x.com", "senior@x.com")
    ]
