"""Recommendations, proposals and coverage gaps over an embedded pool of participants. Pure.

The service turns database rows into :class:`~matching.profiles.Participant` objects and calls
these functions; the benchmark calls them directly on synthetic pools ("profiles already
embedded"). Nothing here touches a database.
"""

from __future__ import annotations

import functools
import gc
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

import numpy as np
from scipy import sparse
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

from matching.assign import assign
from matching.constraints import (
    Eligibility,
    MatchWeights,
    PeopleCodes,
    descendants,
    eligibility,
)
from matching.explain import Reason, reasons
from matching.lexical import Lexicon
from matching.profiles import (
    Evidence,
    Participant,
    TextBank,
    TextEmbedder,
    build_bank,
    source_codes,
)
from matching.scoring import (
    EvidenceLayout,
    ScoringConfig,
    aligned_similarity,
    coverage,
    iter_blocks,
    mean_by_owner,
    similarity,
)

DEFAULT_GAP_THRESHOLD = 0.2
THEME_SIMILARITY = 0.35


class MissingModel(KeyError):
    """The scoring configuration needs an embedder the caller did not pass."""


class VectorMemo:
    """Vectors of texts already embedded, by (model name, side, text): profiles embed once.

    A bounded LRU; the web runtime may keep one per process and pass it to the service.
    """

    def __init__(self, max_items: int = 200_000) -> None:
        self.max_items = max_items
        self._store: OrderedDict[tuple[str, str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()  # web threads of one process share a memo

    def __len__(self) -> int:
        return len(self._store)

    def vectors(self, embedder: TextEmbedder, side: str, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            return self._vectors(embedder, side, texts)

    def _vectors(self, embedder: TextEmbedder, side: str, texts: Sequence[str]) -> np.ndarray:
        keys = [(embedder.name, side, t) for t in texts]
        missing = list(dict.fromkeys(k[2] for k in keys if k not in self._store))
        if missing:
            encode = embedder.embed_queries if side == "query" else embedder.embed_passages
            fresh = np.asarray(encode(missing), dtype=np.float32)
            for text, vector in zip(missing, fresh, strict=True):
                self._store[(embedder.name, side, text)] = vector
        for key in keys:
            self._store.move_to_end(key)
        found = [self._store[k] for k in keys]
        while len(self._store) > self.max_items:
            self._store.popitem(last=False)
        if not found:
            return np.zeros((0, 0), dtype=np.float32)
        return np.vstack(found).astype(np.float32)


@dataclass
class Pool:
    """Participants with their goals and evidence embedded under one scoring configuration."""

    participants: list[Participant]
    goals: TextBank
    evidence: TextBank
    items: list[Evidence]
    config: ScoringConfig
    profiles: sparse.csr_matrix | None = None  # [participants, terms]: whole-profile TF-IDF
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.index = {p.id: i for i, p in enumerate(self.participants)}

    def position(self, person_id: int) -> int:
        return self.index[person_id]

    def goal_texts(self, i: int) -> list[str]:
        return list(self.participants[i].goals)

    def cached(self, key: Any, make: Any) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    @property
    def codes(self) -> PeopleCodes:
        return self.cached("codes", lambda: PeopleCodes.of(self.participants))

    def eligibility(self, mentees: np.ndarray, mentors: np.ndarray,
                    chains: Mapping[int, frozenset[int]],
                    history: Iterable[tuple[int, int]]) -> Eligibility:
        """Hard constraints between pool positions ``mentees`` and ``mentors``."""
        bits = self.codes.languages
        below = self.cached(("descendants", id(chains)), lambda: descendants(chains))
        return eligibility(self.people(mentees), self.people(mentors), chains, history,
                           languages=(bits[mentees], bits[mentors]), below=below)

    def people(self, positions: np.ndarray) -> list[Participant]:
        """Participants at ``positions`` (the list is cached for large groups: every
        recommendation asks for the same candidates)."""

        def make() -> list[Participant]:
            return [self.participants[i] for i in positions]

        if len(positions) < 64:
            return make()
        return self.cached(("people", _key(positions)), make)

    def owner_index(self, kind: str) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the goal/evidence bank sorted by owner, and each owner's start offset."""

        def make() -> tuple[np.ndarray, np.ndarray]:
            owners = (self.goals if kind == "goals" else self.evidence).owners
            order = np.argsort(owners, kind="stable")
            starts = np.searchsorted(owners[order], np.arange(len(self.participants) + 1))
            return order, starts

        return self.cached(("owners", kind), make)


def embed_pool(
    participants: Sequence[Participant],
    embedders: Mapping[str, TextEmbedder],
    config: ScoringConfig,
    stored: Mapping[str, Mapping[int, np.ndarray]] | None = None,
    memo: VectorMemo | None = None,
) -> Pool:
    """Embed every goal and evidence item of ``participants`` for each signal of ``config``.

    ``stored`` maps an embedder spec to chunk id -> vector already in the database; they are
    used for evidence embedded on the passage side (how chunks are stored).
    """
    participants = list(participants)
    memo = memo or VectorMemo()
    goal_texts, goal_owners, items, item_owners = [], [], [], []
    for i, p in enumerate(participants):
        for goal in p.goals:
            goal_texts.append(goal)
            goal_owners.append(i)
        for item in p.evidence:
            items.append(item)
            item_owners.append(i)
    evidence_texts = [e.embedding_text for e in items]
    goal_dense: dict[str, np.ndarray] = {}
    evidence_dense: dict[str, np.ndarray] = {}
    for signal in config.signals:
        if signal.name not in config.dense_names:
            continue
        if signal.name not in embedders:
            raise MissingModel(signal.name)
        embedder = embedders[signal.name]
        goal_dense[signal.name] = _vectors(memo, embedder, signal.goal_side, goal_texts)
        known = (stored or {}).get(signal.name, {}) if signal.evidence_side == "passage" else {}
        evidence_dense[signal.name] = _evidence_vectors(
            memo, embedder, signal.evidence_side, items, evidence_texts, known
        )
    lexicon, profiles = None, None
    if config.uses_lexical:
        documents = profile_documents(participants)
        lexicon = Lexicon.fit([d for d in documents if d])
        profiles = lexicon.transform(documents)
    return Pool(
        participants=participants,
        goals=build_bank(goal_texts, goal_owners, dense=goal_dense, lexicon=lexicon),
        evidence=build_bank(evidence_texts, item_owners, dense=evidence_dense, lexicon=lexicon,
                            languages=[e.language for e in items],
                            sources=source_codes(items, item_owners)),
        items=items,
        config=config,
        profiles=profiles,
    )


def profile_documents(participants: Sequence[Participant]) -> list[str]:
    """Each person's evidence as one text: the document of the profile-level lexical signal
    (and of the lexicon's document frequencies: how many people use a word)."""
    return ["\n".join(e.embedding_text for e in p.evidence) for p in participants]


def _vectors(memo: VectorMemo, embedder: TextEmbedder, side: str, texts: list[str]
             ) -> np.ndarray:
    if not texts:
        return np.zeros((0, 1), dtype=np.float32)
    return memo.vectors(embedder, side, texts)


def _evidence_vectors(
    memo: VectorMemo, embedder: TextEmbedder, side: str, items: list[Evidence],
    texts: list[str], known: Mapping[int, np.ndarray],
) -> np.ndarray:
    todo = [i for i, e in enumerate(items) if e.chunk_id is None or e.chunk_id not in known]
    fresh = _vectors(memo, embedder, side, [texts[i] for i in todo])
    if not items:
        return fresh
    dim = fresh.shape[1] if len(todo) else len(next(iter(known.values())))
    out = np.zeros((len(items), dim), dtype=np.float32)
    for row, i in enumerate(todo):
        out[i] = fresh[row]
    for i, item in enumerate(items):
        if item.chunk_id is not None and item.chunk_id in known:
            out[i] = known[item.chunk_id]
    return out


# --- fit matrices ----------------------------------------------------------------------------


def _key(idx: np.ndarray) -> bytes:
    return np.asarray(idx, dtype=np.int64).tobytes()


def _view(pool: Pool, kind: str, owners: np.ndarray) -> tuple[TextBank, EvidenceLayout | None]:
    """Rows of the goal or evidence bank owned by ``owners`` (cached per owner set)."""

    def make() -> tuple[TextBank, EvidenceLayout | None]:
        if kind == "goals":
            rows = pool.goals.rows_of(owners)
            # English goals first: the scorer then works on contiguous row ranges.
            rows = rows[np.argsort(~pool.goals.english[rows], kind="stable")]
            return pool.goals.subset(rows), None
        layout, order = EvidenceLayout.arrange(pool.evidence.owners, owners)
        return pool.evidence.subset(order), layout

    if len(owners) < 64:  # one person's rows: cheap to build, not worth keeping
        return make()
    return pool.cached((kind, _key(owners)), make)


def coverage_of(pool: Pool, goal_owners: np.ndarray, evidence_owners: np.ndarray
                ) -> tuple[np.ndarray, TextBank]:
    """Coverage [goals of goal_owners, evidence_owners] and the goal rows it refers to."""
    goals, _ = _view(pool, "goals", goal_owners)
    evidence, layout = _view(pool, "evidence", evidence_owners)
    assert layout is not None
    profiles = None
    if pool.profiles is not None:
        # CSC: coverage() multiplies by the transpose, and a CSC matrix's transpose is the
        # CSR one it needs without a conversion (which cost ~1 ms per recommendation).
        rows = pool.profiles
        profiles = (rows[layout.columns] if len(evidence_owners) < 64 else pool.cached(
            ("profile rows", _key(evidence_owners)), lambda: rows[layout.columns].tocsc()))
    return coverage(goals, evidence, layout, pool.config, profiles=profiles), goals


def fit_matrix(pool: Pool, learners: np.ndarray, teachers: np.ndarray) -> np.ndarray:
    """Mean coverage of each learner's goals by each teacher: [learners, teachers]; NaN rows
    for learners without goals."""
    learners = np.asarray(learners, dtype=np.int64)
    teachers = np.asarray(teachers, dtype=np.int64)
    cov, goals = coverage_of(pool, learners, teachers)
    return mean_by_owner(cov, goals.owners, learners)


def pair_scores(
    pool: Pool, mentees: np.ndarray, mentors: np.ndarray, weights: MatchWeights
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(score, expertise fit, teach-back fit), each [mentees, mentors].

    The score adds the weighted teach-back fit (0 where the mentor stated no goals) and the
    soft-preference bonus to the weighted expertise fit.
    """
    fit = fit_matrix(pool, mentees, mentors)
    teach = fit_matrix(pool, mentors, mentees).T
    prefs = pool.codes.preferences(mentees, mentors)
    score = np.empty_like(fit)
    for rows in iter_blocks(len(mentees), 256):  # small blocks: temporaries stay in cache
        score[rows] = weights.expertise * fit[rows]
        score[rows] += weights.teach_back * np.nan_to_num(teach[rows], nan=0.0)
        score[rows] += prefs.bonus(weights, rows)
    return score, fit, teach


# --- explanations ----------------------------------------------------------------------------


def pair_rows(
    g_sorted: np.ndarray, g_start: np.ndarray, e_sorted: np.ndarray, e_start: np.ndarray,
    pairs: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Goal and evidence rows of every (learner goal, teacher item) combination of ``pairs``
    ([pairs, 2] of (learner, teacher)), pair after pair, goal-major; and each pair's offset.

    Rows of owner ``o`` are ``sorted[start[o] : start[o + 1]]`` (see ``Pool.owner_index``).
    """
    learners, teachers = pairs[:, 0], pairs[:, 1]
    n_goals = g_start[learners + 1] - g_start[learners]
    n_items = e_start[teachers + 1] - e_start[teachers]
    sizes = n_goals * n_items
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    pair = np.repeat(np.arange(len(pairs)), sizes)
    local = np.arange(int(sizes.sum())) - offsets[pair]
    goal, item = np.divmod(local, n_items[pair]) if len(local) else (local, local)
    return (g_sorted[g_start[learners][pair] + goal], e_sorted[e_start[teachers][pair] + item],
            offsets)


def explain_pairs(
    pool: Pool, pairs: Sequence[tuple[int, int]], limit: int = 3
) -> list[list[Reason]]:
    """Reasons for many (learner, teacher) pairs: the learner's goals vs the teacher's evidence.

    All (goal, item) similarities of all pairs are computed in one vectorised pass.
    """
    g_sorted, g_start = pool.owner_index("goals")
    e_sorted, e_start = pool.owner_index("evidence")
    if not pairs:
        return []
    g_rows, e_rows, offsets = pair_rows(g_sorted, g_start, e_sorted, e_start,
                                        np.asarray(pairs, dtype=np.int64).reshape(-1, 2))
    spans = []
    for (learner, teacher), offset in zip(pairs, offsets.tolist(), strict=True):
        spans.append((offset, g_sorted[g_start[learner] : g_start[learner + 1]],
                       e_sorted[e_start[teacher] : e_start[teacher + 1]]))
    values = aligned_similarity(pool.goals, g_rows, pool.evidence, e_rows, pool.config)
    out = []
    for start, g, e in spans:
        sim = values[start : start + len(g) * len(e)].reshape(len(g), len(e))
        out.append(reasons([pool.goals.texts[r] for r in g], [pool.items[r] for r in e], sim,
                           limit=limit))
    return out


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonRef:
    id: int
    email: str
    name: str
    department: str = ""

    @classmethod
    def of(cls, p: Participant) -> PersonRef:
        return cls(p.id, p.email, p.name, p.department)

    def to_dict(self) -> dict[str, str]:
        return {"email": self.email, "name": self.name, "department": self.department}


def _round(value: float | None) -> float | None:
    if value is None or not np.isfinite(value):
        return None
    return round(float(value), 4)


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

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.person.to_dict(),
            "score": _round(self.score),
            "fit": _round(self.fit),
            "teach_back": _round(self.teach_back),
            "preferences": {k: _round(v) for k, v in self.preferences.items()},
            "reasons": [r.to_dict() for r in self.reasons],
            "teach_back_reasons": [r.to_dict() for r in self.teach_back_reasons],
            "free_places": self.free_places,
        }


@dataclass
class Recommendations:
    """Ranked candidates for one person (mentors for a mentee, or mentees for a mentor)."""

    person: PersonRef
    role: str  # the asking person's role: "mentee" gets mentors, "mentor" gets mentees
    candidates: list[Candidate]
    excluded: dict[str, int]
    message: str | None
    weights: MatchWeights

    def to_dict(self) -> dict[str, Any]:
        return {
            "person": self.person.to_dict(),
            "role": self.role,
            "candidates": [c.to_dict() for c in self.candidates],
            "excluded": dict(self.excluded),
            "message": self.message,
            "weights": self.weights.to_dict(),
        }


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "mentor": self.mentor.email,
            "mentor_name": self.mentor.name,
            "mentee": self.mentee.email,
            "mentee_name": self.mentee.name,
            "score": _round(self.score),
            "fit": _round(self.fit),
            "teach_back": _round(self.teach_back),
            "locked": self.locked,
            "reasons": [r.to_dict() for r in self.reasons],
            "teach_back_reasons": [r.to_dict() for r in self.teach_back_reasons],
        }


@dataclass
class Unmatched:
    person: PersonRef
    reason: str
    best_fit: float | None = None
    free_places: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {**self.person.to_dict(), "reason": self.reason}
        if self.best_fit is not None:
            data["best_fit"] = _round(self.best_fit)
        if self.free_places is not None:
            data["free_places"] = self.free_places
        return data

    def __str__(self) -> str:
        return f"{self.person.email} ({self.reason})"


@dataclass
class Proposal:
    """A whole programme's optimal set of pairs, and who stays unmatched and why."""

    programme: str
    pairs: list[ProposedPair]
    unmatched_mentees: list[Unmatched]
    unmatched_mentors: list[Unmatched]
    total_score: float
    certified: bool
    weights: MatchWeights
    warnings: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "programme": self.programme,
            "pairs": [p.to_dict() for p in self.pairs],
            "unmatched_mentees": [u.to_dict() for u in self.unmatched_mentees],
            "unmatched_mentors": [u.to_dict() for u in self.unmatched_mentors],
            "total_score": round(self.total_score, 4),
            "optimal": self.certified,
            "weights": self.weights.to_dict(),
            "warnings": list(self.warnings),
            "stats": dict(self.stats),
        }


@dataclass
class GapGoal:
    goal: str
    mentee: PersonRef
    best: float
    best_mentor: PersonRef | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "goal": self.goal,
            "mentee": self.mentee.email,
            "best": _round(self.best),
            "best_mentor": self.best_mentor.email if self.best_mentor else None,
        }


@dataclass
class GapTheme:
    """Uncovered goals that belong together, named by the most central one."""

    theme: str
    goals: list[GapGoal]

    @property
    def best(self) -> float:
        return max(g.best for g in self.goals)

    def to_dict(self) -> dict[str, Any]:
        mentees = list(dict.fromkeys(g.mentee.email for g in self.goals))
        return {
            "theme": self.theme,
            "goal": self.theme,
            "size": len(self.goals),
            "mentees": mentees,
            "mentee": ", ".join(mentees),
            "best": _round(self.best),
            "goals": [g.to_dict() for g in self.goals],
            "suggestion": f'recruit mentors or request guides on "{self.theme}"',
        }


# --- recommendations -------------------------------------------------------------------------


def _describe_exclusions(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {reason}" for reason, n in counts.items() if n)


def recommend(
    pool: Pool,
    person: int,
    others: Sequence[int],
    *,
    role: str,
    chains: Mapping[int, frozenset[int]],
    history: Iterable[tuple[int, int]] = (),
    free_places: Mapping[int, int] | None = None,
    weights: MatchWeights | None = None,
    limit: int = 10,
) -> Recommendations:
    """Best mentors for a mentee (``role="mentee"``) or mentees for a mentor (``"mentor"``).

    ``others`` are pool positions of the candidates; ``free_places`` (mentor position -> free
    places) rules out full mentors when recommending mentors.
    """
    weights = weights or MatchWeights()
    people = pool.participants
    me = people[person]
    others = np.asarray([o for o in others if o != person], dtype=np.int64)
    if role == "mentee":
        mentees, mentors = np.asarray([person]), others
    elif role == "mentor":
        mentees, mentors = others, np.asarray([person])
    else:
        raise ValueError(f"role must be mentee or mentor, not {role!r}")
    result = Recommendations(PersonRef.of(me), role, [], {}, None, weights)
    if role == "mentee" and not me.goals:
        result.message = f"{me.name} has no goals yet: add goals (separated by ';') to be matched"
        return result
    if role == "mentor" and not me.evidence:
        result.message = (f"{me.name} has no evidence of expertise yet (stated expertise, "
                          "published guides or shared insights)")
        return result
    if not len(others):
        result.message = "nobody to recommend: no opted-in candidates"
        return result
    elig = pool.eligibility(mentees, mentors, chains, history)
    allowed = elig.allowed()
    score, fit, teach = pair_scores(pool, mentees, mentors, weights)
    if role == "mentor":
        allowed, score, fit, teach = allowed[:, 0], score[:, 0], fit[:, 0], teach[:, 0]
        excluded = _sum_counts(elig.counts(i) for i in range(len(mentees)))
        no_goals = np.isnan(fit)
        if no_goals.any():
            excluded["no goals"] = int((no_goals & allowed).sum())
    else:
        allowed, score, fit, teach = allowed[0], score[0], fit[0], teach[0]
        excluded = elig.counts(0)
    if free_places is None:
        places = np.ones(len(mentors), dtype=np.int64)
    else:
        places = np.fromiter((free_places.get(int(j), 1) for j in mentors), dtype=np.int64,
                             count=len(mentors))
    if role == "mentee":
        full = allowed & (places <= 0)
        if full.any():
            excluded["no free place"] = int(full.sum())
        allowed &= places > 0
    weak = allowed & ~(fit >= weights.min_fit)
    if (weak & ~np.isnan(fit)).any():
        excluded["fit below minimum"] = int((weak & ~np.isnan(fit)).sum())
    ok = np.flatnonzero(allowed & (fit >= weights.min_fit))
    order = ok[np.argsort(-score[ok], kind="stable")][:limit]
    if not len(order):
        result.excluded = excluded
        result.message = "no suitable candidate" + (
            f": {_describe_exclusions(excluded)}" if excluded else "")
        return result
    if role == "mentee":
        learn_pairs = [(person, int(others[k])) for k in order]
        teach_pairs = [(int(others[k]), person) for k in order]
    else:
        learn_pairs = [(int(others[k]), person) for k in order]
        teach_pairs = [(person, int(others[k])) for k in order]
    learn_reasons = explain_pairs(pool, learn_pairs)
    teach_reasons = explain_pairs(pool, teach_pairs)
    prefs = pool.codes.preferences(mentees, mentors).parts()
    for n, k in enumerate(order):
        other = people[int(others[k])]
        pi, pj = (0, k) if role == "mentee" else (k, 0)
        result.candidates.append(Candidate(
            person=PersonRef.of(other),
            score=float(score[k]),
            fit=float(fit[k]),
            teach_back=float(teach[k]) if np.isfinite(teach[k]) else None,
            preferences={name: float(part[pi, pj]) for name, part in prefs.items()},
            reasons=learn_reasons[n],
            teach_back_reasons=teach_reasons[n],
            free_places=int(places[k]) if role == "mentee" else None,
        ))
    result.excluded = excluded
    return result


def _sum_counts(items: Iterable[Mapping[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for counts in items:
        for key, value in counts.items():
            total[key] = total.get(key, 0) + value
    return total


# --- proposal --------------------------------------------------------------------------------


class _Clock:
    """Wall time per phase (summed when a phase repeats), for the proposal's stats."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.seconds[phase] = round(self.seconds.get(phase, 0.0) + now - self._last, 3)
        self._last = now


P = ParamSpec("P")
R = TypeVar("R")


def gc_paused(func: Callable[P, R]) -> Callable[P, R]:
    """Run ``func`` with cyclic garbage collection paused (and restored afterwards).

    A 10k proposal builds ~100k small objects (reasons, pairs, unmatched entries) but no
    reference cycles; the allocations alone set off ~130 collections, one of them full
    (~0.2 s in the benchmark, longer in a larger process such as a web worker).
    """

    @functools.wraps(func)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return func(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()

    return run


@gc_paused
def propose(
    pool: Pool,
    mentees: Sequence[int],
    mentors: Sequence[int],
    capacity: Sequence[int],
    *,
    chains: Mapping[int, frozenset[int]],
    history: Iterable[tuple[int, int]] = (),
    locked: Sequence[tuple[int, int]] = (),
    weights: MatchWeights | None = None,
    programme: str = "",
    explain: bool = True,
) -> Proposal:
    """The maximum-total-score assignment of ``mentees`` to ``mentors`` (pool positions).

    ``locked`` holds (mentee position, mentor position) pairs HR decided: they stay, use up
    capacity and are not re-optimised. Nobody matchable is not an error: everyone is then
    listed as unmatched with the reason.
    """
    weights = weights or MatchWeights()
    people = pool.participants
    mentees_arr = np.asarray(mentees, dtype=np.int64)
    mentors_arr = np.asarray(mentors, dtype=np.int64)
    capacity_arr = np.asarray(capacity, dtype=np.int64)
    if capacity_arr.shape != mentors_arr.shape:
        raise ValueError("one capacity per mentor")
    row_of = {int(p): r for r, p in enumerate(mentees_arr)}
    col_of = {int(p): c for c, p in enumerate(mentors_arr)}
    warnings: list[str] = []
    lock_rc: list[tuple[int, int]] = []
    for mentee, mentor in locked:
        if mentee not in row_of or mentor not in col_of:
            warnings.append(
                f"locked pair {people[mentor].email} / {people[mentee].email} is outside the "
                "programme's opted-in participants and was kept out of the optimisation"
            )
            continue
        if any(r == row_of[mentee] for r, _ in lock_rc):
            warnings.append(f"{people[mentee].email} is locked to several mentors; kept one")
            continue
        lock_rc.append((row_of[mentee], col_of[mentor]))

    n, m = len(mentees_arr), len(mentors_arr)
    proposal = Proposal(programme, [], [], [], 0.0, True, weights, warnings)
    if n == 0 or m == 0:
        who = "mentees" if n == 0 else "mentors"
        proposal.warnings.append(f"no opted-in {who}: nobody can be matched")
        proposal.unmatched_mentees = [
            Unmatched(PersonRef.of(people[i]), "no opted-in mentor with a free place")
            for i in mentees_arr
        ]
        proposal.unmatched_mentors = [
            Unmatched(PersonRef.of(people[j]), "no opted-in mentee", free_places=int(c))
            for j, c in zip(mentors_arr, capacity_arr, strict=True)
        ]
        return proposal

    clock = _Clock()
    elig = pool.eligibility(mentees_arr, mentors_arr, chains, history)
    allowed = elig.allowed()
    clock.lap("constraints")
    score, fit, teach = pair_scores(pool, mentees_arr, mentors_arr, weights)
    clock.lap("scores")
    for r, c in lock_rc:
        reason = elig.reason(r, c)
        if reason is not None:
            warnings.append(f"locked pair {people[mentors_arr[c]].email} / "
                            f"{people[mentees_arr[r]].email} breaks a hard constraint "
                            f"({reason}); kept because HR locked it")
    usable = allowed & (fit >= weights.min_fit)
    weight_matrix = np.where(usable, score, np.float32(np.nan)).astype(np.float32, copy=False)
    load = np.bincount([c for _, c in lock_rc], minlength=m)
    for c in np.flatnonzero(load > capacity_arr):
        warnings.append(f"{people[mentors_arr[c]].email} has more locked pairs ({load[c]}) "
                        f"than capacity ({capacity_arr[c]})")
    clock.lap("constraints")
    result = assign(weight_matrix, capacity_arr, lock_rc)
    clock.lap("assignment")
    proposal.certified = result.certified
    locked_rows = {r for r, _ in lock_rc}
    chosen = [(r, int(c)) for r, c in enumerate(result.mentor_of) if c >= 0]
    if explain:
        learn = explain_pairs(pool, [(int(mentees_arr[r]), int(mentors_arr[c]))
                                     for r, c in chosen])
        teach_r = explain_pairs(pool, [(int(mentors_arr[c]), int(mentees_arr[r]))
                                       for r, c in chosen])
    else:
        learn = teach_r = [[] for _ in chosen]
    for k, (r, c) in enumerate(chosen):
        proposal.pairs.append(ProposedPair(
            mentor=PersonRef.of(people[mentors_arr[c]]),
            mentee=PersonRef.of(people[mentees_arr[r]]),
            score=float(score[r, c]),
            fit=float(fit[r, c]),
            teach_back=float(teach[r, c]) if np.isfinite(teach[r, c]) else None,
            locked=r in locked_rows,
            reasons=learn[k],
            teach_back_reasons=teach_r[k],
        ))
    clock.lap("explanations")
    proposal.total_score = float(result.total)
    proposal.unmatched_mentees = _unmatched_mentees(
        pool, mentees_arr, mentors_arr, capacity_arr, elig, fit, usable, result.mentor_of,
        weights,
    )
    proposal.unmatched_mentors = _unmatched_mentors(
        pool, mentors_arr, capacity_arr, usable, result.mentor_of
    )
    clock.lap("unmatched")
    proposal.stats = {
        "seconds": clock.seconds,
        "mentees": int(n),
        "mentors": int(m),
        "places": int(capacity_arr.sum()),
        "pairs": len(proposal.pairs),
        "locked": len(lock_rc),
        "candidate_pairs": int(usable.sum()),
        "optimiser_rounds": result.rounds,
    }
    return proposal


def _unmatched_mentees(
    pool: Pool, mentees: np.ndarray, mentors: np.ndarray, capacity: np.ndarray,
    elig: Eligibility, fit: np.ndarray, usable: np.ndarray, mentor_of: np.ndarray,
    weights: MatchWeights,
) -> list[Unmatched]:
    people = pool.participants
    out = []
    has_place = capacity > 0
    lost = np.flatnonzero(mentor_of < 0)
    facts = _unmatched_facts(fit, elig.allowed(), usable, has_place, lost)
    for r, no_goals, placed, best, n_usable, j in zip(lost.tolist(), *facts, strict=True):
        ref = PersonRef.of(people[mentees[r]])
        if no_goals:
            out.append(Unmatched(ref, "has no goals to match on: add goals (separated by ';')"))
            continue
        if not placed:
            eligible = elig.language[r] & ~elig.blocked_row(r)
            counts = elig.counts(r)
            full = int((eligible & ~has_place).sum())
            if full:
                counts["no free place"] = full
            out.append(Unmatched(ref, "no eligible mentor: " + _describe_exclusions(counts)))
            continue
        if not n_usable:
            out.append(Unmatched(
                ref,
                f"no eligible mentor covers these goals well enough (best fit {best:.2f}, "
                f"minimum {weights.min_fit:.2f})",
                best_fit=best,
            ))
            continue
        out.append(Unmatched(
            ref,
            f"all {n_usable} mentors who fit (best: {people[mentors[j]].name}, fit "
            f"{fit[r, j]:.2f}) are needed for pairs with a higher total fit",
            best_fit=float(fit[r, j]),
        ))
    return out


def _unmatched_facts(
    fit: np.ndarray, allowed: np.ndarray, usable: np.ndarray, has_place: np.ndarray,
    rows: np.ndarray, block: int = 512,
) -> tuple[list[bool], list[bool], list[float], list[int], list[int]]:
    """Per mentee row in ``rows``, vectorised: no goals (fit all NaN); any eligible mentor
    with a place; best fit among those (as float32, like ``nanmax``); usable mentors; the
    first usable mentor of highest fit (as ``nanargmax``). Rows with goals have finite fits,
    so -inf in place of NaN picks the same values."""
    no_goals, placed, best, n_usable, top = [], [], [], [], []
    for start in range(0, len(rows), block):
        part = rows[start : start + block]
        f, ok, use = fit[part], allowed[part] & has_place, usable[part]
        no_goals += np.isnan(f).all(axis=1).tolist()
        placed += ok.any(axis=1).tolist()
        best += np.where(ok, f, -np.inf).max(axis=1, initial=-np.inf).tolist()
        n_usable += use.sum(axis=1).tolist()
        top += np.where(use, f, -np.inf).argmax(axis=1).tolist()
    return no_goals, placed, best, n_usable, top


def _unmatched_mentors(
    pool: Pool, mentors: np.ndarray, capacity: np.ndarray, usable: np.ndarray,
    mentor_of: np.ndarray,
) -> list[Unmatched]:
    people = pool.participants
    load = np.bincount(mentor_of[mentor_of >= 0], minlength=len(mentors))
    out = []
    for c in np.flatnonzero(load < capacity):
        ref = PersonRef.of(people[mentors[c]])
        free = int(capacity[c] - load[c])
        others = usable[:, c] & (mentor_of != c)
        if not people[mentors[c]].evidence:
            reason = "no evidence to match on (stated expertise, guides or shared insights)"
        elif not usable[:, c].any():
            reason = "no mentee in the programme fits (or all are ruled out by constraints)"
        elif not others.any():
            reason = "no further mentee fits"
        else:
            reason = (f"the {int(others.sum())} other mentee(s) who fit got pairs with a "
                      "higher total fit")
        out.append(Unmatched(ref, reason, free_places=free))
    return out


# --- gaps ------------------------------------------------------------------------------------


def find_gaps(
    pool: Pool,
    mentees: Sequence[int],
    mentors: Sequence[int],
    *,
    chains: Mapping[int, frozenset[int]],
    history: Iterable[tuple[int, int]] = (),
    threshold: float = DEFAULT_GAP_THRESHOLD,
    theme_similarity: float = THEME_SIMILARITY,
) -> list[GapTheme]:
    """Mentee goals no available mentor covers at ``threshold`` or more, grouped into themes.

    A goal counts as covered only by mentors the mentee could actually be paired with (hard
    constraints). Themes: average-linkage clusters of the goals' fused similarity, cut at
    ``theme_similarity``; each is named by its most central goal. Largest themes first.
    """
    people = pool.participants
    mentees_arr = np.asarray(mentees, dtype=np.int64)
    mentors_arr = np.asarray(mentors, dtype=np.int64)
    goals_bank, _ = _view(pool, "goals", mentees_arr)
    if not len(goals_bank):
        return []
    if len(mentors_arr):
        cov, _ = coverage_of(pool, mentees_arr, mentors_arr)
        allowed = pool.eligibility(mentees_arr, mentors_arr, chains, history).allowed()
        row = {int(p): r for r, p in enumerate(mentees_arr)}
        goal_allowed = allowed[[row[int(o)] for o in goals_bank.owners]]
        masked = np.where(goal_allowed, cov, -np.inf)
        best_col = masked.argmax(axis=1)
        best = masked[np.arange(len(masked)), best_col]
        best = np.where(np.isfinite(best), best, 0.0)
    else:
        best_col = np.zeros(len(goals_bank), dtype=np.int64)
        best = np.zeros(len(goals_bank), dtype=np.float32)
    gap_rows = np.flatnonzero(best < threshold)
    if not len(gap_rows):
        return []
    gap_goals = [
        GapGoal(
            goal=goals_bank.texts[r],
            mentee=PersonRef.of(people[int(goals_bank.owners[r])]),
            best=float(best[r]),
            best_mentor=(PersonRef.of(people[int(mentors_arr[best_col[r]])])
                         if len(mentors_arr) and best[r] > 0 else None),
        )
        for r in gap_rows
    ]
    themes = _themes(pool, goals_bank.subset(gap_rows), theme_similarity)
    out = []
    for members, centre in themes:
        out.append(GapTheme(theme=gap_goals[centre].goal,
                            goals=sorted((gap_goals[i] for i in members), key=lambda g: g.best)))
    out.sort(key=lambda t: (-len(t.goals), t.best))
    return out


def _themes(pool: Pool, goals: TextBank, min_similarity: float) -> list[tuple[list[int], int]]:
    """Clusters of goal rows (average linkage on 1 - fused similarity) and each centre."""
    n = len(goals)
    if n == 1:
        return [([0], 0)]
    sim = similarity(goals, goals, pool.config).astype(np.float64)
    if pool.config.uses_lexical:
        # Shared words count too, weighed among the goals themselves: uncovered goals use
        # words the evidence lexicon may not even know.
        words = Lexicon.fit(goals.texts).transform(goals.texts)
        sim = (sim + (words @ words.T).toarray()) / 2
    sim = (sim + sim.T) / 2
    np.fill_diagonal(sim, 1.0)
    distance = np.clip(1.0 - sim, 0.0, None)
    np.fill_diagonal(distance, 0.0)
    labels = fcluster(linkage(squareform(distance, checks=False), method="average"),
                      t=1.0 - min_similarity, criterion="distance")
    out = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        centre = members[np.argmax(sim[np.ix_(members, members)].mean(axis=1))]
        out.append(([int(i) for i in members], int(centre)))
    return out
