"""The one serialiser of matching results."""

from __future__ import annotations

import json

import pytest

from matching.constraints import MatchWeights
from matching.explain import Reason
from matching.results import GapGoal, GapTheme, PersonRef, Proposal, ProposedPair, to_data


def test_every_result_becomes_plain_json_data() -> None:
    anna = PersonRef(1, "anna@x.com", "Anna Nowak", "IT")
    olek = PersonRef(2, "olek@x.com", "Olek Wiśniewski")
    reason = Reason("learn SQL", "SQL joins", "expertise", 0.41234567)
    pair = ProposedPair(anna, olek, 0.5, 0.4, None, False, [reason], [])
    proposal = Proposal("spring", [pair], [], [], 0.5, True, MatchWeights())
    data = to_data(proposal)
    assert json.loads(json.dumps(data)) == data
    assert data["pairs"][0]["mentor_name"] == "Anna Nowak"
    assert data["pairs"][0]["teach_back"] is None
    assert data["pairs"][0]["reasons"][0]["similarity"] == 0.4123
    theme = GapTheme("SAP", [GapGoal("SAP basics", olek, 0.1, anna)])
    [gap] = to_data([theme])
    assert gap["goals"][0]["mentee_name"] == "Olek Wiśniewski"
    assert gap["goals"][0]["best_mentor_name"] == "Anna Nowak"


def test_anything_else_is_refused() -> None:
    with pytest.raises(TypeError, match="cannot serialise"):
        to_data(object())
