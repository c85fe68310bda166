"""Reasons: short quotes, strongest links first, one item quoted once."""

from __future__ import annotations

import numpy as np

from matching.explain import best_sentence, pick_links, quote, reasons
from matching.profiles import Evidence


def test_quote_cuts_at_a_word_boundary() -> None:
    text = "word " * 60
    out = quote(text, 50)
    assert len(out) <= 50 and out.endswith("…") and "  " not in out
    assert quote("  short\n text ") == "short text"


def test_best_sentence_shares_words_with_the_goal() -> None:
    text = "Open Excel first. Then ask Copilot to automate weekly reports. Save the file."
    assert best_sentence("automate my weekly reports", text) == (
        "Then ask Copilot to automate weekly reports."
    )


def test_reasons_take_each_goals_best_item_first() -> None:
    goals = ["automate reports", "learn prompting"]
    items = [
        Evidence("expertise", "Excel automation"),
        Evidence(
            "guide",
            "Use Copilot to write prompts. It helps.",
            title="Prompting 101",
            ref="prompting-101",
        ),
        Evidence("insight", "We automated the weekly report.", ref="insight:3"),
    ]
    sim = np.array([[0.7, 0.1, 0.6], [0.0, 0.5, 0.02]])
    out = reasons(goals, items, sim, limit=3)
    assert [(r.goal, r.kind) for r in out] == [
        ("automate reports", "expertise"),
        ("automate reports", "insight"),
        ("learn prompting", "guide"),
    ]
    assert out[2].title == "Prompting 101" and out[2].ref == "prompting-101"
    assert 'guide "Prompting 101"' in out[2].text
    assert reasons(goals, items, np.zeros((2, 3))) == []


def numpy_links(
    similarity: np.ndarray, limit: int, min_similarity: float
) -> list[tuple[float, int, int]]:
    """The straightforward numpy version pick_links replaced (the reference)."""
    n_goals, n_items = similarity.shape
    depth = min(n_items, max(1, -(-limit // n_goals)) + 1)
    order = np.argsort(-similarity, axis=1, kind="stable")[:, :depth]
    picked: list[tuple[float, int, int]] = []
    used: set[int] = set()
    for rank in range(depth):
        column = order[:, rank]
        values = similarity[np.arange(n_goals), column]
        for g in np.argsort(-values, kind="stable"):
            e = int(column[g])
            if values[g] < min_similarity or e in used:
                continue
            picked.append((float(values[g]), int(g), e))
            used.add(e)
            if len(picked) >= limit:
                break
        if len(picked) >= limit:
            break
    picked.sort(key=lambda t: -t[0])
    return picked


def test_pick_links_equals_the_numpy_reference_ties_included() -> None:
    rng = np.random.default_rng(2)
    for _ in range(500):
        shape = (int(rng.integers(1, 6)), int(rng.integers(1, 8)))
        for dtype in (np.float32, np.float64):
            sim = rng.choice([0.0, 0.04, 0.05, 0.3, 0.5], size=shape).astype(dtype)
            if rng.random() < 0.5:
                sim = rng.random(shape).astype(dtype)
            for limit, floor in ((3, 0.05), (1, 0.0), (5, 0.1)):
                assert pick_links(sim, limit, floor) == numpy_links(sim, limit, floor)
