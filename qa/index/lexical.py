"""Lexical side of retrieval: one tokenizer for index and query, BM25 via bm25s.

The same :func:`tokenize` is used when indexing and when querying, so terms
always line up. Tokens are lower-cased, English stop words dropped, and
stemmed with PyStemmer (Snowball) when it is installed.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

_TOKEN = re.compile(r"\w+", re.UNICODE)

try:  # bm25s's English stop word list; a small fallback keeps us working without it
    from bm25s.stopwords import STOPWORDS_EN as _STOP
except ImportError:  # pragma: no cover
    _STOP = ("a", "an", "the", "of", "to", "in", "and", "or", "is", "are", "was", "were")
STOPWORDS = frozenset(_STOP) | {"did", "does", "do", "what", "which", "who", "whom", "when", "where",
                                "why", "how", "many", "much"}

try:
    import Stemmer

    _stemmer = Stemmer.Stemmer("english")
    _stem = _stemmer.stemWord
except ImportError:  # pragma: no cover
    def _stem(word: str) -> str:
        return word


# Bounded: every new word of every question lands here, so a long-running server must not keep them all
# (16,384 stems are about 3 MB; a miss costs one Snowball call, well under a microsecond).
@lru_cache(maxsize=16_384)
def _normalise(word: str) -> str:
    return _stem(word)


def tokenize(text: str) -> list[str]:
    """Lower-cased, stemmed content words of ``text`` (composed first: "Cafe\u0301" is "café")."""
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    return [_normalise(w) for w in _TOKEN.findall(text.lower()) if w not in STOPWORDS]


class BM25Index:
    """A bm25s index over a list of texts, addressed by position."""

    def __init__(self, model):
        self._model = model

    @classmethod
    def build(cls, texts: Sequence[str]) -> "BM25Index":
        import bm25s

        model = bm25s.BM25()
        # An empty corpus is legal for us (no documents yet); bm25s needs one token list.
        tokens = [tokenize(t) or ["\u2205"] for t in texts] or [["\u2205"]]
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        model.index(tokens, show_progress=False)
        return cls(model)

    def save(self, path: Path) -> None:
        self._model.save(str(path))

    @classmethod
    def load(cls, path: Path) -> "BM25Index":
        import bm25s

        return cls(bm25s.BM25.load(str(path)))

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every indexed text for the query (0 where no term matches)."""
        return np.asarray(self._model.get_scores(query_tokens), dtype=np.float32)

    def idf(self, tokens: Sequence[str]) -> np.ndarray:
        """Inverse document frequency of each token over the indexed texts (BM25's idf;
        a token no text contains gets the largest value)."""
        vocab = self._model.vocab_dict
        indptr = self._model.scores["indptr"]
        n = float(self._model.scores["num_docs"])
        df = np.array([indptr[vocab[t] + 1] - indptr[vocab[t]] if t in vocab else 0 for t in tokens],
                      dtype=np.float64)
        return np.log((n - df + 0.5) / (df + 0.5) + 1.0).astype(np.float32)
