"""The optimiser against brute force: same optimum, every constraint respected."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from matching.assign import AssignmentError, _pair_ids, assign, top_columns, top_rows


def brute_force(weights: np.ndarray, capacity: np.ndarray, locked: dict[int, int]) -> float:
    """Best total over every feasible assignment (locked rows fixed, others free)."""
    n, m = weights.shape
    options = []
    for i in range(n):
        if i in locked:
            options.append([locked[i]])
        else:
            options.append(
                [-1] + [j for j in range(m) if np.isfinite(weights[i, j]) and weights[i, j] > 0]
            )
    best = -np.inf
    for combo in itertools.product(*options):
        ok = True
        for j in range(m):
            n_locked = sum(1 for jj in locked.values() if jj == j)
            n_free = sum(1 for i, jj in enumerate(combo) if jj == j and i not in locked)
            if n_free > max(capacity[j] - n_locked, 0):
                ok = False
                break
        if ok:
            total = sum(
                weights[i, j] for i, j in enumerate(combo) if j >= 0 and np.isfinite(weights[i, j])
            )
            best = max(best, total)
    return float(best)


def check_feasible(
    weights: np.ndarray, capacity: np.ndarray, locked: dict[int, int], mentor_of: np.ndarray
) -> None:
    for i, j in locked.items():
        assert mentor_of[i] == j
    for i, j in enumerate(mentor_of):
        if j >= 0 and i not in locked:
            assert np.isfinite(weights[i, j]) and weights[i, j] > 0, "forbidden pair used"
    for j in range(weights.shape[1]):
        n_locked = sum(1 for jj in locked.values() if jj == j)
        n_free = sum(1 for i, jj in enumerate(mentor_of) if jj == j and i not in locked)
        assert n_free <= max(capacity[j] - n_locked, 0), "capacity exceeded"


@pytest.mark.parametrize("seed", range(6))
def test_matches_brute_force_on_small_random_cases(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(60):
        n, m = int(rng.integers(1, 7)), int(rng.integers(1, 4))
        weights = rng.random((n, m)).round(2) - 0.15  # some pairs worth nothing
        weights[rng.random((n, m)) < 0.2] = np.nan  # hard constraints
        capacity = rng.integers(0, 3, m)
        locked: dict[int, int] = {}
        if rng.random() < 0.3:
            i, j = int(rng.integers(n)), int(rng.integers(m))
            locked[i] = j
        result = assign(
            weights,
            capacity,
            list(locked.items()),
            top_k=int(rng.integers(1, 4)),
            per_place=int(rng.integers(0, 3)),
        )
        check_feasible(weights, capacity, locked, result.mentor_of)
        assert result.total == pytest.approx(brute_force(weights, capacity, locked), abs=1e-5)
        assert result.certified


def test_sparse_candidates_are_certified_against_the_full_problem() -> None:
    """With a tiny top_k the certificate must pull in the pairs that matter."""
    rng = np.random.default_rng(7)
    n, m = 300, 40
    themes_e, themes_m = rng.integers(0, 5, n), rng.integers(0, 5, m)
    weights = rng.random((n, m)) * 0.3 + 0.6 * (themes_e[:, None] == themes_m[None, :])
    weights[rng.random((n, m)) < 0.1] = np.nan
    capacity = rng.integers(1, 4, m)
    full = assign(weights, capacity, top_k=m)
    for per_place in (0, 1, 30):
        sparse = assign(weights, capacity, top_k=2, per_place=per_place)
        assert sparse.total == pytest.approx(full.total, rel=1e-6)
        assert np.array_equal(sparse.mentor_of, full.mentor_of)
        check_feasible(weights, capacity, {}, sparse.mentor_of)
    assert assign(weights, capacity, top_k=1, per_place=0).rounds > 1  # the loop did run


def test_prefers_the_better_total_over_a_greedy_choice() -> None:
    # Greedy would give mentee 0 its best mentor (0) and leave mentee 1 with nobody.
    weights = np.array([[0.9, 0.8], [0.85, np.nan]])
    result = assign(weights, [1, 1])
    assert list(result.mentor_of) == [1, 0]
    assert result.total == pytest.approx(1.65)


def test_nobody_matchable_is_not_an_error() -> None:
    result = assign(np.full((3, 2), np.nan), [2, 2])
    assert list(result.mentor_of) == [-1, -1, -1]
    assert result.total == 0.0
    assert assign(np.ones((2, 2)), [0, 0]).pairs() == []


def test_inconsistent_input_is_rejected_clearly() -> None:
    with pytest.raises(AssignmentError, match="capacity"):
        assign(np.ones((2, 2)), [1])
    with pytest.raises(AssignmentError, match="locked to more than one"):
        assign(np.ones((2, 2)), [1, 1], locked=[(0, 0), (0, 1)])
    with pytest.raises(AssignmentError, match="out of range"):
        assign(np.ones((2, 2)), [1, 1], locked=[(5, 0)])


def test_top_columns_and_rows_pick_the_k_largest() -> None:
    rng = np.random.default_rng(3)
    values = rng.random((50, 30)).astype(np.float32)
    values[rng.random(values.shape) < 0.5] = 0.0
    for k in (1, 5, 29):
        for block in (1, 7, 256):
            for matrix, got in (
                (values, top_columns(values, k, block)),
                (values.T, top_rows(values, k, block)),
            ):
                assert got.shape == (len(matrix), k)
                for row, cols in zip(matrix, got, strict=True):
                    assert np.array_equal(np.sort(row[cols]), np.sort(row)[-k:])
                    assert len(set(cols.tolist())) == k


def test_top_rows_leaves_a_single_column_matrix_untouched() -> None:
    values = np.array([[0.5], [0.0], [0.9]], dtype=np.float32)
    assert sorted(top_rows(values, 2)[0].tolist()) == [0, 2]
    assert values.ravel().tolist() == [0.5, 0.0, pytest.approx(0.9)]


def test_pair_ids_are_the_sorted_distinct_ids() -> None:
    rng = np.random.default_rng(3)
    for n, m, size in ((1, 1, 0), (1, 1, 3), (30, 7, 500)):
        rows, cols = rng.integers(0, n, size), rng.integers(0, m, size)
        assert np.array_equal(_pair_ids(rows, cols, n, m), np.unique(rows * m + cols))
