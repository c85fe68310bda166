"""Read a BEIR-layout folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from kb.chunking import chunk_text, embedding_text
from kb.errors import ValidationError


@dataclass
class BeirSet:
    """A retrieval set: documents, queries of one split and their relevance judgements."""

    name: str
    docs: dict[str, tuple[str, str]]  # id -> (title, text)
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]] = field(default_factory=dict)
    # Document id -> its own language (``metadata.language``), for a corpus in several languages.
    languages: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EvalPassage:
    """One chunk of a corpus document, as indexed and embedded by evaluation."""

    doc_id: str
    position: int
    title: str
    text: str
    language: str = ""  # the document's own language, "" when the corpus does not say

    @property
    def embedding_text(self) -> str:
        return embedding_text(self.title, self.text)


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ValidationError(str(exc), source=str(path), line=number) from exc
    return rows


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """qrels TSV with a header ``query-id corpus-id score``."""
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as handle:
        reader = csv.reader(handle, delimiter="\t")
        header = next(reader, None)
        if not header or header[:2] != ["query-id", "corpus-id"]:
            raise ValidationError("expected header 'query-id corpus-id score'", source=str(path))
        for row in reader:
            if len(row) >= 3 and int(row[2]) > 0:
                qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    return qrels


def load_beir(folder: str | Path, split: str) -> BeirSet:
    """Load a BEIR folder; only queries that appear in the split's qrels are kept."""
    folder = Path(folder)
    qrels_path = folder / "qrels" / f"{split}.tsv"
    for needed in (folder / "corpus.jsonl", folder / "queries.jsonl", qrels_path):
        if not needed.is_file():
            raise ValidationError(f"missing {needed.name} (not a BEIR folder?)", source=str(needed))
    rows = _read_jsonl(folder / "corpus.jsonl")
    docs = {str(r["_id"]): (r.get("title") or "", r.get("text") or "") for r in rows}
    languages = {
        str(r["_id"]): str(language)
        for r in rows
        if (language := (r.get("metadata") or {}).get("language"))
    }
    qrels = read_qrels(qrels_path)
    queries = {
        str(r["_id"]): r["text"]
        for r in _read_jsonl(folder / "queries.jsonl")
        if str(r["_id"]) in qrels
    }
    return BeirSet(folder.name, docs, queries, {q: qrels[q] for q in queries}, languages)


def corpus_passages(beir: BeirSet) -> list[EvalPassage]:
    """Chunk every document with the product's chunker (so the figures describe the product)."""
    passages = []
    for doc_id, (title, text) in beir.docs.items():
        for passage in chunk_text(text):
            passages.append(
                EvalPassage(
                    doc_id, passage.position, title, passage.text, beir.languages.get(doc_id, "")
                )
            )
    return passages
