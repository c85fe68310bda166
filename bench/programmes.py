"""Synthetic, already-embedded participant pools for the matching benchmark (not product code).

Shaped like a real organisation: goals and evidence grouped into themes, Polish, Russian and
English texts, management trees in which seniors manage young mentors, previous pairs, locks,
departments, styles and time slots. Vectors are theme centroids plus noise for each dense
signal of the scoring configuration (the multilingual one with E5's high cosine baseline);
the lexical signal runs on the generated words, as in the product.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matching.constraints import management_chains
from matching.lexical import Lexicon
from matching.pool import Pool, profile_documents
from matching.profiles import Evidence, Participant, build_bank, source_codes
from matching.scoring import ScoringConfig

LANGUAGE_SETS = [("pl", "en"), ("pl",), ("ru", "en"), ("ru",), ("en",)]
LANGUAGE_SHARE = [0.4, 0.2, 0.2, 0.1, 0.1]
_LATIN = "abcdefghijklmnoprstuwyz"
_CYRILLIC = "абвгдежзиклмнопрстуфхцчшщыэюя"


@dataclass
class SyntheticProgramme:
    pool: Pool
    mentees: list[int]
    mentors: list[int]
    capacity: list[int]
    chains: dict[int, frozenset[int]]
    history: set[tuple[int, int]]
    locked: list[tuple[int, int]]


def _word(rng: np.random.Generator, alphabet: str) -> str:
    return "".join(rng.choice(list(alphabet), size=int(rng.integers(4, 10))))


def make_programme(
    n_mentees: int,
    n_mentors: int,
    config: ScoringConfig,
    seed: int = 0,
    themes: int = 80,
    dim: int = 384,
) -> SyntheticProgramme:
    """A programme of ``n_mentees`` seniors and ``n_mentors`` young mentors, embedded."""
    rng = np.random.default_rng(seed)
    vocab = {
        (t, lang): [_word(rng, _CYRILLIC if lang == "ru" else _LATIN) for _ in range(12)]
        for t in range(themes)
        for lang in ("pl", "ru", "en")
    }
    centres = {name: _unit(rng.standard_normal((themes, dim))) for name in config.dense_names}
    common = {name: _unit(rng.standard_normal(dim)) for name in config.dense_names}

    def text(theme: int, lang: str, words: int) -> str:
        return " ".join(rng.choice(vocab[(theme, lang)], size=words))

    people: list[Participant] = []
    item_theme: list[tuple[int, str]] = []  # per evidence item: theme and language
    goal_theme: list[tuple[int, str]] = []
    n = n_mentees + n_mentors
    for pid in range(n):
        is_mentee = pid < n_mentees
        langs = LANGUAGE_SETS[int(rng.choice(len(LANGUAGE_SETS), p=LANGUAGE_SHARE))]
        focus = rng.choice(themes // 2, size=2, replace=False)  # digital topics
        business = themes // 2 + rng.choice(themes // 2, size=2, replace=False)
        goals, evidence = [], []
        n_goals = int(rng.integers(1, 6)) if is_mentee else int(rng.integers(0, 4))
        for _ in range(n_goals):
            theme = int(rng.choice(focus if is_mentee else business))
            lang = str(rng.choice(langs))
            goals.append(text(theme, lang, int(rng.integers(3, 7))))
            goal_theme.append((theme, lang))
        topics = business if is_mentee else focus
        for _ in range(int(rng.integers(2, 5))):
            theme, lang = int(rng.choice(topics)), str(rng.choice(langs))
            evidence.append(
                Evidence("expertise", text(theme, lang, int(rng.integers(2, 5))), language=lang)
            )
            item_theme.append((theme, lang))
        if not is_mentee:
            for guide in range(int(rng.poisson(0.8))):  # guides, one to three chunks each
                theme, lang = int(rng.choice(topics)), str(rng.choice(langs))
                title = text(theme, lang, 4)
                for _ in range(int(rng.integers(1, 4))):
                    evidence.append(
                        Evidence(
                            "guide",
                            text(theme, lang, 60),
                            title=title,
                            ref=f"guide-{pid}-{guide}",
                            language=lang,
                        )
                    )
                    item_theme.append((theme, lang))
            for _ in range(int(rng.poisson(0.3))):
                theme, lang = int(rng.choice(topics)), str(rng.choice(langs))
                evidence.append(Evidence("insight", text(theme, lang, 25), language=lang))
                item_theme.append((theme, lang))
        people.append(
            Participant(
                id=pid,
                email=f"p{pid}@example.com",
                name=f"Person {pid}",
                department=f"dept-{int(rng.integers(30))}",
                languages=frozenset(langs),
                roles=frozenset({"mentee" if is_mentee else "mentor"}),
                capacity=0 if is_mentee else int(rng.integers(1, 6)),
                style=str(rng.choice(["structured", "informal", "hands-on", "reflective"])),
                availability=frozenset(
                    rng.choice([f"d{k}" for k in range(10)], size=3, replace=False).tolist()
                ),
                goals=tuple(goals),
                evidence=tuple(evidence),
            )
        )

    goal_texts = [g for p in people for g in p.goals]
    goal_owners = [i for i, p in enumerate(people) for _ in p.goals]
    items = [e for p in people for e in p.evidence]
    item_owners = [i for i, p in enumerate(people) for _ in p.evidence]
    documents = profile_documents(people)
    lexicon = Lexicon.fit(documents)
    goal_dense, item_dense = {}, {}
    for name in config.dense_names:
        signal = config.signal(name)
        lift = np.sqrt(signal.baseline / max(1e-6, 1 - signal.baseline))
        goal_dense[name] = _vectors(rng, centres[name], common[name], goal_theme, lift)
        item_dense[name] = _vectors(rng, centres[name], common[name], item_theme, lift)
    pool = Pool(
        participants=people,
        goals=build_bank(
            goal_texts,
            goal_owners,
            dense=goal_dense,
            lexicon=lexicon,
            languages=[lang for _, lang in goal_theme],
        ),
        evidence=build_bank(
            [e.embedding_text for e in items],
            item_owners,
            dense=item_dense,
            lexicon=lexicon,
            languages=[e.language for e in items],
            sources=source_codes(items, item_owners),
        ),
        items=items,
        config=config,
        profiles=lexicon.transform(documents),
    )

    # Management: seniors form a tree; half of the mentors report to a senior.
    managers: dict[int, int | None] = {}
    for pid in range(n_mentees):
        managers[pid] = int(rng.integers(pid)) if pid and rng.random() < 0.9 else None
    for pid in range(n_mentees, n):
        managers[pid] = int(rng.integers(n_mentees)) if rng.random() < 0.5 else None
    chains = management_chains(managers)
    mentees, mentors = list(range(n_mentees)), list(range(n_mentees, n))
    history = {(int(rng.choice(mentors)), int(rng.choice(mentees))) for _ in range(n_mentees // 20)}
    locked = [
        (int(i), int(rng.choice(mentors)))
        for i in rng.choice(mentees, size=max(1, n_mentees // 200), replace=False)
    ]
    return SyntheticProgramme(
        pool, mentees, mentors, [people[j].capacity for j in mentors], chains, history, locked
    )


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def _vectors(
    rng: np.random.Generator,
    centres: np.ndarray,
    common: np.ndarray,
    themes: list[tuple[int, str]],
    lift: float,
) -> np.ndarray:
    """Theme centre + noise (same-theme cosine about 0.5), lifted towards a shared direction
    so unrelated texts sit at the signal's baseline cosine (E5 puts them near 0.75)."""
    if not themes:
        return np.zeros((0, centres.shape[1]), dtype=np.float32)
    idx = np.array([t for t, _ in themes])
    noise = rng.standard_normal((len(idx), centres.shape[1])).astype(np.float32)
    base = _unit(centres[idx] + _unit(noise))
    return _unit(base + lift * common[None, :])
