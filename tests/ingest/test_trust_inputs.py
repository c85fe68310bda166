"""Input that never half-works (issue 18): concurrent imports, control characters, documents
the renderer could not show whole, cost attacks on chunking."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

import kb.services.guides as guides_service
from ingest.pipeline import import_paths
from kb.errors import ValidationError
from kb.models import Chunk, Guide, Person
from kb.services import guides, people


def run(sessions, paths, embedders):
    return import_paths(sessions, [Path(p) for p in paths], embedders)


def test_two_imports_of_the_same_folder_at_once(sessions, library, embedders, monkeypatch):
    """Finding 8: the second import used to fail with "UNIQUE constraint failed:
    guide.source_path". The second import starts while the first is between looking a guide
    up and writing it; now it waits, then finds every file unchanged."""
    real_create = guides_service.create_guide
    reports = {}
    other = threading.Thread(target=lambda: reports.setdefault("second", run(
        sessions, [library], embedders)))  # fmt: skip

    def create_while_another_import_runs(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        if not other.is_alive() and "second" not in reports:
            other.start()
            other.join(timeout=3)  # the second import gets its chance to run first
        return real_create(*args, **kwargs)

    monkeypatch.setattr(guides_service, "create_guide", create_while_another_import_runs)
    first = run(sessions, [library], embedders)
    other.join()
    second = reports["second"]
    assert [r.reason for r in first.rejected] == []
    assert [r.reason for r in second.rejected] == []
    assert first.count("guide") == 2
    assert {i.kind for i in second.unchanged} >= {"guide", "note"}
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Guide)) == 2


CONTROL = ["\x00", "\x01", "\x1b", "\x7f", "\x85"]


@pytest.mark.parametrize("char", CONTROL)
def test_control_characters_in_a_markdown_file_are_rejected(sessions, library, embedders, char):
    path = library / "guides" / "prompt-basics.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("title: ", f"title: Bad{char}", 1), encoding="utf-8")
    report = run(sessions, [path], embedders)
    assert len(report.rejected) == 1
    reason = report.rejected[0].reason
    assert f"U+{ord(char):04X}" in reason and "not allowed" in reason and "line" in reason
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Guide)) == 0


@pytest.mark.parametrize("char", CONTROL)
def test_control_characters_in_names_titles_and_bodies_are_rejected(session, char):
    with pytest.raises(ValidationError, match=f"U\\+{ord(char):04X}"):
        people.upsert_person(session, people.person_record({"name": f"A{char}B",
                                                            "email": "a@b.org"}))  # fmt: skip
    anna, _ = people.upsert_person(session, people.PersonRecord(name="Anna", email="an@x.org"))
    with pytest.raises(ValidationError, match="field 'title'"):
        guides.create_guide(session, anna, title=f"T{char}", language="en", body_md="ok")
    with pytest.raises(ValidationError, match="field 'body_md'"):
        guides.create_guide(session, anna, title="T", language="en", body_md=f"a\n\nb{char}")
    # Tabs and line breaks are ordinary text.
    guides.create_guide(session, anna, title="Tab\there", language="en", body_md="a\tb\r\nc")
    assert session.scalar(select(func.count()).select_from(Person)) == 1


def test_a_document_nested_too_deep_is_rejected_with_the_reason(sessions, library, embedders):
    path = library / "guides" / "prompt-basics.md"
    deep = "".join("  " * i + f"- level {i}\n" for i in range(40))
    path.write_text(path.read_text(encoding="utf-8") + "\n" + deep, encoding="utf-8")
    report = run(sessions, [path], embedders)
    assert len(report.rejected) == 1
    assert "nested more than" in report.rejected[0].reason


def test_a_run_without_spaces_is_indexed_in_bounded_chunks(sessions, library, embedders):
    """Finding 7: a 190 KB run without spaces became one 190,000-character chunk."""
    from kb.chunking import MAX_CHARS

    path = library / "guides" / "prompt-basics.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n" + "x" * 190_000 + "\n",
                    encoding="utf-8")  # fmt: skip
    people_file = library / "people.csv"
    report = run(sessions, [people_file, path], embedders)
    assert report.rejected == []
    with sessions() as s:
        lengths = s.scalars(select(func.length(Chunk.text))).all()
    assert lengths and max(lengths) <= MAX_CHARS
    assert sum(lengths) >= 190_000
