"""A small lexical signal for matching: tokens, a rough language guess and TF-IDF vectors.

Pure Python + numpy/scipy. Word forms are cut to a fixed prefix instead of stemmed: it treats
English, Polish and Russian inflection alike ("raporty", "raportów" -> "rapor") with no
language-specific stemmer, and it is what dev tuning chose (see results/MATCHING.md).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
_POLISH_LETTERS = re.compile(r"[ąćęłńśźż]", re.IGNORECASE)  # not "ó": Spanish has it too
_LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)
# Spellings English words almost never have: digraphs and inflection endings of Polish.
_POLISH_SHAPE = re.compile(
    r"(rz|cz|sz|dź|ż|(ów|owe|owy|owa|owej|owych|ych|ami|anie|enie|cja|cje|cji|yjna|yjne|ości|"
    r"nego|nej)$)"
)

# Function words only: content words stay, even common ones, because IDF handles those.
STOPWORDS = frozenset(
    """
    a an and are as at be by for from has have how i in into is it its of on or our so such
    than that the their then there these this those to was we were what when which while who
    will with within without you your can may not no do does using use used based via also
    both more most other some any each all new one two between over under about after before
    i w z na do się że jak to jest nie o od po za dla przez oraz lub czy co tak są być który
    która które ich jego jej tym ten ta te przy bez nad pod ze we
    и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только
    ее мне было вот от меня еще нет о из ему для при это как или их был быть также
    """.split()
)

_POLISH_WORDS = frozenset(
    "i w na do się że jak jest nie od po za dla przez oraz lub czy co są być który".split()
)


def tokenize(text: str, prefix: int = 6) -> list[str]:
    """Lower-cased word tokens without function words, cut to ``prefix`` characters (0: whole)."""
    tokens = []
    for token in _TOKEN.findall(text.lower()):
        if len(token) < 2 or token in STOPWORDS or token.isdigit():
            continue
        tokens.append(token[:prefix] if prefix > 0 else token)
    return tokens


def guess_language(text: str) -> str:
    """'ru', 'pl' or 'en' from letters and a few function words: enough to route models."""
    words = _TOKEN.findall(text.lower())
    if not words:
        return "en"
    # Brand names stay Latin inside Russian text ("Copilot в Outlook и Teams").
    if sum(1 for w in words if _CYRILLIC.search(w)) / len(words) >= 0.2:
        return "ru"
    # A Polish name in an English text is one word among many; in a Polish phrase every
    # second or third word has a Polish letter, digraph or ending.
    polish = sum(
        1
        for w in words
        if _POLISH_LETTERS.search(w) or _POLISH_SHAPE.search(w) or w in _POLISH_WORDS
    )
    if polish / len(words) >= 0.25:
        return "pl"
    return "en"


@dataclass(frozen=True)
class Lexicon:
    """Vocabulary and inverse document frequencies of one pool of texts."""

    vocabulary: dict[str, int]
    idf: np.ndarray
    prefix: int = 6

    @classmethod
    def fit(cls, texts: Iterable[str], prefix: int = 6) -> Lexicon:
        """Learn the vocabulary and IDF (smoothed, log) from ``texts``."""
        df: Counter[str] = Counter()
        n = 0
        for text in texts:
            n += 1
            df.update(set(tokenize(text, prefix)))
        vocabulary = {term: i for i, term in enumerate(sorted(df))}
        idf = np.array(
            [math.log((n + 1) / (df[term] + 1)) + 1.0 for term in sorted(df)], dtype=np.float32
        )
        return cls(vocabulary=vocabulary, idf=idf, prefix=prefix)

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """L2-normalised sublinear TF-IDF rows; unknown terms are ignored (they match nothing)."""
        indptr = [0]
        indices: list[int] = []
        values: list[float] = []
        for text in texts:
            counts = Counter(
                self.vocabulary[t] for t in tokenize(text, self.prefix) if t in self.vocabulary
            )
            row = sorted(counts.items())
            weights = [(1.0 + math.log(c)) * float(self.idf[j]) for j, c in row]
            norm = math.sqrt(sum(w * w for w in weights)) or 1.0
            indices.extend(j for j, _ in row)
            values.extend(w / norm for w in weights)
            indptr.append(len(indices))
        return sparse.csr_matrix(
            (
                np.asarray(values, dtype=np.float32),
                np.asarray(indices, dtype=np.int32),
                np.asarray(indptr, dtype=np.int64),
            ),
            shape=(len(texts), len(self.vocabulary)),
        )
