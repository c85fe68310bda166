"""Why a pair fits: which goal met which evidence, quoted short. Pure.

Only evidence items are ever quoted, and evidence is built from stated expertise, published
guides and consented shared insights; private notes never become evidence, so they cannot
appear here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from matching.lexical import tokenize
from matching.profiles import Evidence

QUOTE_CHARS = 120
_SENTENCE = re.compile(r"(?<=[.!?…])\s+")


def quote(text: str, limit: int = QUOTE_CHARS) -> str:
    """``text`` on one line, cut at a word boundary to at most ``limit`` characters."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:.-") + "…"


def best_sentence(goal: str, text: str) -> str:
    """The sentence of ``text`` sharing most words with ``goal`` (the first one on a tie)."""
    sentences = [s for s in _SENTENCE.split(" ".join(text.split())) if s]
    if len(sentences) <= 1:
        return text
    wanted = set(tokenize(goal))
    scores = [len(wanted & set(tokenize(s))) for s in sentences]
    return sentences[int(np.argmax(scores))]


@dataclass(frozen=True)
class Reason:
    """One goal met by one piece of evidence."""

    goal: str
    evidence: str
    kind: str  # expertise | guide | insight
    similarity: float
    title: str = ""
    ref: str = ""

    @property
    def text(self) -> str:
        source = {"expertise": "stated expertise", "guide": "guide", "insight": "shared insight"}
        where = source.get(self.kind, self.kind)
        if self.kind == "guide" and self.title:
            where = f'guide "{quote(self.title, 80)}"'
        quoted = (
            "" if self.kind == "guide" and self.evidence == self.title else (f': "{self.evidence}"')
        )
        return f'goal "{quote(self.goal, 80)}" <-> {where}{quoted} ({self.similarity:.2f})'


def pick_links(
    similarity: np.ndarray, limit: int, min_similarity: float
) -> list[tuple[float, int, int]]:
    """(similarity, goal, item) of the links :func:`reasons` quotes, strongest first.

    Rank by rank (each goal's best item, then each goal's second best, ...), goals in order
    of that rank's similarity, skipping weak links and items already used. Plain Python on
    the few values of one pair (numpy calls on such tiny arrays cost more than they do);
    ties keep the lower index first, as a stable sort of the negated values would.
    """
    n_goals, n_items = similarity.shape
    depth = min(n_items, max(1, -(-limit // n_goals)) + 1)  # enough ranks to fill ``limit``
    rows = similarity.tolist()
    order = [sorted(range(n_items), key=row.__getitem__, reverse=True)[:depth] for row in rows]
    threshold = float(similarity.dtype.type(min_similarity))  # compared as numpy would
    picked: list[tuple[float, int, int]] = []
    used: set[int] = set()
    for rank in range(depth):
        column = [best[rank] for best in order]
        values = [row[e] for row, e in zip(rows, column, strict=True)]
        for g in sorted(range(n_goals), key=values.__getitem__, reverse=True):
            e = column[g]
            if values[g] < threshold or e in used:
                continue
            picked.append((values[g], g, e))
            used.add(e)
            if len(picked) >= limit:
                break
        if len(picked) >= limit:
            break
    picked.sort(key=lambda t: -t[0])
    return picked


def reasons(
    goals: Sequence[str],
    evidence: Sequence[Evidence],
    similarity: np.ndarray,
    limit: int = 3,
    min_similarity: float = 0.05,
) -> list[Reason]:
    """The strongest goal <-> evidence links of one pair, at most one per goal first.

    ``similarity`` is [goals, evidence] as computed by :func:`matching.scoring.similarity`.
    Each goal contributes its best item; if fewer than ``limit`` goals match, the next-best
    items of the goals fill up. The same evidence item is not quoted twice.
    """
    if not len(goals) or not len(evidence):
        return []
    picked = pick_links(np.asarray(similarity), limit, min_similarity)
    out = []
    for value, g, e in picked:
        item = evidence[e]
        excerpt = item.text if item.kind == "expertise" else best_sentence(goals[g], item.text)
        out.append(
            Reason(
                goal=goals[g],
                evidence=quote(excerpt),
                kind=item.kind,
                similarity=value,
                title=item.title,
                ref=item.ref,
            )
        )
    return out
