"""Hard constraints of a mentoring pair, and the soft preferences HR can weigh.

Pure: participants in, boolean matrices and counts out. Hard constraints: both opted in (the
caller passes only opted-in people), not the same person, neither in the other's management
chain (mentoring must stay separate from line management), at least one common language, the
pair never ran before and was never rejected, and the mentor has capacity left.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from kb.errors import ValidationError
from kb.i18n import N_, Text, Texts
from matching.profiles import Participant

# Why a mentor is not a candidate for a mentee, in the order checks are reported.
BLOCK_REASONS = ("same person", "no common language", "management chain", "paired before")


class ManagementChainError(ValidationError):
    """The manager field has a cycle or names someone unknown: chains cannot be checked."""


def management_chains(
    managers: Mapping[int, int | None], labels: Mapping[int, str] | None = None
) -> dict[int, frozenset[int]]:
    """Everyone above each person in the management chain.

    Raises :class:`ManagementChainError` listing every cycle and every unknown manager, since
    with either the separation of mentoring and line management cannot be guaranteed.
    """
    labels = labels or {}

    def label(pid: int) -> str:
        return labels[pid] if pid in labels else Text(N_("person %(id)s"), id=pid)

    problems: list[Text] = []
    for pid, boss in managers.items():
        if boss is not None and boss not in managers:
            problems.append(
                Text(
                    N_("%(person)s has an unknown manager (id %(id)s)"), person=label(pid), id=boss
                )
            )
    state: dict[int, int] = {}  # 1: on the current path, 2: done
    chains: dict[int, frozenset[int]] = {}
    reported: set[frozenset[int]] = set()
    for start in managers:
        path: list[int] = []
        current: int | None = start
        while current is not None and current in managers and state.get(current) != 2:
            if state.get(current) == 1:
                cycle = path[path.index(current) :]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    names = Texts((label(p) for p in [*cycle, current]), separator=" -> ")
                    problems.append(Text(N_("management cycle: %(cycle)s"), cycle=names))
                break
            state[current] = 1
            path.append(current)
            current = managers[current]
        for pid in path:
            state[pid] = 2
    if problems:
        raise ManagementChainError(
            N_(
                "the manager field cannot be used to keep mentoring apart from line management: "
                "%(problems)s"
            ),
            field="manager",
            problems=Texts(problems, separator="; "),
        )

    def chain(pid: int) -> frozenset[int]:
        if pid not in chains:
            boss = managers.get(pid)
            chains[pid] = frozenset() if boss is None else chain(boss) | {boss}
        return chains[pid]

    # Walk from the top down (iteratively deep chains would otherwise recurse deeply).
    for pid in sorted(managers, key=lambda p: _depth(p, managers)):
        chain(pid)
    return chains


def _depth(pid: int, managers: Mapping[int, int | None]) -> int:
    depth = 0
    while (boss := managers.get(pid)) is not None:
        pid = boss
        depth += 1
    return depth


def _bits(values: Sequence[frozenset[str]]) -> tuple[np.ndarray, dict[str, int]]:
    """Each set of labels as an integer bit mask (a 64-label vocabulary at most per call)."""
    vocabulary: dict[str, int] = {}
    for labels in values:
        for item in sorted(labels):
            vocabulary.setdefault(item, len(vocabulary))
    if len(vocabulary) > 64:
        raise ValidationError(f"too many distinct values ({len(vocabulary)} > 64)")
    # Python ints, converted once: numpy scalar operations per label cost ~1 us each.
    masks = [sum(1 << vocabulary[item] for item in labels) for labels in values]
    return np.array(masks, dtype=np.uint64).reshape(len(values)), vocabulary


@dataclass
class Eligibility:
    """Which mentor may be proposed to which mentee, and why others may not."""

    language: np.ndarray  # bool [mentees, mentors]: at least one common language
    blocked: dict[str, tuple[np.ndarray, np.ndarray]]  # reason -> (mentee rows, mentor cols)

    def __post_init__(self) -> None:
        # Per reason: entries sorted by row, with row start offsets, for per-mentee lookups.
        n = self.language.shape[0]
        self._by_row: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for reason, (rows, cols) in self.blocked.items():
            order = np.argsort(rows, kind="stable")
            starts = np.searchsorted(rows[order], np.arange(n + 1))
            self._by_row[reason] = (cols[order], starts)

    @property
    def shape(self) -> tuple[int, int]:
        return self.language.shape

    def allowed(self) -> np.ndarray:
        allowed = self.language.copy()
        for rows, cols in self.blocked.values():
            allowed[rows, cols] = False
        return allowed

    def _blocked_cols(self, reason: str, row: int) -> np.ndarray:
        if reason not in self._by_row:
            return np.zeros(0, dtype=np.int64)
        cols, starts = self._by_row[reason]
        return cols[starts[row] : starts[row + 1]]

    def blocked_row(self, row: int) -> np.ndarray:
        """Bool [mentors]: ruled out for this mentee by anything but language."""
        out = np.zeros(self.language.shape[1], dtype=bool)
        for reason in self.blocked:
            out[self._blocked_cols(reason, row)] = True
        return out

    def reason(self, row: int, col: int) -> str | None:
        """The first hard constraint that rules the pair out, or None."""
        for reason in BLOCK_REASONS:
            if reason == "no common language":
                if not self.language[row, col]:
                    return reason
            elif col in self._blocked_cols(reason, row):
                return reason
        return None

    def counts(self, row: int) -> dict[str, int]:
        """How many mentors each constraint rules out for a mentee (first failing one counts)."""
        m = self.language.shape[1]
        ruled_out = np.zeros(m, dtype=bool)
        result: dict[str, int] = {}
        for reason in BLOCK_REASONS:
            if reason == "no common language":
                hit = ~self.language[row]
            else:
                hit = np.zeros(m, dtype=bool)
                hit[self._blocked_cols(reason, row)] = True
            new = hit & ~ruled_out
            if new.any():
                result[reason] = int(new.sum())
            ruled_out |= new
        return result


def descendants(chains: Mapping[int, frozenset[int]]) -> dict[int, list[int]]:
    """Everyone below each manager (the inverse of :func:`management_chains`)."""
    below: dict[int, list[int]] = {}
    for pid, above in chains.items():
        for boss in above:
            below.setdefault(boss, []).append(pid)
    return below


def language_bits(people: Sequence[Participant]) -> np.ndarray:
    """Each person's languages as a bit mask (one shared vocabulary for the whole list)."""
    masks, _ = _bits([p.languages for p in people])
    return masks


def common_language(mentee_langs: np.ndarray, mentor_langs: np.ndarray) -> np.ndarray:
    """Bool [mentees, mentors]: the language bit masks share a bit.

    People have few distinct language sets, so the test runs once per pair of distinct masks
    and is then looked up: no [mentees, mentors] uint64 temporary (160 MB at 10k x 2k).
    """
    mentee_sets, mentee_kind = np.unique(mentee_langs, return_inverse=True)
    mentor_sets, mentor_kind = np.unique(mentor_langs, return_inverse=True)
    table = (mentee_sets[:, None] & mentor_sets[None, :]) != 0
    return table[mentee_kind.reshape(-1)][:, mentor_kind.reshape(-1)]


def eligibility(
    mentees: Sequence[Participant],
    mentors: Sequence[Participant],
    chains: Mapping[int, frozenset[int]],
    history: Iterable[tuple[int, int]] = (),
    languages: tuple[np.ndarray, np.ndarray] | None = None,
    below: Mapping[int, Sequence[int]] | None = None,
) -> Eligibility:
    """Hard constraints between every mentee and mentor.

    ``history`` holds (mentor id, mentee id) of pairs that already ran or were rejected.
    ``languages`` may pass precomputed :func:`language_bits` of (mentees, mentors) and
    ``below`` the :func:`descendants` of ``chains`` (both only save time).
    """
    row_of = {p.id: i for i, p in enumerate(mentees)}
    col_of = {p.id: j for j, p in enumerate(mentors)}
    if languages is None:
        masks = language_bits([*mentees, *mentors])
        mentee_langs, mentor_langs = masks[: len(mentees)], masks[len(mentees) :]
    else:
        mentee_langs, mentor_langs = languages
    language = common_language(mentee_langs, mentor_langs)

    same: list[tuple[int, int]] = [(row_of[p.id], col_of[p.id]) for p in mentees if p.id in col_of]
    chain: list[tuple[int, int]] = []
    for p in mentees:  # the mentor is one of the mentee's managers
        chain.extend((row_of[p.id], col_of[b]) for b in chains.get(p.id, ()) if b in col_of)
    if below is not None and len(mentees) < len(mentors):
        for p in mentees:  # the mentee manages the mentor (looked up from the mentee's side)
            chain.extend((row_of[p.id], col_of[d]) for d in below.get(p.id, ()) if d in col_of)
    else:
        for p in mentors:  # the mentee is one of the mentor's managers
            chain.extend((row_of[b], col_of[p.id]) for b in chains.get(p.id, ()) if b in row_of)
    before = [
        (row_of[mentee], col_of[mentor])
        for mentor, mentee in set(history)
        if mentee in row_of and mentor in col_of
    ]

    def arrays(pairs: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
        if not pairs:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        arr = np.asarray(sorted(set(pairs)), dtype=np.int64)
        return arr[:, 0], arr[:, 1]

    return Eligibility(
        language=language,
        blocked={
            "same person": arrays(same),
            "management chain": arrays(chain),
            "paired before": arrays(before),
        },
    )


@dataclass(frozen=True)
class MatchWeights:
    """How a pair's score is made of its parts; HR may change any of them.

    ``expertise``: the mentee's goals covered by the mentor's evidence (the main part);
    ``teach_back``: the mentor's own learning goals covered by the mentee's experience;
    ``other_department``: bonus when the two work in different departments;
    ``style``: bonus for the same working/communication style;
    ``availability``: bonus times the share of the mentee's time slots the mentor shares;
    ``min_fit``: pairs whose expertise fit is below this are never proposed.
    """

    expertise: float = 1.0
    teach_back: float = 0.25
    other_department: float = 0.05
    style: float = 0.03
    availability: float = 0.05
    min_fit: float = 0.05
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        for name in (
            "expertise",
            "teach_back",
            "other_department",
            "style",
            "availability",
            "min_fit",
        ):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value < 0 or value != value:
                raise ValidationError(
                    N_("weight %(name)s must be a number >= 0, not %(value)r"),
                    field=name,
                    name=name,
                    value=value,
                )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> MatchWeights:
        if not data:
            return cls()
        known = {k for k in asdict(cls()) if k != "extra"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValidationError(
                N_("unknown weight(s) %(names)s; use %(choices)s"),
                field="weights",
                names=", ".join(unknown),
                choices=", ".join(sorted(known)),
            )
        try:
            values: dict[str, Any] = {k: float(v) for k, v in data.items()}
            return cls(**values)
        except (TypeError, ValueError) as exc:
            raise ValidationError(
                N_("weights must be numbers: %(problem)s"), field="weights", problem=str(exc)
            ) from exc

    def to_dict(self) -> dict[str, float]:
        data = asdict(self)
        data.pop("extra")
        return data


PREFERENCE_PARTS = ("other_department", "style", "availability")


@dataclass
class Preferences:
    """Soft-preference parts of the pair score, computed on demand from compact codes.

    Each part is in [0, 1]: different departments, the same style, the share of the mentee's
    time slots the mentor also has. Unknown values (empty fields) earn nothing.
    """

    mentee_department: np.ndarray
    mentor_department: np.ndarray
    mentee_style: np.ndarray
    mentor_style: np.ndarray
    mentee_slots: np.ndarray
    mentor_slots: np.ndarray
    _tables: dict[tuple[float, float, float], Any] = field(default_factory=dict, repr=False)

    def parts(self, rows: slice | np.ndarray = slice(None)) -> dict[str, np.ndarray]:
        """The three parts for the given mentee rows: each [rows, mentors]."""
        return {name: self.part(name, rows) for name in PREFERENCE_PARTS}

    def part(self, name: str, rows: slice | np.ndarray = slice(None)) -> np.ndarray:
        """One part for the given mentee rows: [rows, mentors]."""
        if name == "other_department":
            d_e, d_m = self.mentee_department[rows, None], self.mentor_department[None, :]
            return ((d_e >= 0) & (d_m >= 0) & (d_e != d_m)).astype(np.float32)
        if name == "style":
            s_e, s_m = self.mentee_style[rows, None], self.mentor_style[None, :]
            return ((s_e >= 0) & (s_e == s_m)).astype(np.float32)
        if name == "availability":
            a_e, a_m = self.mentee_slots[rows, None], self.mentor_slots[None, :]
            own = np.maximum(np.bitwise_count(a_e), 1).astype(np.float32)
            return np.bitwise_count(a_e & a_m).astype(np.float32) / own
        raise KeyError(name)

    def bonus(self, weights: MatchWeights, rows: slice | np.ndarray = slice(None)) -> np.ndarray:
        """Weighted sum of the parts for the given mentee rows.

        Each part depends on one attribute of the mentee, and mentees share few distinct
        departments, styles and slot sets: each weighted part is computed once per distinct
        value (kept for the next call) and its rows gathered, instead of comparing every
        mentee with every mentor (the same float32 sums, several times faster at 10k x 2k).
        """
        key = (weights.other_department, weights.style, weights.availability)
        if key not in self._tables:
            self._tables[key] = self._weighted_parts(weights)
        (department, d_at), (style, s_at), (slots, a_at) = self._tables[key]
        out = department[d_at[rows]]
        out += style[s_at[rows]]
        out += slots[a_at[rows]]
        return out

    def _weighted_parts(self, weights: MatchWeights) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per part: (weighted part of each distinct mentee value [values, mentors], each
        mentee's row in it)."""
        out = []
        for name, values, weight in (
            ("other_department", self.mentee_department, weights.other_department),
            ("style", self.mentee_style, weights.style),
            ("availability", self.mentee_slots, weights.availability),
        ):
            _, first, at = np.unique(values, return_index=True, return_inverse=True)
            part = self.part(name, first)
            out.append(((weight * part).astype(np.float32, copy=False), at.reshape(-1)))
        return out


def _codes(values: Sequence[str]) -> np.ndarray:
    """Each non-empty value as an integer code; empty values get -1 (unknown)."""
    vocabulary: dict[str, int] = {}
    return np.array(
        [
            vocabulary.setdefault(v.strip().lower(), len(vocabulary)) if v.strip() else -1
            for v in values
        ],
        dtype=np.int64,
    )


@dataclass
class PeopleCodes:
    """Compact codes of many people for vectorised constraints and preferences."""

    languages: np.ndarray
    departments: np.ndarray
    styles: np.ndarray
    slots: np.ndarray

    @classmethod
    def of(cls, people: Sequence[Participant]) -> PeopleCodes:
        slots, _ = _bits([p.availability for p in people])
        return cls(
            language_bits(people),
            _codes([p.department for p in people]),
            _codes([p.style for p in people]),
            slots,
        )

    def preferences(self, mentees: np.ndarray, mentors: np.ndarray) -> Preferences:
        """Preferences between the people at positions ``mentees`` and ``mentors``."""
        return Preferences(
            self.departments[mentees],
            self.departments[mentors],
            self.styles[mentees],
            self.styles[mentors],
            self.slots[mentees],
            self.slots[mentors],
        )


def preferences(mentees: Sequence[Participant], mentors: Sequence[Participant]) -> Preferences:
    """Soft-preference codes of both sides (shared vocabularies)."""
    codes = PeopleCodes.of([*mentees, *mentors])
    n = len(mentees)
    return codes.preferences(np.arange(n), np.arange(n, n + len(mentors)))
