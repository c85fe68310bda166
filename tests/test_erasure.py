"""``tandem erase-person`` and ``tandem retention`` (issue 18, GDPR Art. 17).

The demo library's mentor of the private-note pair gets personal data in every kind of
record (goals, an enrolment, feedback, a request for help, notices, a published insight, her
name inside one of her guides, vectors in the embedding cache). After the erasure every one
of those strings, and every vector of an erased text, is searched for in the database (rows
and, on SQLite, the file's bytes), in search results, in every file of the instance (Whoosh,
sparse and FAISS snapshots), in the embedding cache and in a programme export: none is
found. The same scan finds each of them before, so it is not blind.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import inspect, select, text

from kb.chunking import embedding_text
from kb.config import load_settings
from kb.embedding import EmbeddingCache, text_hash
from kb.models import (
    Base,
    Chunk,
    ChunkEmbedding,
    Enrolment,
    Feedback,
    Guide,
    HelpRequest,
    MatchingVector,
    Pair,
    Person,
    Programme,
    SessionNote,
)
from kb.runtime import open_tandem
from kb.services import audit, inbox, match_vectors, notes
from kb.services.erasure import ERASED_NAME, PERSON_REFERENCES
from kb.services.guides import index_guide
from tests.test_cli import instance_env, run

# Words planted in each kind of record; nonsense, so nothing else in the demo holds them.
PLANTED = {
    "goal": "Wexlomancy",
    "motivation": "Quorvantel",
    "feedback": "Blivnotrex",
    "help": "Snarvellium",
    "partner_note": "Grentavour",
    "insight": "Trumbelwick",
    "guide": "Kasiafootnote",
}


@pytest.fixture(scope="module")
def demo_instance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("erase-demo") / "instance"
    result = run(instance_env(folder), "demo")
    assert result.exit_code == 0, result.output
    return folder


@pytest.fixture
def env(demo_instance: Path, tmp_path: Path) -> Iterator[dict[str, str]]:
    folder = tmp_path / "instance"
    shutil.copytree(demo_instance, folder, symlinks=True)
    yield {**instance_env(folder), "TANDEM_CACHE_DIR": str(tmp_path / "cache")}


def victim_email(env: dict[str, str]) -> str:
    with open_tandem(load_settings(env)) as tandem, tandem.sessions() as s:
        note = next(n for n in s.scalars(select(SessionNote)) if "Zyxelgate" in n.body_md)
        return note.pair.mentor.email


def plant(env: dict[str, str], email: str) -> dict[str, object]:
    """Personal data of ``email`` in every kind of record; returns what to look for."""
    settings = load_settings(env)
    with open_tandem(settings) as tandem, tandem.sessions() as s:
        person = s.scalar(select(Person).where(Person.email == email))
        assert person is not None
        hr = next(p for p in s.scalars(select(Person)) if p.has_role("hr"))
        pair = s.scalars(
            select(Pair).where(Pair.mentor_id == person.id, Pair.status == "active")
        ).first()
        assert pair is not None
        partner = pair.mentee
        person.goals = f"{person.goals};{PLANTED['goal']} for beginners"
        match_vectors.store(s, [f"{PLANTED['goal']} for beginners"], tandem.matching_embedders)
        programme = s.scalar(select(Programme).where(Programme.status != "finished"))
        assert programme is not None
        motivation = f"I like {PLANTED['motivation']}."
        enrolled = s.scalar(select(Enrolment).where(
            Enrolment.person_id == person.id, Enrolment.programme_id == programme.id))  # fmt: skip
        if enrolled is None:
            s.add(Enrolment(programme_id=programme.id, person_id=person.id, role="mentor",
                            status="enrolled", motivation=motivation))  # fmt: skip
        else:
            enrolled.motivation = motivation
        s.add(Feedback(pair_id=pair.id, author_id=person.id, rating=4,
                       comment=f"{PLANTED['feedback']} was great", programme_id=pair.programme_id,
                       round="mid", role="mentor"))  # fmt: skip
        s.add(HelpRequest(pair_id=pair.id, asker_id=person.id, reason="other",
                          text=f"{PLANTED['help']} problem"))  # fmt: skip
        s.add(HelpRequest(pair_id=pair.id, asker_id=partner.id, reason="other",
                          text=f"About {person.name}: late"))  # fmt: skip
        inbox.notify(s, person, "session_planned", {"who": partner.name, "when": "Monday"})
        inbox.notify(s, partner, "session_planned", {"who": person.name, "when": "Monday"})
        audit.record(s, hr, "pair.note", "pair", pair.id, detail={"mentor": person.name})
        note = notes.create_note(
            s, pair, partner, title="Our session", language="en", embedders=tandem.embedders,
            body_md=f"We discussed {PLANTED['partner_note']} with {person.name}.",
        )  # fmt: skip
        notes.set_insight(
            s, note, f"{PLANTED['insight']} dashboards save an hour a week.",
            consented_by=[person, partner], embedders=tandem.embedders,
        )  # fmt: skip
        guide = s.scalars(
            select(Guide).where(Guide.author_id == person.id, Guide.status == "published")
        ).first()
        assert guide is not None and guide.current is not None
        guide.current.body_md += f"\n\nWritten by {person.name} ({email}), {PLANTED['guide']}."
        s.flush()
        index_guide(s, guide, tandem.embedders)
        s.commit()
        kept_guides = [g.id for g in s.scalars(select(Guide).where(Guide.author_id == person.id))
                       if g.status == "published"]  # fmt: skip
        # What the person's erased texts were embedded as: their chunks, their goal phrases.
        pair_ids = [p.id for p in s.scalars(select(Pair).where(
            (Pair.mentor_id == person.id) | (Pair.mentee_id == person.id)))]  # fmt: skip
        note_ids = list(s.scalars(select(SessionNote.id).where(SessionNote.pair_id.in_(pair_ids))))
        insight_keys = [f"insight:{n.insight.id}" for n in s.scalars(
            select(SessionNote).where(SessionNote.id.in_(note_ids))) if n.insight]  # fmt: skip
        keys = [*(f"note:{i}" for i in note_ids), *insight_keys]
        chunks = list(s.scalars(select(Chunk).where(Chunk.doc_key.in_(keys))))
        assert chunks
        vectors = [e.vector for c in chunks for e in c.embeddings]
        goal_hash = text_hash(f"{PLANTED['goal']} for beginners")
        vectors += list(s.scalars(select(MatchingVector.vector).where(
            MatchingVector.text_hash == goal_hash)))  # fmt: skip
        hashes = {text_hash(embedding_text(c.title, c.text)) for c in chunks} | {goal_hash}
        note_words = [
            n.body_md.split()[-1].strip(".")
            for n in s.scalars(select(SessionNote).where(SessionNote.id.in_(note_ids)))
        ]
        slug = programme.slug
    # The embedding cache holds vectors of the erased texts (as a benchmark run leaves it).
    cache = EmbeddingCache(settings.embedding_cache_path)
    cache.put("fake", "p", {h: np.full(8, 0.25, np.float32) + i for i, h in enumerate(hashes)})
    cache._conn.close()
    # The guide's own words stay (the policy keeps published guides); her name in it goes.
    erased = [w for k, w in PLANTED.items() if k != "guide"]
    strings = [email, str(person_name(env, email)), "Zyxelgate", *erased]
    return {"strings": strings, "vectors": vectors, "hashes": hashes, "kept_guides": kept_guides,
            "programme": slug, "hr": hr_email(env), "partner": partner_email(env, email),
            "note_words": note_words, "keys": keys}  # fmt: skip


def person_name(env: dict[str, str], email: str) -> str:
    with open_tandem(load_settings(env)) as tandem, tandem.sessions() as s:
        person = s.scalar(select(Person).where(Person.email == email))
        assert person is not None
        return person.name


def hr_email(env: dict[str, str]) -> str:
    with open_tandem(load_settings(env)) as tandem, tandem.sessions() as s:
        return next(p.email for p in s.scalars(select(Person)) if p.has_role("hr"))


def partner_email(env: dict[str, str], email: str) -> str:
    with open_tandem(load_settings(env)) as tandem, tandem.sessions() as s:
        pair = s.scalars(select(Pair).join(Person, Person.id == Pair.mentor_id).where(
            Person.email == email, Pair.status == "active")).first()  # fmt: skip
        assert pair is not None
        return pair.mentee.email


def database_rows(env: dict[str, str]) -> str:
    """Every row of every table as text."""
    with open_tandem(load_settings(env)) as tandem, tandem.engine.connect() as conn:
        parts = []
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                parts.append(f"{table}: {tuple(row)!r}")
        return "\n".join(parts)


def files_under(*folders: Path) -> Iterator[tuple[Path, bytes]]:
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file():
                yield path, path.read_bytes()


def found_in_files(needle: str, folders: list[Path]) -> list[str]:
    """Files holding ``needle`` as written, in lowercase, or JSON-escaped; a planted word
    also by its first seven letters (indexes store stems: Zyxelgate is "zyxelgaty")."""
    forms = {needle.encode(), needle.lower().encode(), json.dumps(needle).encode()}
    if needle.isalpha():
        forms.add(needle.lower()[:7].encode())
    return [str(p) for p, data in files_under(*folders)
            if any(f in data or f in data.lower() for f in forms)]  # fmt: skip


def files_holding(data: bytes, folders: list[Path]) -> list[str]:
    return [str(p) for p, held in files_under(*folders) if data in held]


def search_hits(
    env: dict[str, str],
    word: str,
    who: list[str],
    keys: frozenset[str] = frozenset(),
    shown: bool = True,
) -> list[str]:
    """Searches for ``word`` (anonymous, then as each of ``who``) whose hits show the word
    (unless ``shown`` is False: a common word) or are one of the documents ``keys``."""
    found = []
    for as_email in [None, *who]:
        args = ["search", word, "--json", *(["--as", as_email] if as_email else [])]
        result = run(env, *args)
        assert result.exit_code == 0, result.output
        for hit in json.loads(result.output)["hits"]:
            text = json.dumps(hit, ensure_ascii=False).lower()
            if (shown and word.lower() in text) or hit["doc_key"] in keys:
                found.append(f"{word} as {as_email}: {hit['doc_key']}")
    return found


def test_erase_person_leaves_nothing_anywhere(env: dict[str, str], tmp_path: Path) -> None:
    email = victim_email(env)
    planted = plant(env, email)
    strings: list[str] = planted["strings"]  # type: ignore[assignment]
    vectors: list[bytes] = planted["vectors"]  # type: ignore[assignment]
    folders = [Path(env["TANDEM_INSTANCE"]), tmp_path / "cache"]
    partner, hr = str(planted["partner"]), str(planted["hr"])

    # The scan is not blind: before, the database and the index files hold each string.
    assert run(env, "reindex").exit_code == 0  # snapshots as a restarted server writes them
    rows = database_rows(env)
    for needle in strings:
        assert needle in rows, needle
    index_files = found_in_files("Zyxelgate", [Path(env["TANDEM_INSTANCE"]) / "index"])
    assert any("whoosh" in f for f in index_files) and any("sparse" in f for f in index_files)
    assert found_in_files(PLANTED["insight"], [Path(env["TANDEM_INSTANCE"]) / "index"])
    assert any("faiss" in f for v in vectors for f in files_holding(v, folders))
    assert all(any(v in data for _, data in files_under(*folders)) for v in vectors[:3])
    keys = frozenset(planted["keys"])  # type: ignore[arg-type]
    assert search_hits(env, "Zyxelgate", [email], keys)  # her pair's note, for her
    assert search_hits(env, PLANTED["insight"], [])  # the published insight, for anyone

    # Without --yes, the e-mail must be typed again; a wrong one erases nothing.
    refused = run_input(env, "wrong@example.com\n", "erase-person", email, "--as", hr)
    assert refused.exit_code == 1 and "nothing was erased" in refused.output
    assert email in database_rows(env)
    # HR only.
    denied = run(env, "erase-person", email, "--as", partner, "--yes")
    assert denied.exit_code == 1 and "only HR" in denied.output

    done = run_input(env, f"{email}\n", "erase-person", email, "--as", hr, "--json")
    assert done.exit_code == 0, done.output
    report = json.loads(done.output[done.output.index("{") :])
    assert report["counts"]["notes deleted"] >= 2 and report["counts"]["guides kept anonymised"]

    rows = database_rows(env)
    for needle in strings:
        assert needle not in rows, needle
    leaks = {needle: found_in_files(needle, folders) for needle in strings}
    assert not any(leaks.values()), leaks
    for word in strings[2:]:
        assert not search_hits(env, word, [partner, hr], keys), word
    for word in planted["note_words"]:  # type: ignore[attr-defined]
        assert not search_hits(env, word, [partner, hr], keys, shown=False), word
    for vector in vectors:
        assert not any(vector in data for _, data in files_under(*folders))
    with sqlite3.connect(tmp_path / "cache" / "embeddings.sqlite") as cache:
        left = {row[0] for row in cache.execute("SELECT hash FROM vectors")}
    assert not left & planted["hashes"]  # type: ignore[operator]
    exported = run(env, "programme", "export", str(planted["programme"]), "--as", hr)
    assert exported.exit_code == 0 and not any(n in exported.output for n in strings)
    for someone in (partner, f"erased-{report['person_id']}@erased.invalid"):
        data = run(env, "export-person", someone, "--json", "--output", "-")
        assert data.exit_code == 0, data.output
        assert not [n for n in strings if n in data.output], someone

    # Published guides stay, anonymised, and are still found; the account cannot log in.
    with open_tandem(load_settings(env)) as tandem, tandem.sessions() as s:
        kept = [s.get(Guide, i) for i in planted["kept_guides"]]  # type: ignore[attr-defined]
        assert kept and all(g is not None and g.status == "published" for g in kept)
        assert all(g.author.name == ERASED_NAME for g in kept if g is not None)
        bodies = [r.body_md for g in kept if g is not None for r in g.revisions]
        assert any(f"Written by [erased] ([erased]), {PLANTED['guide']}." in b for b in bodies)
        erased = kept[0].author if kept[0] else None
        assert erased is not None and not erased.active and erased.password_hash is None
        assert erased.goals == erased.expertise == erased.department == ""
        requests = s.scalars(select(HelpRequest)).all()  # the partner's stays, emptied
        assert [(r.asker_id, r.text) for r in requests] == [(requests[0].asker_id, "")]
        entry = s.scalars(select(text("detail FROM audit_entry WHERE action='person.erased'")))
        assert json.loads(entry.one())["notes_deleted_count"] == report["counts"]["notes deleted"]
        assert not s.scalar(select(ChunkEmbedding).join(Chunk).where(Chunk.pair_id.in_(
            select(Pair.id).where(Pair.mentor_id == erased.id))))  # fmt: skip
    assert search_hits(env, "Copilot", [])  # her guides are still found
    assert run(env, "check").exit_code == 0
    again = run(env, "erase-person", f"erased-{erased.id}@erased.invalid", "--as", hr, "--yes")
    assert again.exit_code == 1 and "erased already" in again.output


def run_input(env: dict[str, str], typed: str, *args: str):  # noqa: ANN201
    from click.testing import CliRunner

    from kb.cli import main

    full: dict[str, str | None] = {"DATABASE_URL": None, "TANDEM_IMPORT_MODELS": None}
    full.update(env)
    return CliRunner().invoke(main, list(args), env=full, input=typed, catch_exceptions=False)


def test_every_reference_to_a_person_has_an_erasure_policy() -> None:
    """A new column pointing at a person without an entry in PERSON_REFERENCES would have
    its rows deleted by the fallback: name its policy there instead."""
    columns = {f"{t.name}.{fk.parent.name}" for t in Base.metadata.sorted_tables
               for fk in t.foreign_keys if fk.column.table.name == "person"}  # fmt: skip
    assert set(PERSON_REFERENCES) <= columns, set(PERSON_REFERENCES) - columns


def test_retention_deletes_notes_of_programmes_ended_long_ago(env: dict[str, str]) -> None:
    with open_tandem(load_settings(env)) as tandem, tandem.sessions() as s:
        ended = s.scalars(select(Programme).where(Programme.ends.is_not(None))
                          .order_by(Programme.ends)).first()  # fmt: skip
        assert ended is not None and ended.ends is not None
        pair_ids = list(s.scalars(select(Pair.id).where(Pair.programme_id == ended.id)))
        before = s.scalars(select(SessionNote).where(SessionNote.pair_id.in_(pair_ids))).all()
        assert before, "the demo's earliest programme has notes"
        quoted = {n.id for n in before if n.insight is not None and n.insight.published}
        words = [n.body_md.split()[-1].strip(".") for n in before if n.id not in quoted]
        others = s.scalar(select(text("count(*) FROM session_note")))
        day_after = ended.ends + dt.timedelta(days=31)
        slug = ended.slug
    # Not set: nothing happens.
    assert "No retention period" in run(env, "retention").output
    # Within the period: nothing goes.
    within = run(env, "retention", "--days", "365", "--today", day_after.isoformat(), "--json")
    assert json.loads(within.output)["notes_deleted"] == 0
    dry = run({**env, "TANDEM_NOTE_RETENTION_DAYS": "30"}, "retention", "--dry-run",
              "--today", day_after.isoformat(), "--json")  # fmt: skip
    assert json.loads(dry.output)["notes_deleted"] == len(before) - len(quoted)
    done = run({**env, "TANDEM_NOTE_RETENTION_DAYS": "30"}, "retention",
               "--today", day_after.isoformat(), "--json")  # fmt: skip
    assert done.exit_code == 0, done.output
    report = json.loads(done.output)
    assert slug in report["programmes"] and report["notes_emptied"] == len(quoted)
    with open_tandem(load_settings(env)) as tandem, tandem.sessions() as s:
        left = s.scalars(select(SessionNote).where(SessionNote.pair_id.in_(pair_ids))).all()
        assert {n.id for n in left} == quoted
        assert all(n.body_md == "" and n.insight is not None for n in left)
        assert s.scalar(select(text("count(*) FROM session_note"))) == others - (
            len(before) - len(quoted))  # fmt: skip
        entry = s.scalars(select(text("detail FROM audit_entry WHERE action='notes.retention'")))
        assert json.loads(entry.one())["days"] == 30
    for word in words:
        assert not found_in_files(word, [Path(env["TANDEM_INSTANCE"]) / "index"]) or (
            word in database_rows(env)), word  # fmt: skip
    assert run(env, "check").exit_code == 0
