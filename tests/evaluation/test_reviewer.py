"""The matching evaluation on the reviewer-expertise gold standard (``tandem match-eval``)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.evaluation.reviewer import paper_evidence, parse_draws, reviewer_loss
from kb.errors import ValidationError


def test_a_paper_is_one_source_in_the_reviewer_evaluation() -> None:
    abstract = " ".join(f"Sentence number {i} about graph neural networks." for i in range(80))
    items = paper_evidence("p1", "Graphs", abstract)
    assert len(items) > 1 and {e.ref for e in items} == {"p1"}


def test_reviewer_loss_and_draws() -> None:
    ratings = {"a": {"p": 5.0, "q": 3.0, "r": 1.0}, "b": {"p": 1.0, "q": 2.0}}
    assert reviewer_loss({"a": {"p": 3, "q": 2, "r": 1}, "b": {"p": 0, "q": 1}}, ratings) == 0
    assert reviewer_loss({"a": {"p": 1, "q": 2, "r": 3}, "b": {"p": 1, "q": 0}}, ratings) == 1
    assert reviewer_loss({"a": {"p": 0, "q": 0, "r": 0}, "b": {"p": 0, "q": 0}}, ratings) == 0.5
    # a: (p,q) wrong 2, (p,r) wrong 4, (q,r) tie 2 -> 2 + 4 + 1; b right; all weights 9
    assert reviewer_loss(
        {"a": {"p": 1, "q": 2, "r": 2}, "b": {"p": 0, "q": 1}}, ratings
    ) == pytest.approx(7 / 9)
    assert parse_draws("6-10") == [6, 7, 8, 9, 10]
    assert parse_draws("1,3, 3") == [1, 3]
    with pytest.raises(ValidationError, match="1 to 10"):
        parse_draws("0-11")


@pytest.mark.slow
def test_default_configuration_on_one_real_draw(eval_dir) -> None:
    """The real models on reviewer-expertise draw 1 (cached embeddings make it quick)."""
    from bench.evaluation.reviewer import evaluate_reviewer

    folder = eval_dir / "reviewer-expertise"
    if not folder.is_dir():
        pytest.skip("reviewer-expertise is not available")
    result = evaluate_reviewer(folder, [1])
    assert result["loss"] < 0.21
    assert result["loss"] < min(result["signals"].values())
    assert np.isfinite(result["loss"])
