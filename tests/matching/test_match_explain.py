"""Reasons: short quotes, strongest links first, one item quoted once."""

from __future__ import annotations

import numpy as np

from matching.explain import best_sentence, quote, reasons
from matching.profiles import Evidence


def test_quote_cuts_at_a_word_boundary() -> None:
    text = "word " * 60
    out = quote(text, 50)
    assert len(out) <= 50 and out.endswith("…") and "  " not in out
    assert quote("  short\n text ") == "short text"


def test_best_sentence_shares_words_with_the_goal() -> None:
    text = "Open Excel first. Then ask Copilot to automate weekly reports. Save the file."
    assert best_sentence("automate my weekly reports", text) == (
        "Then ask Copilot to automate weekly reports.")


def test_reasons_take_each_goals_best_item_first() -> None:
    goals = ["automate reports", "learn prompting"]
    items = [Evidence("expertise", "Excel automation"),
             Evidence("guide", "Use Copilot to write prompts. It helps.", title="Prompting 101",
                      ref="prompting-101"),
             Evidence("insight", "We automated the weekly report.", ref="insight:3")]
    sim = np.array([[0.7, 0.1, 0.6], [0.0, 0.5, 0.02]])
    out = reasons(goals, items, sim, limit=3)
    assert [(r.goal, r.kind) for r in out] == [
        ("automate reports", "expertise"), ("automate reports", "insight"),
        ("learn prompting", "guide")]
    assert out[2].title == "Prompting 101" and out[2].ref == "prompting-101"
    assert 'guide "Prompting 101"' in out[2].text
    assert reasons(goals, items, np.zeros((2, 3))) == []
