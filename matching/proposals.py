"""Proposals: the best set of pairs for a whole programme, and who stays unmatched and why.
Pure."""

from __future__ import annotations

import functools
import gc
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import ParamSpec, TypeVar

import numpy as np

from kb.i18n import N_, Text
from matching.assign import assign
from matching.constraints import Eligibility, MatchWeights
from matching.fit import explain_pairs, pair_scores
from matching.pool import Pool
from matching.recommendations import describe_exclusions
from matching.results import PersonRef, Proposal, ProposedPair, Unmatched

# The hard constraints' names (matching.constraints.BLOCK_REASONS), to translate.
BLOCK_WORDS: dict[str, str] = {
    "same person": N_("same person"),
    "no common language": N_("no common language"),
    "management chain": N_("management chain"),
    "paired before": N_("paired before"),
}


class _Clock:
    """Wall time per phase (summed when a phase repeats), for the proposal's stats."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.seconds[phase] = round(self.seconds.get(phase, 0.0) + now - self._last, 3)
        self._last = now


P = ParamSpec("P")
R = TypeVar("R")


def gc_paused(func: Callable[P, R]) -> Callable[P, R]:
    """Run ``func`` with cyclic garbage collection paused (and restored afterwards).

    A 10k proposal builds ~100k small objects (reasons, pairs, unmatched entries) but no
    reference cycles; the allocations alone set off ~130 collections, one of them full
    (~0.2 s in the benchmark, longer in a larger process such as a web worker).
    """

    @functools.wraps(func)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return func(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()

    return run


@gc_paused
def propose(
    pool: Pool,
    mentees: Sequence[int],
    mentors: Sequence[int],
    capacity: Sequence[int],
    *,
    chains: Mapping[int, frozenset[int]],
    history: Iterable[tuple[int, int]] = (),
    locked: Sequence[tuple[int, int]] = (),
    weights: MatchWeights | None = None,
    programme: str = "",
    explain: bool = True,
) -> Proposal:
    """The maximum-total-score assignment of ``mentees`` to ``mentors`` (pool positions).

    ``locked`` holds (mentee position, mentor position) pairs HR decided: they stay, use up
    capacity and are not re-optimised. Nobody matchable is not an error: everyone is then
    listed as unmatched with the reason.
    """
    weights = weights or MatchWeights()
    people = pool.participants
    mentees_arr = np.asarray(mentees, dtype=np.int64)
    mentors_arr = np.asarray(mentors, dtype=np.int64)
    capacity_arr = np.asarray(capacity, dtype=np.int64)
    if capacity_arr.shape != mentors_arr.shape:
        raise ValueError("one capacity per mentor")
    row_of = {int(p): r for r, p in enumerate(mentees_arr)}
    col_of = {int(p): c for c, p in enumerate(mentors_arr)}
    warnings: list[str] = []
    lock_rc: list[tuple[int, int]] = []
    for mentee, mentor in locked:
        if mentee not in row_of or mentor not in col_of:
            warnings.append(Text(
                N_("locked pair %(mentor)s / %(mentee)s is outside the programme's opted-in "
                   "participants and was kept out of the optimisation"),
                mentor=people[mentor].email, mentee=people[mentee].email,
            ))  # fmt: skip
            continue
        if any(r == row_of[mentee] for r, _ in lock_rc):
            warnings.append(Text(
                N_("%(mentee)s is locked to several mentors; kept one"),
                mentee=people[mentee].email,
            ))  # fmt: skip
            continue
        lock_rc.append((row_of[mentee], col_of[mentor]))

    n, m = len(mentees_arr), len(mentors_arr)
    proposal = Proposal(programme, [], [], [], 0.0, True, weights, warnings)
    if n == 0 or m == 0:
        proposal.warnings.append(Text(
            N_("no opted-in mentees: nobody can be matched") if n == 0
            else N_("no opted-in mentors: nobody can be matched")
        ))  # fmt: skip
        proposal.unmatched_mentees = [
            Unmatched(PersonRef.of(people[i]), N_("no opted-in mentor with a free place"))
            for i in mentees_arr
        ]
        proposal.unmatched_mentors = [
            Unmatched(PersonRef.of(people[j]), N_("no opted-in mentee"), free_places=int(c))
            for j, c in zip(mentors_arr, capacity_arr, strict=True)
        ]
        return proposal

    clock = _Clock()
    elig = pool.eligibility(mentees_arr, mentors_arr, chains, history)
    allowed = elig.allowed()
    clock.lap("constraints")
    score, fit, teach = pair_scores(pool, mentees_arr, mentors_arr, weights)
    clock.lap("scores")
    for r, c in lock_rc:
        reason = elig.reason(r, c)
        if reason is not None:
            warnings.append(Text(
                N_("locked pair %(mentor)s / %(mentee)s breaks a hard constraint "
                   "(%(reason)s); kept because HR locked it"),
                mentor=people[mentors_arr[c]].email, mentee=people[mentees_arr[r]].email,
                reason=Text(BLOCK_WORDS.get(reason, reason)),
            ))  # fmt: skip
    usable = allowed & (fit >= weights.min_fit)
    weight_matrix = np.where(usable, score, np.float32(np.nan)).astype(np.float32, copy=False)
    load = np.bincount([c for _, c in lock_rc], minlength=m)
    for c in np.flatnonzero(load > capacity_arr).tolist():
        warnings.append(Text(
            N_("%(mentor)s has more locked pairs (%(pairs)d) than capacity (%(capacity)d)"),
            mentor=people[mentors_arr[c]].email, pairs=int(load[c]),
            capacity=int(capacity_arr[c]),
        ))  # fmt: skip
    clock.lap("constraints")
    result = assign(weight_matrix, capacity_arr, lock_rc)
    clock.lap("assignment")
    proposal.certified = result.certified
    locked_rows = {r for r, _ in lock_rc}
    chosen = [(r, int(c)) for r, c in enumerate(result.mentor_of) if c >= 0]
    if explain:
        learn = explain_pairs(pool, [(int(mentees_arr[r]), int(mentors_arr[c])) for r, c in chosen])
        teach_r = explain_pairs(
            pool, [(int(mentors_arr[c]), int(mentees_arr[r])) for r, c in chosen]
        )
    else:
        learn = teach_r = [[] for _ in chosen]
    for k, (r, c) in enumerate(chosen):
        proposal.pairs.append(
            ProposedPair(
                mentor=PersonRef.of(people[mentors_arr[c]]),
                mentee=PersonRef.of(people[mentees_arr[r]]),
                score=float(score[r, c]),
                fit=float(fit[r, c]),
                teach_back=float(teach[r, c]) if np.isfinite(teach[r, c]) else None,
                locked=r in locked_rows,
                reasons=learn[k],
                teach_back_reasons=teach_r[k],
            )
        )
    clock.lap("explanations")
    proposal.total_score = float(result.total)
    proposal.unmatched_mentees = _unmatched_mentees(
        pool,
        mentees_arr,
        mentors_arr,
        capacity_arr,
        elig,
        fit,
        usable,
        result.mentor_of,
        weights,
    )
    proposal.unmatched_mentors, proposal.mentors_with_places = _unmatched_mentors(
        pool, mentors_arr, capacity_arr, usable, result.mentor_of
    )
    clock.lap("unmatched")
    proposal.stats = {
        "seconds": clock.seconds,
        "mentees": int(n),
        "mentors": int(m),
        "places": int(capacity_arr.sum()),
        "pairs": len(proposal.pairs),
        "locked": len(lock_rc),
        "candidate_pairs": int(usable.sum()),
        "optimiser_rounds": result.rounds,
    }
    return proposal


def _unmatched_mentees(
    pool: Pool,
    mentees: np.ndarray,
    mentors: np.ndarray,
    capacity: np.ndarray,
    elig: Eligibility,
    fit: np.ndarray,
    usable: np.ndarray,
    mentor_of: np.ndarray,
    weights: MatchWeights,
) -> list[Unmatched]:
    people = pool.participants
    out = []
    has_place = capacity > 0
    lost = np.flatnonzero(mentor_of < 0)
    facts = _unmatched_facts(fit, elig.allowed(), usable, has_place, lost)
    for r, no_goals, placed, best, n_usable, j in zip(lost.tolist(), *facts, strict=True):
        ref = PersonRef.of(people[mentees[r]])
        if no_goals:
            out.append(Unmatched(ref, N_("has no goals to match on: add goals (separated by ';')")))
            continue
        if not placed:
            eligible = elig.language[r] & ~elig.blocked_row(r)
            counts = elig.counts(r)
            full = int((eligible & ~has_place).sum())
            if full:
                counts["no free place"] = full
            out.append(Unmatched(ref, Text(N_("no eligible mentor: %(exclusions)s"),
                                           exclusions=describe_exclusions(counts))))  # fmt: skip
            continue
        if not n_usable:
            out.append(
                Unmatched(
                    ref,
                    Text(
                        N_(
                            "no eligible mentor covers these goals well enough (best fit "
                            "%(best).2f, minimum %(minimum).2f)"
                        ),
                        best=float(best),
                        minimum=float(weights.min_fit),
                    ),
                    best_fit=best,
                )
            )
            continue
        out.append(
            Unmatched(
                ref,
                Text(
                    N_(
                        "all %(num)d mentors who fit (best: %(name)s, fit %(fit).2f) are needed "
                        "for pairs with a higher total fit"
                    ),
                    num=int(n_usable),
                    name=people[mentors[j]].name,
                    fit=float(fit[r, j]),
                ),
                best_fit=float(fit[r, j]),
            )
        )
    return out


def _unmatched_facts(
    fit: np.ndarray,
    allowed: np.ndarray,
    usable: np.ndarray,
    has_place: np.ndarray,
    rows: np.ndarray,
    block: int = 512,
) -> tuple[list[bool], list[bool], list[float], list[int], list[int]]:
    """Per mentee row in ``rows``, vectorised: no goals (fit all NaN); any eligible mentor
    with a place; best fit among those (as float32, like ``nanmax``); usable mentors; the
    first usable mentor of highest fit (as ``nanargmax``). Rows with goals have finite fits,
    so -inf in place of NaN picks the same values."""
    no_goals, placed, best, n_usable, top = [], [], [], [], []
    for start in range(0, len(rows), block):
        part = rows[start : start + block]
        f, ok, use = fit[part], allowed[part] & has_place, usable[part]
        no_goals += np.isnan(f).all(axis=1).tolist()
        placed += ok.any(axis=1).tolist()
        best += np.where(ok, f, -np.inf).max(axis=1, initial=-np.inf).tolist()
        n_usable += use.sum(axis=1).tolist()
        top += np.where(use, f, -np.inf).argmax(axis=1).tolist()
    return no_goals, placed, best, n_usable, top


def _unmatched_mentors(
    pool: Pool,
    mentors: np.ndarray,
    capacity: np.ndarray,
    usable: np.ndarray,
    mentor_of: np.ndarray,
) -> tuple[list[Unmatched], list[Unmatched]]:
    """Mentors with free places and why: those without any mentee, and those with pairs
    (kept or proposed) and places left over."""
    people = pool.participants
    load = np.bincount(mentor_of[mentor_of >= 0], minlength=len(mentors))
    without: list[Unmatched] = []
    with_places: list[Unmatched] = []
    for c in np.flatnonzero(load < capacity):
        ref = PersonRef.of(people[mentors[c]])
        free = int(capacity[c] - load[c])
        others = usable[:, c] & (mentor_of != c)
        if not people[mentors[c]].evidence:
            reason = N_("no evidence to match on (stated expertise, guides or shared insights)")
        elif not usable[:, c].any():
            reason = N_("no mentee in the programme fits (or all are ruled out by constraints)")
        elif not others.any():
            reason = N_("no further mentee fits")
        else:
            reason = Text(N_("the %(num)d other mentee(s) who fit got pairs with a higher "
                             "total fit"), num=int(others.sum()))  # fmt: skip
        (with_places if load[c] else without).append(Unmatched(ref, reason, free_places=free))
    return without, with_places
