"""The answerability probe's pieces (bench/no_answer.py): the split, the question-type check,
the logistic regression, the threshold rule, and the features on a tiny corpus."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from bench.no_answer import (
    FEATURES,
    auc,
    choose_threshold,
    cost_of_target,
    cross_validated_auc,
    fit_logistic,
    has_type,
    impossible_split,
    operating_point,
    quadratic,
    question_type,
    split_questions,
)
from kb.search.ranking import SearchConfig


def test_the_split_is_stable_and_about_half() -> None:
    ids = [f"imp{i}" for i in range(1, 638)]
    first = [impossible_split(q) for q in ids]
    assert first == [impossible_split(q) for q in ids]
    assert set(first) == {"dev", "test"}
    assert 0.4 < first.count("dev") / len(ids) < 0.6


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Kto napisał Torę?", "person"),
        ("Przez kogo został zabity?", "person"),
        ("Kiedy powstały sektory płatnego parkowania?", "time"),
        ("W którym roku polityk został członkiem rady?", "time"),
        ("Ilu działaczy uzyskało mandaty?", "number"),
        ("Gdzie odbyły się testy pojazdu?", "place"),
        ("W jakim mieście urodził się Chopin?", "place"),
        ("Dlaczego w zapusty jedzono więcej?", None),
        ("Jakie dania jedzono w czasie karnawału?", None),
    ],
)
def test_question_type(question: str, kind: str | None) -> None:
    assert question_type(question) == kind


def test_has_type() -> None:
    assert has_type("Torę spisał podobno Mojżesz na górze Synaj.", "person")
    assert not has_type("Tora była przekazywana ustnie przez pokolenia.", "person")
    assert has_type("Strefę otwarto w 1998 roku.", "time")
    assert has_type("Otwarto ją 3 maja.", "time")
    assert not has_type("Strefę otwarto później niż planowano.", "time")
    assert has_type("Mandaty uzyskało dwóch działaczy.", "number")
    assert has_type("Mandaty uzyskało 12 działaczy.", "number")
    assert not has_type("Mandaty uzyskali działacze partii.", "number")


def test_logistic_regression_finds_the_informative_feature() -> None:
    rng = np.random.default_rng(0)
    labels = rng.random(400) < 0.3
    rows = np.column_stack([labels * 2.0 + rng.normal(size=400), rng.normal(size=400)])
    probe = fit_logistic(rows, labels, ["signal", "noise"])
    assert probe.weights[1] > 1.0 and abs(probe.weights[2]) < 0.3
    assert auc(probe.score(rows), labels) > 0.85


def test_auc_matches_counting_pairs() -> None:
    scores = np.array([0.1, 0.4, 0.4, 0.8, 0.3, 0.9])
    positive = np.array([False, True, False, True, False, True])
    pairs = [
        1.0 if p > n else 0.5 if p == n else 0.0
        for p, n in itertools.product(scores[positive], scores[~positive])
    ]
    assert auc(scores, positive) == pytest.approx(sum(pairs) / len(pairs))


def test_the_threshold_spends_at_most_the_loss_budget() -> None:
    # Five answerable questions (recall 1, 0, 1, 1, 1) and two no-answer ones.
    scores = np.array([0.9, 0.8, 0.7, 0.2, 0.1, 0.95, 0.6])
    answerable = np.array([True, True, True, True, True, False, False])
    recall = np.array([1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0])
    empty = np.zeros(7, dtype=bool)
    # 20 % of five questions: one found answer may be lost, not two.
    threshold = choose_threshold(scores, answerable, recall, max_loss=0.2)
    assert threshold == 0.8
    point = operating_point(scores, answerable, recall, empty, threshold)
    assert point == {"no_answer_empty": 0.5, "recall@10_loss": 0.2, "answerable_rejected": 0.4}
    # No budget: only what costs nothing (the no-answer question on top) is rejected.
    assert choose_threshold(scores, answerable, recall, max_loss=0.0) == 0.95
    # Ties are rejected together: the tie at 0.5 would cost two answers.
    tied = np.array([0.5, 0.5, 0.1])
    assert choose_threshold(tied, np.array([True, True, True]), np.ones(3), 0.4) == float("inf")


def test_features_of_a_tiny_corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every question of both kinds gets every feature; an answerable one found by the
    product keeps its recall, a no-answer one has none."""
    monkeypatch.setenv("TANDEM_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "poquad-pl"
    (folder / "qrels").mkdir(parents=True)
    docs = {
        "d1": ("Tora", "Tora to pięć ksiąg. Według tradycji spisał ją Mojżesz w 1200 roku."),
        "d2": ("Parking", "W Tychach płaci się w parkomacie. Strefę otwarto w 1998 roku."),
    }
    with (folder / "corpus.jsonl").open("w") as out:
        for doc_id, (title, text) in docs.items():
            out.write(json.dumps({"_id": doc_id, "title": title, "text": text}) + "\n")
    with (folder / "queries.jsonl").open("w") as out:
        out.write(json.dumps({"_id": "q1", "text": "Kto spisał Torę?"}) + "\n")
        out.write(json.dumps({"_id": "q2", "text": "Kiedy otwarto strefę w Tychach?"}) + "\n")
    (folder / "qrels" / "dev.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n")
    ids = [q for q in (f"imp{i}" for i in range(40)) if impossible_split(q) == "dev"][:2]
    with (folder / "queries_impossible.jsonl").open("w") as out:
        for qid, text, doc in zip(ids, ["Ile ksiąg ma Talmud?", "Gdzie stoi parkomat?"],
                                  ["d1", "d2"], strict=True):  # fmt: skip
            row = {"_id": qid, "text": text, "metadata": {"source_doc": doc}}
            out.write(json.dumps(row) + "\n")
    found = split_questions("dev", tmp_path, SearchConfig(models=("fake",)))
    assert sorted(q.qid for q in found) == sorted(["q1", "q2", *ids])
    for q in found:
        assert set(q.features) == set(FEATURES)
        assert all(np.isfinite(v) for v in q.features.values())
        assert q.answerable == q.qid.startswith("q")
    by_id = {q.qid: q for q in found}
    assert by_id["q2"].recall10 == 1.0 and by_id["q2"].labelled_first  # BM25 finds Tychy
    assert by_id["q2"].features["coverage"] > 0.5
    assert all(by_id[q].recall10 == 0.0 for q in ids)


def test_cost_of_the_target() -> None:
    # Rejecting 80 % of the five no-answer questions (score >= 0.6) also rejects two
    # answerable questions, one of them found: 1 of 4 answerable recall lost.
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.1, 0.95, 0.65, 0.1, 0.2, 0.3])
    answerable = np.array([False, False, False, False, False, True, True, True, True, True])
    recall = np.array([0, 0, 0, 0, 0, 1.0, 0.0, 1.0, 1.0, 1.0])
    assert cost_of_target(scores, answerable, recall) == 0.2


def test_quadratic_features_and_cross_validation() -> None:
    rows = np.arange(6.0).reshape(2, 3)
    expanded = quadratic(rows)
    assert expanded.shape == (2, 9)  # 3 features, 3 squares, 3 products
    assert list(expanded[1]) == [3, 4, 5, 9, 12, 15, 16, 20, 25]
    rng = np.random.default_rng(1)
    labels = rng.random(300) < 0.5
    informative = np.column_stack([labels + rng.normal(scale=0.5, size=300)])
    assert cross_validated_auc(informative, labels, 0.01) > 0.8
    noise = rng.normal(size=(300, 1))
    assert cross_validated_auc(noise, labels, 0.01) < 0.65
