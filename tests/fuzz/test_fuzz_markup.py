"""Fuzzing the renderer and the readers (issue 18): hostile markup never loses words, never
raises anything but a ValidationError, and costs work in proportion to its size."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.readers import read_document
from kb.errors import ValidationError
from kb.services.markup import markdown_to_text, render_markdown

from .strategies import documents, examples


@settings(max_examples=examples(100))
@given(documents())
def test_rendering_keeps_every_word(document: tuple[str, list[str]]) -> None:
    md, words = document
    html = render_markdown(md)
    text = markdown_to_text(md)
    private = render_markdown(md, remote_images=False)
    for word in words:
        assert word in html, (word, md)
        assert word in text, (word, md)
        assert word in private
    lowered = html.lower()
    assert "<script" not in lowered and "<iframe" not in lowered and "<style" not in lowered


@settings(max_examples=examples(100))
@given(st.text(max_size=400))
def test_any_text_renders(md: str) -> None:
    assert isinstance(render_markdown(md), str)
    assert isinstance(markdown_to_text(md), str)


FRONT = st.dictionaries(
    st.sampled_from(["title", "author", "language", "tags", "date", "visibility", "pair",
                     "insight", "slug", "type"]),
    st.one_of(st.text(max_size=30), st.integers(), st.lists(st.text(max_size=10), max_size=3),
              st.none(), st.booleans()),
    max_size=8,
)  # fmt: skip


@settings(max_examples=examples(60))
@given(
    front=FRONT,
    body=st.text(max_size=300),
    raw=st.binary(max_size=200),
    kind=st.sampled_from(["guides", "notes", "other"]),
)
def test_readers_accept_or_reject_with_a_reason(
    tmp_path_factory, front: dict, body: str, raw: bytes, kind: str
) -> None:  # noqa: ANN001
    import yaml

    folder = tmp_path_factory.mktemp(kind)
    candidates = [
        "---\n" + yaml.safe_dump(front, allow_unicode=True) + "---\n" + body,
        "---\n" + body,
        body,
    ]
    paths = []
    for i, text in enumerate(candidates):
        path = Path(folder) / f"doc{i}.md"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        paths.append(path)
    binary = Path(folder) / "raw.md"
    binary.write_bytes(raw)
    paths.append(binary)
    for path in paths:
        try:
            doc = read_document(path)
        except ValidationError as error:
            assert str(error).strip()  # a reason, naming the file
            assert str(path) in str(error)
        else:
            assert doc.title and doc.author_email
