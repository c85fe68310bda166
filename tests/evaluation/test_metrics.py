"""Ranking metrics against hand-computed values."""

from __future__ import annotations

import math

import pytest

from bench.evaluation.metrics import dcg, evaluate_rankings, ndcg_at_k, recall_at_k


def test_dcg_by_hand() -> None:
    assert dcg([1, 0, 1]) == pytest.approx(1 / math.log2(2) + 1 / math.log2(4))
    assert dcg([]) == 0.0


def test_ndcg_single_relevant_document() -> None:
    relevant = {"d3": 1}
    assert ndcg_at_k(["d3", "d1"], relevant) == 1.0
    assert ndcg_at_k(["d1", "d3"], relevant) == pytest.approx(1 / math.log2(3))
    assert ndcg_at_k(["d1", "d2"], relevant) == 0.0
    # Outside the cut-off it does not count.
    assert ndcg_at_k([f"x{i}" for i in range(10)] + ["d3"], relevant) == 0.0


def test_ndcg_two_relevant_graded() -> None:
    relevant = {"a": 2, "b": 1}
    ideal = 2 / math.log2(2) + 1 / math.log2(3)
    got = 1 / math.log2(2) + 2 / math.log2(4)  # ranking: b, x, a
    assert ndcg_at_k(["b", "x", "a"], relevant) == pytest.approx(got / ideal)


def test_recall_by_hand() -> None:
    relevant = {"a": 1, "b": 1, "c": 1, "z": 0}
    ranking = ["a", "x", "b"] + [f"y{i}" for i in range(20)] + ["c"]
    assert recall_at_k(ranking, relevant, 10) == pytest.approx(2 / 3)
    assert recall_at_k(ranking, relevant, 100) == 1.0
    assert recall_at_k(ranking, {}, 10) == 0.0


def test_evaluate_rankings_means_over_judged_queries() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
    result = evaluate_rankings({"q1": ["a"], "q3": ["a"]}, qrels)  # q2 retrieved nothing
    assert result == {"ndcg@10": 0.5, "recall@10": 0.5, "recall@100": 0.5, "queries": 2}
