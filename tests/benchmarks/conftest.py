from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.data import BaseMaterial
from kb.embedding import FakeEmbedder

SENTENCES = {
    "en": [
        "Mentors explain new tools.",
        "Seniors share the history of the firm.",
        "Pairs meet every two weeks.",
        "Notes stay private to the pair.",
    ],
    "pl": [
        "Mentorzy pokazują nowe narzędzia.",
        "Spotkania odbywają się co tydzień.",
        "Notatki są prywatne.",
    ],
    "ru": ["Наставники объясняют новые инструменты.", "Пары встречаются раз в неделю."],
}


@pytest.fixture
def material() -> BaseMaterial:
    """A tiny base library: fake-embedded real sentences (no model, no cache)."""
    embedder = FakeEmbedder(dim=32)
    titles, sentences, languages, corpus = [], [], [], []
    for number, (language, pool) in enumerate(SENTENCES.items()):
        for i in range(len(pool)):
            titles.append(f"{language} passage {i}")
            sentences.append(pool[i:] + pool[:i])
            languages.append(language)
            corpus.append(number)
    texts = [" ".join(s) for s in sentences]
    queries = ["new tools", "prywatne notatki", "встречаются"]
    return BaseMaterial(
        model="fake",
        titles=titles,
        sentences=sentences,
        languages=languages,
        corpus=np.asarray(corpus),
        vectors=embedder.embed_passages(texts),
        queries=queries,
        query_languages=["en", "pl", "ru"],
        query_vectors=embedder.embed_queries(queries),
    )


TINY_SETS = {
    "xquad-en": [
        "Mentors explain new tools to senior colleagues. They meet every week.",
        "Spreadsheets hold budgets. Pivot tables summarise a year of sales in seconds.",
        "A good prompt names the audience, the format and the length of the answer.",
        "Short breaks away from the screen help concentration. Walks help even more.",
        "Teams channels keep decisions out of long e-mail threads. Threads get lost.",
        "Social media posts need a clear voice. Pictures help people stop scrolling.",
        "Passwords belong in a password manager. Two-factor sign-in stops most attacks.",
        "Hybrid work needs shared rules about meeting days and quiet hours.",
    ],
    "xquad-ru": [
        "Наставники объясняют новые инструменты старшим коллегам. Пары встречаются каждую неделю.",
        "Таблицы хранят бюджеты. Сводные таблицы подводят итоги года за секунды.",
        "Хороший запрос называет аудиторию, формат и длину ответа.",
        "Короткие перерывы вдали от экрана помогают сосредоточиться.",
        "Каналы в Teams хранят решения вне длинных цепочек писем.",
        "Посты в социальных сетях требуют ясного голоса и хороших картинок.",
        "Пароли хранятся в менеджере паролей. Двухфакторный вход останавливает атаки.",
        "Гибридная работа требует общих правил о днях встреч и тихих часах.",
    ],
    "poquad-pl": [
        "Mentorzy pokazują nowe narzędzia starszym kolegom. Spotkania odbywają się co tydzień.",
        "Arkusze przechowują budżety. Tabele przestawne podsumowują rok sprzedaży w sekundy.",
        "Dobre polecenie określa odbiorców, format i długość odpowiedzi.",
        "Krótkie przerwy od ekranu pomagają się skupić. Spacery pomagają jeszcze bardziej.",
        "Kanały w Teams trzymają decyzje poza długimi wątkami e-maili.",
        "Posty w mediach społecznościowych potrzebują wyraźnego głosu i dobrych zdjęć.",
        "Hasła należą do menedżera haseł. Logowanie dwuetapowe zatrzymuje większość ataków.",
        "Praca hybrydowa wymaga wspólnych zasad dotyczących dni spotkań i godzin ciszy.",
    ],
}


def write_tiny_eval_sets(root: Path) -> Path:
    """Three BEIR folders shaped like the evaluation sets (8 documents, 4 dev and 4 test
    queries each, every query a document's first sentence)."""
    for name, texts in TINY_SETS.items():
        folder = root / name
        (folder / "qrels").mkdir(parents=True)
        with (folder / "corpus.jsonl").open("w", encoding="utf-8") as out:
            for number, text in enumerate(texts):
                out.write(json.dumps({"_id": f"d{number}", "title": text.split(".")[0][:40],
                                      "text": text}, ensure_ascii=False) + "\n")  # fmt: skip
        with (folder / "queries.jsonl").open("w", encoding="utf-8") as out:
            for number, text in enumerate(texts):
                out.write(json.dumps({"_id": f"q{number}", "text": text.split(".")[0]},
                                     ensure_ascii=False) + "\n")  # fmt: skip
        for split, numbers in (("dev", range(0, 4)), ("test", range(4, 8))):
            rows = "".join(f"q{n}\td{n}\t1\n" for n in numbers)
            (folder / "qrels" / f"{split}.tsv").write_text("query-id\tcorpus-id\tscore\n" + rows)
    return root


@pytest.fixture
def tiny_eval_dir(tmp_path: Path) -> Path:
    return write_tiny_eval_sets(tmp_path / "eval")
