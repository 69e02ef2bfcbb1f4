"""Nearest-neighbour search over sentence vectors: exact FAISS for small corpora, HNSW for large.

Vectors are L2-normalised, so inner product is cosine similarity and both
index kinds use the inner-product metric. Which kind a corpus gets is a pure
function of its size and the ``vectors:`` settings (:func:`plan`); the plan
is recorded in the index manifest, so a settings change that would give a
different structure is detected, and the structure is rebuilt from the
stored vectors without embedding anything again. ``ef_search`` is a
query-time knob and is applied on load.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from qa.config import VectorsConfig

FLAT, HNSW = "flat", "hnsw"


@dataclass(frozen=True)
class VectorIndexSpec:
    """What FAISS structure to build: ``flat`` (exact) or ``hnsw`` with its graph parameters."""

    kind: str = FLAT
    m: int | None = None
    ef_construction: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in (FLAT, HNSW):
            raise ValueError(f"unknown vector index kind {self.kind!r}")
        if (self.kind == HNSW) != (self.m is not None and self.ef_construction is not None):
            raise ValueError("an hnsw index needs m and ef_construction; a flat index has neither")

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict | None) -> "VectorIndexSpec":
        """The spec a manifest recorded; manifests from before this setting existed mean ``flat``."""
        return cls(**(data or {}))


def plan(settings: VectorsConfig, n: int) -> VectorIndexSpec:
    """The structure for ``n`` vectors: exact below ``settings.exact_below``, HNSW from there on."""
    if n < settings.exact_below:
        return VectorIndexSpec(FLAT)
    return VectorIndexSpec(HNSW, m=settings.hnsw_m, ef_construction=settings.ef_construction)


def build(vectors: np.ndarray, spec: VectorIndexSpec, ef_search: int = 128):
    """A FAISS index over ``vectors`` (rows are normalised float32) shaped by ``spec``."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    dim = int(vectors.shape[1])
    if spec.kind == FLAT:
        index = faiss.IndexFlatIP(dim)
    else:
        index = faiss.IndexHNSWFlat(dim, spec.m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = spec.ef_construction
    if len(vectors):
        index.add(vectors)
    set_ef_search(index, ef_search)
    return index


def set_ef_search(index, ef_search: int) -> None:
    """Set the HNSW search breadth (more = higher recall, slower); no-op for exact indexes."""
    index = getattr(index, "index", index)  # a RowIndex's own FAISS index
    hnsw = getattr(index, "hnsw", None)
    if hnsw is not None:
        hnsw.efSearch = int(ef_search)


def kind_of(index) -> str:
    return HNSW if getattr(index, "hnsw", None) is not None else FLAT


def save(index, path: Path) -> None:
    """Write ``index`` to ``path``; a failed write (a full disk) is an ``OSError`` like any other file's."""
    import errno
    import re

    import faiss

    try:
        faiss.write_index(index, str(path))
    except RuntimeError as exc:  # faiss reports an I/O failure as "... write error in <path>: ... (<strerror>)"
        reason = re.search(r"\(([^()]*)\)\s*$", str(exc))
        why = reason.group(1) if reason else str(exc).strip().splitlines()[-1]
        code = errno.ENOSPC if "No space left" in why else errno.EIO
        raise OSError(code, why, str(path)) from None


def load(path: Path, ef_search: int = 128):
    import faiss

    index = faiss.read_index(str(path))
    set_ef_search(index, ef_search)
    return index


class RowVectors:
    """Sentence vectors stored once per distinct sentence, read by sentence row like an (S, d) array.

    ``distinct`` holds one vector per distinct sentence text and ``row_vector[row]`` says which is the
    row's; ``rows[...]`` gathers like ``array[...]`` (an int, an array or list of rows, a slice), so a
    text repeated 400 times costs one vector, not 400.
    """

    def __init__(self, distinct: np.ndarray, row_vector: np.ndarray):
        self.distinct = distinct
        self.row_vector = row_vector

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.row_vector), int(self.distinct.shape[1])

    @property
    def dtype(self):
        return self.distinct.dtype

    ndim = 2

    def __len__(self) -> int:
        return len(self.row_vector)

    def __getitem__(self, rows) -> np.ndarray:
        return self.distinct[self.row_vector[rows]]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self.distinct[self.row_vector]
        return out if dtype is None else out.astype(dtype)

    def copy(self) -> np.ndarray:
        return np.asarray(self)


class RowIndex:
    """A FAISS index over distinct vectors, searched as if it held one vector per sentence row.

    A hit on a distinct vector stands for every row with that text, in row order; ``ntotal`` counts
    rows. Anything else (``hnsw``, ``d``) is the FAISS index's own.
    """

    def __init__(self, index, row_vector: np.ndarray):
        self.index = index
        order = np.argsort(row_vector, kind="stable")
        self._rows = order.astype(np.int64)
        self._starts = np.searchsorted(row_vector[order], np.arange(index.ntotal + 1))
        self.ntotal = len(row_vector)

    def __getattr__(self, name):
        return getattr(self.__dict__["index"], name)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        n = self.index.ntotal
        scores, ids = self.index.search(queries, min(k, n)) if n else (
            np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64))
        out_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        out_rows = np.full((len(queries), k), -1, dtype=np.int64)
        for q, (qs, qi) in enumerate(zip(scores, ids)):
            keep = qi >= 0
            qs, qi = qs[keep], qi[keep]
            counts = self._starts[qi + 1] - self._starts[qi]
            total = min(k, int(counts.sum()))
            # Each hit's rows, hit after hit, cut at k: positions within the concatenated row lists.
            first = np.repeat(self._starts[qi], counts)[:total]
            offset = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)[:total]
            out_rows[q, :total] = self._rows[first + offset]
            out_scores[q, :total] = np.repeat(qs, counts)[:total]
        return out_scores, out_rows


def search(index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Inner-product scores and rows of the top ``k`` per query row, best first (row -1: no result)."""
    queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
    n = index.ntotal
    if n == 0 or k <= 0:
        return (np.zeros((len(queries), 0), dtype=np.float32), np.zeros((len(queries), 0), dtype=np.int64))
    if len(queries) == 1:
        # One query has nothing to share between threads, and waking an OpenMP team on a busy
        # machine costs more than the search itself (16 ms instead of 0.6 ms for 20k exact vectors).
        import faiss

        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            scores, rows = index.search(queries, min(k, n))
        finally:
            faiss.omp_set_num_threads(threads)
    else:
        scores, rows = index.search(queries, min(k, n))
    return scores, rows.astype(np.int64)
