"""The engine on synthetic embedded pools (what the benchmark runs)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from bench.programmes import make_programme
from kb.embedding import FakeEmbedder
from matching.fit import bank_view, coverage_of, fit_matrix, pair_rows
from matching.pool import embed_pool
from matching.profiles import Evidence, Participant
from matching.proposals import _unmatched_facts, propose
from matching.recommendations import recommend
from matching.scoring import ScoringConfig, Signal, coverage

CONFIG = ScoringConfig(
    signals=(
        Signal("en", 0.5, baseline=0.1, english_only=True, fallback="multi"),
        Signal("multi", 0.2, baseline=0.75),
        Signal("lexical", 0.3, level="profile"),
    )
)


def test_proposal_on_a_synthetic_programme_respects_constraints() -> None:
    prog = make_programme(120, 25, CONFIG, seed=3)
    result = propose(
        prog.pool,
        prog.mentees,
        prog.mentors,
        prog.capacity,
        chains=prog.chains,
        history=prog.history,
        locked=prog.locked,
    )
    assert result.certified and result.pairs
    people = prog.pool.participants
    by_email = {p.email: i for i, p in enumerate(people)}
    load: dict[int, int] = {}
    locked = {(people[i].email, people[j].email) for i, j in prog.locked}
    for pair in result.pairs:
        i, j = by_email[pair.mentee.email], by_email[pair.mentor.email]
        load[j] = load.get(j, 0) + 1
        if (pair.mentee.email, pair.mentor.email) in locked:
            assert pair.locked
            continue
        assert (people[j].id, people[i].id) not in prog.history
        assert people[j].id not in prog.chains[people[i].id]
        assert people[i].id not in prog.chains[people[j].id]
        assert people[i].languages & people[j].languages
        assert pair.fit >= 0.05
    for j, n in load.items():
        assert n <= max(people[j].capacity, sum(1 for _, jj in prog.locked if jj == j))
    assert len(result.pairs) + len(result.unmatched_mentees) == 120
    assert set(result.stats["seconds"]) >= {"scores", "assignment", "explanations"}
    ranked = recommend(
        prog.pool, 0, prog.mentors, role="mentee", chains=prog.chains, history=prog.history, limit=5
    )
    scores = [c.score for c in ranked.candidates]
    assert scores == sorted(scores, reverse=True)


def test_a_long_guide_counts_once_among_a_mentors_best_items() -> None:
    """Three chunks of one guide are one piece of evidence; three guides are three."""
    chunks = [
        "weekly reports in Excel with pivot tables",
        "weekly reports in Excel: formulas that refresh",
        "weekly reports in Excel for managers, charts",
    ]
    one = tuple(
        Evidence("guide", c, title="Excel reports", ref="excel-reports", language="en")
        for c in chunks
    )
    three = tuple(
        Evidence("guide", c, title="Excel reports", ref=f"excel-{i}", language="en")
        for i, c in enumerate(chunks)
    )
    people = [
        Participant(
            0,
            "mentee@x",
            "Mentee",
            roles=frozenset({"mentee"}),
            goals=("build weekly reports in Excel",),
        ),
        Participant(1, "one@x", "One guide", roles=frozenset({"mentor"}), evidence=one),
        Participant(2, "three@x", "Three guides", roles=frozenset({"mentor"}), evidence=three),
    ]
    config = ScoringConfig(signals=(Signal("fake", 1.0),))
    embedders = {"fake": FakeEmbedder()}
    fit = fit_matrix(embed_pool(people, embedders, config), np.array([0]), np.array([1, 2]))
    assert 0 < fit[0, 0] < fit[0, 1]
    every = replace(config, one_item_per_source=False)
    fit = fit_matrix(embed_pool(people, embedders, every), np.array([0]), np.array([1, 2]))
    assert fit[0, 0] == pytest.approx(fit[0, 1])


def test_cached_profile_rows_give_the_plain_coverage() -> None:
    """Large owner sets keep their profile rows (as CSC); small ones slice them each time."""
    prog = make_programme(90, 70, CONFIG, seed=5)
    pool = prog.pool
    for learners, teachers in (
        (prog.mentees, prog.mentors),
        (prog.mentees[:1], prog.mentors),
        (prog.mentors, prog.mentees[:3]),
    ):
        learners, teachers = np.asarray(learners), np.asarray(teachers)
        for _ in range(2):  # the second time from the cache
            got, goals = coverage_of(pool, learners, teachers)
            evidence, layout = bank_view(pool, "evidence", teachers)
            plain = coverage(
                goals, evidence, layout, pool.config, profiles=pool.profiles[layout.columns]
            )
            assert np.array_equal(got, plain)


def test_proposal_pauses_garbage_collection_and_restores_it(monkeypatch) -> None:
    import gc

    import matching.proposals as engine

    prog = make_programme(30, 8, CONFIG, seed=1)
    seen = []

    def spy(*args, **kwargs):
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    real = engine.assign
    monkeypatch.setattr(engine, "assign", spy)

    def run():
        return propose(
            prog.pool,
            prog.mentees,
            prog.mentors,
            prog.capacity,
            chains=prog.chains,
            history=prog.history,
        )

    assert gc.isenabled()
    assert run().pairs and seen == [False] and gc.isenabled()
    gc.disable()
    try:
        run()
        assert not gc.isenabled()  # a caller's own pause is kept
    finally:
        gc.enable()
    monkeypatch.setattr(engine, "assign", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        run()
    assert gc.isenabled()


def test_pair_rows_equal_repeat_and_tile_per_pair() -> None:
    rng = np.random.default_rng(4)
    for goal_owners, item_owners in (
        (rng.integers(0, 8, 30), rng.integers(0, 8, 25)),
        (np.array([1]), np.array([2, 2])),
    ):
        g_sorted = np.argsort(goal_owners, kind="stable")
        g_start = np.searchsorted(goal_owners[g_sorted], np.arange(10))
        e_sorted = np.argsort(item_owners, kind="stable")
        e_start = np.searchsorted(item_owners[e_sorted], np.arange(10))
        pairs = rng.integers(0, 9, (40, 2))
        g_all, e_all, offsets, offset = [], [], [], 0
        for learner, teacher in pairs:
            g = g_sorted[g_start[learner] : g_start[learner + 1]]
            e = e_sorted[e_start[teacher] : e_start[teacher + 1]]
            g_all.append(np.repeat(g, len(e)))
            e_all.append(np.tile(e, len(g)))
            offsets.append(offset)
            offset += len(g) * len(e)
        got = pair_rows(g_sorted, g_start, e_sorted, e_start, pairs)
        assert np.array_equal(got[0], np.concatenate(g_all))
        assert np.array_equal(got[1], np.concatenate(e_all))
        assert got[2].tolist() == offsets


def test_unmatched_facts_equal_the_per_row_numpy_reference() -> None:
    rng = np.random.default_rng(8)
    fit = rng.choice([0.0, 0.1, 0.3, 0.3], size=(40, 9)).astype(np.float32)
    fit[::7] = np.nan  # mentees without goals
    allowed = rng.random(fit.shape) < 0.6
    has_place = rng.random(9) < 0.7
    usable = allowed & (fit >= 0.1)
    rows = np.arange(0, 40, 2)
    facts = _unmatched_facts(fit, allowed, usable, has_place, rows, block=3)
    for r, no_goals, placed, best, n_usable, j in zip(rows, *facts, strict=True):
        assert no_goals == bool(np.isnan(fit[r]).all())
        ok = allowed[r] & has_place
        assert placed == bool(ok.any())
        if no_goals or not placed:
            continue
        assert best == float(np.nanmax(np.where(ok, fit[r], np.nan)))
        assert n_usable == int(usable[r].sum())
        if n_usable:
            assert j == int(np.nanargmax(np.where(usable[r], fit[r], np.nan)))
