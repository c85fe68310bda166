"""Coverage gaps: mentee goals no available mentor covers, grouped into themes. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

from matching.fit import bank_view, coverage_of
from matching.lexical import Lexicon
from matching.pool import Pool
from matching.profiles import TextBank
from matching.results import GapGoal, GapTheme, PersonRef
from matching.scoring import similarity

DEFAULT_GAP_THRESHOLD = 0.2
THEME_SIMILARITY = 0.35


def find_gaps(
    pool: Pool,
    mentees: Sequence[int],
    mentors: Sequence[int],
    *,
    chains: Mapping[int, frozenset[int]],
    history: Iterable[tuple[int, int]] = (),
    threshold: float = DEFAULT_GAP_THRESHOLD,
    theme_similarity: float = THEME_SIMILARITY,
) -> list[GapTheme]:
    """Mentee goals no available mentor covers at ``threshold`` or more, grouped into themes.

    A goal counts as covered only by mentors the mentee could actually be paired with (hard
    constraints). Themes: average-linkage clusters of the goals' fused similarity, cut at
    ``theme_similarity``; each is named by its most central goal. Largest themes first.
    """
    people = pool.participants
    mentees_arr = np.asarray(mentees, dtype=np.int64)
    mentors_arr = np.asarray(mentors, dtype=np.int64)
    goals_bank, _ = bank_view(pool, "goals", mentees_arr)
    if not len(goals_bank):
        return []
    if len(mentors_arr):
        cov, _ = coverage_of(pool, mentees_arr, mentors_arr)
        allowed = pool.eligibility(mentees_arr, mentors_arr, chains, history).allowed()
        row = {int(p): r for r, p in enumerate(mentees_arr)}
        goal_allowed = allowed[[row[int(o)] for o in goals_bank.owners]]
        masked = np.where(goal_allowed, cov, -np.inf)
        best_col = masked.argmax(axis=1)
        best = masked[np.arange(len(masked)), best_col]
        best = np.where(np.isfinite(best), best, 0.0)
    else:
        best_col = np.zeros(len(goals_bank), dtype=np.int64)
        best = np.zeros(len(goals_bank), dtype=np.float32)
    gap_rows = np.flatnonzero(best < threshold)
    if not len(gap_rows):
        return []
    gap_goals = [
        GapGoal(
            goal=goals_bank.texts[r],
            mentee=PersonRef.of(people[int(goals_bank.owners[r])]),
            best=float(best[r]),
            best_mentor=(
                PersonRef.of(people[int(mentors_arr[best_col[r]])])
                if len(mentors_arr) and best[r] > 0
                else None
            ),
        )
        for r in gap_rows
    ]
    themes = _themes(pool, goals_bank.subset(gap_rows), theme_similarity)
    out = []
    for members, centre in themes:
        out.append(
            GapTheme(
                theme=gap_goals[centre].goal,
                goals=sorted((gap_goals[i] for i in members), key=lambda g: g.best),
            )
        )
    out.sort(key=lambda t: (-len(t.goals), t.best))
    return out


def _themes(pool: Pool, goals: TextBank, min_similarity: float) -> list[tuple[list[int], int]]:
    """Clusters of goal rows (average linkage on 1 - fused similarity) and each centre."""
    n = len(goals)
    if n == 1:
        return [([0], 0)]
    sim = similarity(goals, goals, pool.config).astype(np.float64)
    if pool.config.uses_lexical:
        # Shared words count too, weighed among the goals themselves: uncovered goals use
        # words the evidence lexicon may not even know.
        words = Lexicon.fit(goals.texts).transform(goals.texts)
        sim = (sim + (words @ words.T).toarray()) / 2
    sim = (sim + sim.T) / 2
    np.fill_diagonal(sim, 1.0)
    distance = np.clip(1.0 - sim, 0.0, None)
    np.fill_diagonal(distance, 0.0)
    labels = fcluster(
        linkage(squareform(distance, checks=False), method="average"),
        t=1.0 - min_similarity,
        criterion="distance",
    )
    out = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        centre = members[np.argmax(sim[np.ix_(members, members)].mean(axis=1))]
        out.append(([int(i) for i in members], int(centre)))
    return out
