"""Matching on the demo company, scored against the labelled PL/RU/EN set.

Each labelled goal becomes a temporary mentee of the demo instance. The mentee speaks all
three languages and has no manager, department, style or slots, so constraints and soft
preferences play no part. The product's own recommendation service then scores every
(goal, mentor) pair, with the reasons it shows. It uses the mentor side of
``tandem recommend`` (one call per mentor instead of one per goal), which computes the same
pair scores and the same goal <-> evidence reasons as the mentee side. A goal's mentors are
ranked by that score, as the mentee side ranks them. Free places are not looked at, because
the labels judge knowledge, not availability. All of this happens in one database
transaction that is rolled back: nothing is stored.

Reported: ranking quality (nDCG@3 with the grades as gains, MRR and P@1 of a suitable mentor,
recall@3 of the suitable mentors) per language, for cross-language goals and overall. Also how
strong the shown reasons are: for every judged (goal, mentor) pair, the similarity of its top
reason against the judgment. The "strong" and "some" thresholds are chosen on dev only
(precision of a suitable mentor >= 80 % and >= 50 %). The test split is scored with the
product's constants in :mod:`matching.bands`.

    python -m bench.matching_demo --instance /tmp/inst --split dev
    python -m bench.matching_demo --instance /tmp/inst --split both --out results/matching-demo.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bench.paths import run_main
from kb.errors import ValidationError
from kb.models import Person
from kb.services.people import person_record, upsert_people
from matching.bands import FIT_BANDS, REASON_BANDS, SOME, STRONG, WEAK, Bands

DATASET = Path(__file__).resolve().parent / "datasets" / "demo-matching"
SPLITS = ("dev", "test")
LANGUAGES = ("pl", "ru", "en")
SUITABLE = 1  # the lowest grade that counts as a suitable mentor
K = 3
STRONG_PRECISION = 0.80
SOME_PRECISION = 0.50
MIN_SUPPORT = 10  # a threshold must keep at least this many pairs above it


# --- the labelled set ------------------------------------------------------------------------


@dataclass(frozen=True)
class Goal:
    id: str
    language: str
    split: str
    topic: str
    text: str
    covered: bool
    cross_language: bool


@dataclass
class LabelledSet:
    """Goals and, per goal, every mentor's grade (0 unsuitable, 1 suitable, 2 strong)."""

    goals: list[Goal]
    grades: dict[str, dict[str, int]]

    @property
    def mentors(self) -> list[str]:
        return sorted({m for per_goal in self.grades.values() for m in per_goal})

    def split(self, name: str) -> list[Goal]:
        return [g for g in self.goals if name in ("both", g.split)]


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise ValidationError(f"the labelled set has no {path.name} in {path.parent}")
    rows = []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValidationError(f"{path.name} line {number}: not JSON ({exc.msg})") from exc
    return rows


def load_set(folder: Path = DATASET) -> LabelledSet:
    """Read ``goals.jsonl`` and ``judgments.jsonl``; a goal without judgments is an error."""
    goals = []
    for row in _read_jsonl(folder / "goals.jsonl"):
        try:
            goals.append(
                Goal(
                    row["id"],
                    row["language"],
                    row["split"],
                    row["topic"],
                    row["goal"],
                    bool(row["covered"]),
                    bool(row["cross_language"]),
                )
            )
        except KeyError as exc:
            raise ValidationError(f"goals.jsonl: a goal lacks the field {exc.args[0]!r}") from exc
    known = {g.id for g in goals}
    grades: dict[str, dict[str, int]] = {}
    for row in _read_jsonl(folder / "judgments.jsonl"):
        if row.get("goal") not in known:
            raise ValidationError(f"judgments.jsonl: unknown goal {row.get('goal')!r}")
        if row.get("grade") not in (0, 1, 2):
            raise ValidationError(
                f"judgments.jsonl: grade of {row['goal']} / {row.get('mentor')} must be 0, 1 or 2"
            )
        grades.setdefault(row["goal"], {})[row["mentor"]] = int(row["grade"])
    unjudged = sorted(known - set(grades))
    if unjudged:
        raise ValidationError(f"goals without judgments: {', '.join(unjudged)}")
    return LabelledSet(goals, grades)


# --- running the product's matching ----------------------------------------------------------


@dataclass(frozen=True)
class Link:
    """One reason matching shows: a goal <-> evidence link and its similarity."""

    similarity: float
    kind: str
    evidence: str
    title: str = ""


@dataclass
class Ranked:
    """One mentor as matching ranked them for a goal."""

    mentor: str
    score: float
    fit: float
    links: list[Link] = field(default_factory=list)

    @property
    def top_link(self) -> float:
        return max((link.similarity for link in self.links), default=0.0)


def goal_email(goal_id: str) -> str:
    return f"bench-goal-{goal_id}@example.com"


def _recommend(
    session: Session, embedders: Mapping[str, Any], mentor: str, limit: int
) -> dict[str, Ranked]:
    """The one call into the product's matching: the recommendation service of
    ``tandem recommend --mentor`` (every candidate mentee, no minimum fit)."""
    from matching import service

    found = service.recommend_mentees(
        session, embedders, mentor, limit=limit, weights={"min_fit": 0.0}
    )
    return {
        c.person.email: Ranked(
            mentor,
            float(c.score),
            float(c.fit),
            [Link(float(r.similarity), r.kind, r.evidence, r.title) for r in c.reasons],
        )
        for c in found.candidates
    }


def _store_goal_vectors(
    session: Session, embedders: Mapping[str, Any], people: Sequence[Person]
) -> None:
    """Embed the temporary mentees' goals as a profile written on the web is embedded."""
    from kb.services import match_vectors

    match_vectors.store(session, match_vectors.person_texts(people), embedders)


def rank_goals(
    session: Session,
    embedders: Mapping[str, Any],
    goals: Sequence[Goal],
    mentors: Sequence[str],
    progress: Callable[[str], None] | None = None,
) -> dict[str, list[Ranked]]:
    """Every goal's mentors as matching ranks them (by score, highest first). Adds temporary
    mentees to ``session`` and rolls it back before returning, whatever happens."""
    try:
        emails = {goal_email(g.id): g.id for g in goals}
        taken = set(session.scalars(select(Person.email).where(Person.email.in_(list(emails)))))
        if taken:
            raise ValidationError(
                f"the instance already has {sorted(taken)[0]}; use a fresh demo instance"
            )
        known = set(session.scalars(select(Person.email).where(Person.email.in_(list(mentors)))))
        missing = sorted(set(mentors) - known)
        if missing:
            raise ValidationError(
                f"the instance lacks the labelled mentors {missing}; build it with `tandem demo`"
            )
        created = upsert_people(
            session,
            [
                person_record(
                    {
                        "name": f"Bench goal {g.id}",
                        "email": goal_email(g.id),
                        "languages": "pl;ru;en",
                        "roles": "mentee",
                        "goals": g.text,
                        "opt_in": "yes",
                    }
                )
                for g in goals
            ],
        )
        _store_goal_vectors(session, embedders, [person for person, _ in created])
        limit = session.scalar(select(func.count()).select_from(Person)) or 1
        out: dict[str, list[Ranked]] = {g.id: [] for g in goals}
        for mentor in mentors:
            for email, ranked in _recommend(session, embedders, mentor, limit).items():
                if email in emails:
                    out[emails[email]].append(ranked)
            if progress:
                progress(mentor)
        for rows in out.values():
            rows.sort(key=lambda r: -r.score)  # stable: ties keep the mentors' order
        return out
    finally:
        session.rollback()


# --- metrics (pure) --------------------------------------------------------------------------


def dcg(gains: Sequence[float], k: int) -> float:
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains[:k]))


def ndcg_at(ranked_grades: Sequence[int], all_grades: Iterable[int], k: int = K) -> float | None:
    """nDCG@k with the grades as gains; None when no mentor is suitable."""
    ideal = dcg(sorted(all_grades, reverse=True), k)
    return None if ideal == 0 else dcg(ranked_grades, k) / ideal


def reciprocal_rank(ranked_grades: Sequence[int], min_grade: int = SUITABLE) -> float:
    return next((1.0 / (i + 1) for i, g in enumerate(ranked_grades) if g >= min_grade), 0.0)


def recall_at(ranked_grades: Sequence[int], k: int = K, min_grade: int = SUITABLE) -> float | None:
    total = sum(1 for g in ranked_grades if g >= min_grade)
    return None if total == 0 else sum(1 for g in ranked_grades[:k] if g >= min_grade) / total


def precision_above(
    scores: Sequence[float], labels: Sequence[bool], threshold: float
) -> tuple[float | None, int]:
    """(share of True labels among scores >= threshold, how many scores that is)."""
    chosen = [label for score, label in zip(scores, labels, strict=True) if score >= threshold]
    return (sum(chosen) / len(chosen) if chosen else None), len(chosen)


def choose_threshold(
    scores: Sequence[float], labels: Sequence[bool], target: float, min_support: int = MIN_SUPPORT
) -> float | None:
    """The lowest threshold, rounded up to 0.01, at and above which every cut keeping at least
    ``min_support`` scores has precision >= ``target``; None if there is none."""
    cuts = sorted({math.ceil(s * 100 - 1e-9) / 100 for s in scores})
    best = None
    for cut in reversed(cuts):
        precision, support = precision_above(scores, labels, cut)
        if support < min_support:
            continue
        if precision is None or precision < target:
            break
        best = cut
    return best


def mean(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return round(sum(kept) / len(kept), 4) if kept else None


# --- evaluation ------------------------------------------------------------------------------


def full_ranking(labels: LabelledSet, goal: Goal, ranked: Sequence[Ranked]) -> list[Ranked]:
    """Matching's order, then any judged mentor it did not list (score 0, no reasons)."""
    listed = {r.mentor for r in ranked}
    rest = [Ranked(m, 0.0, 0.0) for m in sorted(labels.grades[goal.id]) if m not in listed]
    return [r for r in ranked if r.mentor in labels.grades[goal.id]] + rest


def ranking_quality(
    labels: LabelledSet, goals: Sequence[Goal], ranked: Mapping[str, Sequence[Ranked]]
) -> dict[str, Any]:
    """Per language, cross-language and overall: nDCG@3, MRR, P@1, recall@3 (covered goals)."""
    per_goal = {}
    for goal in goals:
        grades = labels.grades[goal.id]
        order = [grades[r.mentor] for r in full_ranking(labels, goal, ranked[goal.id])]
        per_goal[goal.id] = {
            "ndcg@3": ndcg_at(order, grades.values()),
            "rr": reciprocal_rank(order) if goal.covered else None,
            "p@1": float(order[0] >= SUITABLE) if goal.covered and order else None,
            "recall@3": recall_at(order),
        }

    def summary(part: Sequence[Goal]) -> dict[str, Any]:
        covered = [g for g in part if g.covered]
        return {
            "goals": len(part),
            "covered": len(covered),
            "ndcg@3": mean(per_goal[g.id]["ndcg@3"] for g in covered),
            "mrr": mean(per_goal[g.id]["rr"] for g in covered),
            "p@1": mean(per_goal[g.id]["p@1"] for g in covered),
            "recall@3": mean(per_goal[g.id]["recall@3"] for g in covered),
        }

    out = {lang: summary([g for g in goals if g.language == lang]) for lang in LANGUAGES}
    out["cross_language"] = summary([g for g in goals if g.cross_language])
    out["overall"] = summary(list(goals))
    return out


@dataclass(frozen=True)
class PairRow:
    """One judged (goal, mentor) pair: its grade, its fit and the reasons matching shows."""

    goal: str
    language: str
    mentor: str
    grade: int
    fit: float
    links: tuple[Link, ...] = ()

    @property
    def top_link(self) -> float:
        return max((link.similarity for link in self.links), default=0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "goal": self.goal,
            "language": self.language,
            "mentor": self.mentor,
            "grade": self.grade,
            "fit": round(self.fit, 4),
            "reasons": [
                {**asdict(link), "similarity": round(link.similarity, 4)} for link in self.links
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PairRow:
        return cls(
            data["goal"],
            data["language"],
            data["mentor"],
            int(data["grade"]),
            float(data["fit"]),
            tuple(Link(**link) for link in data["reasons"]),
        )


def pair_rows(
    labels: LabelledSet, goals: Sequence[Goal], ranked: Mapping[str, Sequence[Ranked]]
) -> list[PairRow]:
    """Every judged (goal, mentor) pair with its fit and the reasons matching shows."""
    rows = []
    for goal in goals:
        for r in full_ranking(labels, goal, ranked[goal.id]):
            rows.append(
                PairRow(
                    goal.id,
                    goal.language,
                    r.mentor,
                    labels.grades[goal.id][r.mentor],
                    r.fit,
                    tuple(r.links),
                )
            )
    return rows


def band_report(rows: Sequence[PairRow], bands: Bands, score: str) -> dict[str, Any]:
    """Per band: pairs, share judged suitable (precision), share of suitable pairs it holds."""
    suitable_total = sum(1 for r in rows if r.grade >= SUITABLE)
    out: dict[str, Any] = {"thresholds": asdict(bands)}
    for name in (STRONG, SOME, WEAK):
        inside = [r for r in rows if bands.band(getattr(r, score)) == name]
        good = sum(1 for r in inside if r.grade >= SUITABLE)
        out[name] = {
            "pairs": len(inside),
            "suitable": good,
            "precision": round(good / len(inside), 4) if inside else None,
            "share_of_suitable": round(good / suitable_total, 4) if suitable_total else None,
            "strong_grade_pairs": sum(1 for r in inside if r.grade == 2),
        }
    at_least_some = [r for r in rows if bands.band(getattr(r, score)) != WEAK]
    good = sum(1 for r in at_least_some if r.grade >= SUITABLE)
    out["strong_or_some_precision"] = round(good / len(at_least_some), 4) if at_least_some else None
    return out


def link_report(rows: Sequence[PairRow], bands: Bands) -> dict[str, Any]:
    """Every shown reason (not just the top one), by band: share whose mentor is suitable."""
    out = {}
    for name in (STRONG, SOME, WEAK):
        labels = [
            r.grade >= SUITABLE
            for r in rows
            for link in r.links
            if bands.band(link.similarity) == name
        ]
        out[name] = {
            "links": len(labels),
            "precision": round(sum(labels) / len(labels), 4) if labels else None,
        }
    return out


def choose_bands(rows: Sequence[PairRow], score: str) -> dict[str, Any]:
    """Thresholds chosen on these rows for "strong" and "some", with the curve they come from."""
    scores = [getattr(r, score) for r in rows]
    labels = [r.grade >= SUITABLE for r in rows]
    strong = choose_threshold(scores, labels, STRONG_PRECISION)
    some = choose_threshold(scores, labels, SOME_PRECISION)
    curve = []
    for cut in [x / 100 for x in range(5, 100, 5)]:
        precision, support = precision_above(scores, labels, cut)
        curve.append(
            {
                "threshold": cut,
                "pairs": support,
                "precision": round(precision, 4) if precision is not None else None,
            }
        )
    return {
        "strong": strong,
        "some": some,
        "target_precision": {"strong": STRONG_PRECISION, "some": SOME_PRECISION},
        "min_support": MIN_SUPPORT,
        "curve": curve,
    }


def goal_details(
    labels: LabelledSet, goals: Sequence[Goal], ranked: Mapping[str, Sequence[Ranked]]
) -> dict[str, Any]:
    """Per goal: the top 3 mentors with grade, fit and their best reason (for reading)."""
    out = {}
    for goal in goals:
        top = []
        for r in full_ranking(labels, goal, ranked[goal.id])[:K]:
            best = max(r.links, key=lambda link: link.similarity, default=None)
            top.append(
                {
                    "mentor": r.mentor,
                    "grade": labels.grades[goal.id][r.mentor],
                    "fit": round(r.fit, 4),
                    "reason": None
                    if best is None
                    else {
                        "similarity": round(best.similarity, 4),
                        "kind": best.kind,
                        "title": best.title,
                        "evidence": best.evidence,
                    },
                }
            )
        out[goal.id] = {"goal": goal.text, "top": top}
    return out


def band_figures(rows: Sequence[PairRow]) -> dict[str, Any]:
    """The band figures of ``rows`` under the product's thresholds (:mod:`matching.bands`)."""
    uncovered: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row.grade == 0:
            u = uncovered.setdefault(row.goal, {"best_link": 0.0, "best_fit": 0.0, "any": False})
            u["best_link"] = max(u["best_link"], row.top_link)
            u["best_fit"] = max(u["best_fit"], row.fit)
        else:
            uncovered.setdefault(row.goal, {"best_link": 0.0, "best_fit": 0.0})["any"] = True
    return {
        "reason_bands": band_report(rows, REASON_BANDS, "top_link"),
        "reason_links": link_report(rows, REASON_BANDS),
        "fit_bands": band_report(rows, FIT_BANDS, "fit"),
        "uncovered_goals": {
            gid: {
                "best_link": round(u["best_link"], 4),
                "best_link_band": REASON_BANDS.band(u["best_link"]),
                "best_fit": round(u["best_fit"], 4),
                "best_fit_band": FIT_BANDS.band(u["best_fit"]),
            }
            for gid, u in uncovered.items()
            if not u["any"]
        },
    }


def evaluate(
    labels: LabelledSet, goals: Sequence[Goal], ranked: Mapping[str, Sequence[Ranked]], choose: bool
) -> dict[str, Any]:
    """One split's figures; ``choose`` also picks thresholds from it (dev only)."""
    rows = pair_rows(labels, goals, ranked)
    out: dict[str, Any] = {
        "ranking": ranking_quality(labels, goals, ranked),
        **band_figures(rows),
        "goals": goal_details(labels, goals, ranked),
    }
    if choose:
        out["chosen"] = {"reason": choose_bands(rows, "top_link"), "fit": choose_bands(rows, "fit")}
    out["pairs"] = [row.to_dict() for row in rows]
    return out


def rescore(data: Mapping[str, Any]) -> dict[str, Any]:
    """Band figures of a saved result recomputed under the product's current thresholds
    (the model is not run again: the saved pairs carry every score)."""
    out = {}
    for name in SPLITS:
        if name not in data:
            continue
        part = dict(data[name])
        part.update(band_figures([PairRow.from_dict(row) for row in part["pairs"]]))
        part["config"] = {
            **part["config"],
            "rescored_bands": {"reason": asdict(REASON_BANDS), "fit": asdict(FIT_BANDS)},
        }
        out[name] = part
    return out


# --- command ---------------------------------------------------------------------------------


def _git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _open_instance(path: Path) -> Any:
    """The demo instance as ``tandem --instance PATH`` opens it."""
    from kb.config import load_settings, prepare_openmp
    from kb.runtime import open_tandem

    prepare_openmp(os.environ)
    return open_tandem(load_settings(os.environ, {"instance_dir": path.resolve()}))


def run(instance: Path, split: str, labels_dir: Path = DATASET) -> dict[str, Any]:
    labels = load_set(labels_dir)
    goals = labels.split(split)
    tandem = _open_instance(instance)
    started = time.perf_counter()
    try:
        with tandem.sessions() as session:
            ranked = rank_goals(
                session,
                tandem.matching_embedders,
                goals,
                labels.mentors,
                progress=lambda m: print(f"  scored {m}", file=sys.stderr),
            )
        signals = sorted(tandem.matching_embedders)
    finally:
        tandem.close()
    config = {
        "command": "python -m bench.matching_demo " + " ".join(sys.argv[1:]),
        "commit": _git_commit(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "labels": str(labels_dir),
        "matching_models": signals,
        "seconds": round(time.perf_counter() - started, 1),
        "product_bands": {"reason": asdict(REASON_BANDS), "fit": asdict(FIT_BANDS)},
        "gains": "grade (0/1/2)",
        "suitable": f"grade >= {SUITABLE}",
    }
    result: dict[str, Any] = {}
    for name in SPLITS:
        part = [g for g in goals if g.split == name]
        if part:
            result[name] = {
                "config": config,
                **evaluate(labels, part, ranked, choose=name == "dev"),
            }
    return result


def write_result(path: Path, result: Mapping[str, Any]) -> None:
    """Write ``result``'s splits into ``path``, keeping the other split already there."""
    data: dict[str, Any] = {}
    if path.is_file():
        data = json.loads(path.read_text(encoding="utf-8"))
    data.update(result)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def summary_lines(result: Mapping[str, Any]) -> list[str]:
    lines = []
    for name in SPLITS:
        if name not in result:
            continue
        part = result[name]
        lines.append(f"{name}:")
        for key, row in part["ranking"].items():
            lines.append(
                f"  {key:15} goals {row['goals']:3}  nDCG@3 {row['ndcg@3']}  "
                f"MRR {row['mrr']}  P@1 {row['p@1']}  recall@3 {row['recall@3']}"
            )
        for kind in ("reason_bands", "fit_bands"):
            b = part[kind]
            cells = "  ".join(
                f"{n} {b[n]['pairs']} pairs p={b[n]['precision']}" for n in (STRONG, SOME, WEAK)
            )
            lines.append(f"  {kind} {b['thresholds']}: {cells}")
        if "chosen" in part:
            for kind, chosen in part["chosen"].items():
                lines.append(
                    f"  chosen on dev ({kind}): strong >= {chosen['strong']}, "
                    f"some >= {chosen['some']}"
                )
        flagged = [gid for gid, u in part["uncovered_goals"].items() if u["best_link_band"] != WEAK]
        lines.append(f"  uncovered goals with a non-weak top reason: {flagged or 'none'}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.matching_demo", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--instance",
        type=Path,
        default=Path(os.environ.get("TANDEM_INSTANCE", "instance")),
        help="a demo instance built with `tandem --instance PATH demo`",
    )
    parser.add_argument("--split", choices=("dev", "test", "both"), default="dev")
    parser.add_argument("--labels", type=Path, default=DATASET, help="the labelled set folder")
    parser.add_argument(
        "--rescore",
        type=Path,
        metavar="JSON",
        help="recompute the band figures of a saved result under the current "
        "thresholds of matching/bands.py (no model run) and write it back",
    )
    parser.add_argument(
        "--out", type=Path, help="write the figures as JSON here (a split already there is kept)"
    )
    args = parser.parse_args(argv)
    if args.rescore:
        result = rescore(json.loads(args.rescore.read_text(encoding="utf-8")))
        for line in summary_lines(result):
            print(line)
        write_result(args.rescore, result)
        print(f"rescored {args.rescore} ({', '.join(result)})")
        return 0
    try:
        result = run(args.instance, args.split, args.labels)
    except ValidationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for line in summary_lines(result):
        print(line)
    if args.out:
        write_result(args.out, result)
        print(f"wrote {args.out} ({', '.join(result)})")
    return 0


if __name__ == "__main__":
    run_main(main)
