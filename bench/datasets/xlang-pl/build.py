"""Write the BEIR files of xlang-pl from guides.py: ``python bench/datasets/xlang-pl/build.py``.

corpus.jsonl: the mixed library (each guide in its kept language); parallel.jsonl: the other
version of each guide (same ids), for a one-language control; queries.jsonl and
qrels/{dev,test}.tsv: every question, relevant to its own guide only.
"""

from __future__ import annotations

import json
from pathlib import Path

from guides import DEV_GUIDES, GUIDES

HERE = Path(__file__).resolve().parent


def main() -> None:
    (HERE / "qrels").mkdir(exist_ok=True)
    qrels: dict[str, list[str]] = {"dev": [], "test": []}
    with (HERE / "corpus.jsonl").open("w", encoding="utf-8") as corpus, \
            (HERE / "parallel.jsonl").open("w", encoding="utf-8") as parallel, \
            (HERE / "queries.jsonl").open("w", encoding="utf-8") as queries:  # fmt: skip
        for guide in GUIDES:
            kept = guide["kept"]
            other = "en" if kept == "pl" else "pl"
            for out, lang in ((corpus, kept), (parallel, other)):
                title, text = guide[lang]
                meta = {"language": lang, "tags": guide["tags"]}
                row = {"_id": guide["id"], "title": title, "text": text, "metadata": meta}
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
            split = "dev" if guide["id"] in DEV_GUIDES else "test"
            for number, (lang, text) in enumerate(guide["questions"], 1):
                qid = f"{guide['id']}-q{number}"
                meta = {"language": lang, "guide_language": kept}
                row = {"_id": qid, "text": text, "metadata": meta}
                queries.write(json.dumps(row, ensure_ascii=False) + "\n")
                qrels[split].append(f"{qid}\t{guide['id']}\t1")
    for split, rows in qrels.items():
        lines = ["query-id\tcorpus-id\tscore", *rows]
        (HERE / "qrels" / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
