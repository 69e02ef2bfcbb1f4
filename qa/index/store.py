"""The on-disk index: sentence vectors in FAISS, BM25 over chunks and sentences, metadata.

Layout of the index folder::

    index/CURRENT            name of the live build folder (replaced atomically)
    index/build-<stamp>/     manifest.json, texts.json, chunks.json, sentences.npz,
                             vectors.npy, sentences.faiss, bm25-chunks/, bm25-sentences/,
                             normalised.json, normalised.npz (quote checks: qa.index.normalised)

A build is written to a fresh ``build-*`` folder and only becomes live when
``CURRENT`` is swapped with ``os.replace``; a crash at any point leaves the
previous build live and loadable; the manifest records a sha256 of every other
file, checked on load (:mod:`qa.index.files`). ``sentences.faiss`` is exact or HNSW
by corpus size (:mod:`qa.index.vectors`); when only that choice changes, it is rebuilt
from ``vectors.npy`` and everything else is carried over. Sentences are the unit that is
embedded: a chunk's vector is the normalised mean of its sentences' vectors, and
a sentence whose text is already in the previous build keeps its vector, so
nothing is encoded twice. A text repeated in the corpus has one vector (``vectors.npy`` and FAISS
hold one per distinct text; ``sentences.npz`` says which is each sentence's).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from qa.text.types import lowercase_words_of
from qa.index.files import CURRENT, verify_build
from qa.ingest.sentences import SEGMENTATION_VERSION
from qa.config import Config
from qa.ingest.corpus import iter_corpus_files, page_of
from qa.ingest.formats import EXTRACTORS
from qa.models.base import resolve_model
from qa.errors import ConfigError, CorruptIndexError, IndexMissingError, StaleIndexError
from qa.index.lexical import BM25Index
from qa.index.normalised import NormalisedTexts
from qa.index import vectors as vector_index

FORMAT_VERSION = 1


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
    vectors: vector_index.RowVectors  # (S, d) float32 by row, normalised; stored once per distinct text
    chunk_vectors: np.ndarray  # (C, d) float32, normalised
    faiss_index: vector_index.RowIndex  # searched by sentence row
    bm25_chunks: BM25Index
    bm25_sentences: BM25Index
    pages: list[list[int]] = field(default_factory=list)  # per document: page start offsets (PDF), else []
    stale: str | None = None  # why this build no longer matches the corpus or settings, when it was loaded anyway
    _lowercase: dict[int, frozenset[str]] = field(default_factory=dict, repr=False, compare=False)

    @functools.cached_property
    def doc_position(self) -> dict[str, int]:
        """doc id -> position in ``doc_ids``/``texts``; built once per loaded index."""
        return {d: i for i, d in enumerate(self.doc_ids)}

    @functools.cached_property
    def normalised(self) -> NormalisedTexts:
        """Every document as quotes are compared, with checkpoints back to the original offsets (read
        from the build; a build from before they were kept is normalised once, now)."""
        return NormalisedTexts.load(self.path, len(self.doc_ids)) or NormalisedTexts.build(self.texts)

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

def index_settings(config: Config) -> dict:
    """The settings an index depends on; a change in any of them makes it stale."""
    return {"model": config.model, "chunking": dataclasses.asdict(config.chunking),
            "max_file_mb": config.limits.max_file_mb, "segmentation": SEGMENTATION_VERSION}


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


def _sources_stat(corpus: Path) -> list[int] | None:
    """:func:`_stat_key` of the corpus's sources.yaml, or None when there is none."""
    try:
        st = (corpus / "sources.yaml").stat()
    except OSError:
        return None
    return list(_stat_key(st))


def _sources_digest(corpus: Path) -> str | None:
    """sha256 of the corpus's sources.yaml, or None when there is none (or it cannot be read)."""
    try:
        return _digest(corpus / "sources.yaml")
    except OSError:
        return None


def _digest(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def staleness(config: Config, manifest: dict, files: dict[str, tuple[int, int, int]] | None = None,
              by_content: bool = False) -> str | None:
    """Why an index no longer matches the config and corpus, or None when it does.

    ``files`` is a :func:`scan_corpus` result the caller already has; otherwise the corpus is scanned.
    With ``by_content``, a document whose size, modification or change time moved is read and hashed:
    the same bytes (a ``touch``, a copy that kept them) are no change.
    """
    return _content_staleness(config, manifest, files, by_content) or _vector_staleness(config, manifest)


def _model_staleness(config: Config, manifest: dict) -> str | None:
    """Why the index's vectors cannot be searched with this config's model, or None: a reason to refuse."""
    old, new = manifest.get("settings", {}).get("model"), config.model
    if old != new:
        return f"index was built with a different model ({old!r} -> {new!r})"
    recorded_model = manifest.get("model_stat")
    if recorded_model is not None and recorded_model != _model_stat(config.model):
        return f"the files of the model {config.model!r} changed since the index was built"
    return None


def _same_bytes(corpus: Path, doc_id: str, fingerprints: dict[str, str]) -> bool:
    """Whether the file ``doc_id`` still has the bytes its indexed document was read from."""
    recorded = fingerprints.get(doc_id)
    if recorded is None:
        return False  # skipped when indexed (unreadable, binary...): nothing to compare with
    try:
        return recorded.rsplit(":", 1)[-1] == _digest(corpus / doc_id)
    except OSError:
        return False


def distinct_count(manifest: dict) -> int:
    """How many vectors a build holds: one per distinct sentence text (one per sentence in older builds)."""
    return int(manifest.get("distinct", manifest.get("sentences", 0)))


def _vector_staleness(config: Config, manifest: dict) -> str | None:
    """Why the FAISS structure differs from what ``vectors:`` asks for at this size, or None."""
    built = vector_index.VectorIndexSpec.from_dict(manifest.get("vectors"))
    wanted = vector_index.plan(config.vectors, distinct_count(manifest))
    if built != wanted:
        return f"index was built with a different vector index ({built.to_dict()} -> {wanted.to_dict()})"
    return None


def _content_staleness(config: Config, manifest: dict, files: dict[str, tuple[int, int, int]] | None,
                       by_content: bool = False) -> str | None:
    model = _model_staleness(config, manifest)
    if model:
        return model
    if manifest.get("settings") != index_settings(config):
        old, new = manifest.get("settings", {}), index_settings(config)
        what = [k for k in new if old.get(k) != new.get(k)] or ["settings"]
        return f"index was built with a different {', '.join(what)} ({old.get(what[0])!r} -> {new.get(what[0])!r})"
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
    if by_content and changed:
        fingerprints = {d["id"]: d["fingerprint"] for d in manifest.get("documents", ())}
        changed = [d for d in changed if not (d in recorded and d in current and recorded[d][0] == current[d][0]
                                              and _same_bytes(config.corpus, d, fingerprints))]
    if changed:
        return (f"index was built from a different corpus ({len(changed)} file(s) changed, e.g. "
                f"{changed[0]})")
    if manifest.get("sources_stat") != _sources_stat(config.corpus) and not (
            by_content and manifest.get("sources_digest") is not None
            and manifest["sources_digest"] == _sources_digest(config.corpus)):
        return "sources.yaml changed since the index was built"
    return None


# ---------------------------------------------------------------- load

def _check_index_folder(index_dir: Path) -> None:
    if index_dir.exists() and not index_dir.is_dir():
        raise ConfigError(f"index folder {index_dir} is a file: point 'index:' in the config to a folder")


def load_index(config: Config, check: bool = True, stale: Callable[[str], None] | None = None) -> Index:
    """Load the live index; raise a clear error when it is missing, stale or broken.

    Staleness is decided by content: a file that was only touched is no change. With ``stale``
    given, an index that no longer matches the corpus or settings is loaded all the same (it is the
    last good build, consistent in itself) and ``stale(reason)`` is told; ``Index.stale`` keeps the
    reason. An index built by another model is refused either way: its vectors cannot be searched.
    """
    index_dir = config.index
    _check_index_folder(index_dir)
    for attempt in range(3):
        path = live_path(index_dir) if index_dir.is_dir() else None
        if path is None:
            raise IndexMissingError(f"no index in {index_dir}: run `qa index` to build it")
        try:
            manifest = read_manifest(path)
            reason = staleness(config, manifest, by_content=True) if check else None
            if reason and (stale is None or _model_staleness(config, manifest)):
                raise StaleIndexError(f"{reason}: run `qa index`")
            index = _read_build(path, manifest, config.vectors.ef_search)
            if reason:
                index.stale = reason
                stale(reason)
            return index
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
            sent_vec = z["vec"] if "vec" in z.files else np.arange(len(sent_doc))  # one vector per row before
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
    n_chunks, n_sents, n_vecs = len(chunks["ids"]), len(sent_doc), distinct_count(manifest)
    ok = (n_chunks == manifest.get("chunks") and n_sents == manifest.get("sentences")
          and set(doc_ids) == set(texts_by_id) and vectors.shape == (n_vecs, manifest["dimension"])
          and faiss_index.ntotal == n_vecs and vector_index.kind_of(faiss_index) == spec.kind
          and len(sent_span) == n_sents == len(sent_chunk) == len(sent_vec)
          and (n_sents == 0 or 0 <= int(sent_vec.min()) <= int(sent_vec.max()) < n_vecs)
          and len(chunks["doc"]) == n_chunks == len(chunks["span"]) == len(chunks["sents"]))
    if not ok:
        raise CorruptIndexError(f"index at {path} is inconsistent (sizes disagree): run `qa index --rebuild`")
    texts = [texts_by_id[d] for d in doc_ids]
    chunk_doc = np.asarray(chunks["doc"], dtype=np.int64)
    chunk_span = np.asarray(chunks["span"], dtype=np.int64).reshape(-1, 2)
    chunk_sents = np.asarray(chunks["sents"], dtype=np.int64).reshape(-1, 2)
    sent_vec = sent_vec.astype(np.int64)
    row_vectors = vector_index.RowVectors(vectors, sent_vec)
    return Index(path=path, manifest=manifest, doc_ids=doc_ids, texts=texts,
                 titles=[d["title"] for d in docs], metas=[d.get("meta", {}) for d in docs],
                 chunk_ids=chunks["ids"], chunk_doc=chunk_doc, chunk_span=chunk_span,
                 chunk_sents=chunk_sents, sent_doc=sent_doc.astype(np.int64),
                 sent_span=sent_span.astype(np.int64), sent_chunk=sent_chunk.astype(np.int64),
                 vectors=row_vectors, chunk_vectors=chunk_means(row_vectors, chunk_sents),
                 faiss_index=vector_index.RowIndex(faiss_index, sent_vec), bm25_chunks=bm25_chunks, bm25_sentences=bm25_sentences,
                 pages=[list(d.get("pages", ())) for d in docs])


def chunk_means(vectors, chunk_sents: np.ndarray, block: int = 1024) -> np.ndarray:
    """Normalised mean of each chunk's sentence vectors (``vectors``: an array or :class:`RowVectors`).

    Chunks are summed ``block`` at a time over only the rows they span, so memory stays a few MB
    however many sentences the index holds.
    """
    dim = vectors.shape[1] if len(vectors.shape) == 2 else 0
    out = np.zeros((len(chunk_sents), dim), dtype=np.float32)
    for a in range(0, len(chunk_sents), block):
        part = chunk_sents[a:a + block]
        lo, hi = int(part[:, 0].min()), int(part[:, 1].max())
        csum = np.zeros((hi - lo + 1, dim), dtype=np.float64)
        np.cumsum(vectors[lo:hi], axis=0, dtype=np.float64, out=csum[1:])
        means = csum[part[:, 1] - lo] - csum[part[:, 0] - lo]
        norms = np.linalg.norm(means, axis=1, keepdims=True)
        out[a:a + block] = means / np.maximum(norms, 1e-12)
    return out
