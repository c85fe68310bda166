"""Hard constraints and soft preferences."""

from __future__ import annotations

import numpy as np
import pytest

from kb.errors import ValidationError
from matching.constraints import (
    ManagementChainError,
    MatchWeights,
    common_language,
    eligibility,
    management_chains,
    preferences,
)
from matching.profiles import Participant


def who(pid: int, langs: str = "en", **kw) -> Participant:
    return Participant(
        id=pid, email=f"p{pid}@x", name=f"P{pid}", languages=frozenset(langs.split(";")), **kw
    )


def test_chains_hold_every_manager_above() -> None:
    chains = management_chains({1: None, 2: 1, 3: 2, 4: 3, 5: 1})
    assert chains[4] == {1, 2, 3}
    assert chains[5] == {1}
    assert chains[1] == frozenset()


def test_cycles_and_unknown_managers_are_named_in_one_clear_error() -> None:
    labels = {1: "ann@x", 2: "bob@x", 3: "cy@x", 4: "dee@x"}
    with pytest.raises(ManagementChainError) as caught:
        management_chains({1: 2, 2: 3, 3: 1, 4: 99}, labels)
    message = str(caught.value)
    assert "management cycle" in message
    assert "ann@x" in message and "bob@x" in message and "cy@x" in message
    assert "dee@x has an unknown manager (id 99)" in message
    assert isinstance(caught.value, ValidationError)
    with pytest.raises(ManagementChainError, match="cycle: ann@x -> ann@x"):
        management_chains({1: 1}, labels)


def test_eligibility_rules_out_chain_language_self_and_history() -> None:
    chains = management_chains({1: None, 2: 1, 3: 2, 4: None, 5: None, 6: 4})
    mentees = [who(3), who(4, "ru"), who(5, "pl;en")]
    mentors = [who(2), who(1, "pl"), who(6, "ru;en"), who(5)]
    elig = eligibility(mentees, mentors, chains, history=[(6, 5)])
    allowed = elig.allowed()
    # 3's managers are 2 and 1: both ruled out; 6 is fine.
    assert elig.reason(0, 0) == "management chain"
    assert elig.reason(0, 1) == "no common language"  # 1 speaks only Polish
    assert allowed[0, 2]
    # 4 manages 6: a mentee may not be mentored by someone they manage either.
    assert elig.reason(1, 2) == "management chain"
    assert elig.reason(1, 0) == "no common language"
    # 5 cannot mentor themselves, and 6-5 ran before.
    assert elig.reason(2, 3) == "same person"
    assert elig.reason(2, 2) == "paired before"
    assert elig.reason(2, 1) is None and allowed[2, 1]
    assert elig.counts(1) == {"no common language": 3, "management chain": 1}
    assert allowed.sum() == 4


def test_preferences_are_in_unit_range_and_ignore_unknown_values() -> None:
    mentees = [
        who(
            1, department="Sales", style="structured", availability=frozenset({"mon-am", "tue-pm"})
        ),
        who(2),
    ]
    mentors = [
        who(3, department="Sales", style="structured", availability=frozenset({"mon-am"})),
        who(4, department="IT", style="informal"),
    ]
    parts = preferences(mentees, mentors).parts()
    assert parts["other_department"].tolist() == [[0, 1], [0, 0]]
    assert parts["style"].tolist() == [[1, 0], [0, 0]]
    assert np.allclose(parts["availability"], [[0.5, 0], [0, 0]])
    bonus = preferences(mentees, mentors).bonus(
        MatchWeights(other_department=0.2, style=0.1, availability=0.4)
    )
    assert np.allclose(bonus, [[0.3, 0.2], [0, 0]])


def test_weights_reject_unknown_names_and_bad_values() -> None:
    assert MatchWeights.from_mapping({"style": "0.5"}).style == 0.5
    with pytest.raises(ValidationError, match="unknown weight"):
        MatchWeights.from_mapping({"colour": 1})
    with pytest.raises(ValidationError, match=">= 0"):
        MatchWeights.from_mapping({"style": -1})


def test_common_language_equals_the_pairwise_bit_test() -> None:
    rng = np.random.default_rng(5)
    masks = np.array([0, 1, 2, 3, 6, 1 << 40], dtype=np.uint64)
    for n, m in ((0, 3), (4, 0), (30, 17)):
        mentees, mentors = masks[rng.integers(0, 6, n)], masks[rng.integers(0, 6, m)]
        expected = (mentees[:, None] & mentors[None, :]) != 0
        got = common_language(mentees, mentors)
        assert got.shape == (n, m) and got.dtype == bool
        assert np.array_equal(got, expected)


def test_bonus_equals_the_weighted_sum_of_the_parts_for_any_rows() -> None:
    rng = np.random.default_rng(11)
    slots = ["mon-am", "mon-pm", "tue-am", "wed-pm", "fri-am"]

    def person(pid: int) -> Participant:
        return who(
            pid,
            department=str(rng.choice(["", "Sales", "IT", "HR"])),
            style=str(rng.choice(["", "structured", "informal"])),
            availability=frozenset(
                rng.choice(slots, int(rng.integers(0, 4)), replace=False).tolist()
            ),
        )

    weights = MatchWeights(other_department=0.07, style=0.13, availability=0.31)
    for n, m in ((0, 4), (1, 6), (40, 9)):
        prefs = preferences([person(i) for i in range(n)], [person(100 + j) for j in range(m)])
        parts = prefs.parts()
        plain = (
            weights.other_department * parts["other_department"]
            + weights.style * parts["style"]
            + weights.availability * parts["availability"]
        ).astype(np.float32)
        assert prefs.bonus(weights).dtype == np.float32
        assert np.array_equal(prefs.bonus(weights), plain)
        for rows in (slice(3, 17), np.array([5, 1, 1, 30], dtype=np.int64)[: n // 10]):
            assert np.array_equal(prefs.bonus(weights, rows), plain[rows])
        other = MatchWeights()  # another weighting after the first: not the kept tables
        assert np.allclose(
            prefs.bonus(other),
            other.other_department * parts["other_department"]
            + other.style * parts["style"]
            + other.availability * parts["availability"],
            atol=1e-6,
        )


def test_bits_equal_or_of_each_label_bit_up_to_the_64th_label() -> None:
    from matching.constraints import _bits

    rng = np.random.default_rng(2)
    labels = [f"l{i}" for i in range(64)]
    values = [
        frozenset(rng.choice(labels, int(rng.integers(0, 5)), replace=False).tolist())
        for _ in range(300)
    ] + [frozenset(labels), frozenset()]
    masks, vocabulary = _bits(values)
    assert masks.dtype == np.uint64 and masks.shape == (len(values),)
    for mask, value in zip(masks, values, strict=True):
        expected = np.uint64(0)
        for item in value:
            expected |= np.uint64(1) << np.uint64(vocabulary[item])
        assert mask == expected
    assert _bits([])[0].shape == (0,)
    with pytest.raises(ValidationError):
        _bits([frozenset([*labels, "one too many"])])
