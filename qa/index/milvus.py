"""The Milvus backend: the :class:`Store` interface over Milvus collections (milvus-lite or a server).

``store: {kind: milvus, uri: ./index/milvus.db}`` keeps the index in a milvus-lite file;
``uri: http://host:19530`` (with ``token:``) in a Milvus server or cluster; the code is the same.
Four collections per version, named ``<collection>_<kind>_v<N>``:

- ``sentences``: id, document key, chunk id, span, the sentence vector and a sparse BM25 vector;
- ``chunks``: id, document key, span, sentence range, the chunk's mean vector and sparse BM25 vector;
- ``documents``: id, title, metadata, pages, file stat and the text (split in parts of
  :data:`PART_CHARS` characters, Milvus strings being limited to 64 KB);
- ``terms``: every token with its id and its document frequency over chunks and over sentences.

``<collection>_meta`` holds one row, ``live``: which version serves, with its model, dimension,
settings and BM25 statistics. Publishing a version is one upsert of that row (milvus-lite 2.5 has
no collection aliases), so a failed build leaves the live version serving.

Lexical scores are the faiss backend's: the sparse vectors hold BM25's term-frequency part
(bm25s's Lucene variant, the project's tokenizer) and a query weighs each of its tokens by its idf
from the global document frequencies, so ``sparse · query`` is the bm25s score. The average length
is the one of the version's full build (incremental updates keep it until ``qa index --rebuild``).

Ids: a document gets a number when first written; its sentences and chunks are
``number << 20 | position``. Nothing corpus-sized is held in memory: candidates are fetched by id
and kept in small bounded caches.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from typing import Sequence

import numpy as np

from qa.config import Config
from qa.errors import ConfigError, IndexMissingError, StaleIndexError
from qa.index.interface import CHUNKS, SENTENCES, DocumentRecord, Lexical, Rows, Store

SHIFT = 20                       # a document holds at most 2**20 sentences and chunks
PART_CHARS = 15000               # characters per text part (4 bytes per character at most: under 64 KB)
K1, B = 1.5, 0.75                # bm25s's defaults, as the faiss backend uses them
INSTALL = "the milvus backend needs pymilvus and milvus-lite: pip install -e '.[milvus]'"
CACHE_ROWS = 20000               # sentence/chunk rows kept between questions
CACHE_DOCS = 64                  # document texts kept between questions


def connect(config: Config):
    """A ``MilvusClient`` for ``config.store``; one-line errors for what a user can fix."""
    try:
        from pymilvus import MilvusClient
    except ImportError:
        raise ConfigError(INSTALL) from None
    st = config.store
    uri = st.uri
    kwargs = {"uri": uri}
    if st.token:
        kwargs["token"] = st.token
    if "://" in uri:
        kwargs["timeout"] = st.timeout
    else:  # a milvus-lite file: its folder is made like the index folder is
        from pathlib import Path

        try:
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create the folder of the milvus-lite file {uri} ({exc.strerror})") from None
    try:
        return MilvusClient(**kwargs)
    except Exception as exc:  # pymilvus raises MilvusException subclasses, grpc errors or plain ones
        raise ConfigError(_why(exc, uri)) from None


def _why(exc: Exception, uri: str) -> str:
    text = str(exc)
    low = text.lower()
    if any(w in low for w in ("auth", "token", "credential", "password", "permission")):
        return f"Milvus at {uri} refused the token: check store.token (or the variable it names)"
    if any(w in low for w in ("connect", "unavailable", "timeout", "timed out", "deadline", "refused", "resolve")):
        return f"cannot reach Milvus at {uri}: is the server running? (store.uri in qa.yaml)"
    first = re.sub(r"\s+", " ", text).strip()[:160] or type(exc).__name__
    return f"Milvus at {uri} failed: {first}"


def names(collection: str, version: int) -> dict[str, str]:
    return {k: f"{collection}_{k}_v{version}" for k in ("sentences", "chunks", "documents", "terms")}


def read_live(client, collection: str) -> dict | None:
    """The live version's record (version, model, dimension, settings, statistics), or None."""
    meta = f"{collection}_meta"
    if not client.has_collection(meta):
        return None
    got = client.query(meta, filter='key == "live"', output_fields=["value"])
    return json.loads(got[0]["value"]) if got else None


def check_model(config: Config, live: dict, dimension: int | None = None) -> None:
    """Refuse a collection made by another model or of another dimension (one line, exit 2)."""
    c = config.store.collection
    if live.get("model") != config.model:
        raise StaleIndexError(f"Milvus collection {c!r} was built with the model {live.get('model')!r}, "
                              f"not {config.model!r}: run `qa index --rebuild` (or use another store.collection)")
    if dimension is not None and int(live.get("dimension", -1)) != dimension:
        raise StaleIndexError(f"Milvus collection {c!r} holds {live.get('dimension')}-dimensional vectors, the model "
                              f"gives {dimension}: run `qa index --rebuild` (or use another store.collection)")


def lucene_idf(df: np.ndarray, n: int) -> np.ndarray:
    """bm25s's Lucene idf, float32 like :meth:`qa.index.lexical.BM25Index.idf`."""
    return np.log((n - df + 0.5) / (df + 0.5) + 1.0).astype(np.float32)


def tfc(tf: np.ndarray, length: int, avg: float) -> np.ndarray:
    """BM25's term-frequency part of each token of a text of ``length`` tokens."""
    return tf / (K1 * ((1 - B) + B * length / avg) + tf)


def _ids_filter(ids) -> str:
    return f"id in [{','.join(str(int(i)) for i in ids)}]"


def _batches(seq, n: int = 2000):
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


class _Sparse(Lexical):
    def __init__(self, store: "MilvusStore", kind: str, weights: dict[int, float]):
        self._store, self._kind, self._weights = store, kind, weights
        self._top: tuple[np.ndarray, np.ndarray] | None = None
        best = self.top(64)[1] if weights else np.zeros(0, np.float32)  # one search serves max and retrieval's top-k
        self.max = float(best[0]) if best.size else 0.0

    def top(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self._top is None or len(self._top[0]) < k:
            self._top = self._store._sparse_search(self._kind, self._weights, max(k, 1))
        ids, scores = self._top
        return ids[:k], scores[:k]

    def scores(self, ids: np.ndarray) -> np.ndarray:
        rows = self._store._rows(self._kind, ids)
        out = np.zeros(len(ids), dtype=np.float32)
        for i, r in enumerate(rows):
            sp = r["sparse"]
            out[i] = sum(np.float32(w * sp.get(t, 0.0)) for t, w in self._weights.items())
        return out


class MilvusStore(Store):
    """One published version of an index in Milvus, read through the store interface."""

    def __init__(self, config: Config, client=None, live: dict | None = None):
        self.config = config
        self.client = client or connect(config)
        c = config.store.collection
        try:
            live = live or read_live(self.client, c)
        except Exception as exc:
            raise ConfigError(_why(exc, config.store.uri)) from None
        if live is None:
            raise IndexMissingError(f"no index in Milvus collection {c!r} at {config.store.uri}: run `qa index`")
        check_model(config, live)
        self.live = live
        self.names = names(c, int(live["version"]))
        self._cache: dict[str, OrderedDict] = {SENTENCES: OrderedDict(), CHUNKS: OrderedDict()}
        self._docs: OrderedDict[int, DocumentRecord] = OrderedDict()
        self._keys: dict[str, int] = {}

    # ------------------------------------------------------------ sizes

    @property
    def dimension(self) -> int:
        return int(self.live["dimension"])

    def counts(self) -> dict[str, int]:
        s = self.live["stats"]
        return {"documents": int(s["documents"]), "chunks": int(s["chunks"]), "sentences": int(s["sentences"])}

    # ------------------------------------------------------------ search

    def dense_sentences(self, qvec: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if k <= 0 or self.counts()["sentences"] == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        params = {"metric_type": "IP", "params": dict(self.config.store.search_params)}
        got = self.client.search(self.names["sentences"], data=[np.asarray(qvec, np.float32).tolist()],
                                 anns_field="vec", limit=min(k, 16384), search_params=params, output_fields=["id"])
        hits = got[0]
        return (np.array([h["id"] for h in hits], dtype=np.int64),
                np.array([h["distance"] for h in hits], dtype=np.float32))

    def _terms(self, tokens: Sequence[str]) -> dict[str, dict]:
        uniq = sorted(set(tokens))
        if not uniq:
            return {}
        got = self.client.query(self.names["terms"], filter=f"term in {json.dumps(uniq)}",
                                output_fields=["term", "tid", "df_chunks", "df_sentences"])
        return {g["term"]: g for g in got}

    def lexical(self, tokens: Sequence[str], of: str) -> Lexical:
        terms = self._terms(tokens)
        weights: dict[int, float] = {}
        n = self.counts()[of]
        for t in tokens:  # a token asked twice counts twice, as in bm25s
            g = terms.get(t)
            if g is None or not g[f"df_{of}"]:
                continue
            idf = float(lucene_idf(np.array([g[f"df_{of}"]], np.float64), n)[0])
            weights[int(g["tid"])] = weights.get(int(g["tid"]), 0.0) + idf
        return _Sparse(self, of, weights)

    def _sparse_search(self, kind: str, weights: dict[int, float], k: int) -> tuple[np.ndarray, np.ndarray]:
        if not weights:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        got = self.client.search(self.names[kind], data=[weights], anns_field="sparse", limit=min(k, 16384),
                                 search_params={"metric_type": "IP", "params": {"drop_ratio_search": 0.0}},
                                 output_fields=["id"])
        hits = [h for h in got[0] if h["distance"] > 0]
        return (np.array([h["id"] for h in hits], dtype=np.int64),
                np.array([h["distance"] for h in hits], dtype=np.float32))

    def idf(self, tokens: Sequence[str], of: str = SENTENCES) -> np.ndarray:
        terms = self._terms(tokens)
        df = np.array([terms[t][f"df_{of}"] if t in terms else 0 for t in tokens], dtype=np.float64)
        return lucene_idf(df, self.counts()[of])

    def containing(self, token: str, of: str = CHUNKS, limit: int | None = None) -> np.ndarray:
        g = self._terms([token]).get(token)
        if g is None or not g[f"df_{of}"]:
            return np.zeros(0, np.int64)
        got = self.client.search(self.names[of], data=[{int(g["tid"]): 1.0}], anns_field="sparse",
                                 limit=min(limit or 16384, 16384), output_fields=["id"],
                                 search_params={"metric_type": "IP", "params": {"drop_ratio_search": 0.0}})
        return np.sort(np.array([h["id"] for h in got[0] if h["distance"] > 0], dtype=np.int64))

    def has_term(self, token: str) -> bool:
        g = self._terms([token]).get(token)
        return bool(g and g["df_sentences"])

    # ------------------------------------------------------------ rows by id

    _FIELDS = {SENTENCES: ["id", "doc", "chunk", "start", "end", "last", "vec", "sparse"],
               CHUNKS: ["id", "doc", "start", "end", "sent_lo", "sent_hi", "vec", "sparse"]}

    def _rows(self, kind: str, ids) -> list[dict]:
        cache = self._cache[kind]
        ids = [int(i) for i in np.asarray(ids, dtype=np.int64).tolist()]
        missing = [i for i in dict.fromkeys(ids) if i not in cache]
        for part in _batches(missing):
            for r in self.client.query(self.names[kind], filter=_ids_filter(part), output_fields=self._FIELDS[kind]):
                r["sparse"] = {int(t): float(v) for t, v in (r.get("sparse") or {}).items()}
                cache[int(r["id"])] = r
        for i in ids:
            if i not in cache:
                raise KeyError(f"{kind[:-1]} {i} is not in Milvus collection {self.names[kind]!r}")
            cache.move_to_end(i)
        out = [cache[i] for i in ids]
        while len(cache) > CACHE_ROWS:
            cache.popitem(last=False)
        return out

    def sentence_vectors(self, ids: np.ndarray) -> np.ndarray:
        rows = self._rows(SENTENCES, ids)
        return np.array([r["vec"] for r in rows], dtype=np.float32).reshape(len(rows), self.dimension)

    def chunk_vectors(self, ids: np.ndarray) -> np.ndarray:
        rows = self._rows(CHUNKS, ids)
        return np.array([r["vec"] for r in rows], dtype=np.float32).reshape(len(rows), self.dimension)

    def sentences(self, ids: np.ndarray) -> Rows:
        rows = self._rows(SENTENCES, ids)
        return Rows(np.asarray(ids, dtype=np.int64), np.array([r["doc"] for r in rows], dtype=np.int64),
                    np.array([(r["start"], r["end"]) for r in rows], dtype=np.int64).reshape(-1, 2),
                    np.array([r["chunk"] for r in rows], dtype=np.int64))

    def chunks(self, ids: np.ndarray) -> Rows:
        rows = self._rows(CHUNKS, ids)
        return Rows(np.asarray(ids, dtype=np.int64), np.array([r["doc"] for r in rows], dtype=np.int64),
                    np.array([(r["start"], r["end"]) for r in rows], dtype=np.int64).reshape(-1, 2))

    def document_chunks(self, key: int) -> Rows:
        got = self.client.query(self.names["chunks"], filter=f"doc == {int(key)}", output_fields=["id"])
        ids = np.sort(np.array([g["id"] for g in got], dtype=np.int64))
        return self.chunks(ids)

    def chunk_sentences(self, ids: np.ndarray) -> list[np.ndarray]:
        rows = self._rows(CHUNKS, ids)
        return [(int(r["doc"]) << SHIFT) + np.arange(r["sent_lo"], r["sent_hi"], dtype=np.int64) for r in rows]

    def neighbours(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = self._rows(SENTENCES, ids)
        ids = np.asarray(ids, dtype=np.int64)
        local = ids & ((1 << SHIFT) - 1)
        prev = np.where(local > 0, ids - 1, -1)
        nxt = np.where(np.array([not r["last"] for r in rows], dtype=bool), ids + 1, -1)
        return prev.astype(np.int64), nxt.astype(np.int64)

    # ------------------------------------------------------------ documents

    def document(self, key: int) -> DocumentRecord:
        key = int(key)
        doc = self._docs.get(key)
        if doc is None:
            got = self.client.query(self.names["documents"], filter=f"doc == {key}",
                                    output_fields=["doc", "part", "doc_id", "title", "meta", "pages", "text"])
            if not got:
                raise KeyError(key)
            got.sort(key=lambda g: g["part"])
            head = got[0]
            doc = DocumentRecord(key, head["doc_id"], head["title"], "".join(g["text"] for g in got),
                                 dict(head.get("meta") or {}), tuple(head.get("pages") or ()))
            self._docs[key] = doc
            while len(self._docs) > CACHE_DOCS:
                self._docs.popitem(last=False)
        self._docs.move_to_end(key)
        return doc

    def document_key(self, doc_id: str) -> int | None:
        if doc_id not in self._keys:
            got = self.client.query(self.names["documents"], filter=f"doc_id == {json.dumps(doc_id)} and part == 0",
                                    output_fields=["doc"])
            if not got:
                return None
            if len(self._keys) > 10000:
                self._keys.clear()
            self._keys[doc_id] = int(got[0]["doc"])
        return self._keys[doc_id]

    def document_ids(self, limit: int | None = None) -> list[str]:
        got = self.client.query(self.names["documents"], filter="part == 0", output_fields=["doc", "doc_id"],
                                limit=limit or 16384)
        return [g["doc_id"] for g in sorted(got, key=lambda g: g["doc"])][:limit]

    def catalogue(self, limit: int | None = None) -> list[tuple[int, str, str, int]]:
        got = self.client.query(self.names["documents"], filter="part == 0", output_fields=["doc", "doc_id", "title", "pages"],
                                limit=limit or 16384)
        return [(int(g["doc"]), g["doc_id"], g["title"], len(g.get("pages") or ())) for g in sorted(got, key=lambda g: g["doc"])][:limit]

    def sentence_texts(self, ids: Sequence[int]) -> list[str]:
        rows = self._rows(SENTENCES, ids)
        return [self.document(int(r["doc"])).text[r["start"]:r["end"]] for r in rows]

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:
            pass
