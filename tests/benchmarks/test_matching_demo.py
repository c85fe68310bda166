"""The demo matching evaluator: metrics against brute force, thresholds, and a run through the
real recommendation service on a tiny instance (fake embedder) that leaves nothing stored."""

from __future__ import annotations

import itertools
import json
import math
import random
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bench import matching_demo as md
from kb.errors import ValidationError
from kb.models import MatchingVector, Person
from kb.services import match_vectors
from matching.bands import Bands


def test_ndcg_matches_the_definition() -> None:
    assert md.ndcg_at([2, 1, 0], [0, 1, 2]) == pytest.approx(1.0)
    assert md.ndcg_at([0, 0, 0], [0, 0, 0]) is None
    ideal = 2 + 2 / math.log2(3) + 1 / math.log2(4)
    got = 1 / math.log2(3) + 2 / math.log2(4)
    assert md.ndcg_at([0, 1, 2, 2], [0, 1, 2, 2]) == pytest.approx(got / ideal)
    # only the first k count
    assert md.ndcg_at([0, 0, 0, 2], [0, 0, 0, 2]) == 0.0


def test_rank_metrics() -> None:
    assert md.reciprocal_rank([0, 0, 1, 2]) == pytest.approx(1 / 3)
    assert md.reciprocal_rank([0, 0]) == 0.0
    assert md.recall_at([2, 0, 0, 1]) == 0.5
    assert md.recall_at([0, 0]) is None


def brute_threshold(
    scores: list[float], labels: list[bool], target: float, support: int
) -> float | None:
    cuts = sorted({math.ceil(s * 100 - 1e-9) / 100 for s in scores})
    ok = None
    for cut in cuts:
        above = [t for t in cuts if t >= cut]
        fine = True
        for t in above:
            chosen = [label for s, label in zip(scores, labels, strict=True) if s >= t]
            if len(chosen) >= support and sum(chosen) / len(chosen) < target:
                fine = False
        chosen = [label for s, label in zip(scores, labels, strict=True) if s >= cut]
        if fine and len(chosen) >= support:
            ok = cut
            break
    return ok


@pytest.mark.parametrize("seed", range(30))
def test_choose_threshold_matches_brute_force(seed: int) -> None:
    rng = random.Random(seed)
    scores = [round(rng.random(), 3) for _ in range(rng.randint(5, 40))]
    labels = [rng.random() < s for s in scores]  # higher scores more often suitable
    for target, support in itertools.product((0.5, 0.8), (1, 3, 10)):
        assert md.choose_threshold(scores, labels, target, support) == brute_threshold(
            scores, labels, target, support
        )


def test_choose_threshold_picks_the_lowest_safe_cut() -> None:
    scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2]
    labels = [True, True, True, True, False, True, False, False]
    assert md.choose_threshold(scores, labels, 0.8, min_support=2) == 0.4
    assert md.choose_threshold(scores, labels, 1.0, min_support=2) == 0.6
    assert md.choose_threshold(scores, labels, 0.8, min_support=20) is None


def test_band_report_counts_precision_and_share() -> None:
    rows = [
        md.PairRow("g", "en", f"m{i}", grade, fit=s, links=(md.Link(s, "guide", "e"),))
        for i, (grade, s) in enumerate([(2, 0.9), (0, 0.8), (1, 0.5), (0, 0.4), (1, 0.1)])
    ]
    report = md.band_report(rows, Bands(strong=0.7, some=0.45), "top_link")
    assert report["strong"] == {
        "pairs": 2,
        "suitable": 1,
        "precision": 0.5,
        "share_of_suitable": round(1 / 3, 4),
        "strong_grade_pairs": 1,
    }
    assert report["some"]["pairs"] == 1 and report["some"]["precision"] == 1.0
    assert report["weak"]["pairs"] == 2 and report["weak"]["suitable"] == 1
    assert report["strong_or_some_precision"] == round(2 / 3, 4)


def write_set(folder: Path, goals: list[dict], judgments: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (("goals.jsonl", goals), ("judgments.jsonl", judgments)):
        (folder / name).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return folder


def goal_row(gid: str, text: str, split: str = "dev", covered: bool = True) -> dict:
    return {
        "id": gid,
        "language": gid[:2],
        "split": split,
        "topic": "t",
        "goal": text,
        "covered": covered,
        "cross_language": False,
    }


def test_load_set_rejects_unjudged_goals_and_bad_grades(tmp_path: Path) -> None:
    folder = write_set(
        tmp_path / "a",
        [goal_row("en-01", "x"), goal_row("en-02", "y")],
        [{"goal": "en-01", "mentor": "m@x.com", "grade": 1, "reason": "r"}],
    )
    with pytest.raises(ValidationError, match="goals without judgments: en-02"):
        md.load_set(folder)
    folder = write_set(
        tmp_path / "b",
        [goal_row("en-01", "x")],
        [{"goal": "en-01", "mentor": "m@x.com", "grade": 3, "reason": "r"}],
    )
    with pytest.raises(ValidationError, match="must be 0, 1 or 2"):
        md.load_set(folder)


def test_the_repository_set_loads() -> None:
    labels = md.load_set()
    assert len(labels.goals) >= 60 and len(labels.mentors) == 13
    assert {g.split for g in labels.goals} == {"dev", "test"}


@pytest.fixture
def tiny(session, embedders):
    """Two mentors (one full, one with capacity 0) and the labels of two goals."""
    mentors = [
        Person(
            email="excel@x.com",
            name="Excel",
            roles="mentor",
            languages="en",
            capacity=0,
            expertise="automate weekly reports in Excel;Power Query",
        ),
        Person(
            email="video@x.com",
            name="Video",
            roles="mentor",
            languages="pl",
            capacity=1,
            expertise="video editing on a phone;TikTok reels",
        ),
    ]
    session.add_all(mentors)
    match_vectors.store(session, match_vectors.person_texts(mentors), embedders)
    session.commit()
    goals = [
        goal_row("en-01", "automate my weekly Excel reports"),
        goal_row("en-02", "edit short TikTok videos on my phone", split="test"),
        goal_row("en-03", "learn quantum computing", covered=False),
    ]
    grades = {
        ("en-01", "excel@x.com"): 2,
        ("en-01", "video@x.com"): 0,
        ("en-02", "excel@x.com"): 0,
        ("en-02", "video@x.com"): 2,
        ("en-03", "excel@x.com"): 0,
        ("en-03", "video@x.com"): 0,
    }
    judgments = [
        {"goal": g, "mentor": m, "grade": v, "reason": "because"} for (g, m), v in grades.items()
    ]
    return goals, judgments


def test_rank_goals_runs_the_service_and_stores_nothing(session, embedders, tiny, tmp_path) -> None:
    labels = md.load_set(write_set(tmp_path / "set", *tiny))
    before = session.scalar(select(func.count()).select_from(Person))
    vectors = session.scalar(select(func.count()).select_from(MatchingVector))
    ranked = md.rank_goals(session, embedders, labels.goals, labels.mentors)
    # Both mentors ranked for every goal, though one has capacity 0 and one speaks only Polish.
    assert {gid: sorted(r.mentor for r in rows) for gid, rows in ranked.items()} == {
        gid: ["excel@x.com", "video@x.com"] for gid in ("en-01", "en-02", "en-03")
    }
    # The lexical signal alone (fake embedder) ranks the mentor whose expertise shares the
    # goal's words first, and quotes that expertise as a reason.
    assert ranked["en-01"][0].mentor == "excel@x.com"
    assert ranked["en-02"][0].mentor == "video@x.com"
    assert ranked["en-01"][0].links and ranked["en-01"][0].links[0].kind == "expertise"
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Person)) == before
    assert session.scalar(select(func.count()).select_from(MatchingVector)) == vectors
    assert session.scalar(select(Person.capacity).where(Person.email == "excel@x.com")) == 0
    dev = [g for g in labels.goals if g.split == "dev"]
    result = md.evaluate(labels, dev, ranked, choose=True)
    assert result["ranking"]["overall"]["goals"] == 2
    assert result["ranking"]["overall"]["covered"] == 1
    assert set(result["uncovered_goals"]) == {"en-03"}
    assert len(result["pairs"]) == 4
    assert {"reason", "fit"} == set(result["chosen"])
    # The saved pairs carry every score: band figures recomputed from them are the same.
    saved = tmp_path / "result.json"
    md.write_result(saved, {"dev": {"config": {"commit": "x"}, **result}})
    assert md.main(["--rescore", str(saved)]) == 0
    again = json.loads(saved.read_text(encoding="utf-8"))["dev"]
    assert again["reason_bands"] == result["reason_bands"]
    assert again["fit_bands"] == result["fit_bands"]
    assert again["ranking"] == result["ranking"]
    assert "rescored_bands" in again["config"]


def test_rank_goals_refuses_an_instance_without_the_mentors(session, embedders, tmp_path) -> None:
    labels = md.load_set(
        write_set(
            tmp_path / "set",
            [goal_row("en-01", "x")],
            [{"goal": "en-01", "mentor": "nobody@x.com", "grade": 1, "reason": "because"}],
        )
    )
    with pytest.raises(ValidationError, match="lacks the labelled mentors"):
        md.rank_goals(session, embedders, labels.goals, labels.mentors)
    assert session.scalar(select(func.count()).select_from(Person)) == 0


def test_open_instance_opens_the_folder_it_is_given(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("TANDEM_INSTANCE", raising=False)
    tandem = md._open_instance(tmp_path / "inst")
    try:
        assert tandem.settings.instance_dir == (tmp_path / "inst").resolve()
        with tandem.sessions() as session:
            assert session.scalar(select(func.count()).select_from(Person)) == 0
    finally:
        tandem.close()
