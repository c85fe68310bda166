"""Reason and fit bands: plain-language strength of a matching score."""

from __future__ import annotations

import math

import pytest

from matching.bands import FIT_BANDS, REASON_BANDS, SOME, STRONG, WEAK, Bands, band, band_text


def test_band_edges_are_inclusive_lower_bounds() -> None:
    bands = Bands(strong=0.5, some=0.3)
    assert bands.band(0.5) == STRONG
    assert bands.band(0.4999) == SOME
    assert bands.band(0.3) == SOME
    assert bands.band(0.2999) == WEAK
    assert bands.band(1.0) == STRONG
    assert bands.band(0.0) == WEAK


def test_missing_scores_are_weak() -> None:
    assert band(None) == WEAK
    assert band(math.nan) == WEAK


def test_default_bands_order_and_text() -> None:
    for bands in (REASON_BANDS, FIT_BANDS):
        assert 0 < bands.some < bands.strong < 1
    assert band(REASON_BANDS.strong) == STRONG
    assert band(REASON_BANDS.some) == SOME
    assert band_text(REASON_BANDS.strong) == "strong evidence"
    assert band_text(REASON_BANDS.some, REASON_BANDS) == "some evidence"
    assert band_text(0.0) == "weak evidence"
    assert band(FIT_BANDS.strong, FIT_BANDS) == STRONG


@pytest.mark.parametrize(("strong", "some"), [(0.3, 0.5), (1.2, 0.5), (0.5, -0.1)])
def test_bands_reject_bad_thresholds(strong: float, some: float) -> None:
    with pytest.raises(ValueError, match="some <= strong"):
        Bands(strong=strong, some=some)
