"""The default backend: the :class:`Store` interface over a loaded in-process :class:`Index`.

Sentence and chunk ids are the build's row numbers and document keys its document positions, so
everything retrieval computes through this adapter is what it computed from the arrays directly:
same candidates, same scores, same answers. BM25 scores come from bm25s over the whole build (one
array per query, computed once per :meth:`FaissStore.lexical` call); only the values of the
requested ids leave the adapter.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from qa.index.interface import CHUNKS, SENTENCES, DocumentRecord, Lexical, Rows, Store, top
from qa.index.store import Index
from qa.index.vectors import search as vector_search


class _Scores(Lexical):
    def __init__(self, raw: np.ndarray):
        self._raw = raw
        self.max = float(raw.max()) if len(raw) else 0.0

    def top(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        ids = top(self._raw, k).astype(np.int64)
        return ids, self._raw[ids]

    def scores(self, ids: np.ndarray) -> np.ndarray:
        return self._raw[np.asarray(ids, dtype=np.int64)]

    def normalised(self, ids: np.ndarray) -> np.ndarray:
        # Divide the whole array, then gather: bit for bit what retrieval did before the interface.
        if not hasattr(self, "_norm"):
            self._norm = self._raw / self.max if self.max > 0 else np.zeros_like(self._raw)
        return self._norm[np.asarray(ids, dtype=np.int64)]


class FaissStore(Store):
    """A loaded build (FAISS + bm25s + arrays) seen through the store interface."""

    def __init__(self, index: Index):
        self.index = index
        idx = index
        same_prev = np.r_[False, idx.sent_doc[1:] == idx.sent_doc[:-1]]
        self._prev = np.where(same_prev, np.arange(len(idx.sent_doc)) - 1, -1)
        same_next = np.r_[idx.sent_doc[:-1] == idx.sent_doc[1:], False]
        self._next = np.where(same_next, np.arange(len(idx.sent_doc)) + 1, -1)

    @property
    def stale(self) -> str | None:  # type: ignore[override]
        return self.index.stale

    @property
    def dimension(self) -> int:
        return int(self.index.vectors.shape[1])

    def counts(self) -> dict[str, int]:
        idx = self.index
        return {"documents": len(idx.doc_ids), "chunks": len(idx.chunk_ids), "sentences": len(idx.sent_doc)}

    def dense_sentences(self, qvec: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        n = self.index.faiss_index.ntotal
        if n == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores, rows = vector_search(self.index.faiss_index, qvec, min(k, n))
        keep = rows[0] >= 0
        return rows[0][keep].astype(np.int64), scores[0][keep]

    def _bm25(self, of: str):
        if of == CHUNKS:
            return self.index.bm25_chunks, len(self.index.chunk_ids)
        if of == SENTENCES:
            return self.index.bm25_sentences, len(self.index.sent_doc)
        raise ValueError(f"unknown text kind {of!r}")

    def lexical(self, tokens: Sequence[str], of: str) -> Lexical:
        bm25, n = self._bm25(of)
        return _Scores(bm25.scores(list(tokens)) if tokens else np.zeros(n, np.float32))

    def idf(self, tokens: Sequence[str], of: str = SENTENCES) -> np.ndarray:
        return self._bm25(of)[0].idf(tokens)

    def containing(self, token: str, of: str = CHUNKS, limit: int | None = None) -> np.ndarray:
        ids = self._bm25(of)[0].containing(token)
        return ids if limit is None else ids[:limit]

    def has_term(self, token: str) -> bool:
        return self.index.bm25_sentences.has(token)

    def sentence_vectors(self, ids: np.ndarray) -> np.ndarray:
        return self.index.vectors[ids]

    def chunk_vectors(self, ids: np.ndarray) -> np.ndarray:
        return self.index.chunk_vectors[ids]

    def sentences(self, ids: np.ndarray) -> Rows:
        idx = self.index
        ids = np.asarray(ids, dtype=np.int64)
        return Rows(ids, idx.sent_doc[ids], idx.sent_span[ids].reshape(-1, 2), idx.sent_chunk[ids])

    def chunks(self, ids: np.ndarray) -> Rows:
        idx = self.index
        ids = np.asarray(ids, dtype=np.int64)
        return Rows(ids, idx.chunk_doc[ids], idx.chunk_span[ids].reshape(-1, 2))

    def document_chunks(self, key: int) -> Rows:
        return self.chunks(np.nonzero(self.index.chunk_doc == key)[0])

    def chunk_sentences(self, ids: np.ndarray) -> list[np.ndarray]:
        return [np.arange(a, b) for a, b in self.index.chunk_sents[np.asarray(ids, dtype=np.int64)]]

    def neighbours(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ids = np.asarray(ids, dtype=np.int64)
        return self._prev[ids], self._next[ids]

    def sentence_texts(self, ids: Sequence[int]) -> list[str]:
        return [self.index.sentence_text(int(r)) for r in ids]

    def document(self, key: int) -> DocumentRecord:
        idx = self.index
        if not 0 <= key < len(idx.doc_ids):
            raise KeyError(key)
        return DocumentRecord(key, idx.doc_ids[key], idx.titles[key], idx.texts[key], idx.metas[key],
                              tuple(idx.pages[key]) if idx.pages else ())

    def document_key(self, doc_id: str) -> int | None:
        return self.index.doc_position.get(doc_id)

    def document_ids(self, limit: int | None = None) -> list[str]:
        return list(self.index.doc_ids[:limit])

    def catalogue(self, limit: int | None = None) -> list[tuple[int, str, str, int]]:
        idx = self.index
        return [(i, d, idx.titles[i], len(idx.pages[i]) if idx.pages else 0) for i, d in enumerate(idx.doc_ids[:limit])]

    def document_sentences(self, key: int) -> Rows:
        return self.sentences(np.nonzero(self.index.sent_doc == key)[0])

    def lowercase_words(self, key: int) -> frozenset[str]:
        return self.index.lowercase_words(key)


def as_store(index_or_store: Index | Store) -> Store:
    """A :class:`Store` for either a store or a loaded :class:`Index` (callers that still hold one)."""
    return index_or_store if isinstance(index_or_store, Store) else FaissStore(index_or_store)
