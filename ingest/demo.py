"""The demo library: people, a programme, guides and notes shipped in ingest/demo/."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ingest.demo_programmes import seed_programmes
from ingest.pipeline import ImportReport, import_paths
from kb.db import transaction
from kb.embedding import Embedder
from kb.models import Person
from kb.services.people import check_password, hash_password

DEMO_DIR = Path(__file__).resolve().parent / "demo"
DEMO_PASSWORD = "tandem-demo"
# What the demo imports; demo/broken/ holds bad files for showing error reports, not loaded.
DEMO_PARTS = ("people.csv", "programme.json", "guides", "notes")


def demo_paths(demo_dir: Path = DEMO_DIR) -> list[Path]:
    """The demo's files and folders that exist (the content may still be growing)."""
    return [demo_dir / part for part in DEMO_PARTS if (demo_dir / part).exists()]


def load_demo(
    session_factory: sessionmaker[Session],
    embedders: Mapping[str, Embedder],
    progress: bool = False,
    *,
    demo_dir: Path = DEMO_DIR,
    matching: Mapping[str, Embedder] | None = None,
) -> ImportReport:
    """Import the demo library and give every person the password ``DEMO_PASSWORD``.

    Safe to run again: unchanged files are skipped. One salted hash is shared by all demo
    accounts (hashing is deliberately slow, and everyone knows this password anyway).
    """
    report = import_paths(
        session_factory, demo_paths(demo_dir), embedders, progress, root=demo_dir,
        matching=matching,
    )  # fmt: skip
    with transaction(session_factory) as session:
        people = session.scalars(select(Person).order_by(Person.id)).all()
        known = next((p for p in people if p.password_hash), None)
        shared = (
            known.password_hash
            if known is not None and check_password(known, DEMO_PASSWORD)
            else hash_password(DEMO_PASSWORD)
        )
        for person in people:
            if person.password_hash != shared:
                person.password_hash = shared
        seed_programmes(session)  # the programme phases (once; a second load changes nothing)
    return report


def demo_logins(session_factory: sessionmaker[Session], limit: int = 12) -> list[dict[str, str]]:
    """A few people to log in as, at least one per role: HR first, then mentors, mentees."""
    with session_factory() as session:
        people = session.scalars(select(Person).order_by(Person.id)).all()
        chosen: list[Person] = []
        for role, count in (("hr", 2), ("mentor", 5), ("mentee", 5)):
            with_role = [p for p in people if p.has_role(role) and p not in chosen]
            chosen.extend(with_role[:count])
        return [
            {"email": p.email, "name": p.name, "roles": p.roles.replace(";", ", ")}
            for p in chosen[:limit]
            if p.password_hash
        ]
