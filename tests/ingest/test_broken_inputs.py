"""Each broken input is rejected with a message naming what is wrong, and writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.pipeline import import_paths

GOOD_NOTE = """---
title: "Session"
author: mia.morgan@example.com
pair: [mia.morgan@example.com, piotr.nowak@example.com]
language: en
date: 2026-01-19
---
Body.
"""
HEADER = "name,email,manager_email,roles\n"

CASES = {
    "invalid-utf8": (
        "notes/latin2.md",
        GOOD_NOTE.encode("utf-8").replace(b"Body.", b"Zaj\xeacia \xb1"),
        ["not valid UTF-8 at byte", "line 8"],
    ),
    "bad-yaml": (
        "guides/bad-yaml.md",
        b"---\ntitle: ok\nauthor: mia.morgan@example.com\ntags: [ai, prompts\n"
        b"language: en\n---\nx\n",
        ["invalid YAML in front matter", "line 5"],
    ),
    "missing-front-matter": ("guides/plain.md", b"# Just markdown\n", ["missing front matter"]),
    "unterminated-front-matter": (
        "guides/open.md",
        b"---\ntitle: x\nauthor: mia.morgan@example.com\nlanguage: en\n\n# Body\n",
        ["front matter is not closed"],
    ),
    "missing-title": (
        "guides/untitled.md",
        b"---\nauthor: mia.morgan@example.com\nlanguage: en\n---\nx\n",
        ["missing required field 'title'"],
    ),
    "missing-pair": (
        "notes/no-pair.md",
        b"---\ntitle: t\nauthor: mia.morgan@example.com\nlanguage: en\n---\nx\n",
        ["missing required field 'pair'"],
    ),
    "unknown-language": (
        "guides/de.md",
        b"---\ntitle: t\nauthor: mia.morgan@example.com\nlanguage: de\n---\nx\n",
        ["line 4", "unknown language 'de'"],
    ),
    "bad-date": (
        "guides/date.md",
        b"---\ntitle: t\nauthor: mia.morgan@example.com\nlanguage: en\ndate: 2026-02-30\n---\nx\n",
        ["line 5", "field 'date'", "'2026-02-30' is not a date"],
    ),
    "unknown-author": (
        "guides/ghost.md",
        b"---\ntitle: t\nauthor: ghost@example.com\nlanguage: en\n---\nx\n",
        ["line 3", "unknown author 'ghost@example.com'"],
    ),
    "unknown-pair": (
        "notes/strangers.md",
        GOOD_NOTE.replace("piotr.nowak@example.com", "richard.hale@example.com").encode(),
        ["field 'pair'", "are not a pair"],
    ),
    "shared-without-insight": (
        "notes/shared.md",
        GOOD_NOTE.replace("date:", "visibility: shared\ndate:").encode(),
        ["shared note needs an 'insight'"],
    ),
    "wrong-csv-columns": (
        "staff.csv",
        b"full_name,mail,department\nA,a@x.org,IT\n",
        ["missing column(s) name, email", "unknown column(s) 'full_name', 'mail'",
         "expected columns: name, email (required)"],
    ),
    "bad-csv-rows": (
        "staff.csv",
        (HEADER + "A,a@x.org,,mentor\nB,not-an-email,,mentee\nC,c@x.org,,boss\n").encode(),
        ["2 invalid rows", "line 3: field 'email'", "line 4: field 'roles'", "'boss'"],
    ),
    "unknown-manager": (
        "staff.csv",
        (HEADER + "A,a@x.org,,mentor\nB,b@x.org,ghost@x.org,mentee\n").encode(),
        ["line 3: unknown manager 'ghost@x.org' of b@x.org"],
    ),
    "manager-cycle": (
        "staff.csv",
        (HEADER + "A,a@x.org,c@x.org,mentor\nB,b@x.org,a@x.org,mentee\nC,c@x.org,b@x.org,hr\n")
        .encode(),
        ["manager cycle", "a@x.org", "b@x.org", "c@x.org"],
    ),
    "invalid-json": ("data.json", b'{"programmes": [\n  {"slug": "x",}\n]}', ["invalid JSON",
                                                                           "line 2"]),
    "programme-with-unknown-person": (
        "programmes.json",
        b'{"programmes": [{"slug": "x", "name": "X", "pairs": '
        b'[{"mentor": "ghost@example.com", "mentee": "piotr.nowak@example.com"}]}]}',
        ["pair 1: unknown mentor 'ghost@example.com'"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_broken_input_is_rejected_and_writes_nothing(
    case, sessions, library, embedders, snapshot, tmp_path
):
    report = import_paths(sessions, [library / "people.csv", library / "programme.json"],
                          embedders)  # fmt: skip
    assert report.ok
    before = snapshot()
    relative, data, expected = CASES[case]
    path = tmp_path / "incoming" / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    report = import_paths(sessions, [tmp_path / "incoming"], embedders)
    [rejected] = report.rejected
    assert rejected.path == relative
    for words in expected:
        assert words in rejected.reason, rejected.reason
    assert report.imported == report.updated == []
    assert snapshot() == before


def test_oversized_file_names_size_and_limit(sessions, library, embedders, snapshot, tmp_path):
    import_paths(sessions, [library / "people.csv"], embedders)
    before = snapshot()
    path = tmp_path / "guides" / "huge.md"
    path.parent.mkdir()
    path.write_text(GOOD_NOTE + "x" * 5000, "utf-8")
    report = import_paths(sessions, [path], embedders, max_bytes=4096)
    [rejected] = report.rejected
    assert (
        "file is 5.0 KiB (5148 bytes)" in rejected.reason
        and "limit of 4.0 KiB (4096 bytes)" in rejected.reason
    )
    assert snapshot() == before


def test_default_limit_is_two_mebibytes(sessions, embedders, tmp_path):
    path = tmp_path / "guides" / "huge.md"
    path.parent.mkdir()
    path.write_bytes(b"---\ntitle: t\n---\n" + b"x" * (2 * 1024 * 1024))
    [rejected] = import_paths(sessions, [path], embedders).rejected
    assert "larger than the limit of 2.0 MiB (2097152 bytes)" in rejected.reason


def test_errors_name_the_file(tmp_path: Path):
    from ingest.readers import read_document
    from kb.errors import ValidationError

    path = tmp_path / "guides" / "x.md"
    path.parent.mkdir()
    path.write_bytes(b"---\ntitle: t\nlanguage: en\n---\n")
    with pytest.raises(ValidationError) as error:
        read_document(path)
    assert str(error.value).startswith(str(path)) and "'author'" in str(error.value)
