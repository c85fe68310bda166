"""Score fusion: small pure functions over ``{key: score}`` maps.

Signals (BM25, one per vector model) score different candidate sets on different scales. A
convex combination first maps each signal's scores to a common scale, then sums them with
per-signal weights; reciprocal rank fusion (RRF) only looks at ranks. Keys missing from a
signal get that signal's floor (0 after normalisation): they were not among its best.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)
D = TypeVar("D", bound=Hashable)

NORMALISATIONS = ("minmax", "zscore", "dbsf", "max", "none")
METHODS = ("convex", "rrf")


def ranked(scores: Mapping[K, float], limit: int | None = None) -> list[tuple[K, float]]:
    """Keys by descending score; ties keep insertion order (stable)."""
    items = sorted(scores.items(), key=lambda kv: -kv[1])
    return items if limit is None else items[:limit]


def minmax(scores: Mapping[K, float]) -> dict[K, float]:
    """Map to [0, 1]: the best gets 1, the worst 0 (all 1 when every score is equal)."""
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    if high == low:
        return {k: 1.0 for k in scores}
    return {k: (v - low) / (high - low) for k, v in scores.items()}


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    mu = sum(values) / len(values)
    return mu, math.sqrt(sum((v - mu) ** 2 for v in values) / len(values))


def zscore(scores: Mapping[K, float]) -> dict[K, float]:
    """Standard scores (mean 0, deviation 1).

    Equal scores (a single candidate, say a rare word only one passage has) all get 1, not 0:
    like min-max, "all equal" counts as "all best", so such a match still adds its weight.
    """
    if not scores:
        return {}
    mu, sd = _mean_std(list(scores.values()))
    if sd == 0:
        return {k: 1.0 for k in scores}
    return {k: (v - mu) / sd for k, v in scores.items()}


def dbsf(scores: Mapping[K, float]) -> dict[K, float]:
    """Distribution-based score fusion scaling: min-max between mean - 3 sd and mean + 3 sd."""
    if not scores:
        return {}
    mu, sd = _mean_std(list(scores.values()))
    if sd == 0:
        return {k: 1.0 for k in scores}
    low, high = mu - 3 * sd, mu + 3 * sd
    return {k: min(max((v - low) / (high - low), 0.0), 1.0) for k, v in scores.items()}


def max_scaled(scores: Mapping[K, float]) -> dict[K, float]:
    """Divide by the best score (keeps how far apart the scores are, unlike min-max)."""
    if not scores:
        return {}
    high = max(scores.values())
    if high <= 0:
        return minmax(scores)
    return {k: v / high for k, v in scores.items()}


def normalise(scores: Mapping[K, float], method: str) -> dict[K, float]:
    """Apply one of ``NORMALISATIONS``."""
    functions: dict[str, Callable[[Mapping[K, float]], dict[K, float]]] = {
        "minmax": minmax,
        "zscore": zscore,
        "dbsf": dbsf,
        "max": max_scaled,
        "none": dict,
    }
    if method not in functions:
        raise ValueError(f"unknown normalisation {method!r}; use one of {NORMALISATIONS}")
    return functions[method](scores)


def convex(
    signals: Mapping[str, Mapping[K, float]],
    weights: Mapping[str, float],
    method: str = "minmax",
    floors: Mapping[str, float] | None = None,
    stand_in: Mapping[str, Callable[[K], bool]] | None = None,
    found_floor: bool = True,
) -> dict[K, float]:
    """Weighted sum of normalised signals over the union of their keys.

    A key absent from a signal takes that signal's lowest normalised value (its floor: it was
    not among the signal's best). When the raw score of every absent key is known, give it in
    ``floors`` (BM25 of a passage without any query word is 0, and a BM25 list shorter than
    the asked depth is complete): the signal is then normalised together with that value, so
    even a single match stands above the passages without the words. Signals without a
    weight are ignored.

    ``stand_in[name](key)`` says that ``name`` could never have scored ``key`` (BM25 and a
    passage in another language than the query): such a key, when absent from ``name``, takes
    the weighted mean of its normalised values in the other signals instead of the floor, so
    it is neither punished nor rewarded for what that signal cannot see. With ``found_floor``
    that stand-in is also the least such a key gets when ``name`` did score it: what BM25
    finds in another language than the query is a few shared tokens (a name, a number),
    partial evidence that must not score below no evidence at all.
    """
    floors = floors or {}
    stand_in = stand_in or {}
    used = {name: s for name, s in signals.items() if weights.get(name, 0.0) != 0.0}
    keys: dict[K, None] = {}
    for scores in used.values():
        keys.update(dict.fromkeys(scores))
    norms: dict[str, tuple[dict[K, float], float]] = {}
    for name, scores in used.items():
        if name in floors:
            padded = normalise(
                {**{(0, k): v for k, v in scores.items()}, (1, None): floors[name]}, method
            )
            floor = padded.pop((1, None))
            norm = {k: v for (_, k), v in padded.items()}
        else:
            norm = normalise(scores, method)
            floor = min(norm.values()) if norm else 0.0
            floor = min(floor, 0.0) if method in ("zscore", "none") else 0.0
        norms[name] = (norm, floor)
    fused: dict[K, float] = {}
    for key in keys:
        total = 0.0
        for name, (norm, floor) in norms.items():
            if name in stand_in and len(norms) > 1 and stand_in[name](key):
                others = [(weights[o], n.get(key, f)) for o, (n, f) in norms.items() if o != name]
                mean = sum(w * v for w, v in others) / sum(w for w, _ in others)
                if key not in norm:
                    total += weights[name] * mean
                else:
                    total += weights[name] * (max(norm[key], mean) if found_floor else norm[key])
            elif key in norm:
                total += weights[name] * norm[key]
            else:
                total += weights[name] * floor
        fused[key] = total
    return fused


def rrf(
    rankings: Mapping[str, Sequence[K]],
    k: float = 60.0,
    weights: Mapping[str, float] | None = None,
) -> dict[K, float]:
    """Reciprocal rank fusion: sum over rankings of weight / (k + rank), rank from 1."""
    fused: dict[K, float] = {}
    for name, ranking in rankings.items():
        weight = 1.0 if weights is None else weights.get(name, 0.0)
        if weight == 0.0:
            continue
        for rank, key in enumerate(ranking, start=1):
            fused[key] = fused.get(key, 0.0) + weight / (k + rank)
    return fused


def group_max(scores: Mapping[K, float], group_of: Callable[[K], D]) -> dict[D, tuple[float, K]]:
    """Per group (document), the best member's score and that member (passage)."""
    best: dict[D, tuple[float, K]] = {}
    for key, score in scores.items():
        group = group_of(key)
        if group not in best or score > best[group][0]:
            best[group] = (score, key)
    return best
