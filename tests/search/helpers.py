"""A small library written through the services (as imports and forms write it)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from kb.db import make_engine, make_session_factory
from kb.embedding import Embedder, FakeEmbedder
from kb.models import Person
from kb.services import guides, notes, pairs, people, programmes

LONG_POLISH = "\n\n".join(
    [
        "Copilot w Excelu pomaga pisać formuły. " * 12,
        "Tabele przestawne i wykresy to podstawa raportów. " * 12,
        "Copilot podsumowuje dane w tabelach i proponuje formuły. " * 12,
    ]
)


@dataclass(frozen=True)
class Library:
    anna: int  # mentor of pair 1
    bogdan: int  # mentee of pair 1
    celina: int  # mentor of pair 2
    hania: int  # HR
    private_note: int
    pending_note: int
    guide_pl: int


def person(session: Session, email: str, name: str, roles: tuple[str, ...]) -> Person:
    record = people.PersonRecord(name=name, email=email, roles=roles, languages=("pl", "en"))
    return people.upsert_person(session, record)[0]


def make_library(sessions: sessionmaker[Session], embedders: Mapping[str, Embedder]) -> Library:
    with sessions() as s:
        anna = person(s, "anna@example.com", "Anna Mentor", ("mentor",))
        bogdan = person(s, "bogdan@example.com", "Bogdan Mentee", ("mentee",))
        celina = person(s, "celina@example.com", "Celina Mentor", ("mentor",))
        dawid = person(s, "dawid@example.com", "Dawid Mentee", ("mentee",))
        hania = person(s, "hania@example.com", "Hania HR", ("hr",))
        programme, _ = programmes.upsert_programme(
            s, slug="spring", name="Spring", status="running"
        )
        pair = pairs.add_pair(s, programme, anna, bogdan, status="active")
        pairs.add_pair(s, programme, celina, dawid, status="active")

        def guide(author: Person, title: str, body: str, language: str, tags: list[str],
                  day: dt.date) -> int:  # fmt: skip
            made = guides.create_guide(
                s, author, title=title, body_md=body, language=language, tags=tags
            )
            guides.publish(s, made, author, embedders, published_on=day)
            return made.id

        guide_pl = guide(anna, "Copilot w Excelu", LONG_POLISH, "pl", ["ai", "excel"],
                         dt.date(2024, 4, 2))  # fmt: skip
        guide(celina, "Writing prompts", "How to write good prompts: give context, examples "
              "and the format you want. Prompting is a skill.", "en", ["ai"],
              dt.date(2024, 5, 10))  # fmt: skip
        guide(celina, "Как вести блог", "Книги и статьи помогают вести блог в социальных сетях.",
              "ru", ["social media"], dt.date(2024, 6, 1))  # fmt: skip
        guide(anna, "Pivot tables in Excel", "Pivot tables summarise budget data in Excel.",
              "en", ["excel"], dt.date(2024, 2, 1))  # fmt: skip
        private = notes.create_note(
            s, pair, anna, title="Budget session", language="en", embedders=embedders,
            body_md="We discussed the Zyxelgate budget forecast and Excel pivot tables.",
            session_date=dt.date(2024, 4, 10),
        )  # fmt: skip
        pending = notes.create_note(
            s, pair, bogdan, title="Teams session", language="en", embedders=embedders,
            body_md="Teams channels instead of e-mail threads. Quokkaword is our joke.",
            session_date=dt.date(2024, 4, 24),
        )  # fmt: skip
        notes.propose_insight(
            s, pending, bogdan, "Channels beat long e-mail threads for team decisions.",
            embedders=embedders,
        )  # fmt: skip
        s.commit()
        return Library(anna.id, bogdan.id, celina.id, hania.id, private.id, pending.id, guide_pl)


def add_guide_and_die(url: str, title: str, body: str) -> None:
    """Child process: commit a published guide (content + change log), then die at once,
    before any index hears about it."""
    sessions = make_session_factory(make_engine(url))
    with sessions() as s:
        author = person(s, f"{title.lower().replace(' ', '.')}@example.com", title, ("mentor",))
        made = guides.create_guide(s, author, title=title, body_md=body, language="en")
        guides.publish(s, made, author, {"fake": FakeEmbedder(dim=64)})
        s.commit()
    os._exit(1)


def write_and_catch_up(instance_dir: str, url: str, worker: int, rounds: int) -> int:
    """Child process: publish guides and catch the shared index up after each, like a web
    worker next to an import. Returns how many documents it applied itself."""
    from pathlib import Path

    from kb.config import load_settings
    from kb.search.hybrid import SearchEngine

    settings = load_settings(
        {},
        {"instance_dir": Path(instance_dir), "database_url": url, "search_models": ("fake",)},
    )
    sessions = make_session_factory(make_engine(url))
    embedders = {"fake": FakeEmbedder(dim=64)}
    engine = SearchEngine(settings, sessions, embedders)
    applied = 0
    try:
        for i in range(rounds):
            with sessions() as s:
                author = person(s, f"w{worker}@example.com", f"Worker {worker}", ("mentor",))
                made = guides.create_guide(
                    s, author, title=f"Worker {worker} guide {i}",
                    body_md=f"Concurrency word w{worker}x{i} and shared text.", language="en",
                )  # fmt: skip
                guides.publish(s, made, author, embedders)
                s.commit()
            applied += engine.catch_up()
            engine.search("shared text", None)
    finally:
        engine.close()
    return applied
