"""Expertise-matching quality on the public reviewer gold standard (lower loss is better).

``reviewer-expertise`` (Stelmakh et al. 2023): 58 researchers rated their expertise for papers.
Each researcher becomes a :class:`~matching.profiles.Participant` whose evidence is their papers,
chunked and titled exactly like a mentor's published guides; each rated paper becomes a goal.
Coverage of the goal by the person is the predicted affinity, scored with the set's loss:
weighted pairwise ordering errors over each person's rated papers (ties count half),
normalised by the weight of all pairs; a constant predictor scores 0.5.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from kb.chunking import chunk_text, embedding_text
from kb.embedding import Embedder
from kb.errors import ValidationError
from matching.lexical import Lexicon
from matching.pool import profile_documents
from matching.profiles import Evidence, Participant, build_bank, embed_texts, source_codes
from matching.scoring import DEFAULT_CONFIG, LEXICAL, EvidenceLayout, ScoringConfig, coverage

DEV_DRAWS = (1, 2, 3, 4, 5)
TEST_DRAWS = (6, 7, 8, 9, 10)


def parse_draws(value: str | Sequence[int]) -> list[int]:
    """'6-10', '1,3,5' or a list of ints -> sorted distinct draw numbers in 1..10."""
    if not isinstance(value, str):
        draws = [int(v) for v in value]
    else:
        draws = []
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                if "-" in part:
                    lo, hi = (int(x) for x in part.split("-", 1))
                    draws.extend(range(lo, hi + 1))
                else:
                    draws.append(int(part))
            except ValueError as exc:
                raise ValidationError(
                    f"draws must look like '6-10' or '1,3,5', not {value!r}", field="draws"
                ) from exc
    if not draws or any(d < 1 or d > 10 for d in draws):
        raise ValidationError(f"draws must be numbers 1 to 10, got {value!r}", field="draws")
    return sorted(set(draws))


def reviewer_loss(
    predictions: Mapping[str, Mapping[str, float]], ratings: Mapping[str, Mapping[str, float]]
) -> float:
    """The gold standard's main metric (weighted Kendall-tau style loss, lower is better)."""
    loss = total = 0.0
    for person, rated in ratings.items():
        for p1, p2 in combinations(list(rated), 2):
            true_diff = rated[p1] - rated[p2]
            pred_diff = predictions[person][p1] - predictions[person][p2]
            total += abs(true_diff)
            if pred_diff * true_diff == 0:
                loss += abs(true_diff) / 2
            elif pred_diff * true_diff < 0:
                loss += abs(true_diff)
    if total == 0:
        raise ValidationError("the ratings contain no pair of differently rated papers")
    return loss / total


def load_ratings(folder: Path) -> dict[str, dict[str, float]]:
    """``data/evaluations.csv``: participant -> {paper id: self-rated expertise}."""
    path = folder / "data" / "evaluations.csv"
    if not path.is_file():
        raise ValidationError("missing data/evaluations.csv", source=str(folder))
    ratings: dict[str, dict[str, float]] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            rated = {}
            for i in range(1, 11):
                paper, value = row.get(f"Paper{i}") or "", row.get(f"Expertise{i}") or ""
                if paper.strip() and value.strip() and not math.isnan(float(value)):
                    rated[paper.strip()] = float(value)
            ratings[str(row["ParticipantID"]).strip()] = rated
    return ratings


def _paper_text(content: Mapping[str, Any]) -> tuple[str, str]:
    return (content.get("title") or "").strip(), (content.get("abstract") or "").strip()


def paper_evidence(paper_id: str, title: str, abstract: str) -> list[Evidence]:
    """A paper as a mentor's guide would be: chunks of its text, each carrying the title."""
    passages = chunk_text(abstract) or ([] if not title else [])
    items = [Evidence("guide", p.text, title=title, ref=paper_id, language="en") for p in passages]
    if not items and title:
        items = [Evidence("guide", title, ref=paper_id, language="en")]
    return items


@dataclass
class ReviewerDraw:
    """One ``d_20_<k>`` set: people with their papers as evidence, rated papers as goals."""

    draw: int
    people: list[Participant]
    goal_ids: list[str]
    goal_texts: list[str]

    @classmethod
    def load(cls, folder: Path, draw: int) -> ReviewerDraw:
        base = folder / "evaluation_datasets" / f"d_20_{draw}"
        if not (base / "submissions.json").is_file():
            raise ValidationError(f"missing {base / 'submissions.json'}")
        submissions = json.loads((base / "submissions.json").read_text(encoding="utf-8"))
        goal_ids, goal_texts = [], []
        for paper_id, paper in sorted(submissions.items()):
            title, abstract = _paper_text(paper["content"])
            goal_ids.append(paper_id)
            goal_texts.append(embedding_text(title, abstract))
        people = []
        for i, path in enumerate(sorted((base / "archives").glob("~*.jsonl"))):
            evidence: list[Evidence] = []
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    paper = json.loads(line)
                    evidence.extend(paper_evidence(paper["id"], *_paper_text(paper["content"])))
            person_id = path.stem.lstrip("~")
            people.append(
                Participant(
                    id=i,
                    email=person_id,
                    name=person_id,
                    languages=frozenset({"en"}),
                    roles=frozenset({"mentor"}),
                    evidence=tuple(evidence),
                )
            )
        return cls(draw=draw, people=people, goal_ids=goal_ids, goal_texts=goal_texts)


def default_embedders(specs: Sequence[str]) -> dict[str, Embedder]:
    """Real models behind the shared on-disk cache, so reruns take seconds."""
    import os

    from kb.config import load_settings
    from kb.embedding import CachedEmbedder, EmbeddingCache, create_embedder

    settings = load_settings(os.environ)
    cache = EmbeddingCache(settings.embedding_cache_path)
    return {spec: CachedEmbedder(create_embedder(spec, settings), cache) for spec in specs}


class ReviewerEvaluation:
    """Loads draws and their features once; scores any configuration over them quickly."""

    def __init__(
        self,
        folder: str | Path,
        embedders: Mapping[str, Embedder] | None = None,
        lexical_prefix: int = 6,
    ) -> None:
        self.folder = Path(folder)
        if not (self.folder / "evaluation_datasets").is_dir():
            raise ValidationError(
                "not a reviewer-expertise folder (no evaluation_datasets/)", source=str(self.folder)
            )
        self.ratings = load_ratings(self.folder)
        self.embedders = dict(embedders or {})
        self.lexical_prefix = lexical_prefix
        self._draws: dict[int, ReviewerDraw] = {}
        self._vectors: dict[tuple[int, str, str, str], np.ndarray] = {}

    def draw(self, k: int) -> ReviewerDraw:
        if k not in self._draws:
            self._draws[k] = ReviewerDraw.load(self.folder, k)
        return self._draws[k]

    def _embedder(self, spec: str) -> Embedder:
        if spec not in self.embedders:
            self.embedders.update(default_embedders([spec]))
        return self.embedders[spec]

    def _dense(self, k: int, spec: str, what: str, side: str, texts: list[str]) -> np.ndarray:
        key = (k, spec, what, side)
        if key not in self._vectors:
            self._vectors[key] = embed_texts(self._embedder(spec), texts, side)
        return self._vectors[key]

    def predictions(self, k: int, config: ScoringConfig) -> dict[str, dict[str, float]]:
        """Predicted affinity of every person to every rated paper of draw ``k``."""
        draw = self.draw(k)
        items = [(i, e) for i, p in enumerate(draw.people) for e in p.evidence]
        ev_texts = [e.embedding_text for _, e in items]
        goal_dense, ev_dense = {}, {}
        for signal in config.signals:
            if signal.name == LEXICAL:
                continue
            goal_dense[signal.name] = self._dense(
                k, signal.name, "goals", signal.goal_side, draw.goal_texts
            )
            ev_dense[signal.name] = self._dense(
                k, signal.name, "evidence", signal.evidence_side, ev_texts
            )
        documents = profile_documents(draw.people)
        lexicon = (
            Lexicon.fit(documents, prefix=self.lexical_prefix) if config.uses_lexical else None
        )
        goals = build_bank(
            draw.goal_texts, np.zeros(len(draw.goal_texts)), dense=goal_dense, lexicon=lexicon
        )
        owners = [i for i, _ in items]
        evidence = build_bank(
            ev_texts,
            owners,
            dense=ev_dense,
            lexicon=lexicon,
            languages=[e.language for _, e in items],
            sources=source_codes([e for _, e in items], owners),
        )
        layout, order = EvidenceLayout.arrange(evidence.owners, np.arange(len(draw.people)))
        profiles = lexicon.transform(documents) if lexicon is not None else None
        cov = coverage(goals, evidence.subset(order), layout, config, profiles=profiles)
        goal_row = {g: r for r, g in enumerate(draw.goal_ids)}
        preds: dict[str, dict[str, float]] = {}
        for col, person in enumerate(draw.people):
            rated = self.ratings.get(person.email, {})
            preds[person.email] = {
                paper: float(cov[goal_row[paper], col]) for paper in rated if paper in goal_row
            }
        return preds

    def loss(self, k: int, config: ScoringConfig) -> float:
        preds = self.predictions(k, config)
        ratings = {
            person: {p: r for p, r in self.ratings[person].items() if p in preds[person]}
            for person in preds
            if person in self.ratings
        }
        return reviewer_loss(preds, ratings)

    def evaluate(
        self, draws: Sequence[int], config: ScoringConfig, single_signals: bool = True
    ) -> dict[str, Any]:
        """Mean loss over ``draws`` for ``config`` (and for each of its signals alone)."""
        per_draw = [{"draw": k, "loss": round(self.loss(k, config), 4)} for k in draws]
        result: dict[str, Any] = {
            "loss": round(float(np.mean([d["loss"] for d in per_draw])), 4),
            "draws": per_draw,
            "config": config.to_dict(),
        }
        if single_signals and len(config.signals) > 1:
            result["signals"] = {
                s.name: round(float(np.mean([self.loss(k, config.only(s.name)) for k in draws])), 4)
                for s in config.signals
            }
        return result


def evaluate_reviewer(
    folder: str | Path,
    draws: str | Sequence[int] = TEST_DRAWS,
    config: ScoringConfig | Mapping[str, Any] | None = None,
    embedders: Mapping[str, Embedder] | None = None,
) -> dict[str, Any]:
    """Loss of ``config`` (default: what recommendations use) on the given draws.

    Returns ``{"loss", "draws": [{"draw", "loss"}], "config", "signals": {name: loss}}``.
    """
    if config is None:
        config = DEFAULT_CONFIG
    elif not isinstance(config, ScoringConfig):
        config = ScoringConfig.from_dict(config)
    evaluation = ReviewerEvaluation(folder, embedders)
    result = evaluation.evaluate(parse_draws(draws), config)
    result["dataset"] = Path(folder).name
    return result


__all__ = [
    "DEV_DRAWS",
    "TEST_DRAWS",
    "ReviewerEvaluation",
    "evaluate_reviewer",
    "parse_draws",
    "reviewer_loss",
]
