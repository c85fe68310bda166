"""The labelled demo matching set is well-formed (data validity, not model results)."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SET_DIR = ROOT / "bench" / "datasets" / "demo-matching"
PEOPLE = ROOT / "ingest" / "demo" / "people.csv"
LANGUAGES = ("pl", "ru", "en")
CYRILLIC = re.compile(r"[\u0400-\u04ff]")
POLISH = re.compile(r"[ąćęłńóśźżĄĆĘŁŃÓŚŹŻ]")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="module")
def goals() -> list[dict[str, Any]]:
    return read_jsonl(SET_DIR / "goals.jsonl")


@pytest.fixture(scope="module")
def judgments() -> list[dict[str, Any]]:
    return read_jsonl(SET_DIR / "judgments.jsonl")


@pytest.fixture(scope="module")
def mentors() -> set[str]:
    with PEOPLE.open(encoding="utf-8", newline="") as f:
        return {row["email"] for row in csv.DictReader(f) if "mentor" in row["roles"].split(";")}


def test_goals_have_the_documented_fields(goals: list[dict[str, Any]]) -> None:
    assert len(goals) >= 60
    ids = [g["id"] for g in goals]
    assert len(ids) == len(set(ids)), "goal ids must be unique"
    for g in goals:
        assert set(g) == {
            "id",
            "language",
            "split",
            "topic",
            "goal",
            "covered",
            "cross_language",
        }, g["id"]
        assert g["language"] in LANGUAGES and g["id"].startswith(g["language"] + "-")
        assert g["split"] in ("dev", "test")
        assert g["goal"].strip() and g["topic"].strip()


def test_goal_text_is_in_its_language(goals: list[dict[str, Any]]) -> None:
    for g in goals:
        text = g["goal"]
        if g["language"] == "ru":
            assert CYRILLIC.search(text), g["id"]
        else:
            assert not CYRILLIC.search(text), g["id"]
        if g["language"] == "pl":
            assert POLISH.search(text), g["id"]
        if g["language"] == "en":
            assert text.isascii(), g["id"]


def test_languages_and_splits_are_balanced(goals: list[dict[str, Any]]) -> None:
    per_language = Counter(g["language"] for g in goals)
    assert set(per_language) == set(LANGUAGES)
    assert max(per_language.values()) - min(per_language.values()) <= 2
    for language in LANGUAGES:
        splits = Counter(g["split"] for g in goals if g["language"] == language)
        assert abs(splits["dev"] - splits["test"]) <= 1, language
    for split in ("dev", "test"):
        part = [g for g in goals if g["split"] == split]
        assert any(not g["covered"] for g in part), f"{split} needs uncovered goals"
        assert any(g["cross_language"] for g in part), f"{split} needs cross-language goals"
        assert {g["language"] for g in part if g["cross_language"]} == set(LANGUAGES)


def test_every_goal_judges_every_demo_mentor(
    goals: list[dict[str, Any]], judgments: list[dict[str, Any]], mentors: set[str]
) -> None:
    known = {g["id"] for g in goals}
    seen: dict[str, list[str]] = {}
    for j in judgments:
        assert set(j) == {"goal", "mentor", "grade", "reason"}
        assert j["goal"] in known, f"judgment for an unknown goal {j['goal']}"
        assert j["mentor"] in mentors, f"{j['mentor']} is not a mentor in people.csv"
        assert j["grade"] in (0, 1, 2)
        assert len(j["reason"].strip()) >= 15, (j["goal"], j["mentor"])
        seen.setdefault(j["goal"], []).append(j["mentor"])
    for goal_id in known:
        judged = seen.get(goal_id, [])
        assert len(judged) == len(set(judged)), f"{goal_id} judges a mentor twice"
        assert set(judged) == mentors, f"{goal_id} misses {sorted(mentors - set(judged))}"


def test_covered_flag_matches_the_grades(
    goals: list[dict[str, Any]], judgments: list[dict[str, Any]]
) -> None:
    best: dict[str, int] = {}
    for j in judgments:
        best[j["goal"]] = max(best.get(j["goal"], 0), j["grade"])
    for g in goals:
        assert g["covered"] == (best[g["id"]] > 0), g["id"]
        if g["cross_language"]:
            assert best[g["id"]] == 2, f"{g['id']}: cross-language needs a strong mentor"


def test_splits_are_disjoint(goals: list[dict[str, Any]]) -> None:
    dev = {g["id"] for g in goals if g["split"] == "dev"}
    test = {g["id"] for g in goals if g["split"] == "test"}
    assert dev and test and not dev & test
    assert {g["goal"] for g in goals if g["split"] == "dev"}.isdisjoint(
        {g["goal"] for g in goals if g["split"] == "test"}
    )
