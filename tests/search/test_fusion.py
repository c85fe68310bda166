"""Fusion functions against hand-computed cases and brute-force numpy references."""

from __future__ import annotations

import numpy as np
import pytest

from kb.search.fusion import (
    convex,
    dbsf,
    group_max,
    max_scaled,
    minmax,
    normalise,
    ranked,
    rrf,
    zscore,
)


def random_signals(rng: np.random.Generator) -> dict[str, dict[int, float]]:
    """Two or three signals over overlapping random key sets with random scales."""
    signals = {}
    for name in ("bm25", "a", "b")[: rng.integers(2, 4)]:
        keys = rng.choice(40, size=rng.integers(1, 25), replace=False)
        scale = rng.uniform(0.1, 30)
        signals[name] = {int(k): float(rng.normal(5, 2) * scale) for k in keys}
    return signals


def reference_convex(signals, weights, method, floors=None):  # noqa: ANN001, ANN201
    """Dense-matrix version: one column per signal, missing -> floor of that signal."""
    floors = floors or {}
    keys = sorted({k for s in signals.values() for k in s})
    total = np.zeros(len(keys))
    for name, scores in signals.items():
        w = weights.get(name, 0.0)
        if not w:
            continue
        values = np.array(list(scores.values()) + ([floors[name]] if name in floors else []))
        if name in floors:
            if method == "minmax":
                shift, div = values.min(), values.max() - values.min()
            else:
                shift, div = values.mean(), values.std()
            norm = {k: (v - shift) / div for k, v in scores.items()}
            floor = (floors[name] - shift) / div
            total += w * np.array([norm.get(k, floor) for k in keys])
            continue
        if method == "minmax":
            lo, hi = values.min(), values.max()
            norm = {k: (v - lo) / (hi - lo) if hi > lo else 1.0 for k, v in scores.items()}
            floor = 0.0
        else:  # zscore
            mu, sd = values.mean(), values.std()
            norm = {k: (v - mu) / sd if sd > 0 else 1.0 for k, v in scores.items()}
            floor = min(min(norm.values()), 0.0)
        total += w * np.array([norm.get(k, floor) for k in keys])
    return dict(zip(keys, total, strict=True))


@pytest.mark.parametrize("method", ["minmax", "zscore"])
@pytest.mark.parametrize("with_floor", [False, True])
def test_convex_matches_dense_reference(method: str, with_floor: bool) -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        signals = random_signals(rng)
        weights = {name: float(rng.uniform(0, 1)) for name in signals}
        floors = {"bm25": -40.0} if with_floor else None  # below every random score
        got = convex(signals, weights, method, floors)
        want = reference_convex(signals, weights, method, floors)
        assert got.keys() == want.keys()
        assert np.allclose([got[k] for k in want], list(want.values()))


def test_convex_with_one_weighted_signal_keeps_its_order() -> None:
    rng = np.random.default_rng(3)
    for _ in range(100):
        signals = random_signals(rng)
        fused = convex(signals, {"bm25": 1.0}, "minmax")
        assert [k for k, _ in ranked(fused)][: len(signals["bm25"])] == [
            k for k, _ in ranked(signals["bm25"])
        ]


def test_convex_hand_computed() -> None:
    signals = {"bm25": {"a": 10.0, "b": 5.0, "c": 0.0}, "vec": {"b": 0.9, "d": 0.5}}
    fused = convex(signals, {"bm25": 0.5, "vec": 0.5}, "minmax")
    # bm25 -> a 1, b .5, c 0 ; vec -> b 1, d 0 ; missing -> 0
    assert fused == pytest.approx({"a": 0.5, "b": 0.75, "c": 0.0, "d": 0.0})


def test_a_single_match_beats_the_known_floor() -> None:
    signals = {"bm25": {"a": 3.0}, "vec": {"a": 0.2, "b": 0.9, "c": 0.1}}
    without = convex(signals, {"bm25": 0.5, "vec": 0.5}, "zscore")
    with_floor = convex(signals, {"bm25": 0.5, "vec": 0.5}, "zscore", {"bm25": 0.0})
    # Padded with the 0 every other passage scores, "a" gets z=+1 and the rest z=-1.
    assert with_floor["a"] - with_floor["b"] > without["a"] - without["b"]
    assert with_floor["a"] == pytest.approx(0.5 * 1 + 0.5 * zscore(signals["vec"])["a"])
    assert with_floor["b"] == pytest.approx(0.5 * -1 + 0.5 * zscore(signals["vec"])["b"])


def test_rrf_hand_computed() -> None:
    fused = rrf({"x": ["a", "b", "c"], "y": ["c", "a"]}, k=60)
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert fused["b"] == pytest.approx(1 / 62)
    assert fused["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert [k for k, _ in ranked(fused)] == ["a", "c", "b"]


def test_rrf_weights_and_brute_force() -> None:
    rng = np.random.default_rng(11)
    for _ in range(100):
        rankings = {
            name: [int(k) for k in rng.permutation(30)[: rng.integers(1, 30)]]
            for name in ("p", "q", "r")
        }
        weights = {"p": 0.2, "q": 1.0, "r": 0.0}
        got = rrf(rankings, k=10, weights=weights)
        for key in got:
            want = sum(
                weights[n] / (10 + r.index(key) + 1) for n, r in rankings.items() if key in r
            )
            assert got[key] == pytest.approx(want)
        assert all(k in rankings["p"] or k in rankings["q"] for k in got)


def test_normalisations_bounds_and_edge_cases() -> None:
    rng = np.random.default_rng(5)
    for _ in range(100):
        scores = {i: float(v) for i, v in enumerate(rng.normal(0, 10, rng.integers(2, 50)))}
        mm = minmax(scores)
        assert min(mm.values()) == 0.0 and max(mm.values()) == 1.0
        z = np.array(list(zscore(scores).values()))
        assert abs(z.mean()) < 1e-9 and abs(z.std() - 1) < 1e-9
        assert all(0.0 <= v <= 1.0 for v in dbsf(scores).values())
        # Every normalisation is monotone: the order never changes.
        for method in ("minmax", "zscore", "dbsf", "max"):
            order = [k for k, _ in ranked(scores)]
            norm = normalise(scores, method)
            assert all(norm[a] >= norm[b] for a, b in zip(order, order[1:], strict=False))
    assert minmax({}) == {}
    assert zscore({"a": 2.0}) == {"a": 1.0}
    assert minmax({"a": 3.0}) == {"a": 1.0}
    assert max_scaled({"a": 2.0, "b": 1.0}) == {"a": 1.0, "b": 0.5}
    with pytest.raises(ValueError, match="unknown normalisation"):
        normalise({"a": 1.0}, "bogus")


def test_group_max_brute_force() -> None:
    rng = np.random.default_rng(9)
    for _ in range(100):
        scores = {i: float(rng.normal()) for i in range(rng.integers(1, 40))}
        grouped = group_max(scores, lambda i: i % 5)
        for group, (score, best) in grouped.items():
            members = [k for k in scores if k % 5 == group]
            assert score == max(scores[k] for k in members)
            assert scores[best] == score and best % 5 == group
        assert set(grouped) == {k % 5 for k in scores}


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("found_floor", [True, False])
def test_convex_stand_in_matches_a_dense_reference(seed: int, found_floor: bool) -> None:
    """A key BM25 could not score (odd keys here) and did not list takes the weighted mean of
    its other normalised signals in BM25's place; one it did list keeps the better of its BM25
    score and that mean (``found_floor``) or its BM25 score; everything else is the plain sum."""
    rng = np.random.default_rng(seed)
    signals = random_signals(rng)
    weights = {name: float(rng.uniform(0.1, 1)) for name in signals}
    fused = convex(
        signals, weights, "zscore", {"bm25": 0.0}, {"bm25": lambda k: k % 2 == 1}, found_floor
    )
    norms = {}
    for name, scores in signals.items():
        if name == "bm25":
            values = np.array([*scores.values(), 0.0])
            z = (values - values.mean()) / values.std() if values.std() else np.ones_like(values)
            norms[name] = (dict(zip(scores, z[:-1], strict=True)), float(z[-1]))
        else:
            z = zscore(scores)
            norms[name] = (z, min(min(z.values()), 0.0))
    keys = set().union(*signals.values())
    for key in keys:
        expected = 0.0
        for name, (norm, floor) in norms.items():
            others = [(weights[o], n.get(key, f)) for o, (n, f) in norms.items() if o != name]
            mean = sum(w * v for w, v in others) / sum(w for w, _ in others)
            if name == "bm25" and key % 2 == 1 and key not in norm:
                expected += weights[name] * mean
            elif name == "bm25" and key % 2 == 1 and found_floor:
                expected += weights[name] * max(norm[key], mean)
            elif key in norm:
                expected += weights[name] * norm[key]
            else:
                expected += weights[name] * floor
        assert fused[key] == pytest.approx(expected)


def test_a_weak_match_in_another_language_is_not_below_no_match() -> None:
    """Passage 3 (another language) shares one rare token with the query; 4 shares none.
    Both are as close by the vectors: 3 must not lose to 4 for what BM25 saw."""
    bm25 = {1: 10.0, 2: 8.0, 3: 0.5}
    vec = {1: 0.5, 2: 0.4, 3: 0.9, 4: 0.9}
    args = ({"bm25": bm25, "e5": vec}, {"bm25": 0.5, "e5": 0.5}, "zscore", {"bm25": 0.0},
            {"bm25": lambda k: k >= 3})  # fmt: skip
    assert convex(*args, found_floor=False)[3] < convex(*args, found_floor=False)[4]
    fused = convex(*args)
    assert fused[3] == pytest.approx(fused[4])
    assert fused[1] == convex(*args, found_floor=False)[1]


def test_stand_in_lifts_only_the_keys_it_names() -> None:
    bm25 = {1: 10.0, 2: 4.0}
    vec = {1: 0.9, 2: 0.5, 3: 0.85, 4: 0.85}
    plain = convex({"bm25": bm25, "e5": vec}, {"bm25": 0.5, "e5": 0.5}, "zscore", {"bm25": 0.0})
    lifted = convex(
        {"bm25": bm25, "e5": vec}, {"bm25": 0.5, "e5": 0.5}, "zscore", {"bm25": 0.0},
        {"bm25": lambda k: k == 3},
    )  # fmt: skip
    assert lifted[1] == plain[1] and lifted[2] == plain[2] and lifted[4] == plain[4]
    assert lifted[3] > plain[3] and lifted[3] > lifted[4]


def test_above_floor_keeps_documents_with_a_passage_at_the_floor() -> None:
    from kb.search.ranking import above_floor

    ranking = [("a", 3.0, 1), ("b", 2.0, 3), ("c", 1.0, 5), ("d", 0.5, 7)]
    doc_of = {1: "a", 2: "a", 3: "b", 4: "c", 5: "c", 7: "d"}.__getitem__
    similarity = {1: 0.01, 2: 0.05, 3: 0.02, 4: 0.04}  # d: no vector score at all
    assert above_floor(ranking, similarity, doc_of, 0.04) == [("a", 3.0, 1), ("c", 1.0, 5)]
    assert above_floor(ranking, similarity, doc_of, None) == ranking
    brute = [
        r for r in ranking if any(s >= 0.02 for c, s in similarity.items() if doc_of(c) == r[0])
    ]
    assert above_floor(ranking, similarity, doc_of, 0.02) == brute
