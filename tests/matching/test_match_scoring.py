"""Fused similarity, aggregation and fit against straightforward loops."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from kb.embedding import FakeEmbedder
from kb.errors import ValidationError
from matching import scoring
from matching.lexical import Lexicon, guess_language, tokenize
from matching.profiles import Evidence, build_bank, source_codes, split_phrases
from matching.scoring import (
    DEFAULT_CONFIG,
    LEXICAL,
    EvidenceLayout,
    ScoringConfig,
    Signal,
    aggregate,
    aligned_similarity,
    coverage,
    mean_by_owner,
    similarity,
)

GOALS = [
    "automate my weekly reports",
    "zautomatyzować cotygodniowe raporty",
    "write better prompts for ChatGPT",
    "понять, как работает Power BI",
]
EVIDENCE = [
    "Copilot in Excel: first steps",
    "Power BI dashboards for managers",
    "Pisanie promptów dla menedżerów",
    "weekly reports with Python and Excel",
    "Как строить отчёты в Power BI",
    "video editing on a phone",
]


def banks(config: ScoringConfig):
    fake_a, fake_b = FakeEmbedder(32, "a"), FakeEmbedder(48, "b")
    lexicon = Lexicon.fit(EVIDENCE)
    dense_g = {"a": fake_a.embed_queries(GOALS), "b": fake_b.embed_queries(GOALS)}
    dense_e = {"a": fake_a.embed_passages(EVIDENCE), "b": fake_b.embed_passages(EVIDENCE)}
    goals = build_bank(GOALS, [0, 0, 1, 1], dense=dense_g, lexicon=lexicon)
    evidence = build_bank(EVIDENCE, [2, 2, 3, 3, 3, 4], dense=dense_e, lexicon=lexicon)
    return goals, evidence, dense_g, dense_e, lexicon


CONFIG = ScoringConfig(
    signals=(
        Signal("a", weight=0.5, baseline=0.1, english_only=True, fallback="b"),
        Signal("b", weight=0.2, baseline=0.2),
        Signal(LEXICAL, weight=0.3),
    ),
    top_weights=(1.0, 0.5),
)


def cal(value: float, baseline: float) -> float:
    return max((value - baseline) / (1 - baseline), 0.0)


def test_similarity_matches_a_loop_with_language_routing() -> None:
    goals, evidence, dense_g, dense_e, lexicon = banks(CONFIG)
    sim = similarity(goals, evidence, CONFIG)
    lex_g, lex_e = lexicon.transform(GOALS).toarray(), lexicon.transform(EVIDENCE).toarray()
    for g, goal in enumerate(GOALS):
        for e, item in enumerate(EVIDENCE):
            english = guess_language(goal) == "en" and guess_language(item) == "en"
            a = cal(float(dense_g["a"][g] @ dense_e["a"][e]), 0.1)
            b = cal(float(dense_g["b"][g] @ dense_e["b"][e]), 0.2)
            lex = cal(float(lex_g[g] @ lex_e[e]), 0.0)
            expected = 0.5 * (a if english else b) + 0.2 * b + 0.3 * lex
            assert sim[g, e] == pytest.approx(expected, abs=1e-5)


def test_english_only_signal_falls_back_unless_both_texts_are_english() -> None:
    goals, evidence, *_ = banks(CONFIG)
    only_a = ScoringConfig(
        signals=(Signal("a", 1.0, english_only=True, fallback="b"), Signal("b", 0.0))
    )
    only_b = ScoringConfig(signals=(Signal("b", 1.0),))
    sim_a, sim_b = similarity(goals, evidence, only_a), similarity(goals, evidence, only_b)
    mixed = ~np.outer(goals.english, evidence.english)
    assert mixed.any() and (~mixed).any()
    assert np.allclose(sim_a[mixed], sim_b[mixed], atol=1e-6)
    assert not np.allclose(sim_a[~mixed], sim_b[~mixed], atol=1e-3)


def test_aligned_similarity_agrees_with_the_matrix() -> None:
    goals, evidence, *_ = banks(CONFIG)
    sim = similarity(goals, evidence, CONFIG)
    g, e = np.meshgrid(np.arange(len(GOALS)), np.arange(len(EVIDENCE)), indexing="ij")
    pairwise = aligned_similarity(goals, g.ravel(), evidence, e.ravel(), CONFIG)
    assert np.allclose(pairwise, sim.ravel(), atol=1e-6)


def test_aggregate_is_a_weighted_top_k_with_missing_items_as_zero() -> None:
    rng = np.random.default_rng(0)
    owners = np.array([5, 5, 5, 5, 7, 9, 9])
    sim = rng.random((3, len(owners))).astype(np.float32)
    layout, order = EvidenceLayout.arrange(owners, np.array([9, 5, 7, 11]))
    for top in (np.array([0.5, 0.3, 0.2], np.float32), np.full(3, 1 / 3, np.float32)):
        out = aggregate(sim[:, order], layout, top)
        for g in range(3):
            for col, owner in enumerate([9, 5, 7, 11]):
                values = sorted(sim[g, owners == owner], reverse=True)[:3]
                expected = sum(w * v for w, v in zip(top, values, strict=False))
                assert out[g, col] == pytest.approx(expected, abs=1e-6)


def test_coverage_fuses_per_signal_top_k_and_the_profile() -> None:
    goals, evidence, *_ = banks(CONFIG)
    layout, order = EvidenceLayout.arrange(evidence.owners)
    arranged = evidence.subset(order)
    config = ScoringConfig(
        signals=(*CONFIG.signals[:2], Signal(LEXICAL, 0.3, level="profile")), top_weights=(1.0, 0.5)
    )
    cov = coverage(goals, arranged, layout, config)
    assert np.allclose(coverage(goals, arranged, layout, config, block=1, workers=2), cov)
    per_signal = {name: config.only(name) for name in ("b",)}
    sims = {
        "a": similarity(
            goals,
            evidence,
            ScoringConfig(
                signals=(
                    Signal("a", 1.0, 0.1, english_only=True, fallback="b"),
                    Signal("b", 0.0, 0.2),
                )
            ),
        ),
        "b": similarity(goals, evidence, per_signal["b"]),
    }
    for g in range(len(GOALS)):
        for col, owner in enumerate(layout.columns):
            mine = evidence.owners == owner
            expected = 0.0
            for name, w in (("a", 0.5), ("b", 0.2)):
                values = sorted(sims[name][g, mine], reverse=True)[:2] + [0.0]
                expected += w * (values[0] + 0.5 * values[1]) / 1.5
            profile = np.asarray(evidence.lexical[mine].sum(axis=0)).ravel()
            profile /= np.linalg.norm(profile) or 1.0
            expected += 0.3 * float(goals.lexical[g].toarray().ravel() @ profile)
            assert cov[g, col] == pytest.approx(expected, abs=1e-5)


def test_fit_is_the_mean_over_goals_and_nan_without_goals() -> None:
    values = np.array([[1.0, 0.0], [0.5, 1.0], [0.2, 0.2]], dtype=np.float32)
    out = mean_by_owner(values, np.array([3, 3, 8]), np.array([8, 3, 4]))
    assert np.allclose(out[0], [0.2, 0.2])
    assert np.allclose(out[1], [0.75, 0.5])
    assert np.isnan(out[2]).all()


@pytest.mark.parametrize("wide", [1, 512])  # by runs of rows / by a sparse product
def test_fit_equals_the_brute_force_mean_for_owners_in_scattered_runs(wide: int) -> None:
    rng = np.random.default_rng(4)
    for n_values, n_owners in ((0, 3), (1, 1), (7, 3), (200, 25)):
        values = rng.random((n_values, 5), dtype=np.float32)
        owners = rng.integers(0, n_owners, n_values)  # owners split over several runs
        owners[: n_values // 4] = np.sort(owners[: n_values // 4])  # and some long runs
        rows = rng.permutation(n_owners + 2)[:n_owners]  # some owners absent, some unknown
        out = mean_by_owner(values, owners, rows, wide=wide)
        assert out.shape == (len(rows), 5) and out.dtype == np.float32
        for r, owner in enumerate(rows):
            mine = owners == owner
            if mine.any():
                assert np.allclose(out[r], values[mine].mean(axis=0), atol=1e-6)
                total = np.zeros(5, dtype=np.float32)
                for row in values[mine]:  # float32 sums in row order, like a sparse product
                    total += row
                assert np.array_equal(out[r], total / np.float32(mine.sum()))
            else:
                assert np.isnan(out[r]).all()


def test_config_round_trips_and_validates() -> None:
    assert ScoringConfig.from_dict(CONFIG.to_dict()) == CONFIG
    assert ScoringConfig.from_dict(DEFAULT_CONFIG.to_dict()) == DEFAULT_CONFIG
    with pytest.raises(ValueError):
        ScoringConfig(signals=(Signal("a", 0.0),))
    with pytest.raises(ValueError):
        Signal("a", 1.0, baseline=1.0)
    with pytest.raises(ValueError):
        Signal("a", 1.0, english_only=True)
    with pytest.raises(ValueError):
        ScoringConfig(signals=(Signal("a", 1.0, english_only=True, fallback="zz"),))
    assert CONFIG.only("b").signals == (Signal("b", 1.0, baseline=0.2),)
    legacy = ScoringConfig.from_dict(
        {"signals": [{"name": "lexical", "weight_en": 1.0, "weight_other": 1.0}]}
    )
    assert legacy.signals == (Signal(LEXICAL, 1.0),)
    with pytest.raises(ValidationError, match="unknown field"):
        ScoringConfig.from_dict({"signals": [{"name": "a", "colour": 1}]})
    with pytest.raises(ValidationError, match="signals"):
        ScoringConfig.from_dict({"weights": {}})


def test_tokens_languages_and_phrases() -> None:
    assert tokenize("The weekly Reports of 2024", prefix=6) == ["weekly", "report"]
    assert guess_language("zautomatyzować cotygodniowe raporty") == "pl"
    assert guess_language("понять, как работает Power BI") == "ru"
    assert guess_language("Gómez et al. study neural networks") == "en"
    assert guess_language("Lessons from Łódź: logistics planning at scale in practice") == "en"
    assert split_phrases(" a; b ;;A; c d ") == ["a", "b", "c d"]


def test_lexicon_cosine_prefers_shared_rare_words() -> None:
    lexicon = Lexicon.fit(EVIDENCE)
    rows = lexicon.transform(["Power BI reports", ""]).toarray()
    assert np.isclose(np.linalg.norm(rows[0]), 1.0)
    assert not rows[1].any()
    items = lexicon.transform(EVIDENCE).toarray()
    assert int(np.argmax(items @ rows[0])) in (1, 4)


@pytest.mark.parametrize("english_goals", ["mixed", "prefix", "none", "all"])
def test_blocked_coverage_equals_the_straightforward_sum(english_goals: str) -> None:
    """coverage() reuses scratch memory and the fallback's aggregate on non-English rows:
    it must equal summing weight * aggregate(sim) over signal_similarities, block or not."""
    rng = np.random.default_rng(11)
    n_goals, n_items = 150, 90

    def unit(rows: int, dim: int) -> np.ndarray:
        x = rng.standard_normal((rows, dim)).astype(np.float32)
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    english = {
        "mixed": rng.random(n_goals) < 0.5,
        "none": np.zeros(n_goals, bool),
        "all": np.ones(n_goals, bool),
        "prefix": np.arange(n_goals) < 70,
    }[english_goals]
    goals = build_bank(
        [f"g{i}" for i in range(n_goals)],
        rng.integers(0, 40, n_goals),
        dense={"a": unit(n_goals, 16), "b": unit(n_goals, 24)},
        languages=["en" if e else "pl" for e in english],
    )
    owners = rng.integers(40, 60, n_items)
    evidence = build_bank(
        [f"e{i}" for i in range(n_items)],
        owners,
        dense={"a": unit(n_items, 16), "b": unit(n_items, 24)},
        languages=["en" if e else "pl" for e in rng.random(n_items) < 0.5],
    )
    layout, order = EvidenceLayout.arrange(owners, np.arange(38, 62))
    arranged = evidence.subset(order)
    config = ScoringConfig(signals=CONFIG.signals[:2], top_weights=(1.0, 0.5, 0.25))
    top, weights = config.top(), config.weights()
    expected = np.zeros((n_goals, len(layout.columns)), dtype=np.float32)
    for name, sim in scoring.signal_similarities(goals, arranged, config).items():
        expected += np.float32(weights[name]) * aggregate(sim, layout, top)
    # coverage() multiplies items-first ([items, goals]) and in blocks: BLAS may then sum
    # in another order, so values may differ in the last float32 bit.
    for block, workers in ((1024, 1), (64, 2)):
        got = coverage(goals, arranged, layout, config, block=block, workers=workers)
        assert np.allclose(got, expected, rtol=0, atol=1e-6)
    sim = scoring.signal_similarities(goals, arranged, config)["b"]
    items_first = aggregate(np.ascontiguousarray(sim.T), layout, top, items_first=True)
    assert np.array_equal(items_first.T, aggregate(sim, layout, top))


def test_row_dots_equal_einsum_of_gathered_rows() -> None:
    rng = np.random.default_rng(6)
    a, b = rng.random((20, 7)).astype(np.float32), rng.random((15, 7)).astype(np.float32)
    ia, ib = rng.integers(0, 20, 1000), rng.integers(0, 15, 1000)
    expected = np.einsum("ij,ij->i", a[ia], b[ib])
    for chunk in (1, 64, 4096):
        assert np.array_equal(scoring.row_dots(a, ia, b, ib, chunk=chunk), expected)
    assert len(scoring.row_dots(a, ia[:0], b, ib[:0])) == 0


@pytest.mark.parametrize(("block", "workers"), [(1024, 1), (16, 2)])
def test_one_item_per_source_is_a_per_source_maximum_before_the_top_k(
    block: int, workers: int
) -> None:
    """A guide cut into chunks counts once, by its best chunk (English and other chunks of
    one guide apart: routing scores them with different signals); stand-alone items count
    alone. Checked against a loop over owners and sources, with language routing."""
    rng = np.random.default_rng(21)
    n_goals, n_items = 40, 150

    def unit(rows: int, dim: int) -> np.ndarray:
        x = rng.standard_normal((rows, dim)).astype(np.float32)
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    owners = rng.integers(0, 12, n_items)
    refs = [f"guide-{r}" if r < 4 else "" for r in rng.integers(0, 6, n_items)]
    kinds = ["guide" if r else "expertise" for r in refs]
    languages = ["en" if e else "pl" for e in rng.random(n_items) < 0.7]
    items = [
        Evidence(k, f"e{i}", ref=r, language=lang)
        for i, (k, r, lang) in enumerate(zip(kinds, refs, languages, strict=True))
    ]
    goals = build_bank(
        [f"g{i}" for i in range(n_goals)],
        rng.integers(20, 30, n_goals),
        dense={"a": unit(n_goals, 16), "b": unit(n_goals, 24)},
        languages=["en" if e else "ru" for e in rng.random(n_goals) < 0.6],
    )
    evidence = build_bank(
        [e.text for e in items],
        owners,
        dense={"a": unit(n_items, 16), "b": unit(n_items, 24)},
        languages=languages,
        sources=source_codes(items, owners),
    )
    layout, order = EvidenceLayout.arrange(owners, np.arange(-1, 13) + 1)
    arranged = evidence.subset(order)
    config = ScoringConfig(signals=CONFIG.signals[:2], top_weights=(1.0, 0.5, 0.25))
    assert config.one_item_per_source
    got = coverage(goals, arranged, layout, config, block=block, workers=workers)

    top, weights = config.top(), config.weights()
    sims = scoring.signal_similarities(goals, evidence, config)
    expected = np.zeros((n_goals, len(layout.columns)))
    for col, owner in enumerate(layout.columns):
        groups: dict[object, list[int]] = {}
        for i in np.flatnonzero(owners == owner):
            key = (refs[i], languages[i] == "en") if refs[i] else i
            groups.setdefault(key, []).append(int(i))
        for name, sim in sims.items():
            for g in range(n_goals):
                best = sorted(
                    (max(sim[g, i] for i in rows) for rows in groups.values()), reverse=True
                )[:3]
                expected[g, col] += weights[name] * sum(
                    w * v for w, v in zip(top, best, strict=False)
                )
    assert np.allclose(got, expected, rtol=0, atol=1e-5)
    plain = coverage(goals, arranged, layout, replace(config, one_item_per_source=False))
    assert not np.allclose(plain, expected, rtol=0, atol=1e-3)  # the folding did something
    assert (plain >= got - 1e-6).all()  # and only ever removes repeated chunks


def test_source_codes_number_each_owners_guides_and_leave_phrases_alone() -> None:
    items = [
        Evidence("expertise", "excel"),
        Evidence("guide", "a1", ref="a"),
        Evidence("guide", "a2", ref="a"),
        Evidence("insight", "i", ref="insight:3"),
        Evidence("guide", "a1", ref="a"),
    ]
    codes = source_codes(items, [0, 0, 0, 0, 1])
    assert codes[0] == -1
    assert codes[1] == codes[2] != codes[3]
    assert codes[4] not in (codes[1], codes[3])  # the same slug of another person
    bank = build_bank([e.text for e in items], [0, 0, 0, 0, 1], sources=codes)
    assert bank.subset(np.array([4, 2])).sources.tolist() == [codes[4], codes[2]]
    with pytest.raises(ValueError, match="source"):
        build_bank(["x", "y"], [0, 0], sources=[1])


def test_config_keeps_one_item_per_source() -> None:
    every = replace(DEFAULT_CONFIG, one_item_per_source=False)
    assert ScoringConfig.from_dict(every.to_dict()) == every
    assert ScoringConfig.from_dict(every.to_dict()) != DEFAULT_CONFIG
    assert DEFAULT_CONFIG.one_item_per_source
    assert ScoringConfig.from_dict({"signals": [{"name": "lexical"}]}).one_item_per_source
    assert every.only("minilm").one_item_per_source is False
    with pytest.raises(ValidationError, match="one_item_per_source"):
        ScoringConfig.from_dict({"signals": [{"name": "lexical"}], "one_item_per_source": "no"})
