"""The on-disk index: sentence vectors in FAISS, BM25 over chunks and sentences, metadata.

Layout of the index folder::

    index/CURRENT            name of the live build folder (replaced atomically)
    index/build-<stamp>/     manifest.json, texts.json, chunks.json, sentences.npz,
                             vectors.npy, sentences.faiss, bm25-chunks/, bm25-sentences/

A build is written to a fresh ``build-*`` folder and only becomes live when
``CURRENT`` is swapped with ``os.replace``; a crash at any point leaves the
previous build live and loadable; the manifest records a sha256 of every other
file, checked on load (:mod:`qa.index.files`). ``sentences.faiss`` is exact or HNSW
by corpus size (:mod:`qa.index.vectors`); when only that choice changes, it is rebuilt
from ``vectors.npy`` and everything else is carried over. Sentences are the unit that is
embedded: a chunk's vector is the normalised mean of its sentences' vectors, and
a sentence whose text is already in the previous build keeps its vector, so
nothing is encoded twice.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from qa.text.types import lowercase_words_of
from qa.index.files import CURRENT, build_lock, checksums, cleanup_builds, digest, verify_build
from qa.ingest.chunking import Chunk, chunk_document
from qa.config import Config
from qa.ingest.corpus import Document, check_corpus_folder, iter_corpus_files, load_corpus, page_of
from qa.ingest.formats import EXTRACTORS
from qa.models.embedding import Embedder, resolve_model
from qa.errors import ConfigError, CorruptIndexError, IndexMissingError, StaleIndexError
from qa.index.lexical import BM25Index
from qa.index import vectors as vector_index

FORMAT_VERSION = 1


@dataclass(frozen=True)
class BuildReport:
    """What ``qa index`` did; ``to_dict()`` is the ``qa index --json`` object."""

    added: int
    updated: int
    removed: int
    unchanged: int
    documents: int
    chunks: int
    sentences: int
    embedded: int
    seconds: float
    skipped: bool
    path: str
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["warnings"] = list(self.warnings)
        d["seconds"] = round(self.seconds, 3)
        return d


@dataclass
class Index:
    """A loaded index: arrays for fast scoring plus what is needed to cite."""

    path: Path
    manifest: dict
    doc_ids: list[str]
    texts: list[str]
    titles: list[str]
    metas: list[dict]
    chunk_ids: list[str]
    chunk_doc: np.ndarray      # (C,) int: document position of each chunk
    chunk_span: np.ndarray     # (C, 2) int: start, end in the document text
    chunk_sents: np.ndarray    # (C, 2) int: first, last+1 sentence row of each chunk
    sent_doc: np.ndarray       # (S,) int
    sent_span: np.ndarray      # (S, 2) int
    sent_chunk: np.ndarray     # (S,) int: first chunk holding the sentence
    vectors: np.ndarray        # (S, d) float32, normalised sentence vectors
    chunk_vectors: np.ndarray  # (C, d) float32, normalised
    faiss_index: object
    bm25_chunks: BM25Index
    bm25_sentences: BM25Index
    pages: list[list[int]] = field(default_factory=list)  # per document: page start offsets (PDF), else []
    _lowercase: dict[int, frozenset[str]] = field(default_factory=dict, repr=False, compare=False)

    @functools.cached_property
    def doc_position(self) -> dict[str, int]:
        """doc id -> position in ``doc_ids``/``texts``; built once per loaded index."""
        return {d: i for i, d in enumerate(self.doc_ids)}

    def lowercase_words(self, doc: int) -> frozenset[str]:
        """The words document ``doc`` uses in lower case (for telling names from sentence-initial capitals)."""
        cache = self._lowercase
        if doc not in cache:
            if len(cache) >= 256:  # bounded: a long-running server may see every document of a large corpus
                cache.clear()
            cache[doc] = lowercase_words_of(self.texts[doc])
        return cache[doc]

    def page(self, doc: int, offset: int) -> int | None:
        """1-based page of ``offset`` in document ``doc`` for paged (PDF) sources, else None."""
        return page_of(self.pages[doc], offset) if self.pages else None

    def sentence_text(self, row: int) -> str:
        s, e = self.sent_span[row]
        return self.texts[self.sent_doc[row]][s:e]

    def chunk_text(self, row: int) -> str:
        s, e = self.chunk_span[row]
        return self.texts[self.chunk_doc[row]][s:e]


# ---------------------------------------------------------------- paths and manifest

def live_path(index_dir: Path) -> Path | None:
    """The live build folder, or None when no index was ever completed."""
    pointer = index_dir / CURRENT
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise CorruptIndexError(f"cannot read {pointer} ({exc.strerror}): run `qa index --rebuild`") from None
    path = index_dir / name
    if not name.startswith("build-") or "/" in name or not path.is_dir():
        raise CorruptIndexError(f"{pointer} points to a missing build {name!r}: run `qa index --rebuild`")
    return path


def read_manifest(path: Path) -> dict:
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CorruptIndexError(f"{path} has no manifest.json: run `qa index --rebuild`") from None
    except (OSError, ValueError) as exc:
        raise CorruptIndexError(f"{path}/manifest.json is unreadable ({type(exc).__name__}): "
                                "run `qa index --rebuild`") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_VERSION:
        raise CorruptIndexError(f"{path}/manifest.json has an unknown format: run `qa index --rebuild`")
    return manifest


def _stat_key(st: os.stat_result) -> tuple[int, int, int]:
    """(size, mtime_ns, ctime_ns): a cheap change detector. The change time moves on every write and on
    chmod, and no tool sets it back, so an edit that keeps size and mtime (``cp -p``, ``rsync -t``) or a
    file made readable again is still noticed; the file is then read again (vectors of unchanged
    sentences are reused)."""
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns


def scan_corpus(corpus: Path, warn: Callable[[str], None] = lambda m: None) -> dict[str, tuple[int, int, int]]:
    """doc id -> :func:`_stat_key` of every candidate file."""
    out = {}
    for doc_id, path in iter_corpus_files(corpus, warn):
        try:
            st = path.stat()
        except OSError:
            continue
        out[doc_id] = _stat_key(st)
    return out


def _model_folder(model: str) -> Path | None:
    folder = Path(resolve_model(model))
    return folder if folder.is_dir() else None


def _model_stat(model: str) -> dict[str, list[int]] | None:
    """(size, mtime_ns) of every file of the model's local folder, or None for a name that is not one.

    A folder whose weights were replaced in place (a model fine-tuned again under the same path) must
    not be served with vectors from the old weights."""
    folder = _model_folder(model)
    if folder is None:
        return None
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not any(part.startswith(".") or part == "__pycache__" for part in p.relative_to(folder).parts):
            st = p.stat()
            out[p.relative_to(folder).as_posix()] = [st.st_size, st.st_mtime_ns]
    return out


def _model_digest(model: str, stat: dict[str, list[int]] | None) -> str | None:
    """sha256 of the model folder's files (those in ``stat``), read only when a build needs it."""
    folder = _model_folder(model)
    if folder is None or stat is None:
        return None
    h = hashlib.sha256()
    for name in sorted(stat):
        h.update(name.encode("utf-8") + b"\0")
        with open(folder / name, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def _sources_stat(corpus: Path) -> list[int] | None:
    """:func:`_stat_key` of the corpus's sources.yaml, or None when there is none."""
    try:
        st = (corpus / "sources.yaml").stat()
    except OSError:
        return None
    return list(_stat_key(st))


def staleness(config: Config, manifest: dict, files: dict[str, tuple[int, int, int]] | None = None) -> str | None:
    """Why an index no longer matches the config and corpus, or None when it does.

    ``files`` is a :func:`scan_corpus` result the caller already has; otherwise the corpus is scanned.
    """
    return _content_staleness(config, manifest, files) or _vector_staleness(config, manifest)


def _vector_staleness(config: Config, manifest: dict) -> str | None:
    """Why the FAISS structure differs from what ``vectors:`` asks for at this size, or None."""
    built = vector_index.VectorIndexSpec.from_dict(manifest.get("vectors"))
    wanted = vector_index.plan(config.vectors, int(manifest.get("sentences", 0)))
    if built != wanted:
        return f"index was built with a different vector index ({built.to_dict()} -> {wanted.to_dict()})"
    return None


def _content_staleness(config: Config, manifest: dict, files: dict[str, tuple[int, int, int]] | None) -> str | None:
    if manifest.get("settings") != config.index_settings():
        old, new = manifest.get("settings", {}), config.index_settings()
        what = [k for k in new if old.get(k) != new.get(k)] or ["settings"]
        return f"index was built with a different {', '.join(what)} ({old.get(what[0])!r} -> {new.get(what[0])!r})"
    recorded_model = manifest.get("model_stat")
    if recorded_model is not None and recorded_model != _model_stat(config.model):
        return f"the files of the model {config.model!r} changed since the index was built"
    if not config.corpus.is_dir():
        return None  # serve what was indexed; nothing to compare against
    recorded = manifest.get("files", {})
    old_extractors = manifest.get("extractors", {})
    for suffix in sorted({Path(d).suffix.lower() for d in recorded}):
        if suffix in EXTRACTORS and old_extractors.get(suffix) != EXTRACTORS[suffix]:
            return (f"index was built with another {suffix} extractor ({old_extractors.get(suffix)!r} -> "
                    f"{EXTRACTORS[suffix]!r}), so {suffix} files must be read again")
    current = scan_corpus(config.corpus) if files is None else files
    changed = sorted(set(recorded) ^ set(current) | {d for d in set(recorded) & set(current)
                                                     if tuple(recorded[d]) != current[d]})
    if changed:
        return (f"index was built from a different corpus ({len(changed)} file(s) changed, e.g. "
                f"{changed[0]})")
    if manifest.get("sources_stat") != _sources_stat(config.corpus):
        return "sources.yaml changed since the index was built"
    return None


# ---------------------------------------------------------------- load

def _check_index_folder(index_dir: Path) -> None:
    if index_dir.exists() and not index_dir.is_dir():
        raise ConfigError(f"index folder {index_dir} is a file: point 'index:' in the config to a folder")


def load_index(config: Config, check: bool = True) -> Index:
    """Load the live index; raise a clear error when it is missing, stale or broken."""
    index_dir = config.index
    _check_index_folder(index_dir)
    for attempt in range(3):
        path = live_path(index_dir) if index_dir.is_dir() else None
        if path is None:
            raise IndexMissingError(f"no index in {index_dir}: run `qa index` to build it")
        try:
            manifest = read_manifest(path)
            if check:
                reason = staleness(config, manifest)
                if reason:
                    raise StaleIndexError(f"{reason}: run `qa index`")
            return _read_build(path, manifest, config.vectors.ef_search)
        except (CorruptIndexError, OSError):
            # A build that finished meanwhile replaced this one and removed it: read the new one.
            if attempt == 2 or live_path(index_dir) == path:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _read_build(path: Path, manifest: dict, ef_search: int) -> Index:
    verify_build(path, manifest)
    try:
        texts_by_id = json.loads((path / "texts.json").read_text(encoding="utf-8"))
        chunks = json.loads((path / "chunks.json").read_text(encoding="utf-8"))
        with np.load(path / "sentences.npz") as z:
            sent_doc, sent_span, sent_chunk = z["doc"], z["span"], z["chunk"]
        vectors = np.load(path / "vectors.npy")
        spec = vector_index.VectorIndexSpec.from_dict(manifest.get("vectors"))
        faiss_index = vector_index.load(path / "sentences.faiss", ef_search)
        bm25_chunks = BM25Index.load(path / "bm25-chunks")
        bm25_sentences = BM25Index.load(path / "bm25-sentences")
    except Exception as exc:  # any unreadable piece means the same thing to the user
        raise CorruptIndexError(f"index at {path} is damaged ({type(exc).__name__}: "
                                f"{str(exc)[:80]}): run `qa index --rebuild`") from None
    docs = manifest["documents"]
    doc_ids = [d["id"] for d in docs]
    n_chunks, n_sents = len(chunks["ids"]), len(sent_doc)
    ok = (n_chunks == manifest.get("chunks") and n_sents == manifest.get("sentences")
          and set(doc_ids) == set(texts_by_id) and vectors.shape == (n_sents, manifest["dimension"])
          and faiss_index.ntotal == n_sents and vector_index.kind_of(faiss_index) == spec.kind
          and len(sent_span) == n_sents == len(sent_chunk)
          and len(chunks["doc"]) == n_chunks == len(chunks["span"]) == len(chunks["sents"]))
    if not ok:
        raise CorruptIndexError(f"index at {path} is inconsistent (sizes disagree): run `qa index --rebuild`")
    texts = [texts_by_id[d] for d in doc_ids]
    chunk_doc = np.asarray(chunks["doc"], dtype=np.int64)
    chunk_span = np.asarray(chunks["span"], dtype=np.int64).reshape(-1, 2)
    chunk_sents = np.asarray(chunks["sents"], dtype=np.int64).reshape(-1, 2)
    return Index(path=path, manifest=manifest, doc_ids=doc_ids, texts=texts,
                 titles=[d["title"] for d in docs], metas=[d.get("meta", {}) for d in docs],
                 chunk_ids=chunks["ids"], chunk_doc=chunk_doc, chunk_span=chunk_span,
                 chunk_sents=chunk_sents, sent_doc=sent_doc.astype(np.int64),
                 sent_span=sent_span.astype(np.int64), sent_chunk=sent_chunk.astype(np.int64),
                 vectors=vectors, chunk_vectors=chunk_means(vectors, chunk_sents),
                 faiss_index=faiss_index, bm25_chunks=bm25_chunks, bm25_sentences=bm25_sentences,
                 pages=[list(d.get("pages", ())) for d in docs])


def chunk_means(vectors: np.ndarray, chunk_sents: np.ndarray) -> np.ndarray:
    """Normalised mean of each chunk's sentence vectors."""
    if len(chunk_sents) == 0:
        return np.zeros((0, vectors.shape[1] if vectors.ndim == 2 else 0), dtype=np.float32)
    csum = np.vstack([np.zeros((1, vectors.shape[1]), dtype=np.float64), np.cumsum(vectors, axis=0, dtype=np.float64)])
    means = csum[chunk_sents[:, 1]] - csum[chunk_sents[:, 0]]
    norms = np.linalg.norm(means, axis=1, keepdims=True)
    return (means / np.maximum(norms, 1e-12)).astype(np.float32)


# ---------------------------------------------------------------- build

def _sentence_table(docs: Sequence[Document], chunks_by_doc: list[list[Chunk]]):
    """Unique sentences in document order, and each chunk's sentence range."""
    sent_doc, sent_span, sent_chunk = [], [], []
    chunk_doc, chunk_span, chunk_sents, chunk_ids = [], [], [], []
    for di, chunks in enumerate(chunks_by_doc):
        row_of: dict[tuple[int, int], int] = {}
        for chunk in chunks:
            ci = len(chunk_ids)
            rows = []
            for span in chunk.sentences:
                if span not in row_of:
                    row_of[span] = len(sent_doc)
                    sent_doc.append(di)
                    sent_span.append(span)
                    sent_chunk.append(ci)
                rows.append(row_of[span])
            # Sentences of a chunk are consecutive rows because chunks advance monotonically.
            assert rows == list(range(rows[0], rows[0] + len(rows)))
            chunk_ids.append(chunk.id)
            chunk_doc.append(di)
            chunk_span.append((chunk.start, chunk.end))
            chunk_sents.append((rows[0], rows[-1] + 1))
    return (np.asarray(sent_doc, dtype=np.int32), np.asarray(sent_span, dtype=np.int64).reshape(-1, 2),
            np.asarray(sent_chunk, dtype=np.int32), chunk_ids, chunk_doc,
            np.asarray(chunk_span, dtype=np.int64).reshape(-1, 2), np.asarray(chunk_sents, dtype=np.int64).reshape(-1, 2))


def _previous_vectors(path: Path, manifest: dict, config: Config) -> tuple[dict[str, int], np.ndarray | None]:
    """Sentence text -> row of its vector in the live build (memory-mapped), if the model is the same.

    Keyed by text, not by document: a vector depends only on the sentence, so sentences that
    survive an edit, a move to another file or a new extractor version are never embedded again.
    """
    try:
        if manifest.get("settings", {}).get("model") != config.model:
            return {}, None
        texts_by_id = json.loads((path / "texts.json").read_text(encoding="utf-8"))
        with np.load(path / "sentences.npz") as z:
            sent_doc, sent_span = z["doc"], z["span"]
        vectors = np.load(path / "vectors.npy", mmap_mode="r")
        if len(vectors) != len(sent_doc):
            return {}, None
        texts = [texts_by_id[d["id"]] for d in manifest["documents"]]
        rows = {texts[di][s:e]: row for row, (di, (s, e)) in enumerate(zip(sent_doc.tolist(), sent_span.tolist()))}
    except Exception:
        return {}, None  # a damaged old index is simply not reused
    return rows, vectors


def build_index(config: Config, embedder: Embedder, rebuild: bool = False, progress: bool = True,
                warn: Callable[[str], None] | None = None) -> BuildReport:
    """Bring the index in line with the corpus; embed only sentences that are new.

    One build at a time per index folder: a second one waits, then finds the first one's result.
    """
    _check_index_folder(config.index)
    check_corpus_folder(config.corpus)  # never report "up to date" for a corpus that is not there
    with build_lock(config.index, waiting=warn):
        return _build(config, embedder, rebuild, progress, warn)


def _build(config: Config, embedder: Embedder, rebuild: bool, progress: bool,
           warn: Callable[[str], None] | None) -> BuildReport:
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    warnings: list[str] = []

    def _warn(msg: str) -> None:
        warnings.append(msg)
        if warn:
            warn(msg)

    index_dir = config.index
    # Both taken before anything is read: a file or sources.yaml edited during the build is seen as
    # changed by the next run, not recorded as already read.
    files = scan_corpus(config.corpus)
    sources_stat = _sources_stat(config.corpus)
    model_stat = _model_stat(config.model)
    old_manifest = None
    try:
        path = live_path(index_dir) if index_dir.is_dir() else None
        old_manifest = read_manifest(path) if path else None
    except CorruptIndexError as exc:
        _warn(f"previous index ignored: {exc}")
    if not rebuild and old_manifest is not None and _content_staleness(config, old_manifest, files) is None:
        if _vector_staleness(config, old_manifest) is None:
            cleanup_builds(index_dir, keep={path.name})  # a build killed after its swap left the old one behind
            return _unchanged_report(config, old_manifest, t0, skipped=True)
        return _rebuild_vector_index(config, path, old_manifest, t0)

    docs = load_corpus(config.corpus, warn=_warn, max_bytes=config.limits.max_file_bytes)
    files = {k: v for k, v in files.items() if os.path.lexists(config.corpus / k)}  # drop files gone mid-build
    chunks_by_doc = [chunk_document(d, config.chunking.size, config.chunking.overlap) for d in docs]
    (sent_doc, sent_span, sent_chunk, chunk_ids, chunk_doc, chunk_span, chunk_sents) = _sentence_table(docs, chunks_by_doc)

    # The model's files are hashed when they are new or changed; the same bytes keep the old vectors.
    old = old_manifest or {}
    model_digest = (old.get("model_digest") if old.get("model_stat") == model_stat and old.get("model_digest")
                    else _model_digest(config.model, model_stat))
    same_weights = "model_digest" not in old or old.get("model_digest") == model_digest
    previous, old_vectors = ({}, None) if rebuild or old_manifest is None or not same_weights \
        else _previous_vectors(path, old_manifest, config)
    old_docs = {d["id"]: d["fingerprint"] for d in (old_manifest or {}).get("documents", [])} if not rebuild else {}
    todo: dict[str, list[int]] = {}  # new sentence text -> its rows (a repeated sentence is embedded once)
    reused_rows: list[int] = []  # rows of this build whose vector is ...
    reused_from: list[int] = []  # ... at this row of the live build
    for row, (di, (s, e)) in enumerate(zip(sent_doc.tolist(), sent_span.tolist())):
        text = docs[di].text[s:e]
        old_row = previous.get(text)
        if old_row is not None and old_vectors is not None:
            reused_rows.append(row)
            reused_from.append(old_row)
        else:
            todo.setdefault(text, []).append(row)
    # Longest first, as a single encode() call would sort them: batches of similar length pad least.
    todo_texts = sorted(todo, key=len, reverse=True)

    batch = max(1, config.batch_size * 8)
    new_vecs = []
    with tqdm(total=len(todo_texts), desc="Embedding", unit="sent", disable=not progress or not todo_texts) as bar:
        for i in range(0, len(todo_texts), batch):
            part = embedder.embed(todo_texts[i:i + batch])
            new_vecs.append(part)
            bar.update(len(part))
    release = getattr(embedder, "release_bulk", None)  # a server that built its index keeps only what queries use
    if release is not None:
        release()
    old_dim = old_vectors.shape[1] if old_vectors is not None else None
    if new_vecs and reused_rows and new_vecs[0].shape[1] != old_dim:
        raise CorruptIndexError(f"the previous index holds {old_dim}-dimensional vectors but the model "
                                f"{config.model!r} gives {new_vecs[0].shape[1]}: run `qa index --rebuild`")
    if new_vecs or reused_rows:
        dim = new_vecs[0].shape[1] if new_vecs else old_dim
    else:
        dim = embedder.dimension
    vectors = np.zeros((len(sent_doc), dim), dtype=np.float32)
    if new_vecs:
        for vec, text in zip(np.vstack(new_vecs), todo_texts):
            vectors[todo[text]] = vec
    if reused_rows:
        vectors[reused_rows] = old_vectors[np.asarray(reused_from)]

    added = sum(1 for d in docs if d.id not in old_docs)
    updated = sum(1 for d in docs if d.id in old_docs and old_docs[d.id] != d.fingerprint)
    unchanged = len(docs) - added - updated
    removed = len(set(old_docs) - {d.id for d in docs})

    spec = vector_index.plan(config.vectors, len(sent_doc))
    manifest = {
        "format": FORMAT_VERSION,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "model": config.model,
        "dimension": int(dim),
        "settings": config.index_settings(),
        "documents": [{"id": d.id, "title": d.title, "fingerprint": d.fingerprint, "meta": d.meta,
                       **({"pages": list(d.pages)} if d.pages else {})} for d in docs],
        "files": {k: list(v) for k, v in files.items()},
        "extractors": dict(EXTRACTORS),
        "sources_stat": sources_stat,
        "model_stat": model_stat,
        "model_digest": model_digest,
        "chunks": len(chunk_ids),
        "sentences": int(len(sent_doc)),
        "vectors": spec.to_dict(),
        "warnings": warnings,
    }

    def write(tmp: Path) -> None:
        _write_json(tmp / "texts.json", {d.id: d.text for d in docs})
        _write_json(tmp / "chunks.json", {"ids": chunk_ids, "doc": chunk_doc, "span": chunk_span.tolist(),
                                          "sents": chunk_sents.tolist()})
        np.savez(tmp / "sentences.npz", doc=sent_doc, span=sent_span, chunk=sent_chunk)
        np.save(tmp / "vectors.npy", vectors)
        vector_index.save(vector_index.build(vectors, spec), tmp / "sentences.faiss")
        BM25Index.build([d.text[s:e] for d, cs in zip(docs, chunks_by_doc) for c in cs for s, e in [(c.start, c.end)]]
                        ).save(tmp / "bm25-chunks")
        BM25Index.build([docs[di].text[s:e] for di, (s, e) in zip(sent_doc, sent_span)]).save(tmp / "bm25-sentences")
        manifest["checksums"] = checksums(tmp)
        _write_json(tmp / "manifest.json", manifest)  # written last: its presence marks a complete build

    _publish(index_dir, write)
    return BuildReport(added=added, updated=updated, removed=removed, unchanged=unchanged, documents=len(docs),
                       chunks=len(chunk_ids), sentences=int(len(sent_doc)), embedded=len(todo_texts),
                       seconds=time.perf_counter() - t0, skipped=False, path=str(index_dir),
                       warnings=tuple(warnings))


def _rebuild_vector_index(config: Config, path: Path, old: dict, t0: float) -> BuildReport:
    """A new build with the FAISS structure ``vectors:`` now asks for, from the stored vectors.

    Nothing is embedded; every other file is hard-linked (or copied) from the live build.
    """
    spec = vector_index.plan(config.vectors, int(old["sentences"]))
    manifest = {**old, "vectors": spec.to_dict(),
                "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}

    def write(tmp: Path) -> None:
        for item in path.iterdir():
            if item.name in ("manifest.json", "sentences.faiss"):
                continue
            if item.is_dir():
                shutil.copytree(item, tmp / item.name, copy_function=_link_or_copy)
            else:
                _link_or_copy(item, tmp / item.name)
        vecs = np.load(path / "vectors.npy")
        vector_index.save(vector_index.build(vecs, spec), tmp / "sentences.faiss")
        if "checksums" in old:  # the linked files are the live build's bytes: only the new one is hashed
            manifest["checksums"] = {**old["checksums"], "sentences.faiss": digest(tmp / "sentences.faiss")}
        _write_json(tmp / "manifest.json", manifest)

    _publish(config.index, write)
    return _unchanged_report(config, old, t0, skipped=False)


def _unchanged_report(config: Config, manifest: dict, t0: float, skipped: bool) -> BuildReport:
    """The report of a build that embedded nothing: every document unchanged."""
    n_docs = len(manifest["documents"])
    return BuildReport(added=0, updated=0, removed=0, unchanged=n_docs, documents=n_docs, chunks=manifest["chunks"],
                       sentences=manifest["sentences"], embedded=0, seconds=time.perf_counter() - t0,
                       skipped=skipped, path=str(config.index), warnings=tuple(manifest.get("warnings", ())))


def _link_or_copy(src, dst) -> None:
    """Builds are never modified in place, so a hard link is as good as a copy, and free."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _publish(index_dir: Path, write: Callable[[Path], None]) -> Path:
    """Run ``write`` into a fresh temporary folder, then make it the live build atomically."""
    index_dir.mkdir(parents=True, exist_ok=True)
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    tmp = index_dir / f".tmp-build-{stamp}-{os.getpid()}"
    final = index_dir / f"build-{stamp}"
    tmp.mkdir()
    try:
        write(tmp)
        _fsync_dir(tmp)
        os.rename(tmp, final)
        _swap_current(index_dir, final.name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    cleanup_builds(index_dir, keep={final.name})
    return final


def _write_json(path: Path, obj) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, ensure_ascii=False)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    for p in path.rglob("*"):
        if p.is_file():
            with open(p, "rb") as fh:
                os.fsync(fh.fileno())


def _swap_current(index_dir: Path, name: str) -> None:
    tmp = index_dir / f".{CURRENT}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(name + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, index_dir / CURRENT)
