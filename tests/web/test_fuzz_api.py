"""Fuzzing the web layer and the import round trip with Hypothesis (issue 18).

Properties: no 5xx for any parameters; a rejected write leaves nothing behind; an imported
document's words are found by search. Example counts scale with TANDEM_FUZZ_SCALE
(scripts/fuzz.py runs longer).
"""

from __future__ import annotations

import itertools
import os
import random
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from fuzz.strategies import documents, examples
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from ingest.pipeline import import_paths
from kb.models import Chunk, Guide, SessionNote
from kb.runtime import Tandem

PARAM_TEXT = st.text(st.characters(codec="utf-8"), max_size=60)
PARAMS = st.fixed_dictionaries(
    {},
    optional={
        "q": st.one_of(PARAM_TEXT, st.text(alphabet='"()*-+:~^ ab', max_size=40)),
        "type": st.lists(st.one_of(st.sampled_from(["guide", "note", "insight"]), PARAM_TEXT),
                         max_size=3),
        "lang": st.lists(st.one_of(st.sampled_from(["pl", "ru", "en"]), PARAM_TEXT), max_size=3),
        "tag": st.lists(PARAM_TEXT, max_size=12),
        "author": st.one_of(PARAM_TEXT, st.integers().map(str)),
        "from": st.one_of(PARAM_TEXT, st.dates().map(str)),
        "to": st.one_of(PARAM_TEXT, st.dates().map(str)),
        "page": st.one_of(PARAM_TEXT, st.integers().map(str)),
    },
)  # fmt: skip


@settings(max_examples=examples(30))
@given(params=PARAMS)
def test_search_parameters_never_fail(client: FlaskClient, params: dict[str, Any]) -> None:
    api = client.get("/api/search", query_string=params)
    assert api.status_code in (200, 400), api.data[:300]
    assert api.is_json
    page = client.get("/search", query_string=params)
    assert page.status_code in (200, 400)


SEGMENT = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.text(st.characters(codec="utf-8", exclude_characters="/?#"), min_size=1, max_size=30),
)


@settings(max_examples=examples(30))
@given(
    segment=SEGMENT,
    prefix=st.sampled_from(
        ["/guides/", "/guides/id/", "/notes/", "/insights/", "/hr/programmes/", "/api/"]
    ),
)
def test_url_segments_never_fail(client: FlaskClient, segment: str, prefix: str) -> None:
    assert client.get(prefix + segment).status_code < 500


@settings(max_examples=examples(8))
@given(email=PARAM_TEXT, password=PARAM_TEXT, remember=st.sampled_from(["", "y", "x"]))
def test_login_form_never_fails(app_factory: Any, email: str, password: str, remember: str) -> None:
    client = app_factory().test_client()
    answer = client.post(
        "/login", data={"email": email, "password": password, "remember": remember}
    )
    assert answer.status_code in (200, 302, 429)


@settings(max_examples=examples(15))
@given(text=st.text(st.characters(codec="utf-8"), max_size=200))
def test_insight_text_is_saved_whole_or_not_at_all(
    client: FlaskClient, library: Any, login: Any, web_tandem: Tandem, text: str
) -> None:
    if not getattr(client, "_fuzz_logged_in", False):
        login(client, "anna@example.com")
        client._fuzz_logged_in = True  # type: ignore[attr-defined]
    note_id = library.private_note_id
    with web_tandem.sessions() as s:
        before = s.get(SessionNote, note_id).insight
        before_text = before.text if before else None
    answer = client.post(f"/notes/{note_id}/insight", data={"text": text})
    assert answer.status_code in (302, 400)
    with web_tandem.sessions() as s:
        after = s.get(SessionNote, note_id).insight
        after_text = after.text if after else None
    if answer.status_code == 400:
        assert after_text == before_text  # nothing half-written
    else:
        assert after_text == text.strip()


_files = itertools.count()


@settings(max_examples=examples(5))
@given(document=documents(), title=st.text(max_size=40))
def test_imported_words_are_found_by_search(
    client: FlaskClient, web_tandem: Tandem, tmp_path: Path, document: tuple[str, list[str]],
    title: str,
) -> None:  # fmt: skip
    """A guide of hostile markup is either rejected (and nothing of it stored) or imported,
    and then each of its words finds it."""
    # Hypothesis seeds the global random module the same way for every example; Whoosh names
    # its segments with it, and two segments of one index must not share a name.
    random.seed(os.urandom(16))
    md, words = document
    number = next(_files)
    path = tmp_path / "guides" / f"fuzz-{number}.md"
    path.parent.mkdir(exist_ok=True)
    name = f"Fuzz {number} {title}".replace("\n", " ")
    front = f'---\ntitle: "{name.replace(chr(92), "").replace(chr(34), "")}"\n'
    front += "author: anna@example.com\nlanguage: en\n---\n"
    path.write_text(front + md, encoding="utf-8", errors="surrogatepass")
    report = import_paths(web_tandem.sessions, [path], web_tandem.embedders, root=tmp_path)
    key = f"guides/fuzz-{number}.md"
    with web_tandem.sessions() as s:
        guide = s.scalar(select(Guide).where(Guide.source_path == key))
        if report.rejected:
            assert guide is None
            assert s.scalar(select(func.count()).select_from(Chunk).where(
                Chunk.title.like(f"Fuzz {number} %"))) == 0  # fmt: skip
            return
        assert guide is not None, report.summary()
        indexed = " ".join(s.scalars(select(Chunk.text).where(
            Chunk.doc_key == f"guide:{guide.id}")))  # fmt: skip
        guide_id = guide.id
    assert all(word in indexed for word in words)
    web_tandem.search.catch_up()
    for word in words[:3]:
        hits = client.get("/api/search", query_string={"q": word, "type": "guide"}).get_json()
        assert any(h["doc_id"] == guide_id for h in hits["hits"]), word
