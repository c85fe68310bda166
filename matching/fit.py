"""Fit matrices between groups of a pool, and the reasons behind a pair's fit. Pure."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from matching.constraints import MatchWeights
from matching.explain import Reason, reasons
from matching.pool import Pool, positions_key
from matching.profiles import TextBank
from matching.scoring import (
    EvidenceLayout,
    aligned_similarity,
    coverage,
    iter_blocks,
    mean_by_owner,
)


def bank_view(pool: Pool, kind: str, owners: np.ndarray) -> tuple[TextBank, EvidenceLayout | None]:
    """Rows of the goal or evidence bank owned by ``owners`` (cached per owner set)."""

    def make() -> tuple[TextBank, EvidenceLayout | None]:
        if kind == "goals":
            rows = pool.goals.rows_of(owners)
            # English goals first: the scorer then works on contiguous row ranges.
            rows = rows[np.argsort(~pool.goals.english[rows], kind="stable")]
            return pool.goals.subset(rows), None
        layout, order = EvidenceLayout.arrange(pool.evidence.owners, owners)
        return pool.evidence.subset(order), layout

    if len(owners) < 64:  # one person's rows: cheap to build, not worth keeping
        return make()
    return pool.cached((kind, positions_key(owners)), make)


def coverage_of(
    pool: Pool, goal_owners: np.ndarray, evidence_owners: np.ndarray
) -> tuple[np.ndarray, TextBank]:
    """Coverage [goals of goal_owners, evidence_owners] and the goal rows it refers to."""
    goals, _ = bank_view(pool, "goals", goal_owners)
    evidence, layout = bank_view(pool, "evidence", evidence_owners)
    assert layout is not None
    profiles = None
    if pool.profiles is not None:
        # CSC: coverage() multiplies by the transpose, and a CSC matrix's transpose is the
        # CSR one it needs without a conversion (which cost ~1 ms per recommendation).
        rows = pool.profiles
        profiles = (
            rows[layout.columns]
            if len(evidence_owners) < 64
            else pool.cached(
                ("profile rows", positions_key(evidence_owners)),
                lambda: rows[layout.columns].tocsc(),
            )
        )
    return coverage(goals, evidence, layout, pool.config, profiles=profiles), goals


def fit_matrix(pool: Pool, learners: np.ndarray, teachers: np.ndarray) -> np.ndarray:
    """Mean coverage of each learner's goals by each teacher: [learners, teachers]; NaN rows
    for learners without goals."""
    learners = np.asarray(learners, dtype=np.int64)
    teachers = np.asarray(teachers, dtype=np.int64)
    cov, goals = coverage_of(pool, learners, teachers)
    return mean_by_owner(cov, goals.owners, learners)


def pair_scores(
    pool: Pool, mentees: np.ndarray, mentors: np.ndarray, weights: MatchWeights
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(score, expertise fit, teach-back fit), each [mentees, mentors].

    The score adds the weighted teach-back fit (0 where the mentor stated no goals) and the
    soft-preference bonus to the weighted expertise fit.
    """
    fit = fit_matrix(pool, mentees, mentors)
    teach = fit_matrix(pool, mentors, mentees).T
    prefs = pool.codes.preferences(mentees, mentors)
    score = np.empty_like(fit)
    for rows in iter_blocks(len(mentees), 256):  # small blocks: temporaries stay in cache
        score[rows] = weights.expertise * fit[rows]
        score[rows] += weights.teach_back * np.nan_to_num(teach[rows], nan=0.0)
        score[rows] += prefs.bonus(weights, rows)
    return score, fit, teach


def pair_rows(
    g_sorted: np.ndarray,
    g_start: np.ndarray,
    e_sorted: np.ndarray,
    e_start: np.ndarray,
    pairs: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Goal and evidence rows of every (learner goal, teacher item) combination of ``pairs``
    ([pairs, 2] of (learner, teacher)), pair after pair, goal-major; and each pair's offset.

    Rows of owner ``o`` are ``sorted[start[o] : start[o + 1]]`` (see ``Pool.owner_index``).
    """
    learners, teachers = pairs[:, 0], pairs[:, 1]
    n_goals = g_start[learners + 1] - g_start[learners]
    n_items = e_start[teachers + 1] - e_start[teachers]
    sizes = n_goals * n_items
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    pair = np.repeat(np.arange(len(pairs)), sizes)
    local = np.arange(int(sizes.sum())) - offsets[pair]
    goal, item = np.divmod(local, n_items[pair]) if len(local) else (local, local)
    return (
        g_sorted[g_start[learners][pair] + goal],
        e_sorted[e_start[teachers][pair] + item],
        offsets,
    )


def explain_pairs(
    pool: Pool, pairs: Sequence[tuple[int, int]], limit: int = 3
) -> list[list[Reason]]:
    """Reasons for many (learner, teacher) pairs: the learner's goals vs the teacher's evidence.

    All (goal, item) similarities of all pairs are computed in one vectorised pass.
    """
    g_sorted, g_start = pool.owner_index("goals")
    e_sorted, e_start = pool.owner_index("evidence")
    if not pairs:
        return []
    g_rows, e_rows, offsets = pair_rows(
        g_sorted, g_start, e_sorted, e_start, np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    )
    spans = []
    for (learner, teacher), offset in zip(pairs, offsets.tolist(), strict=True):
        spans.append(
            (
                offset,
                g_sorted[g_start[learner] : g_start[learner + 1]],
                e_sorted[e_start[teacher] : e_start[teacher + 1]],
            )
        )
    values = aligned_similarity(pool.goals, g_rows, pool.evidence, e_rows, pool.config)
    out = []
    for start, g, e in spans:
        sim = values[start : start + len(g) * len(e)].reshape(len(g), len(e))
        out.append(
            reasons([pool.goals.texts[r] for r in g], [pool.items[r] for r in e], sim, limit=limit)
        )
    return out
