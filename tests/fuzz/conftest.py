"""The fuzz tests' Hypothesis profile is loaded by their strategies module."""

from __future__ import annotations

from . import strategies  # noqa: F401
