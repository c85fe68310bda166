"""Exact capacity-constrained assignment of mentees to mentors (maximum total weight).

Problem: each mentee gets at most one mentor, mentor ``j`` takes at most ``capacity[j]``
mentees, a pair may be used only if its weight is finite and positive (NaN marks a pair a hard
constraint forbids), and the sum of the weights of the chosen pairs is maximal. Locked pairs are
fixed in advance and use up capacity.

Method: capacity slots + one "unmatched" column per mentee make it a rectangular assignment
problem, solved exactly on a sparse graph by ``scipy.sparse.csgraph.
min_weight_full_bipartite_matching`` (LAPJVsp). To stay small at 10,000 x 2,000 only each
mentee's ``top_k`` best mentors enter the graph, and the result is then *proved* optimal for the
full problem with a dual certificate:

The LP relaxation of this b-matching is integral, with dual ``min sum(u) + sum(capacity * p)``
subject to ``u_i + p_j >= w_ij`` and ``u, p >= 0``. From the restricted optimum we compute the
smallest mentor prices ``p`` consistent with complementary slackness (a longest-path problem
over mentors), set ``u_i = w_i,mentor(i) - p_mentor(i)`` (0 if unmatched), and check every
allowed pair of the *full* matrix. If ``u_i + p_j >= w_ij`` holds everywhere, ``(u, p)`` is a
feasible dual whose value equals the primal value, so no assignment can do better. Otherwise
the violating pairs join the graph and the loop repeats; it ends because each round adds pairs
and the full graph is certified trivially.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

from kb.errors import ValidationError

TOLERANCE = 1e-7


class AssignmentError(ValidationError):
    """Inconsistent input to the optimiser (shapes, locks); the service reports it clearly."""


@dataclass
class Assignment:
    """The optimiser's answer: ``mentor_of[i]`` is a mentor column or -1 (unmatched)."""

    mentor_of: np.ndarray
    total: float
    certified: bool  # optimality proven against every allowed pair, not only the candidates
    rounds: int
    candidate_pairs: int
    prices: np.ndarray  # dual value of one unit of each mentor's capacity

    def pairs(self) -> list[tuple[int, int]]:
        return [(int(i), int(j)) for i, j in enumerate(self.mentor_of) if j >= 0]


def _validate(weights: np.ndarray, capacity: np.ndarray, locked: Sequence[tuple[int, int]]) -> None:
    n, m = weights.shape
    if capacity.shape != (m,):
        raise AssignmentError(f"capacity has {capacity.shape[0]} entries for {m} mentors")
    if (capacity < 0).any():
        raise AssignmentError("capacity must not be negative")
    seen: set[int] = set()
    for i, j in locked:
        if not (0 <= i < n and 0 <= j < m):
            raise AssignmentError(f"locked pair ({i}, {j}) is out of range")
        if i in seen:
            raise AssignmentError(f"mentee {i} is locked to more than one mentor")
        seen.add(i)


def _solve_sparse(
    rows: np.ndarray, cols: np.ndarray, gains: np.ndarray, capacity: np.ndarray, n: int
) -> np.ndarray:
    """Exact max-weight b-matching on the given edges; returns mentor per mentee or -1."""
    mentor_of = np.full(n, -1, dtype=np.int64)
    keep = (gains > 0) & (capacity[cols] > 0)
    rows, cols, gains = rows[keep], cols[keep], gains[keep]
    if not len(rows):
        return mentor_of
    # Capacity slots: mentor j owns columns slot_start[j] .. slot_start[j] + capacity[j] - 1.
    slot_start = np.concatenate([[0], np.cumsum(capacity)]).astype(np.int64)
    slots = int(slot_start[-1])
    per_edge = capacity[cols].astype(np.int64)
    edge_rows = np.repeat(rows, per_edge)
    offsets = np.arange(per_edge.sum()) - np.repeat(np.cumsum(per_edge) - per_edge, per_edge)
    edge_cols = np.repeat(slot_start[cols], per_edge) + offsets
    ceiling = float(gains.max()) + 1.0  # costs must stay > 0: zeros would be missing edges
    edge_costs = np.repeat(ceiling - gains, per_edge)
    # Every row also gets its own "unused" column at cost ``ceiling`` (gain 0). LAPJVsp works
    # row by row, so the smaller side (mentees or capacity slots) becomes the rows.
    if slots < n:
        graph = sparse.csr_matrix(
            (
                np.concatenate([edge_costs, np.full(slots, ceiling)]),
                (
                    np.concatenate([edge_cols, np.arange(slots)]),
                    np.concatenate([edge_rows, n + np.arange(slots)]),
                ),
            ),
            shape=(slots, n + slots),
        )
        slot_ind, mentee_ind = min_weight_full_bipartite_matching(graph)
        real = mentee_ind < n
        mentor_of[mentee_ind[real]] = np.searchsorted(slot_start, slot_ind[real], side="right") - 1
        return mentor_of
    graph = sparse.csr_matrix(
        (
            np.concatenate([edge_costs, np.full(n, ceiling)]),
            (
                np.concatenate([edge_rows, np.arange(n)]),
                np.concatenate([edge_cols, slots + np.arange(n)]),
            ),
        ),
        shape=(n, slots + n),
    )
    row_ind, col_ind = min_weight_full_bipartite_matching(graph)
    real = col_ind < slots
    mentor_of[row_ind[real]] = np.searchsorted(slot_start, col_ind[real], side="right") - 1
    return mentor_of


def _prices(
    rows: np.ndarray,
    cols: np.ndarray,
    gains: np.ndarray,
    mentor_of: np.ndarray,
    own_gain: np.ndarray,
    capacity: np.ndarray,
) -> np.ndarray | None:
    """Smallest mentor prices satisfying complementary slackness with the matching, or None.

    ``own_gain[i]`` is the weight of mentee ``i`` with its own mentor (unused if unmatched).
    """
    m = len(capacity)
    usable = (gains > 0) & (capacity[cols] > 0)
    rows, cols, gains = rows[usable], cols[usable], gains[usable]
    prices = np.zeros(m, dtype=np.float64)
    partner = mentor_of[rows]
    free = partner < 0
    # Unmatched mentees earn nothing, so every mentor they could have had must cost >= gain.
    np.maximum.at(prices, cols[free], gains[free])
    # A matched mentee must not prefer another candidate: p_j >= p_own + w_ij - w_i,own.
    other = ~free & (cols != partner)
    src, dst = partner[other], cols[other]
    step = gains[other] - own_gain[rows[other]]
    for _ in range(m + 2):  # Bellman-Ford (longest paths); converges in few rounds in practice
        proposal = prices[src] + step
        better = proposal > prices[dst] + TOLERANCE
        if not better.any():
            break
        np.maximum.at(prices, dst[better], proposal[better])
    else:  # a positive cycle: the matching was not optimal on its own graph
        return None
    load = np.bincount(mentor_of[mentor_of >= 0], minlength=m)
    if (prices[load < capacity] > TOLERANCE).any():
        return None
    return prices


def top_columns(values: np.ndarray, k: int, block: int = 256) -> np.ndarray:
    """Column indices of the ``k`` largest values of each row, in no particular order
    (``0 < k < columns``), a block of rows at a time.

    Each block is negated and its ``k`` smallest taken: numpy's introselect is several times
    slower with ``kth`` near the end of rows that are mostly equal values (the zeros of
    forbidden pairs). Blocks keep the negated copy and argpartition's full index array small
    (whole-matrix ones were 80 + 160 MB of fresh memory at 10k x 2k, mostly page faults).
    """
    out = np.empty((values.shape[0], k), dtype=np.intp)
    for start in range(0, values.shape[0], block):
        rows = slice(start, start + block)
        out[rows] = np.argpartition(np.negative(values[rows]), k - 1, axis=1)[:, :k]
    return out


def top_rows(values: np.ndarray, k: int, block: int = 128) -> np.ndarray:
    """Row indices of the ``k`` largest values of each column: [columns, k], in no particular
    order (``0 < k < rows``). Partitions contiguous transposed blocks of columns."""
    out = np.empty((values.shape[1], k), dtype=np.intp)
    for start in range(0, values.shape[1], block):
        cols = slice(start, start + block)
        tile = np.negative(values[:, cols].T, order="C")  # a copy: never negate ``values``
        out[cols] = np.argpartition(tile, k - 1, axis=1)[:, :k]
    return out


def _violations(
    usable: np.ndarray, prices: np.ndarray, u: np.ndarray, block: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs whose dual constraint ``u_i + p_j >= w_ij`` fails (checked in row blocks that
    stay in cache; the float64 work arrays are reused from block to block)."""
    found_i, found_j = [], []
    excess = np.empty((min(block, usable.shape[0]), usable.shape[1]))
    bad = np.empty(excess.shape, dtype=bool)
    positive = np.empty(excess.shape, dtype=bool)
    for start in range(0, usable.shape[0], block):
        part = usable[start : start + block]
        rows = len(part)
        np.subtract(part, prices[None, :], out=excess[:rows])
        np.subtract(excess[:rows], u[start : start + block, None], out=excess[:rows])
        np.greater(excess[:rows], TOLERANCE, out=bad[:rows])
        np.greater(part, 0, out=positive[:rows])
        bad[:rows] &= positive[:rows]
        i, j = np.nonzero(bad[:rows])
        found_i.append(i + start)
        found_j.append(j)
    return np.concatenate(found_i), np.concatenate(found_j)


def _pair_ids(rows: np.ndarray, cols: np.ndarray, n: int, m: int) -> np.ndarray:
    """Distinct pair ids ``i * m + j``, sorted. A mask over all pairs: numpy's hash-based
    ``unique`` took over a second for the half a million candidates of a 10k proposal."""
    mask = np.zeros(n * m, dtype=bool)
    mask[rows * m + cols] = True
    return np.flatnonzero(mask)


def _total(weights: np.ndarray, mentor_of: np.ndarray) -> float:
    """Sum of the original weights of the chosen pairs (locked pairs with NaN count 0)."""
    rows = np.flatnonzero(mentor_of >= 0)
    values = weights[rows, mentor_of[rows]].astype(np.float64)
    return float(values[np.isfinite(values)].sum())


def assign(
    weights: np.ndarray,
    capacity: Sequence[int] | np.ndarray,
    locked: Sequence[tuple[int, int]] = (),
    top_k: int = 24,
    per_place: int = 30,
    max_rounds: int = 25,
) -> Assignment:
    """Maximum-weight assignment (see module docstring). ``weights``: [mentees, mentors]."""
    weights = np.asarray(weights)
    if weights.ndim != 2:
        raise AssignmentError("weights must be a mentees x mentors matrix")
    n, m = weights.shape
    capacity = np.asarray(capacity, dtype=np.int64).reshape(-1)
    _validate(weights, capacity, locked)
    mentor_of = np.full(n, -1, dtype=np.int64)
    remaining = capacity.copy()
    for i, j in locked:
        mentor_of[i] = j
        remaining[j] -= 1
    remaining = np.maximum(remaining, 0)
    free_rows = np.flatnonzero(mentor_of < 0)
    # float32 is plenty for fit scores and halves memory at 10,000 x 2,000; all arithmetic of
    # the solver and the certificate runs on these same float32 values promoted to float64.
    usable = np.where((weights > 0) & (weights < np.inf), weights, 0.0).astype(
        np.float32, copy=False
    )
    usable[:, remaining == 0] = 0.0
    usable[mentor_of >= 0] = 0.0

    # Initial candidates: each free mentee's top_k usable mentors, and each mentor's best
    # mentees (``per_place`` per free place of the roomiest mentor). Mentors few mentees
    # rank highly fill up from deep in their column: with 4 per place the 10k benchmark
    # needed 2-4 rounds (each a full re-solve), with 30 one round at every size tried.
    k = min(top_k, m)
    if k == 0 or not len(free_rows):
        return Assignment(mentor_of, _total(weights, mentor_of), True, 0, 0, np.zeros(m))
    # Locked rows are all zero in ``usable``, so the whole matrix stands in for the free rows:
    # a zero never becomes a candidate (see ``nonzero`` below).
    if k < m:
        top = top_columns(usable, k)
    else:
        top = np.tile(np.arange(m), (n, 1))
    cand_rows = [np.repeat(np.arange(n), top.shape[1])]
    cand_cols = [top.ravel()]
    per_mentor = min(len(free_rows), int(per_place * remaining.max(initial=0)))
    if 0 < per_mentor < len(free_rows):
        best = top_rows(usable, per_mentor)  # [mentors, per_mentor]
        cand_rows.append(best.ravel())
        cand_cols.append(np.repeat(np.arange(m), per_mentor))
    elif per_mentor:
        cand_rows.append(np.repeat(free_rows, m))
        cand_cols.append(np.tile(np.arange(m), len(free_rows)))
    cand_rows_arr, cand_cols_arr = np.concatenate(cand_rows), np.concatenate(cand_cols)
    nonzero = usable[cand_rows_arr, cand_cols_arr] > 0
    edges = _pair_ids(cand_rows_arr[nonzero], cand_cols_arr[nonzero], n, m)

    prices = np.zeros(m)
    for round_no in range(1, max_rounds + 1):
        rows, cols = edges // m, edges % m
        gains = usable[rows, cols].astype(np.float64)
        result = _solve_sparse(rows, cols, gains, remaining, n)
        solution = np.where(mentor_of >= 0, mentor_of, result)
        has = np.flatnonzero(result >= 0)
        own_gain = np.zeros(n)
        own_gain[has] = usable[has, result[has]].astype(np.float64)
        found = _prices(rows, cols, gains, result, own_gain, remaining)
        if found is None:
            break  # numerical trouble: fall back to the full graph below
        prices = found
        u = np.zeros(n)
        u[has] = own_gain[has] - prices[result[has]]
        # Certificate over the full matrix: any pair with w_ij - p_j > u_i could improve.
        vi, vj = _violations(usable, prices, u)
        if not len(vi):
            return Assignment(
                solution, _total(weights, solution), True, round_no, len(edges), prices
            )
        edges = _pair_ids(np.concatenate([edges // m, vi]), np.concatenate([edges % m, vj]), n, m)

    # Fallback: every usable pair (exact by construction, only slower and bigger).
    rows, cols = np.nonzero(usable > 0)
    result = _solve_sparse(rows, cols, usable[rows, cols].astype(np.float64), remaining, n)
    solution = np.where(mentor_of >= 0, mentor_of, result)
    return Assignment(solution, _total(weights, solution), True, max_rounds + 1, len(rows), prices)
