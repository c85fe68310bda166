"""What matching answers: recommendations, proposals and gaps as dataclasses, and the one
serialiser that turns any of them into plain JSON-able data (the CLI, the web pages and
``--json`` all use :func:`to_data`). Pure."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from matching.bands import FIT_BANDS, REASON_BANDS, band, band_text
from matching.constraints import MatchWeights
from matching.explain import Reason
from matching.profiles import Participant


@dataclass(frozen=True)
class PersonRef:
    id: int
    email: str
    name: str
    department: str = ""

    @classmethod
    def of(cls, p: Participant) -> PersonRef:
        return cls(p.id, p.email, p.name, p.department)


@dataclass
class Candidate:
    """One recommended person with the parts of the score and the reasons."""

    person: PersonRef
    score: float
    fit: float
    teach_back: float | None
    preferences: dict[str, float]
    reasons: list[Reason]
    teach_back_reasons: list[Reason]
    free_places: int | None = None


@dataclass
class Recommendations:
    """Ranked candidates for one person (mentors for a mentee, or mentees for a mentor)."""

    person: PersonRef
    role: str  # the asking person's role: "mentee" gets mentors, "mentor" gets mentees
    candidates: list[Candidate]
    excluded: dict[str, int]
    message: str | None
    weights: MatchWeights


@dataclass
class ProposedPair:
    mentor: PersonRef
    mentee: PersonRef
    score: float
    fit: float
    teach_back: float | None
    locked: bool
    reasons: list[Reason]
    teach_back_reasons: list[Reason]


@dataclass
class Unmatched:
    person: PersonRef
    reason: str
    best_fit: float | None = None
    free_places: int | None = None

    def __str__(self) -> str:
        return f"{self.person.email} ({self.reason})"


@dataclass
class Proposal:
    """A whole programme's optimal set of pairs, and who stays unmatched and why."""

    programme: str
    pairs: list[ProposedPair]
    unmatched_mentees: list[Unmatched]
    unmatched_mentors: list[Unmatched]  # mentors who got no mentee at all
    total_score: float
    certified: bool
    weights: MatchWeights
    warnings: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    # Mentors with at least one pair and places left over (never also in unmatched_mentors).
    mentors_with_places: list[Unmatched] = field(default_factory=list)


@dataclass
class GapGoal:
    goal: str
    mentee: PersonRef
    best: float
    best_mentor: PersonRef | None


@dataclass
class GapTheme:
    """Uncovered goals that belong together, named by the most central one."""

    theme: str
    goals: list[GapGoal]

    @property
    def best(self) -> float:
        return max(g.best for g in self.goals)


# --- the serialiser ---------------------------------------------------------------------------


def _round(value: float | None) -> float | None:
    if value is None or not np.isfinite(value):
        return None
    return round(float(value), 4)


@functools.singledispatch
def to_data(result: object) -> Any:
    """A matching result, or a list of them, as plain JSON-able data."""
    if isinstance(result, Sequence) and not isinstance(result, str):
        return [to_data(r) for r in result]
    raise TypeError(f"cannot serialise {type(result).__name__}")


@to_data.register
def _person(person: PersonRef) -> dict[str, Any]:
    return {"email": person.email, "name": person.name, "department": person.department}


@to_data.register
def _reason(reason: Reason) -> dict[str, Any]:
    return {
        "goal": reason.goal,
        "evidence": reason.evidence,
        "kind": reason.kind,
        "similarity": _round(reason.similarity),
        "title": reason.title,
        "ref": reason.ref,
        "text": reason.text,
        "band": band(reason.similarity, REASON_BANDS),
        "band_text": band_text(reason.similarity, REASON_BANDS),
    }


def _fit_bands(fit: float | None, teach_back: float | None) -> dict[str, Any]:
    return {
        "fit_band": band(fit, FIT_BANDS),
        "fit_text": band_text(fit, FIT_BANDS),
        "teach_back_band": None if teach_back is None else band(teach_back, FIT_BANDS),
        "teach_back_text": None if teach_back is None else band_text(teach_back, FIT_BANDS),
    }


@to_data.register
def _candidate(c: Candidate) -> dict[str, Any]:
    return {
        **_person(c.person),
        "score": _round(c.score),
        "fit": _round(c.fit),
        "teach_back": _round(c.teach_back),
        **_fit_bands(c.fit, c.teach_back),
        "preferences": {k: _round(v) for k, v in c.preferences.items()},
        "reasons": [_reason(r) for r in c.reasons],
        "teach_back_reasons": [_reason(r) for r in c.teach_back_reasons],
        "free_places": c.free_places,
    }


@to_data.register
def _recommendations(r: Recommendations) -> dict[str, Any]:
    return {
        "person": _person(r.person),
        "role": r.role,
        "candidates": [_candidate(c) for c in r.candidates],
        "excluded": dict(r.excluded),
        "message": r.message,
        "weights": r.weights.to_dict(),
    }


@to_data.register
def _proposed_pair(p: ProposedPair) -> dict[str, Any]:
    return {
        "mentor": p.mentor.email,
        "mentor_name": p.mentor.name,
        "mentee": p.mentee.email,
        "mentee_name": p.mentee.name,
        "score": _round(p.score),
        "fit": _round(p.fit),
        "teach_back": _round(p.teach_back),
        **_fit_bands(p.fit, p.teach_back),
        "locked": p.locked,
        "reasons": [_reason(r) for r in p.reasons],
        "teach_back_reasons": [_reason(r) for r in p.teach_back_reasons],
    }


@to_data.register
def _unmatched(u: Unmatched) -> dict[str, Any]:
    data: dict[str, Any] = {**_person(u.person), "reason": u.reason}
    if u.best_fit is not None:
        data["best_fit"] = _round(u.best_fit)
    if u.free_places is not None:
        data["free_places"] = u.free_places
    return data


@to_data.register
def _proposal(p: Proposal) -> dict[str, Any]:
    return {
        "programme": p.programme,
        "pairs": [_proposed_pair(x) for x in p.pairs],
        "unmatched_mentees": [_unmatched(u) for u in p.unmatched_mentees],
        "unmatched_mentors": [_unmatched(u) for u in p.unmatched_mentors],
        "mentors_with_places": [_unmatched(u) for u in p.mentors_with_places],
        "total_score": round(p.total_score, 4),
        "optimal": p.certified,
        "weights": p.weights.to_dict(),
        "warnings": list(p.warnings),
        "stats": dict(p.stats),
    }


@to_data.register
def _gap_goal(g: GapGoal) -> dict[str, Any]:
    return {
        "goal": g.goal,
        "mentee": g.mentee.email,
        "mentee_name": g.mentee.name,
        "best": _round(g.best),
        "best_mentor": g.best_mentor.email if g.best_mentor else None,
        "best_mentor_name": g.best_mentor.name if g.best_mentor else None,
    }


@to_data.register
def _gap_theme(t: GapTheme) -> dict[str, Any]:
    mentees = list(dict.fromkeys(g.mentee.email for g in t.goals))
    return {
        "theme": t.theme,
        "goal": t.theme,
        "size": len(t.goals),
        "mentees": mentees,
        "mentee": ", ".join(mentees),
        "mentee_names": list(dict.fromkeys(g.mentee.name for g in t.goals)),
        "best": _round(t.best),
        "goals": [_gap_goal(g) for g in t.goals],
        "suggestion": f'recruit mentors or request guides on "{t.theme}"',
    }
