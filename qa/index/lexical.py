"""The lexical index: BM25 over chunks and sentences via bm25s, with the shared tokenizer (:mod:`qa.text.words`)."""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Sequence

import numpy as np

from qa.text.words import tokenize


class BM25Index:
    """A bm25s index over a list of texts, addressed by position."""

    def __init__(self, model):
        self._model = model

    @classmethod
    def build(cls, texts: Sequence[str], of: Sequence[int] | None = None) -> "BM25Index":
        """BM25 over ``texts``, or over ``texts[i] for i in of`` (a text repeated there is tokenized once)."""
        import bm25s

        model = bm25s.BM25()
        # An empty corpus is legal for us (no documents yet); bm25s needs one token list.
        tokens = [tokenize(t) or ["\u2205"] for t in texts]
        if of is not None:
            tokens = [tokens[i] for i in of]
        tokens = tokens or [["\u2205"]]
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        model.index(tokens, show_progress=False)
        return cls(model)

    def save(self, path: Path) -> None:
        self._model.save(str(path))

    @classmethod
    def load(cls, path: Path) -> "BM25Index":
        import bm25s

        return cls(bm25s.BM25.load(str(path)))

    @property
    def vocabulary(self) -> dict[str, int]:
        """Every indexed token (term -> id)."""
        return self._model.vocab_dict

    @functools.cached_property
    def terms(self) -> list[str]:
        """Every indexed token, as a list (for fuzzy lookups of a misspelt word)."""
        return list(self._model.vocab_dict)

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every indexed text for the query (0 where no term matches)."""
        return np.asarray(self._model.get_scores(query_tokens), dtype=np.float32)

    def has(self, token: str) -> bool:
        """Whether any indexed text holds ``token`` (a :func:`~qa.text.words.tokenize` stem)."""
        return token in self._model.vocab_dict

    def idf(self, tokens: Sequence[str]) -> np.ndarray:
        """Inverse document frequency of each token over the indexed texts (BM25's idf;
        a token no text contains gets the largest value)."""
        vocab = self._model.vocab_dict
        indptr = self._model.scores["indptr"]
        n = float(self._model.scores["num_docs"])
        df = np.array([indptr[vocab[t] + 1] - indptr[vocab[t]] if t in vocab else 0 for t in tokens],
                      dtype=np.float64)
        return np.log((n - df + 0.5) / (df + 0.5) + 1.0).astype(np.float32)

    def containing(self, token: str) -> np.ndarray:
        """Positions of the indexed texts that hold ``token`` (its posting list)."""
        v = self._model.vocab_dict.get(token)
        if v is None:
            return np.zeros(0, dtype=np.int64)
        indptr = self._model.scores["indptr"]
        return np.asarray(self._model.scores["indices"][indptr[v]:indptr[v + 1]], dtype=np.int64)
