"""Recommendations: the best mentors for a mentee, or mentees for a mentor. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from kb.i18n import N_, Text, Texts
from matching.constraints import MatchWeights
from matching.fit import explain_pairs, pair_scores
from matching.pool import Pool
from matching.results import Candidate, PersonRef, Recommendations

# Each reason a candidate is ruled out for, with its count (English: "2 management chain").
EXCLUSIONS: dict[str, str] = {
    "same person": N_("%(num)d same person"),
    "no common language": N_("%(num)d no common language"),
    "management chain": N_("%(num)d management chain"),
    "paired before": N_("%(num)d paired before"),
    "no free place": N_("%(num)d no free place"),
    "fit below minimum": N_("%(num)d fit below minimum"),
    "no goals": N_("%(num)d no goals"),
}


def describe_exclusions(counts: Mapping[str, int]) -> Texts:
    """Counts of ruled-out candidates as one phrase ("2 management chain, 1 no free place"),
    each part translatable."""
    return Texts(
        Text(EXCLUSIONS[reason], num=n) if reason in EXCLUSIONS else f"{n} {reason}"
        for reason, n in counts.items()
        if n
    )


def recommend(
    pool: Pool,
    person: int,
    others: Sequence[int],
    *,
    role: str,
    chains: Mapping[int, frozenset[int]],
    history: Iterable[tuple[int, int]] = (),
    free_places: Mapping[int, int] | None = None,
    weights: MatchWeights | None = None,
    limit: int = 10,
) -> Recommendations:
    """Best mentors for a mentee (``role="mentee"``) or mentees for a mentor (``"mentor"``).

    ``others`` are pool positions of the candidates; ``free_places`` (mentor position -> free
    places) rules out full mentors when recommending mentors.
    """
    weights = weights or MatchWeights()
    people = pool.participants
    me = people[person]
    candidates = np.asarray([o for o in others if o != person], dtype=np.int64)
    if role == "mentee":
        mentees, mentors = np.asarray([person]), candidates
    elif role == "mentor":
        mentees, mentors = candidates, np.asarray([person])
    else:
        raise ValueError(f"role must be mentee or mentor, not {role!r}")
    result = Recommendations(PersonRef.of(me), role, [], {}, None, weights)
    if role == "mentee" and not me.goals:
        result.message = Text(
            N_("%(name)s has no goals yet: add goals (separated by ';') to be matched"),
            name=me.name,
        )
        return result
    if role == "mentor" and not me.evidence:
        result.message = Text(N_("%(name)s has no evidence of expertise yet (stated "
                                 "expertise, published guides or shared insights)"),
                              name=me.name)  # fmt: skip
        return result
    if not len(candidates):
        result.message = Text(N_("nobody to recommend: no opted-in candidates"))
        return result
    elig = pool.eligibility(mentees, mentors, chains, history)
    allowed = elig.allowed()
    score, fit, teach = pair_scores(pool, mentees, mentors, weights)
    if role == "mentor":
        allowed, score, fit, teach = allowed[:, 0], score[:, 0], fit[:, 0], teach[:, 0]
        excluded = _sum_counts(elig.counts(i) for i in range(len(mentees)))
        no_goals = np.isnan(fit)
        if no_goals.any():
            excluded["no goals"] = int((no_goals & allowed).sum())
    else:
        allowed, score, fit, teach = allowed[0], score[0], fit[0], teach[0]
        excluded = elig.counts(0)
    if free_places is None:
        places = np.ones(len(mentors), dtype=np.int64)
    else:
        places = np.fromiter(
            (free_places.get(int(j), 1) for j in mentors), dtype=np.int64, count=len(mentors)
        )
    if role == "mentee":
        full = allowed & (places <= 0)
        if full.any():
            excluded["no free place"] = int(full.sum())
        allowed &= places > 0
    weak = allowed & ~(fit >= weights.min_fit)
    if (weak & ~np.isnan(fit)).any():
        excluded["fit below minimum"] = int((weak & ~np.isnan(fit)).sum())
    ok = np.flatnonzero(allowed & (fit >= weights.min_fit))
    order = ok[np.argsort(-score[ok], kind="stable")][:limit]
    if not len(order):
        result.excluded = excluded
        result.message = (
            Text(N_("no suitable candidate: %(exclusions)s"),
                 exclusions=describe_exclusions(excluded))
            if excluded else Text(N_("no suitable candidate"))
        )  # fmt: skip
        return result
    if role == "mentee":
        learn_pairs = [(person, int(candidates[k])) for k in order]
        teach_pairs = [(int(candidates[k]), person) for k in order]
    else:
        learn_pairs = [(int(candidates[k]), person) for k in order]
        teach_pairs = [(person, int(candidates[k])) for k in order]
    learn_reasons = explain_pairs(pool, learn_pairs)
    teach_reasons = explain_pairs(pool, teach_pairs)
    prefs = pool.codes.preferences(mentees, mentors).parts()
    for n, k in enumerate(order):
        other = people[int(candidates[k])]
        pi, pj = (0, k) if role == "mentee" else (k, 0)
        result.candidates.append(
            Candidate(
                person=PersonRef.of(other),
                score=float(score[k]),
                fit=float(fit[k]),
                teach_back=float(teach[k]) if np.isfinite(teach[k]) else None,
                preferences={name: float(part[pi, pj]) for name, part in prefs.items()},
                reasons=learn_reasons[n],
                teach_back_reasons=teach_reasons[n],
                free_places=int(places[k]) if role == "mentee" else None,
            )
        )
    result.excluded = excluded
    return result


def _sum_counts(items: Iterable[Mapping[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for counts in items:
        for key, value in counts.items():
            total[key] = total.get(key, 0) + value
    return total
