"""The one entry point: :class:`Pipeline` ties config, index, retrieval and answering together.

The CLI, the Gradio UI and the HTTP API all call :meth:`Pipeline.ask` (and
friends), so they cannot drift apart. The embedder is injected (or built from
the config on first use) and the index is loaded lazily, once.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from qa.answer.answerer import Answer, Answerer, AnswerModel
from qa.answer.conversation import Reading, about_the_conversation, favour, read_history, understand
from qa.check.claims import CheckSettings, ClaimChecker, Verdict
from qa.check.split import split_claims
from qa.config import TOP_K_RANGE, Config, load_config, valid_top_k
from qa.models.embedding import Embedder, SentenceTransformerEmbedder
from qa.errors import ConfigError, InputError, QAError, StaleIndexError, IndexMissingError
from qa.text.chars import blank, clean_text
from qa.text.words import tokenize
from qa.retrieval.retriever import Retriever
from qa.index.build import BuildReport, build_index
from qa.index.faiss_store import FaissStore
from qa.index.interface import Store
from qa.index.store import Index, live_path, load_index

if TYPE_CHECKING:  # rapidfuzz and difflib load only when a quote is checked; the reader when first used
    from qa.check.quotes import QuoteCheck
    from qa.retrieval.retriever import Favour
    from qa.models.reader import Reader


log = logging.getLogger(__name__)


def echoes(question: str, sentence: str) -> bool:
    """Whether the cited ``sentence`` says nothing the question does not: every word of it is the question's.

    A heading that repeats the question ("<img src=x onerror=alert(1)>" asked, the same markup found as
    a heading) matches it best of all, and answers nothing. The whole sentence is looked at, not the
    span an answer was narrowed to: a span of question words in a sentence that says more is the
    reader's choice to make.
    """
    return set(tokenize(sentence)) <= set(tokenize(question))

QUESTION_CACHE = 1024   # question vectors kept (1.5 KB each for MiniLM)


class Pipeline:
    """Question answering over one configured corpus and index."""

    def __init__(self, config: Config, embedder: Embedder | None = None, answer_model: AnswerModel | None = None,
                 reader: "Reader | None" = None):
        self.config = config
        self._embedder = embedder
        self._reader = reader  # the configured reader is loaded on first use when none is given
        self._verifier = None  # likewise the claim verifier (only with ``verifier: true``)
        self._answer_model = answer_model
        self._index: Index | None = None
        self._store: Store | None = None
        self._retriever: Retriever | None = None
        self._answerer: Answerer | None = None
        self._checker: ClaimChecker | None = None
        self.check_settings = CheckSettings()
        self._lock = threading.RLock()
        self._qcache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._qlock = threading.Lock()
        # Told (once per load) when the index no longer matches the corpus or settings but is served anyway.
        self.on_stale: Callable[[str], None] = lambda reason: log.warning(
            "%s: answering from the last good build until `qa index` runs", reason)

    @classmethod
    def from_config(cls, config: str | Path | Config = "qa.yaml", embedder: Embedder | None = None) -> "Pipeline":
        """Build a pipeline from a YAML file (or a ready :class:`Config`)."""
        cfg = config if isinstance(config, Config) else load_config(config)
        return cls(cfg, embedder=embedder)

    # ------------------------------------------------------------ components

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = SentenceTransformerEmbedder(self.config.model, batch_size=self.config.batch_size,
                                                         runtime=self.config.runtime)
        return self._embedder

    def _load_reader(self) -> "Reader | None":
        if self._reader is None and self.config.reader:
            from qa.models.reader import READER_FILE, shared

            path = READER_FILE if self.config.reader is True else Path(self.config.reader)
            self._reader = shared(path, self.config.runtime)
        return self._reader

    def _load_verifier(self):
        if self._verifier is None:
            from qa.models.verifier import shared

            self._verifier = shared(runtime=self.config.runtime)
        return self._verifier

    def warm_up(self) -> None:
        """Load the index, the embedding model and (when enabled) the reader, so no request waits."""
        self._ensure_loaded()
        self.embedder.embed(["warm-up question"])
        self._load_reader()
        if self.config.verifier:
            self._load_verifier()
        if self._index is not None:
            self._index.normalised  # noqa: B018 (the quote checker's texts: read now, not on a first quote)

    @property
    def index(self) -> Index:
        """The in-process index of the faiss backend (claim and quote checks, the UI's word list read it)."""
        self._ensure_loaded()
        if self._index is None:
            raise ConfigError(f"this needs the faiss backend's in-process index; store.kind is {self.config.store.kind!r}")
        return self._index

    @property
    def store(self) -> Store:
        """The loaded index seen through the store interface (what retrieval and answering read)."""
        self._ensure_loaded()
        assert self._store is not None
        return self._store

    @property
    def loaded_store(self) -> Store | None:
        """The store when it is loaded already, else None (never loads)."""
        return self._store

    @property
    def loaded_index(self) -> Index | None:
        """The index when it is loaded already, else None (never loads: for callers that must not wait)."""
        return self._index

    @property
    def stale(self) -> str | None:
        """Why the loaded index no longer matches the corpus or settings (it still answers), or None."""
        return self._store.stale if self._store is not None else None

    def _ensure_loaded(self, on_stale: Callable[[str], None] | None = None) -> None:
        if self._store is None:
            with self._lock:
                if self._store is None:
                    if self.config.store.kind == "milvus":
                        from qa.index.milvus import MilvusStore

                        self._attach_store(MilvusStore(self.config))
                    else:
                        self._attach(load_index(self.config, stale=on_stale or self.on_stale))

    def _attach(self, index: Index) -> None:
        self._attach_store(FaissStore(index), index)

    def _attach_store(self, store: Store, index: Index | None = None) -> None:
        r = self.config.retrieval
        retriever = Retriever(store, r.dense_weight, r.candidates, r.sentence_weight)
        self._answerer = Answerer(store, self._answer_model, self.config.abstain_threshold,
                                  reader=self._load_reader if (self.config.reader or self._reader) else None)
        self._checker = ClaimChecker(store, retriever, self.check_settings,
                                     verifier=self._load_verifier if self.config.verifier else None)
        self._retriever = retriever
        with self._qlock:
            self._qcache.clear()
        # The previous store is not closed: clients of one Milvus URI share a connection.
        self._store, self._index = store, index

    def build_index(self, rebuild: bool = False, progress: bool = True,
                    warn: Callable[[str], None] | None = None) -> BuildReport:
        """Build or update the index for the configured corpus, then use it."""
        with self._lock:
            if self.config.store.kind == "milvus":
                from qa.index.milvus import MilvusStore
                from qa.index.milvus_build import build_milvus

                report = build_milvus(self.config, self._bulk_embedder(), rebuild=rebuild, progress=progress, warn=warn)
                self._attach_store(MilvusStore(self.config))
                return report
            report = build_index(self.config, self._bulk_embedder(), rebuild=rebuild, progress=progress, warn=warn)
            # Reload unless nothing changed and the live build is the one already in memory.
            if not (report.skipped and self._index is not None and self._index.path == live_path(self.config.index)):
                self._attach(load_index(self.config, check=False))
            return report

    def _bulk_embedder(self) -> Embedder:
        """What embeds an index build: the model here, or Ray actors (``embedding: {engine: ray}``)."""
        e = self.config.embedding
        if e.engine != "ray":
            return self.embedder
        from qa.models.ray_embedding import RayEmbedder

        return RayEmbedder(self.embedder, self.config.model, self.config.runtime, e.address, e.workers, e.batch,
                           work_dir=self.config.index)

    def ensure_index(self, progress: bool = True, warn: Callable[[str], None] | None = None) -> BuildReport | None:
        """Load the index, building or updating it first when it is missing or stale.

        When an update fails (a read-only or full index folder), the last good build is served and
        ``warn`` says why.
        """
        try:
            self._ensure_loaded(on_stale=lambda reason: None)
        except (IndexMissingError, StaleIndexError):
            return self.build_index(progress=progress, warn=warn)
        if self.stale is None:
            return None
        try:
            return self.build_index(progress=progress, warn=warn)
        except QAError as exc:
            (warn or log.warning)(f"{exc}; serving the last good build ({self.stale})")
            return None

    # ------------------------------------------------------------ questions

    def embed_question(self, question: str) -> np.ndarray:
        """The question's vector, from a bounded LRU cache (repeated questions are not encoded again).

        The cache holds at most ``QUESTION_CACHE`` vectors, so memory stays flat however many distinct
        questions a server sees; the lock keeps concurrent requests from corrupting its order.
        """
        with self._qlock:
            vec = self._qcache.get(question)
            if vec is not None:
                self._qcache.move_to_end(question)
                return vec
        vec = self.embedder.embed([question])[0]
        store = self._store
        if store is not None and vec.shape[-1] != store.dimension:
            # same model name, other weights: never search with mismatched vectors
            raise StaleIndexError(f"the index holds {store.dimension}-dimensional vectors but the model "
                                  f"{self.config.model!r} gives {vec.shape[-1]}: run `qa index --rebuild`")
        with self._qlock:
            self._qcache[question] = vec
            while len(self._qcache) > QUESTION_CACHE:
                self._qcache.popitem(last=False)
        return vec

    def ask(self, question: str, top_k: int | None = None,
            history: Sequence[dict | Answer] | None = None) -> Answer:
        """Answer ``question`` from the corpus: a verbatim span with citations, or an abstention.

        ``history``: the conversation so far, oldest first, as ``{"question": ..., "answer": ...}`` dicts
        or earlier :class:`Answer` objects. A follow-up ("When did it end?") is then asked as the
        standalone question it stands for, reported as ``standalone_question``; ``None`` asks it alone.
        """
        q = clean_text(question, "question", self.config.limits.max_question_chars)
        top_k = self.config.top_k if top_k is None else top_k
        if not valid_top_k(top_k):
            raise InputError(f"top_k must be an integer {TOP_K_RANGE}, got {top_k!r}")
        reading = None
        if history is not None:
            reading = understand(q, self._read_history(history))
        self._ensure_loaded()
        assert self._retriever is not None and self._answerer is not None and self._store is not None
        if reading is not None:
            return self._ask_in_conversation(question, reading, top_k)
        qvec = self.embed_question(q)
        retrieval = self._retriever.retrieve(q, qvec, top_k=top_k)
        result = self._answerer.answer(retrieval)
        if not result.abstained and echoes(q, result.citations[0].quote):
            result = dataclasses.replace(result, answer=None, abstained=True, confidence=0.0, citations=(), note=None,
                                         reason="the only match repeats the question's own words; it answers nothing")
        if q != question:  # report the question as asked, offsets are unaffected
            result = dataclasses.replace(result, question=question)
        return result

    def understand(self, question: str, history: Sequence[dict | Answer]) -> Reading:
        """What ``question`` asks given ``history`` (see :meth:`ask`), without answering it."""
        q = clean_text(question, "question", self.config.limits.max_question_chars)
        return self._in_context(understand(q, self._read_history(history)))[0]

    def _read_history(self, history: object) -> tuple:
        limits = self.config.limits
        return read_history(history, limits.max_question_chars, limits.max_history_turns,
                            judge=lambda r: self._in_context(r)[0])

    def _in_context(self, reading: Reading) -> tuple[Reading, "Favour | None"]:
        """The reading, unless the question is about another document than the conversation (then it stands
        alone), and the passages retrieval should favour."""
        if not reading.followup:
            return reading, None
        store = self.store
        prefer = favour(store, reading.turn)
        if not about_the_conversation(store, reading, prefer):
            return Reading(reading.question, reading.question, False), None
        return reading, prefer

    def _ask_in_conversation(self, question: str, reading: Reading, top_k: int) -> Answer:
        assert self._retriever is not None and self._answerer is not None and self._store is not None
        reading, prefer = self._in_context(reading)
        standalone = reading.standalone
        # The standalone question must fit the limit too: a pronoun can stand for a long phrase.
        if len(standalone) > self.config.limits.max_question_chars:
            standalone = reading.question
        retrieval = self._retriever.retrieve(standalone, self.embed_question(standalone), top_k=top_k, favour=prefer)
        result = self._answerer.answer(retrieval)
        explain = {**result.explain, "conversation": {"followup": reading.followup, "why": list(reading.why)}}
        return dataclasses.replace(result, question=question, standalone_question=standalone, explain=explain)

    # ------------------------------------------------------------ claims and quotes

    def check(self, claim: str) -> Verdict:
        """Check one claim against the sources: supported, contradicted (with mismatches) or not found."""
        c = clean_text(claim, "claim", self.config.limits.max_question_chars)
        self._ensure_loaded()
        assert self._retriever is not None and self._checker is not None
        qvec = self.embed_question(c)
        retrieval = self._retriever.retrieve(c, qvec, top_k=max(self.config.top_k, 5))
        return self._checker.check(c, qvec, retrieval)

    def check_text(self, text: str) -> list[Verdict]:
        """Split ``text`` into sentences and check each as a claim; one :class:`Verdict` per claim."""
        clean_text(text, "claim", self.config.limits.max_question_chars)  # refuses empty or over-long input
        # A "sentence" of nothing but control characters (a stray line) is no claim: skipped, not refused.
        return [self.check(text[s:e]) for s, e in split_claims(text) if not blank(text[s:e])]

    def check_quote(self, quote: str, source: str | None = None) -> QuoteCheck:
        """Is ``quote`` verbatim in the sources (or in document ``source``)? Else the closest passage, diffed."""
        q = clean_text(quote, "quote", self.config.limits.max_question_chars)
        idx = self.index
        if source is not None:
            if source not in idx.doc_position:
                raise InputError(f"no document with id {source!r} in the index; "
                                 f"ids look like {idx.doc_ids[0]!r}" if idx.doc_ids else
                                 f"no document with id {source!r}: the index is empty")
            positions = [idx.doc_position[source]]
        else:
            positions = None  # every document
        from qa.check.quotes import QuoteSearch

        return QuoteSearch(idx).check(q, positions, seconds=self.config.limits.quote_seconds)

    def source(self, doc_id: str) -> dict:
        """Title, text, metadata (and a PDF's page start offsets) of an indexed document (only ids in the index exist)."""
        store = self.store
        pos = store.document_key(doc_id)
        if pos is None:
            raise KeyError(doc_id)
        doc = store.document(pos)
        out = {"id": doc_id, "title": doc.title, "text": doc.text, "meta": doc.meta}
        if doc.pages:
            out["pages"] = list(doc.pages)
        return out
