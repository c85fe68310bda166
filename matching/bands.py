"""What a matching number means to a person: "strong", "some" or "weak" evidence. Pure.

A reason's similarity (one goal <-> one piece of evidence) and a pair's fit are calibrated
scores in [0, 1], not probabilities. The thresholds below were chosen on the dev split of the
labelled demo set (``bench/datasets/demo-matching``) by ``python -m bench.matching_demo``:
"strong" is the lowest score above which at least 80 % of the dev (goal, mentor) pairs were
judged suitable, and "some" is the lowest score above which at least 50 % were. The figures
and the test-split check are in ``results/MATCHING.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

STRONG = "strong"
SOME = "some"
WEAK = "weak"
BAND_TEXT = {STRONG: "strong evidence", SOME: "some evidence", WEAK: "weak evidence"}


@dataclass(frozen=True)
class Bands:
    """Lower bounds (inclusive) of the "strong" and "some" bands of one kind of score."""

    strong: float
    some: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.some <= self.strong <= 1.0:
            raise ValueError(
                f"need 0 <= some <= strong <= 1, got some={self.some}, strong={self.strong}"
            )

    def band(self, score: float | None) -> str:
        """The band of ``score``; a missing or NaN score is weak evidence."""
        if score is None or score != score:
            return WEAK
        if score >= self.strong:
            return STRONG
        if score >= self.some:
            return SOME
        return WEAK


# A reason's similarity: the link between one goal and one piece of evidence.
REASON_BANDS = Bands(strong=0.50, some=0.41)
# A pair's fit: how well the mentor's evidence covers the mentee's goals, on average.
FIT_BANDS = Bands(strong=0.36, some=0.29)


def band(score: float | None, bands: Bands = REASON_BANDS) -> str:
    """``"strong"``, ``"some"`` or ``"weak"`` for a reason's similarity (or another score
    with its own ``bands``)."""
    return bands.band(score)


def band_text(score: float | None, bands: Bands = REASON_BANDS) -> str:
    """The band in words for a page: "strong evidence", "some evidence", "weak evidence"."""
    return BAND_TEXT[bands.band(score)]
