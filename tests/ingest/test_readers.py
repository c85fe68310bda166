from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from ingest.readers import (
    GuideSource,
    NoteSource,
    parse_date,
    read_document,
    read_markdown,
    read_people_csv,
    read_people_json,
    read_programmes_json,
)
from kb.errors import ValidationError

FIXTURES = Path(__file__).parent / "fixtures" / "library"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")
    return path


def test_front_matter_body_and_field_lines():
    doc = read_markdown(FIXTURES / "guides" / "prompt-basics.md")
    assert doc.meta["title"] == "Prompt basics for busy managers"
    assert doc.meta["date"] == "2026-02-01"  # dates stay text; parse_date gives the message
    assert doc.field_lines["author"] == 3 and doc.field_lines["visibility"] == 7
    assert doc.body.startswith("# Prompt basics")
    assert len(doc.content_hash) == 64


def test_guide_and_note_sources():
    guide = read_document(FIXTURES / "guides" / "power-bi-draft.md")
    assert isinstance(guide, GuideSource)
    assert guide.tags == ("power-bi", "dashboards") and not guide.published and guide.date is None
    note = read_document(FIXTURES / "notes" / "mia-piotr-02.md")
    assert isinstance(note, NoteSource)
    assert note.pair == ("mia.morgan@example.com", "piotr.nowak@example.com")
    assert note.shared and note.insight.startswith("Ask Copilot")
    assert note.date == dt.date(2026, 2, 2)
    private = read_document(FIXTURES / "notes" / "mia-piotr-03.md")
    assert not private.shared and private.insight and private.tags == ("linkedin",)


def test_type_from_folder_then_pair_then_explicit(tmp_path):
    body = "---\ntitle: t\nauthor: a@x.org\nlanguage: en\n{extra}---\nx\n"
    assert read_document(write(tmp_path / "guides" / "a.md", body.format(extra=""))).kind == "guide"
    pair = "pair: [a@x.org, b@x.org]\n"
    assert read_document(write(tmp_path / "misc" / "b.md", body.format(extra=pair))).kind == "note"
    assert read_document(write(tmp_path / "misc" / "c.md", body.format(extra=""))).kind == "guide"
    explicit = body.format(extra="type: note\n" + pair)
    assert read_document(write(tmp_path / "guides" / "d.md", explicit)).kind == "note"
    with pytest.raises(ValidationError, match="unknown type 'post'"):
        read_document(write(tmp_path / "e.md", body.format(extra="type: post\n")))


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ("pair: [a@x.org]\n", "pair must be [mentor_email, mentee_email]"),
        ("pair: [a@x.org, a@x.org]\n", "must differ"),
        ("pair: [b@x.org, c@x.org]\n", "not a member of the pair"),
        ("pair: [a@x.org, b@x.org]\nvisibility: public\n", "use private or shared"),
        ("pair: [a@x.org, b@x.org]\ninsight: [1, 2]\n", "insight must be text"),
        ("tags: {a: 1}\npair: [a@x.org, b@x.org]\n", "tags must be a list"),
    ],
)
def test_note_field_errors(tmp_path, extra, words):
    text = f"---\ntitle: t\nauthor: a@x.org\nlanguage: en\n{extra}---\nx\n"
    with pytest.raises(ValidationError, match=words.replace("[", r"\[").replace("]", r"\]")):
        read_document(write(tmp_path / "notes" / "n.md", text))


def test_guide_rejects_note_fields(tmp_path):
    text = "---\ntitle: t\nauthor: a@x.org\nlanguage: en\ninsight: x\n---\nx\n"
    with pytest.raises(ValidationError, match="'insight' is for notes only"):
        read_document(write(tmp_path / "guides" / "g.md", text))


def test_front_matter_must_be_a_mapping(tmp_path):
    with pytest.raises(ValidationError, match="front matter must be fields"):
        read_markdown(write(tmp_path / "x.md", "---\n- a\n- b\n---\nx\n"))


def test_bom_is_ignored(tmp_path):
    path = tmp_path / "guides" / "bom.md"
    path.parent.mkdir()
    path.write_bytes("\ufeff---\ntitle: t\nauthor: a@x.org\nlanguage: pl\n---\nx".encode())
    assert read_document(path).title == "t"


def test_parse_date():
    assert parse_date("2026-03-01") == dt.date(2026, 3, 1)
    assert parse_date("2026-03-01T10:00:00") == dt.date(2026, 3, 1)
    assert parse_date("") is None
    with pytest.raises(ValidationError, match="'01.03.2026' is not a date"):
        parse_date("01.03.2026")


def test_people_csv_fixture():
    rows = read_people_csv(FIXTURES / "people.csv")
    assert [r.line for r in rows] == [2, 3, 4, 5, 6]
    richard = rows[-1].record
    assert richard.goals == ("learn LinkedIn, carefully",) and richard.opt_in is False


def test_people_csv_line_numbers_count_multiline_fields(tmp_path):
    path = write(tmp_path / "p.csv", 'name,email,goals\nA,a@x.org,"one;\ntwo"\n\nB,bad,\n')
    with pytest.raises(ValidationError, match="line 5: field 'email'"):
        read_people_csv(path)


def test_people_csv_value_count(tmp_path):
    path = write(tmp_path / "p.csv", "name,email\nA,a@x.org,extra\n")
    with pytest.raises(ValidationError, match="line 2: 3 values, but the header has 2 columns"):
        read_people_csv(path)


def test_people_json_shapes(tmp_path):
    item = {"name": "A", "email": "a@x.org", "languages": ["pl"], "capacity": 2, "opt_in": True}
    for data in ([item], {"people": [item]}):
        [row] = read_people_json(write(tmp_path / "p.json", json.dumps(data)))
        assert row.record.capacity == 2 and row.entry == 1
    bad = [item, {"name": "B", "email": "b@x.org", "capacity": -2}]
    with pytest.raises(ValidationError, match=r"entry 2 \(b@x.org\): field 'capacity'"):
        read_people_json(write(tmp_path / "p.json", json.dumps(bad)))


def test_programmes_json():
    [programme] = read_programmes_json(FIXTURES / "programme.json")
    assert programme.slug == "rm-test" and programme.starts == dt.date(2026, 1, 5)
    assert [p.status for p in programme.pairs] == ["active", "proposed"]


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"programmes": [{"name": "x"}]}, "programme 1: field 'slug'"),
        ({"programmes": [{"slug": "x", "name": "X", "starts": "soon"}]}, "'soon' is not a date"),
        ({"programmes": [{"slug": "x", "name": "X", "pairs": [{"mentor": "a@x.org"}]}]},
         "pair 1: field 'mentee'"),
        ({"programmes": [{"slug": "x", "name": "X", "pairs": [
            {"mentor": "a@x.org", "mentee": "b@x.org", "status": "dating"}]}]},
         "unknown status 'dating'"),
        ({"programs": []}, "expected"),
    ],
)  # fmt: skip
def test_programmes_json_errors(tmp_path, data, words):
    with pytest.raises(ValidationError, match=words):
        read_programmes_json(write(tmp_path / "p.json", json.dumps(data)))
