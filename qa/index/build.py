"""Building the index: plan what changed, embed only what is missing, write a new build, publish it.

A build never touches the live one. It is written to a fresh folder and made live by atomically
replacing ``index/CURRENT`` (:func:`_publish`), so a build killed at any point leaves the previous
index live and loadable. One build at a time per index folder (a lock, released by the system if
the process dies). Vectors are reused by sentence text from the live build whenever the model's
weights are the same bytes, so editing one sentence embeds one sentence.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from qa.config import Config
from qa.errors import CorruptIndexError, IndexWriteError
from qa.index import vectors as vector_index
from qa.index.files import ReadOnlyIndexError, build_lock, checksums, cleanup_builds, digest, write_failure
from qa.index.lexical import BM25Index
from qa.index.normalised import NormalisedTexts
from qa.index.store import (FORMAT_VERSION, _check_index_folder, _content_staleness, _model_folder, _model_stat,
                            _sources_digest, _sources_stat, _vector_staleness, distinct_count, index_settings, live_path, read_manifest, scan_corpus,
                            staleness)
from qa.index.files import CURRENT
from qa.ingest.chunking import Chunk, chunk_document
from qa.ingest.corpus import Document, check_corpus_folder, load_corpus
from qa.ingest.formats import EXTRACTORS
from qa.models.embedding import Embedder


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
    peak_rss_mb: float = 0.0   # the most memory this process has held, building included
    index_mb: float = 0.0      # the live build's files on disk

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["warnings"] = list(self.warnings)
        d["seconds"] = round(self.seconds, 3)
        d["peak_rss_mb"] = round(self.peak_rss_mb, 1)
        d["index_mb"] = round(self.index_mb, 3)
        return d


def peak_rss_mb() -> float:
    """The peak resident memory of this process so far, in MB (ru_maxrss: KB on Linux, bytes on macOS)."""
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e6 if sys.platform == "darwin" else peak * 1024 / 1e6


def _size_mb(index_dir: Path) -> float:
    """Size of the live build's files in MB (0 when there is none)."""
    try:
        path = live_path(index_dir)
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6 if path else 0.0
    except (OSError, CorruptIndexError):
        return 0.0


@dataclass(frozen=True)
class SentenceTable:
    """Unique sentences in document order (their document, span, first chunk and text), and every
    chunk's id, document, span and range of sentence rows."""

    sent_doc: np.ndarray
    sent_span: np.ndarray
    sent_chunk: np.ndarray
    sent_vec: np.ndarray    # position in ``texts`` of each row's text: rows with one text share its vector
    texts: list[str]        # distinct sentence texts, in order of first appearance
    chunk_ids: list[str]
    chunk_doc: list[int]
    chunk_span: np.ndarray
    chunk_sents: np.ndarray


@dataclass(frozen=True)
class Plan:
    """What a build will write, and which sentences must be embedded for it."""

    docs: list[Document]
    chunks_by_doc: list[list[Chunk]]
    table: SentenceTable
    files: dict[str, tuple[int, int, int]]
    todo: list[int]                   # positions in texts to embed (a repeated sentence is embedded once)
    reused_rows: list[int]            # positions in texts whose vector is ...
    reused_from: list[int]            # ... at this row of the live build's vectors
    old_vectors: np.ndarray | None    # the live build's vectors (memory-mapped), when any are reused
    old_docs: dict[str, str]          # document id -> fingerprint in the live build
    model_stat: dict | None
    model_digest: str | None
    sources_stat: list[int] | None
    sources_digest: str | None = None

    @property
    def todo_order(self) -> list[int]:
        """Positions to embed, longest text first, as a single encode() call would sort them: batches of
        similar length pad least."""
        return sorted(self.todo, key=lambda i: len(self.table.texts[i]), reverse=True)


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


def sentence_table(docs: Sequence[Document], chunks_by_doc: list[list[Chunk]]) -> SentenceTable:
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
    distinct: dict[str, int] = {}  # text -> its position: a text repeated in any document is one vector
    sent_vec = np.fromiter((distinct.setdefault(docs[di].text[s:e], len(distinct)) for di, (s, e) in
                            zip(sent_doc, sent_span)), dtype=np.int32, count=len(sent_doc))
    return SentenceTable(np.asarray(sent_doc, dtype=np.int32), np.asarray(sent_span, dtype=np.int64).reshape(-1, 2),
                         np.asarray(sent_chunk, dtype=np.int32), sent_vec, list(distinct), chunk_ids, chunk_doc,
                         np.asarray(chunk_span, dtype=np.int64).reshape(-1, 2),
                         np.asarray(chunk_sents, dtype=np.int64).reshape(-1, 2))


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
            sent_vec = z["vec"] if "vec" in z.files else np.arange(len(sent_doc))  # one vector per row before
        vectors = np.load(path / "vectors.npy", mmap_mode="r")
        if len(sent_vec) != len(sent_doc) or (len(sent_vec) and int(sent_vec.max()) >= len(vectors)):
            return {}, None
        texts = [texts_by_id[d["id"]] for d in manifest["documents"]]
        _, first = np.unique(sent_vec, return_index=True)  # one row per vector is enough to know its text
        rows = {texts[int(sent_doc[r])][int(sent_span[r, 0]):int(sent_span[r, 1])]: int(sent_vec[r]) for r in first}
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
    try:
        with build_lock(config.index, waiting=warn):
            return _build(config, embedder, rebuild, progress, warn)
    except ReadOnlyIndexError:
        # Nothing can be written here, which is no failure when there is nothing to write.
        report = None if rebuild else _current_report(config)
        if report is None:
            raise
        return report


def _current_report(config: Config) -> BuildReport | None:
    """The "up to date" report when the live build matches the corpus by content, else None (reads only)."""
    t0 = time.perf_counter()
    try:
        path = live_path(config.index)
        manifest = read_manifest(path) if path else None
    except CorruptIndexError:
        return None
    if manifest is None or staleness(config, manifest, by_content=True) is not None:
        return None
    return _unchanged_report(config, manifest, t0, skipped=True)


def _build(config: Config, embedder: Embedder, rebuild: bool, progress: bool,
           warn: Callable[[str], None] | None) -> BuildReport:
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
    sources_digest = _sources_digest(config.corpus)
    path, old_manifest = None, None
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

    plan = dataclasses.replace(_plan(config, files, sources_stat, path, old_manifest, rebuild, _warn),
                               sources_digest=sources_digest)
    vectors = _embed(plan, embedder, config, progress)
    manifest = _manifest(config, plan, vectors, warnings)
    _publish(index_dir, lambda tmp: _write(tmp, plan, vectors, manifest))
    if hasattr(embedder, "finish"):  # a resumable embedder's checkpoints are no longer needed
        embedder.finish()
    docs, table = plan.docs, plan.table
    added = sum(1 for d in docs if d.id not in plan.old_docs)
    updated = sum(1 for d in docs if d.id in plan.old_docs and plan.old_docs[d.id] != d.fingerprint)
    return BuildReport(added=added, updated=updated, removed=len(set(plan.old_docs) - {d.id for d in docs}),
                       unchanged=len(docs) - added - updated, documents=len(docs), chunks=len(table.chunk_ids),
                       sentences=int(len(table.sent_doc)), embedded=len(plan.todo),
                       seconds=time.perf_counter() - t0, skipped=False, path=str(index_dir),
                       warnings=tuple(warnings), peak_rss_mb=peak_rss_mb(), index_mb=_size_mb(index_dir))


def _plan(config: Config, files: dict, sources_stat, path: Path | None, old_manifest: dict | None, rebuild: bool,
          warn: Callable[[str], None]) -> Plan:
    """Read and chunk the corpus, and decide which sentence vectors the live build can give (none for a rebuild)."""
    model_stat = _model_stat(config.model)
    docs = load_corpus(config.corpus, warn=warn, max_bytes=config.limits.max_file_bytes)
    files = {k: v for k, v in files.items() if os.path.lexists(config.corpus / k)}  # drop files gone mid-build
    chunks_by_doc = [chunk_document(d, config.chunking.size, config.chunking.overlap) for d in docs]
    table = sentence_table(docs, chunks_by_doc)

    # The model's files are hashed when they are new or changed; the same bytes keep the old vectors.
    old = old_manifest or {}
    model_digest = (old.get("model_digest") if old.get("model_stat") == model_stat and old.get("model_digest")
                    else _model_digest(config.model, model_stat))
    same_weights = "model_digest" not in old or old.get("model_digest") == model_digest
    previous, old_vectors = ({}, None) if rebuild or old_manifest is None or not same_weights \
        else _previous_vectors(path, old_manifest, config)
    todo: list[int] = []
    reused_rows: list[int] = []
    reused_from: list[int] = []
    for i, text in enumerate(table.texts):
        old_row = previous.get(text)
        if old_row is not None and old_vectors is not None:
            reused_rows.append(i)
            reused_from.append(old_row)
        else:
            todo.append(i)
    old_docs = {d["id"]: d["fingerprint"] for d in old.get("documents", [])} if not rebuild else {}
    return Plan(docs, chunks_by_doc, table, files, todo, reused_rows, reused_from, old_vectors, old_docs,
                model_stat, model_digest, sources_stat)


def _embed(plan: Plan, embedder: Embedder, config: Config, progress: bool) -> np.ndarray:
    """Every sentence's vector: the new ones embedded (in batches, with a progress bar), the rest reused."""
    from tqdm.auto import tqdm

    order = plan.todo_order
    texts = plan.table.texts
    batch = max(1, config.batch_size * 8)
    new_vecs = []
    bulk = getattr(embedder, "embed_all", None)  # Ray: every sentence in one pass (qa.models.ray_embedding)
    with tqdm(total=len(order), desc="Embedding", unit="sent", disable=not progress or not order) as bar:
        if bulk is not None and order:
            new_vecs.append(bulk([texts[j] for j in order], bar.update))
        for i in range(0, len(order) if bulk is None else 0, batch):
            part = embedder.embed([texts[j] for j in order[i:i + batch]])
            new_vecs.append(part)
            bar.update(len(part))
    release = getattr(embedder, "release_bulk", None)  # a server that built its index keeps only what queries use
    if release is not None:
        release()
    old_vectors = plan.old_vectors
    old_dim = old_vectors.shape[1] if old_vectors is not None else None
    if new_vecs and plan.reused_rows and new_vecs[0].shape[1] != old_dim:
        raise CorruptIndexError(f"the previous index holds {old_dim}-dimensional vectors but the model "
                                f"{config.model!r} gives {new_vecs[0].shape[1]}: run `qa index --rebuild`")
    if new_vecs or plan.reused_rows:
        dim = new_vecs[0].shape[1] if new_vecs else old_dim
    else:
        dim = embedder.dimension
    vectors = np.zeros((len(texts), dim), dtype=np.float32)  # one per distinct sentence text
    if new_vecs:
        vectors[np.asarray(order, dtype=np.int64)] = np.vstack(new_vecs)
    if plan.reused_rows:
        vectors[plan.reused_rows] = old_vectors[np.asarray(plan.reused_from)]
    return vectors


def _manifest(config: Config, plan: Plan, vectors: np.ndarray, warnings: list[str]) -> dict:
    """What the new build is: settings, documents, file stats, sizes, the vector index's structure."""
    return {
        "format": FORMAT_VERSION,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "model": config.model,
        "dimension": int(vectors.shape[1]),
        "settings": index_settings(config),
        "documents": [{"id": d.id, "title": d.title, "fingerprint": d.fingerprint, "meta": d.meta,
                       **({"pages": list(d.pages)} if d.pages else {})} for d in plan.docs],
        "files": {k: list(v) for k, v in plan.files.items()},
        "extractors": dict(EXTRACTORS),
        "sources_stat": plan.sources_stat,
        "sources_digest": plan.sources_digest,
        "model_stat": plan.model_stat,
        "model_digest": plan.model_digest,
        "chunks": len(plan.table.chunk_ids),
        "sentences": int(len(plan.table.sent_doc)),
        "distinct": len(plan.table.texts),
        "vectors": vector_index.plan(config.vectors, len(plan.table.texts)).to_dict(),
        "warnings": warnings,
    }


def _write(tmp: Path, plan: Plan, vectors: np.ndarray, manifest: dict) -> None:
    """The build's files, written into ``tmp``; the manifest last (its presence marks a complete build)."""
    docs, t = plan.docs, plan.table
    _write_json(tmp / "texts.json", {d.id: d.text for d in docs})
    _write_json(tmp / "chunks.json", {"ids": t.chunk_ids, "doc": t.chunk_doc, "span": t.chunk_span.tolist(),
                                      "sents": t.chunk_sents.tolist()})
    np.savez(tmp / "sentences.npz", doc=t.sent_doc, span=t.sent_span, chunk=t.sent_chunk, vec=t.sent_vec)
    np.save(tmp / "vectors.npy", vectors)
    spec = vector_index.VectorIndexSpec.from_dict(manifest["vectors"])
    vector_index.save(vector_index.build(vectors, spec), tmp / "sentences.faiss")
    BM25Index.build([d.text[c.start:c.end] for d, cs in zip(docs, plan.chunks_by_doc) for c in cs]
                    ).save(tmp / "bm25-chunks")
    BM25Index.build(t.texts, of=t.sent_vec).save(tmp / "bm25-sentences")
    NormalisedTexts.build([d.text for d in docs]).save(tmp)  # for quote checks: normalised once, here
    manifest["checksums"] = checksums(tmp)
    _write_json(tmp / "manifest.json", manifest)


def _rebuild_vector_index(config: Config, path: Path, old: dict, t0: float) -> BuildReport:
    """A new build with the FAISS structure ``vectors:`` now asks for, from the stored vectors.

    Nothing is embedded; every other file is hard-linked (or copied) from the live build.
    """
    spec = vector_index.plan(config.vectors, distinct_count(old))
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
                       skipped=skipped, path=str(config.index), warnings=tuple(manifest.get("warnings", ())),
                       peak_rss_mb=peak_rss_mb(), index_mb=_size_mb(config.index))


def _link_or_copy(src, dst) -> None:
    """Builds are never modified in place, so a hard link is as good as a copy, and free."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _publish(index_dir: Path, write: Callable[[Path], None]) -> Path:
    """Run ``write`` into a fresh temporary folder, then make it the live build atomically."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    tmp = index_dir / f".tmp-build-{stamp}-{os.getpid()}"
    final = index_dir / f"build-{stamp}"
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
        swapped = False
        try:
            write(tmp)
            _fsync_dir(tmp)
            os.rename(tmp, final)
            _swap_current(index_dir, final.name)
            swapped = True
        finally:
            if not swapped:
                shutil.rmtree(tmp, ignore_errors=True)
                shutil.rmtree(final, ignore_errors=True)
    except OSError as exc:  # a full disk, a read-only or foreign folder: CURRENT still names the last good build
        raise IndexWriteError(write_failure(index_dir, exc)) from None
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
