"""The store interface between retrieval and storage, and the records it returns.

Retrieval and answering read the index only through :class:`Store`: the top-k dense sentences,
the top-k lexical chunks and sentences (with the scores retrieval fuses, for any candidate id too),
vectors, texts and spans for candidate ids, a document's text and metadata by key, and the idf of
the question's words. Nothing here hands out a corpus-sized array, so a backend can keep the
corpus elsewhere (:mod:`qa.index.faiss_store` wraps today's in-process index; :mod:`qa.index.milvus`
keeps it in Milvus collections).

Ids are integers chosen by the backend: sentence ids, chunk ids and document keys. They are
stable for one loaded store; neighbours and the sentences of a chunk are asked of the store, never
derived from the numbers. Writing goes through :class:`StoreWriter`: documents are written or
deleted, then published at once.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from qa.ingest.corpus import page_of

CHUNKS, SENTENCES = "chunks", "sentences"


@dataclass(frozen=True)
class DocumentRecord:
    """One indexed document: what a citation, the source view and the quote check need."""

    key: int                     # the store's document key (what ``Rows.doc`` holds)
    id: str                      # the document id users see (its path in the corpus)
    title: str
    text: str
    meta: dict = field(default_factory=dict)
    pages: tuple[int, ...] = ()  # page start offsets of a paged (PDF) source, else ()

    def page(self, offset: int) -> int | None:
        """1-based page of ``offset`` for a paged source, else None."""
        return page_of(list(self.pages), offset) if self.pages else None


@dataclass(frozen=True)
class Rows:
    """Sentences or chunks by id: their document key and character span (and, for sentences, their chunk)."""

    ids: np.ndarray          # (n,) int64
    doc: np.ndarray          # (n,) int64 document keys
    span: np.ndarray         # (n, 2) int64 start, end in the document text
    chunk: np.ndarray | None = None  # (n,) int64 the first chunk holding each sentence (sentences only)


class Lexical(ABC):
    """BM25 scores of one query's tokens over chunks or sentences."""

    max: float  # the best score of any indexed text (what retrieval normalises by); 0 when nothing matches

    @abstractmethod
    def top(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Ids and raw scores of the ``k`` best texts, best first."""

    @abstractmethod
    def scores(self, ids: np.ndarray) -> np.ndarray:
        """Raw scores of the texts ``ids`` (0 where no query word occurs), float32."""

    def normalised(self, ids: np.ndarray) -> np.ndarray:
        """Scores of ``ids`` divided by :attr:`max` (all 0 when nothing matches)."""
        raw = self.scores(ids)
        return raw / np.float32(self.max) if self.max > 0 else np.zeros_like(raw)


class Store(ABC):
    """What retrieval and answering may ask of an index (see the module docstring)."""

    stale: str | None = None  # why the store no longer matches the corpus or settings, when served anyway

    # ------------------------------------------------------------ sizes

    @property
    @abstractmethod
    def dimension(self) -> int:
        """Length of the stored vectors."""

    @abstractmethod
    def counts(self) -> dict[str, int]:
        """``{"documents": n, "chunks": n, "sentences": n}``."""

    # ------------------------------------------------------------ search

    @abstractmethod
    def dense_sentences(self, qvec: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` sentence ids by cosine similarity with ``qvec`` and their scores, best first."""

    @abstractmethod
    def lexical(self, tokens: Sequence[str], of: str) -> Lexical:
        """BM25 of ``tokens`` (:func:`qa.text.words.tokenize` output) over ``of``: CHUNKS or SENTENCES."""

    @abstractmethod
    def idf(self, tokens: Sequence[str], of: str = SENTENCES) -> np.ndarray:
        """BM25 idf of each token over ``of`` (a token no text holds gets the largest value)."""

    @abstractmethod
    def containing(self, token: str, of: str = CHUNKS, limit: int | None = None) -> np.ndarray:
        """Ids of the texts of ``of`` that hold ``token``, in id order (the first ``limit`` of them)."""

    @abstractmethod
    def has_term(self, token: str) -> bool:
        """Whether any sentence holds ``token``."""

    # ------------------------------------------------------------ candidates

    @abstractmethod
    def sentence_vectors(self, ids: np.ndarray) -> np.ndarray:
        """(n, d) float32 normalised vectors of sentences ``ids``."""

    @abstractmethod
    def chunk_vectors(self, ids: np.ndarray) -> np.ndarray:
        """(n, d) float32: each chunk's normalised mean sentence vector."""

    @abstractmethod
    def sentences(self, ids: np.ndarray) -> Rows:
        """Document, span and chunk of sentences ``ids``."""

    @abstractmethod
    def chunks(self, ids: np.ndarray) -> Rows:
        """Document and span of chunks ``ids``."""

    @abstractmethod
    def document_chunks(self, key: int) -> Rows:
        """The chunks of document ``key``, in text order."""

    @abstractmethod
    def chunk_sentences(self, ids: np.ndarray) -> list[np.ndarray]:
        """The sentence ids of each chunk, in text order."""

    @abstractmethod
    def neighbours(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The previous and next sentence id of each sentence within its document (-1 at the edges)."""

    def sentence_texts(self, ids: Sequence[int]) -> list[str]:
        """Texts of sentences ``ids``."""
        rows = self.sentences(np.asarray(ids, dtype=np.int64))
        return [self.document(int(d)).text[int(s):int(e)] for d, (s, e) in zip(rows.doc, rows.span)]

    # ------------------------------------------------------------ documents

    @abstractmethod
    def document(self, key: int) -> DocumentRecord:
        """A document by key (raises KeyError for none)."""

    @abstractmethod
    def document_key(self, doc_id: str) -> int | None:
        """The key of document ``doc_id``, or None when it is not indexed."""

    @abstractmethod
    def document_ids(self, limit: int | None = None) -> list[str]:
        """Ids of the indexed documents, in key order (the first ``limit``)."""

    def catalogue(self, limit: int | None = None) -> list[tuple[int, str, str, int]]:
        """(key, id, title, number of pages) of the indexed documents, in key order (the first ``limit``)."""
        out = []
        for doc_id in self.document_ids(limit):
            key = self.document_key(doc_id)
            doc = self.document(key)
            out.append((key, doc.id, doc.title, len(doc.pages)))
        return out

    def document_sentences(self, key: int) -> Rows:
        """The sentences of document ``key``, in text order."""
        chunks = self.document_chunks(key)
        ids = np.unique(np.concatenate(self.chunk_sentences(chunks.ids))) if len(chunks.ids) else np.zeros(0, np.int64)
        return self.sentences(ids.astype(np.int64))

    def lowercase_words(self, key: int) -> frozenset[str]:
        """The words document ``key`` uses in lower case (for telling names from sentence-initial capitals)."""
        return _lowercase_words(self.document(key).text)

    def close(self) -> None:
        """Release connections (no-op for in-process stores)."""


@functools.lru_cache(maxsize=256)
def _lowercase_words(text: str) -> frozenset[str]:
    from qa.text.types import lowercase_words_of

    return lowercase_words_of(text)


class StoreWriter(ABC):
    """Writes a new version of a store: documents written or deleted, then made live at once.

    Until :meth:`publish` returns, readers see the previous version; a writer dropped before it
    (an exception, a killed process) leaves the previous version serving.
    """

    @abstractmethod
    def write(self, documents: Sequence, chunks_by_doc: Sequence, sentences_by_doc: Sequence,
              vectors_by_doc: Sequence[np.ndarray]) -> None:
        """Add or replace ``documents`` (with their chunks, sentence spans and sentence vectors)."""

    @abstractmethod
    def delete(self, doc_ids: Sequence[str]) -> None:
        """Remove documents ``doc_ids``."""

    @abstractmethod
    def publish(self) -> None:
        """Make everything written so far live, atomically."""


def top(x: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` largest values of ``x``, largest first (ties: stable within the cut)."""
    if len(x) <= k:
        return np.argsort(-x, kind="stable")
    part = np.argpartition(-x, k)[:k]
    return part[np.argsort(-x[part], kind="stable")]
