"""Building the Milvus backend: a new collection version for a full build, upserts for changes.

A full build (the first, ``--rebuild``, another model or chunking) writes every document into a
fresh version ``v<N+1>`` of the collections and then publishes it by one upsert of the ``live``
row (:mod:`qa.index.milvus`); the old version is dropped only after that, so a failed build leaves
the live one serving. Otherwise only what changed is written into the live version: a changed
document gets a new number and its rows are inserted before the old ones are deleted, removed
documents are deleted, unchanged ones are not touched, and the statistics are published last.
Sentence vectors of an unchanged sentence text of an updated document are reused, not embedded.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Callable, Iterable, Sequence

import numpy as np

from qa.config import Config
from qa.errors import ConfigError
from qa.index.build import BuildReport, peak_rss_mb, sentence_table
from qa.index.interface import StoreWriter
from qa.index.milvus import (PART_CHARS, SHIFT, _batches, _why, check_model, connect, names, read_live, tfc)
from qa.index.store import index_settings
from qa.ingest.chunking import chunk_document
from qa.ingest.corpus import Document, check_corpus_folder, load_corpus
from qa.models.embedding import Embedder
from qa.text.words import tokenize

EMPTY = "\u2205"  # bm25s needs a token per text; an empty one gets this, as in qa.index.lexical


def _tokens(text: str) -> list[str]:
    return tokenize(text) or [EMPTY]


def _schema(client, kind: str, dim: int):
    from pymilvus import DataType

    s = client.create_schema(auto_id=False, enable_dynamic_field=False)
    if kind == "terms":
        s.add_field("term", DataType.VARCHAR, is_primary=True, max_length=1024)
        for f in ("tid", "df_chunks", "df_sentences"):
            s.add_field(f, DataType.INT64)
        s.add_field("vec", DataType.FLOAT_VECTOR, dim=2)  # Milvus needs a vector field in every collection
        return s
    if kind == "meta":
        s.add_field("key", DataType.VARCHAR, is_primary=True, max_length=64)
        s.add_field("value", DataType.VARCHAR, max_length=65535)
        s.add_field("vec", DataType.FLOAT_VECTOR, dim=2)
        return s
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("doc", DataType.INT64)
    if kind == "documents":
        s.add_field("part", DataType.INT64)
        s.add_field("doc_id", DataType.VARCHAR, max_length=4096)
        s.add_field("title", DataType.VARCHAR, max_length=8192)
        s.add_field("fingerprint", DataType.VARCHAR, max_length=256)
        s.add_field("meta", DataType.JSON)
        s.add_field("pages", DataType.JSON)
        s.add_field("text", DataType.VARCHAR, max_length=65535)
        s.add_field("vec", DataType.FLOAT_VECTOR, dim=2)
        return s
    s.add_field("start", DataType.INT64)
    s.add_field("end", DataType.INT64)
    if kind == "sentences":
        s.add_field("chunk", DataType.INT64)
        s.add_field("last", DataType.BOOL)
    else:
        s.add_field("sent_lo", DataType.INT64)
        s.add_field("sent_hi", DataType.INT64)
    s.add_field("vec", DataType.FLOAT_VECTOR, dim=dim)
    s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    return s


def _create(client, name: str, kind: str, dim: int, index_type: str) -> None:
    if client.has_collection(name):
        client.drop_collection(name)
    ip = client.prepare_index_params()
    if kind in ("sentences", "chunks"):
        ip.add_index("vec", index_type=index_type if kind == "sentences" else "FLAT", metric_type="IP")
        ip.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    else:
        ip.add_index("vec", index_type="FLAT", metric_type="L2")
    client.create_collection(name, schema=_schema(client, kind, dim), index_params=ip, consistency_level="Strong")


def _ensure_meta(client, collection: str) -> str:
    meta = f"{collection}_meta"
    if not client.has_collection(meta):
        _create(client, meta, "meta", 2, "FLAT")
    return meta


class MilvusWriter(StoreWriter):
    """Writes documents into one version of the collections; :meth:`publish` makes it live."""

    def __init__(self, client, config: Config, version: int, live: dict | None, dim: int, fresh: bool):
        self.client, self.config, self.version, self.dim = client, config, version, dim
        self.names = names(config.store.collection, version)
        self.live = dict(live or {})
        self.fresh = fresh
        stats = self.live.get("stats") if not fresh else None
        self.stats = dict(stats or {"documents": 0, "chunks": 0, "sentences": 0, "avg_chunks": None,
                                    "avg_sentences": None})
        self.next_doc = 1 if fresh else int(self.live.get("next_doc", 1))
        self.next_tid = 0 if fresh else int(self.live.get("next_tid", 0))
        self.df: dict[str, list[int]] = {}   # term -> [tid, df_chunks, df_sentences], for terms touched
        if fresh:
            for kind, name in self.names.items():
                _create(client, name, kind, dim, config.store.index_type)

    def set_averages(self, avg_chunks: float, avg_sentences: float) -> None:
        """BM25's average text lengths for this version (a full build's, kept by later updates)."""
        self.stats["avg_chunks"], self.stats["avg_sentences"] = avg_chunks, avg_sentences

    def _term_rows(self, terms: Iterable[str]) -> None:
        want = sorted(set(terms) - set(self.df))
        for part in _batches(want, 500):
            for g in self.client.query(self.names["terms"], filter=f"term in {json.dumps(part)}",
                                       output_fields=["term", "tid", "df_chunks", "df_sentences"]):
                self.df[g["term"]] = [int(g["tid"]), int(g["df_chunks"]), int(g["df_sentences"])]
        for t in want:
            if t not in self.df:
                self.df[t] = [self.next_tid, 0, 0]
                self.next_tid += 1

    def _sparse(self, tokens: list[str], avg: float) -> dict[int, float]:
        counts = Counter(tokens)
        tf = np.array(list(counts.values()), dtype=np.float32)
        values = tfc(tf, len(tokens), avg).astype(np.float32)
        return {self.df[t][0]: float(v) for t, v in zip(counts, values)}

    def write(self, documents: Sequence[Document], chunks_by_doc: Sequence, sentences_by_doc: Sequence = (),
              vectors_by_doc: Sequence[np.ndarray] = ()) -> None:
        """Insert ``documents`` (new numbers) with their chunks and sentence vectors (one per sentence row)."""
        s_rows, c_rows, d_rows = [], [], []
        for doc, chunks, vecs in zip(documents, chunks_by_doc, vectors_by_doc):
            key = self.next_doc
            self.next_doc += 1
            t = sentence_table([doc], [chunks])
            base = key << SHIFT
            s_tok = [_tokens(doc.text[s:e]) for s, e in t.sent_span.tolist()]
            c_tok = [_tokens(doc.text[c.start:c.end]) for c in chunks]
            self._term_rows({w for ts in s_tok + c_tok for w in ts})
            for ts in s_tok:
                for w in set(ts):
                    self.df[w][2] += 1
            for ts in c_tok:
                for w in set(ts):
                    self.df[w][1] += 1
            n = len(t.sent_doc)
            for i, ((s, e), ch) in enumerate(zip(t.sent_span.tolist(), t.sent_chunk.tolist())):
                s_rows.append({"id": base + i, "doc": key, "start": s, "end": e, "chunk": base + ch,
                               "last": i == n - 1, "vec": vecs[i].tolist(),
                               "sparse": self._sparse(s_tok[i], self.stats["avg_sentences"])})
            for j, (c, (lo, hi)) in enumerate(zip(chunks, t.chunk_sents.tolist())):
                mean = vecs[lo:hi].astype(np.float64).sum(axis=0)
                mean = (mean / max(np.linalg.norm(mean), 1e-12)).astype(np.float32)
                c_rows.append({"id": base + j, "doc": key, "start": c.start, "end": c.end, "sent_lo": lo, "sent_hi": hi,
                               "vec": mean.tolist(), "sparse": self._sparse(c_tok[j], self.stats["avg_chunks"])})
            parts = [doc.text[i:i + PART_CHARS] for i in range(0, len(doc.text), PART_CHARS)] or [""]
            for p, text in enumerate(parts):
                d_rows.append({"id": base + p, "doc": key, "part": p, "doc_id": doc.id, "title": doc.title,
                               "fingerprint": doc.fingerprint, "meta": doc.meta if p == 0 else {},
                               "pages": list(doc.pages) if p == 0 else [], "text": text, "vec": [0.0, 0.0]})
            self.stats["documents"] += 1
            self.stats["chunks"] += len(chunks)
            self.stats["sentences"] += n
        for kind, rows in (("sentences", s_rows), ("chunks", c_rows), ("documents", d_rows)):
            for part in _batches(rows, 1000):
                self.client.insert(self.names[kind], part)

    def delete(self, doc_ids: Sequence[str]) -> None:
        """Remove documents ``doc_ids`` (every row of them), lowering the document frequencies of their words."""
        for doc_id in doc_ids:
            got = self.client.query(self.names["documents"], filter=f"doc_id == {json.dumps(doc_id)} and part == 0",
                                    output_fields=["doc"])
            for g in got:
                self._delete_key(int(g["doc"]))

    def _delete_key(self, key: int) -> None:
        doc = self.client.query(self.names["documents"], filter=f"doc == {key}", output_fields=["part", "text"])
        text = "".join(g["text"] for g in sorted(doc, key=lambda g: g["part"]))
        for kind, of in (("sentences", 2), ("chunks", 1)):
            got = self.client.query(self.names[kind], filter=f"doc == {key}", output_fields=["start", "end"])
            toks = [_tokens(text[g["start"]:g["end"]]) for g in got]
            self._term_rows({w for ts in toks for w in ts})
            for ts in toks:
                for w in set(ts):
                    self.df[w][of] -= 1
            self.stats[kind] -= len(got)
            self.client.delete(self.names[kind], filter=f"doc == {key}")
        self.client.delete(self.names["documents"], filter=f"doc == {key}")
        self.stats["documents"] -= 1

    def old_vectors(self, doc_id: str) -> dict[str, np.ndarray]:
        """Sentence text -> vector of the live document ``doc_id`` (for reuse when it changed)."""
        got = self.client.query(self.names["documents"], filter=f"doc_id == {json.dumps(doc_id)}",
                                output_fields=["doc", "part", "text"])
        if not got:
            return {}
        text = "".join(g["text"] for g in sorted(got, key=lambda g: g["part"]))
        rows = self.client.query(self.names["sentences"], filter=f"doc == {int(got[0]['doc'])}",
                                 output_fields=["start", "end", "vec"])
        return {text[r["start"]:r["end"]]: np.asarray(r["vec"], np.float32) for r in rows}

    def publish(self) -> None:
        terms = [{"term": t, "tid": v[0], "df_chunks": v[1], "df_sentences": v[2], "vec": [0.0, 0.0]}
                 for t, v in self.df.items()]
        for part in _batches(terms, 2000):
            self.client.upsert(self.names["terms"], part)
        for kind in ("sentences", "chunks", "documents", "terms"):
            self.client.flush(self.names[kind])
        old = self.live.get("version")
        record = {"version": self.version, "model": self.config.model, "dimension": self.dim,
                  "settings": index_settings(self.config), "stats": self.stats, "next_doc": self.next_doc,
                  "next_tid": self.next_tid, "published": time.time()}
        meta = _ensure_meta(self.client, self.config.store.collection)
        self.client.upsert(meta, [{"key": "live", "value": json.dumps(record), "vec": [0.0, 0.0]}])
        self.client.flush(meta)
        if old is not None and int(old) != self.version:  # the previous version is no longer read
            for name in names(self.config.store.collection, int(old)).values():
                if self.client.has_collection(name):
                    self.client.drop_collection(name)
        self.live = record


def build_milvus(config: Config, embedder: Embedder, rebuild: bool = False, progress: bool = True,
                 warn: Callable[[str], None] | None = None,
                 embed: Callable[[list[str]], np.ndarray] | None = None) -> BuildReport:
    """Bring the Milvus collections in line with the corpus; embed only new sentence texts.

    ``embed`` (texts -> vectors) replaces the local embedder, e.g. by Ray actors.
    """
    t0 = time.perf_counter()
    warnings: list[str] = []

    def _warn(msg: str) -> None:
        warnings.append(msg)
        if warn:
            warn(msg)

    check_corpus_folder(config.corpus)
    client = connect(config)
    try:
        live = read_live(client, config.store.collection)
    except Exception as exc:
        raise ConfigError(_why(exc, config.store.uri)) from None
    docs = load_corpus(config.corpus, warn=_warn, max_bytes=config.limits.max_file_bytes)
    dim = int(getattr(embedder, "dimension", 0) or 0) or int((embed or embedder.embed)(["dimension probe"]).shape[1])
    full = rebuild or live is None or live.get("model") != config.model or live.get("settings") != index_settings(config)
    if not full:
        check_model(config, live, dim)
    old = {} if full else _live_documents(client, names(config.store.collection, int(live["version"]))["documents"])
    now = {d.id: d for d in docs}
    changed = [d for d in docs if d.id not in old or old[d.id] != (d.fingerprint, d.title, json.dumps(d.meta, sort_keys=True))]
    removed = sorted(set(old) - set(now))
    added = sum(1 for d in changed if d.id not in old)
    if not full and not changed and not removed:
        return _report(config, live["stats"], 0, 0, 0, len(docs), 0, t0, True, warnings)
    version = (int(live["version"]) + 1 if live else 1) if full else int(live["version"])
    writer = MilvusWriter(client, config, version, live, dim, fresh=full)
    chunks_by_doc = [chunk_document(d, config.chunking.size, config.chunking.overlap) for d in changed]
    if full:
        c_len = [len(_tokens(d.text[c.start:c.end])) for d, cs in zip(changed, chunks_by_doc) for c in cs]
        s_len = [len(_tokens(d.text[s:e])) for d, cs in zip(changed, chunks_by_doc)
                 for s, e in sentence_table([d], [cs]).sent_span.tolist()]
        writer.set_averages(float(np.mean(c_len)) if c_len else 1.0, float(np.mean(s_len)) if s_len else 1.0)
    if embed is None and hasattr(embedder, "embed_all"):  # Ray: every new sentence in one pass, then written
        embed = _embedded_in_one_pass(embedder, changed, chunks_by_doc, progress)
    embedded = _write_changed(writer, changed, chunks_by_doc, embed or embedder.embed, old, full, progress)
    if not full:
        writer.delete(removed)
    writer.publish()
    if hasattr(embedder, "finish"):
        embedder.finish()
    return _report(config, writer.stats, added, len(changed) - added, len(removed), len(docs), embedded, t0, False,
                   warnings)


def _embedded_in_one_pass(embedder, docs: list[Document], chunks_by_doc: list, progress: bool):
    """Embed the distinct sentence texts of ``docs`` with ``embedder.embed_all``; a lookup for the writer."""
    from tqdm.auto import tqdm

    texts = sorted({d.text[s:e] for d, cs in zip(docs, chunks_by_doc)
                    for s, e in sentence_table([d], [cs]).sent_span.tolist()}, key=len, reverse=True)
    with tqdm(total=len(texts), desc="Embedding", unit="sent", disable=not progress or not texts) as bar:
        vectors = embedder.embed_all(texts, bar.update)
    found = dict(zip(texts, vectors))
    return lambda batch: np.array([found[t] if t in found else embedder.embed([t])[0] for t in batch], np.float32)


def _write_changed(writer: MilvusWriter, docs: list[Document], chunks_by_doc: list, embed, old: dict, full: bool,
                   progress: bool) -> int:
    """Embed and write ``docs`` a few at a time (old rows of an updated document go after its new ones)."""
    from tqdm.auto import tqdm

    embedded = 0
    total = sum(len(sentence_table([d], [cs]).sent_doc) for d, cs in zip(docs, chunks_by_doc))
    with tqdm(total=total, desc="Embedding", unit="sent", disable=not progress or not total) as bar:
        group: list[int] = []
        budget = 0
        for i, (d, cs) in enumerate(zip(docs, chunks_by_doc)):
            group.append(i)
            budget += len(cs)
            if budget >= 256 or i == len(docs) - 1:
                embedded += _write_group(writer, [docs[j] for j in group], [chunks_by_doc[j] for j in group],
                                         embed, old, full, bar)
                group, budget = [], 0
    return embedded


def _write_group(writer: MilvusWriter, docs, chunks_by_doc, embed, old: dict, full: bool, bar) -> int:
    tables = [sentence_table([d], [cs]) for d, cs in zip(docs, chunks_by_doc)]
    reuse: dict[str, np.ndarray] = {}
    previous_keys = []
    if not full:
        for d in docs:
            if d.id in old:
                reuse.update(writer.old_vectors(d.id))
                previous_keys.append(d.id)
    texts = {d.text[s:e] for d, t in zip(docs, tables) for s, e in t.sent_span.tolist()}
    todo = sorted((t for t in texts if t not in reuse), key=len, reverse=True)
    vec: dict[str, np.ndarray] = dict(reuse)
    batch = max(1, writer.config.batch_size * 8)
    for i in range(0, len(todo), batch):
        part = todo[i:i + batch]
        for t, v in zip(part, embed(part)):
            vec[t] = np.asarray(v, dtype=np.float32)
    vectors = [np.array([vec[d.text[s:e]] for s, e in t.sent_span.tolist()], dtype=np.float32).reshape(-1, writer.dim)
               for d, t in zip(docs, tables)]
    # The previous rows of an updated document go once its new rows are in: a reader sees one or the other.
    keys = {doc_id: writer.client.query(writer.names["documents"], filter=f"doc_id == {json.dumps(doc_id)} and part == 0",
                                         output_fields=["doc"]) for doc_id in previous_keys}
    writer.write(docs, chunks_by_doc, [], vectors)
    for got in keys.values():
        for g in got:
            writer._delete_key(int(g["doc"]))
    bar.update(sum(len(t.sent_doc) for t in tables))
    return len(todo)


def _live_documents(client, name: str) -> dict[str, tuple]:
    """doc id -> (fingerprint, title, meta) of every document of the live version."""
    out = {}
    it = client.query_iterator(name, filter="part == 0", output_fields=["doc_id", "fingerprint", "title", "meta"],
                               batch_size=2000)
    while True:
        rows = it.next()
        if not rows:
            it.close()
            break
        for r in rows:
            out[r["doc_id"]] = (r["fingerprint"], r["title"], json.dumps(dict(r.get("meta") or {}), sort_keys=True))
    return out


def _report(config: Config, stats: dict, added: int, updated: int, removed: int, documents: int, embedded: int,
            t0: float, skipped: bool, warnings: list[str]) -> BuildReport:
    return BuildReport(added=added, updated=updated, removed=removed, unchanged=documents - added - updated,
                       documents=int(stats["documents"]), chunks=int(stats["chunks"]),
                       sentences=int(stats["sentences"]), embedded=embedded, seconds=time.perf_counter() - t0,
                       skipped=skipped, path=config.store.uri, warnings=tuple(warnings), peak_rss_mb=peak_rss_mb())
