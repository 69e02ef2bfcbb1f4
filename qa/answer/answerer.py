"""Retrieved sentences -> an extractive :class:`Answer` with citations, or an abstention.

A linear ranker scores each candidate sentence from the retrieval features;
the best sentence is the first citation's quote (joined with an adjacent
sentence when that one scores almost as well), and the answer is a verbatim
span of it: a date, number or name when the question asks for one, else the
sentence. A logistic calibrator turns the ranking signals into a confidence;
below the configured threshold the result is an abstention. Both models are
fitted on SQuAD *train* by ``bench/train_ranker.py`` and shipped as
``qa/data/ranker.json``; every offset points into the document text.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Container
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from qa.text.types import DATE, NUMBER, PERSON, PLACE, candidate_spans, typed_spans, widened
from qa.text.links import cite_url, link_fields, safe_url
from qa.text.markup import percent
from qa.retrieval.retriever import FEATURES, Passage, Retrieval
from qa.answer.spans import SpanModel
from qa.answer.directions import demote_reversed
from qa.answer.reading import WindowReader, WindowReading
from qa.models.calibration import Calibration, sigmoid, weights_by_name
from qa.index.faiss_store import as_store
from qa.index.interface import Store
from qa.index.store import Index

if TYPE_CHECKING:  # the reader loads only when first used
    from qa.models.reader import Reader

WEIGHTS_FILE = Path(__file__).resolve().parents[1] / "data" / "ranker.json"
CALIBRATION_FEATURES = ("best", "margin", "dense", "coverage", "lexical", "type_match", "type_missing",
                        "idf_coverage", "context_coverage", "chunk_coverage", "missing_rare")


@dataclass(frozen=True)
class Citation:
    """Where the answer (or support for it) is: ``quote == document_text[start:end]``."""

    source: str
    title: str
    start: int
    end: int
    quote: str
    answer_start: int | None
    answer_end: int | None
    score: float
    url: str | None = None   # the source's http(s) url with a text fragment scrolling to the quote
    page: int | None = None  # 1-based page of ``start`` in a paged (PDF) source

    def __post_init__(self) -> None:
        if len(self.quote) != self.end - self.start or self.start < 0:
            raise ValueError("Citation.quote must be document_text[start:end]")
        if self.url is not None and safe_url(self.url) != self.url:
            raise ValueError("Citation.url must be an http(s) link")
        if self.answer_start is not None:
            if not (self.start <= self.answer_start < self.answer_end <= self.end):  # type: ignore[operator]
                raise ValueError("the answer span must lie inside the quote")

    def to_dict(self) -> dict:
        d = {"source": self.source, "title": self.title, "start": self.start, "end": self.end,
             "quote": self.quote, "answer_start": self.answer_start, "answer_end": self.answer_end,
             "score": round(self.score, 4)}
        return {**d, **link_fields(self.url, self.page)}


@dataclass(frozen=True)
class Answer:
    """The result of :meth:`Pipeline.ask`; ``to_dict()`` is the ``qa ask --json`` object."""

    question: str
    answer: str | None
    abstained: bool
    confidence: float
    citations: tuple[Citation, ...] = ()
    passages: tuple[Passage, ...] = ()
    reason: str | None = None                  # why it abstained, in words
    note: str | None = None                    # a caveat on an answer, in words
    explain: dict = field(default_factory=dict, compare=False, hash=False)
    standalone_question: str | None = None     # what was asked of the sources, when asked in a conversation

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError("confidence must be in [0, 1]")
        if self.abstained:
            if self.answer is not None or self.citations:
                raise ValueError("an abstention has no answer and no citations")
        else:
            if not self.answer or not self.citations:
                raise ValueError("a grounded answer needs text and at least one citation")
            first = self.citations[0]
            if first.answer_start is None or first.quote[first.answer_start - first.start:
                                                          first.answer_end - first.start] != self.answer:
                raise ValueError("the answer must be the span of the first citation at its offsets")

    def to_dict(self) -> dict:
        d = {"question": self.question, "answer": self.answer, "abstained": self.abstained,
             "confidence": round(self.confidence, 4), "citations": [c.to_dict() for c in self.citations],
             "passages": [p.to_dict() for p in self.passages]}
        if self.standalone_question is not None:  # only for a question asked with a history
            d = {"question": d.pop("question"), "standalone_question": self.standalone_question, **d}
        if self.reason:
            d["reason"] = self.reason
        if self.note:
            d["note"] = self.note
        return d


@dataclass(frozen=True)
class AnswerModel:
    """Weights of the sentence ranker and of the confidence calibrator."""

    ranker: tuple[float, ...]
    ranker_bias: float
    calibration: tuple[float, ...]
    calibration_bias: float
    join_margin: float = 0.5

    @classmethod
    def load(cls, path: Path = WEIGHTS_FILE) -> "AnswerModel":
        if not path.is_file():
            return cls.default()
        data = json.loads(path.read_text(encoding="utf-8"))
        refit = "bench/train_ranker.py"
        ranker = weights_by_name(data["features"], data["ranker"], FEATURES, path, refit)
        calibration = weights_by_name(data["calibration_features"], data["calibration"], CALIBRATION_FEATURES, path, refit)
        return cls(ranker, data["ranker_bias"], calibration, data["calibration_bias"], data.get("join_margin", 0.5))

    @classmethod
    def default(cls) -> "AnswerModel":
        """Hand-set weights, used only until a fitted ``ranker.json`` exists."""
        ranker = dict(dense=4.0, dense_gap=1.0, lexical=2.0, chunk_dense=1.0, chunk_lexical=1.0, chunk_best_dense=1.0,
                      neighbour_dense=0.5, coverage=1.5, type_match=1.0, short=-1.0, idf_coverage=1.5,
                      context_coverage=0.5, chunk_coverage=0.5, bigram=0.5, missing_rare=-0.5)
        calib = dict(best=1.0, margin=1.0, dense=4.0, coverage=3.0, lexical=0.0, type_match=0.5, type_missing=-2.0,
                     idf_coverage=1.0, context_coverage=1.0, chunk_coverage=0.0, missing_rare=-1.0)
        return cls(tuple(ranker[f] for f in FEATURES), -4.0, tuple(calib[f] for f in CALIBRATION_FEATURES), -6.0)


# What a typed question asks for, in words: said when the chosen sentence holds nothing of the kind.
_WANTED = {DATE: "date", NUMBER: "number", PERSON: "name", PLACE: "place"}


def narrow(qtype: str | None, question: str, sentence: str,
           lowercase_words: Callable[[], Container[str]] = frozenset,
           spans_model: SpanModel | None = None) -> tuple[int, int]:
    """The answer span inside ``sentence`` (offsets relative to it); the whole sentence if nothing narrower fits.

    Among the spans of the wanted type that the question does not already contain, ``spans_model``
    (default: the fitted one) picks by kind and by where the question's words sit around each span.
    ``lowercase_words``: gives the words the document uses in lower case (called only when needed),
    so a common word that only opens the sentence is not taken for a name.
    """
    spans = candidate_spans(qtype, question, sentence, lowercase_words)
    if not spans:
        return 0, len(sentence)
    chosen = (spans_model or SpanModel.load()).choose(qtype, question, sentence, spans)
    return widened(qtype, question, sentence, chosen)


class Answerer:
    """Turns a :class:`Retrieval` into an :class:`Answer`."""

    def __init__(self, index: Store | Index, model: AnswerModel | None = None, threshold: float = 0.5,
                 reader: Callable[[], "Reader | None"] | None = None, spans: SpanModel | None = None):
        self.store = as_store(index)
        self.model = model or AnswerModel.load()
        self.threshold = threshold
        self._reader = reader  # called on first need: the reader loads only if it is ever used
        self._windows: WindowReader | None = None
        self.spans = spans or SpanModel.load()
        self._w = np.asarray(self.model.ranker, dtype=np.float32)

    def sentence_scores(self, r: Retrieval) -> np.ndarray:
        scores = r.features @ self._w + self.model.ranker_bias
        # Roles hook (qa/answer/directions.py): a sentence stating the asked direction reversed is no answer.
        return demote_reversed(r.question, scores, lambda i: self.store.sentence_texts([int(r.sentence_rows[i])])[0])

    def calibration_features(self, r: Retrieval, scores: np.ndarray) -> np.ndarray:
        """The ranker's own confidence features (used when no reader reads)."""
        order = np.argsort(-scores, kind="stable")
        b = order[0]
        second = scores[order[1]] if len(order) > 1 else scores[b] - 5.0
        f = dict(zip(FEATURES, r.features[b]))
        # type_missing: how far the best sentence is from holding the date/number/name the question wants.
        vals = dict(best=scores[b], margin=scores[b] - second, dense=f["dense"], coverage=f["coverage"],
                    lexical=f["lexical"], type_match=f["type_match"],
                    type_missing=float(r.qtype is not None) * (1.0 - f["type_match"]),
                    idf_coverage=f["idf_coverage"], context_coverage=f["context_coverage"],
                    chunk_coverage=f["chunk_coverage"], missing_rare=f["missing_rare"])
        return np.array([vals[k] for k in CALIBRATION_FEATURES], dtype=np.float64)

    def confidence(self, calib: np.ndarray) -> float:
        return sigmoid(float(calib @ np.asarray(self.model.calibration)) + self.model.calibration_bias)

    def window_reader(self) -> WindowReader | None:
        """The reader over this index (loaded on first use), or None when reading is off or impossible."""
        if self._windows is None and self._reader is not None:
            reader = self._reader()
            if reader is not None:
                settings = reader.calibration.settings if reader.calibration is not None else None
                self._windows = WindowReader(self.store, reader, settings)
        return self._windows

    def answer(self, r: Retrieval, threshold: float | None = None) -> Answer:
        threshold = self.threshold if threshold is None else threshold
        if len(r.sentence_rows) == 0:
            return Answer(r.question, None, True, 0.0, (), r.passages, reason="the index holds no passages")
        ranked = self.sentence_scores(r)
        order = np.argsort(-ranked, kind="stable")
        windows = self.window_reader()
        read = self.read(r, ranked, order, windows) if windows is not None else None
        if read is None:
            return self._ranker_answer(r, ranked, order, threshold)
        best, readings = read
        values = reader_features(r, ranked, order, best, readings, self.store)
        calibration = windows.reader.calibration or DEFAULT_CALIBRATION
        conf = calibration.confidence(values)
        wanted_missing = values["type_asked"] > 0 and values["type_found"] == 0
        if wanted_missing:  # a "who" answered by no name is never shown as a sure answer
            conf = min(conf, windows.settings.get("type_cap", TYPE_CAP))
        explain = {"question_type": r.qtype, "threshold": threshold, "reader": windows.reader.name,
                   "calibration": {k: round(float(v), 4) for k, v in values.items()},
                   "top_sentences": [self._explain_row(r, ranked, int(i)) for i in order[:5]],
                   "windows": [self._explain_window(w) for w in readings]}
        if conf < threshold:
            return Answer(r.question, None, True, conf, (), r.passages, explain=explain,
                          reason=f"confidence {percent(conf)} is below the threshold {percent(threshold)}")
        a0, a1 = best.span  # type: ignore[misc]
        spans = [(int(s), int(e)) for s, e in self.store.sentences(np.asarray(best.rows, dtype=np.int64)).span
                 if s < a1 and a0 < e]
        qs, qe = spans[0][0], spans[-1][1]
        citations = self._citations(r, ranked, order, best.doc, qs, qe, a0, a1, int(best.candidate))
        note = (f"The question asks for a {_WANTED[r.qtype]}; this answer holds none, so it may not be the one "
                "asked for." if wanted_missing and r.qtype in _WANTED else None)
        text = self.store.document(best.doc).text
        return Answer(r.question, text[a0:a1], False, conf, tuple(citations), r.passages, explain=explain, note=note)

    def read(self, r: Retrieval, ranked: np.ndarray, order: np.ndarray,
             windows: WindowReader) -> tuple[WindowReading, list[WindowReading]] | None:
        """Read the window of the ranker's best sentence and, in doubt, of the next ones; the best reading
        and all of them (None when the reader marked nothing anywhere)."""
        s = windows.settings
        readings = windows.read(r.question, order[:1], r.sentence_rows, int(s["first_tokens"]))
        margin = float(ranked[order[0]] - ranked[order[1]]) if len(order) > 1 else float("inf")
        if len(order) > 1 and (margin < s["doubt_margin"] or not readings
                               or readings[0].reading.answer < s["doubt_answer"]):
            readings += windows.read(r.question, order[1:], r.sentence_rows, int(s["more_tokens"]), done=readings,
                                     limit=int(s["more_windows"]))
        best = windows.best(readings, ranked)
        return None if best is None else (best, readings)

    def _ranker_answer(self, r: Retrieval, ranked: np.ndarray, order: np.ndarray, threshold: float) -> Answer:
        """The answer without a reader: the ranker's best sentence, narrowed to a date, number or name when
        the question asks for one; the ranker's calibrator gives the confidence."""
        calib = self.calibration_features(r, ranked)
        conf = self.confidence(calib)
        explain = {"question_type": r.qtype, "threshold": threshold, "reader": None,
                   "calibration": dict(zip(CALIBRATION_FEATURES, map(float, calib))),
                   "top_sentences": [self._explain_row(r, ranked, int(i)) for i in order[:5]]}
        if conf < threshold:
            return Answer(r.question, None, True, conf, (), r.passages, explain=explain,
                          reason=f"confidence {percent(conf)} is below the threshold {percent(threshold)}")
        st = self.store
        best = int(order[0])
        row = int(r.sentence_rows[best])
        info = st.sentences(r.sentence_rows)  # document and span of every candidate, in one call
        d = int(info.doc[best])
        text = st.document(d).text
        s, e = (int(x) for x in info.span[best])
        if r.qtype is None:  # no date, number or name asked for: the answer is the sentence
            a0, a1 = 0, e - s
        else:
            a0, a1 = narrow(r.qtype, r.question, text[s:e], functools.partial(st.lowercase_words, d), self.spans)
        qs, qe = s, e
        # Join an adjacent sentence of the same passage when it is nearly as likely to hold the answer.
        pos = {int(x): i for i, x in enumerate(r.sentence_rows)}
        prev, nxt = st.neighbours(np.array([row], dtype=np.int64))
        near = [(ranked[j], j) for nb in (int(prev[0]), int(nxt[0])) for j in [pos.get(nb)]
                if nb >= 0 and j is not None and ranked[best] - ranked[j] < self.model.join_margin]
        if near:  # the likelier of the two neighbours (on a tie, the later one)
            j = max(near, key=lambda x: (x[0], int(r.sentence_rows[x[1]])))[1]
            ns, ne = (int(x) for x in info.span[j])
            qs, qe = min(qs, ns), max(qe, ne)
        citations = self._citations(r, ranked, order, d, qs, qe, s + a0, s + a1, best)
        first = citations[0]
        note = None
        if r.qtype in _WANTED and (first.answer_start, first.answer_end) == (s, e):
            note = f"No {_WANTED[r.qtype]} in this passage fits the question, so the whole sentence is shown."
        return Answer(r.question, text[s + a0:s + a1], False, conf, tuple(citations), r.passages,
                      explain=explain, note=note)

    def _explain_row(self, r: Retrieval, scores: np.ndarray, i: int) -> dict:
        row = self.store.sentences(r.sentence_rows[i:i + 1])
        d = int(row.doc[0])
        s, e = (int(x) for x in row.span[0])
        return {"source": self.store.document(d).id, "start": s, "end": e, "score": float(scores[i]),
                "features": {k: round(float(v), 4) for k, v in zip(FEATURES, r.features[i])}}

    def _explain_window(self, w: WindowReading) -> dict:
        span = w.span
        return {"source": self.store.document(w.doc).id, "start": w.start, "end": w.end,
                "answer_start": span[0] if span else None, "answer_end": span[1] if span else None,
                "answerable": round(w.reading.answer, 4), "margin": round(w.reading.margin, 4)}

    def _citations(self, r: Retrieval, scores: np.ndarray, order: np.ndarray, d: int, qs: int, qe: int,
                   a0: int, a1: int, chosen: int) -> list[Citation]:
        """The answer's citation (``text[qs:qe]`` of document ``d``, the answer at ``a0:a1``), then the best
        sentences of other passages that score close to the chosen candidate."""
        st = self.store
        doc = st.document(d)
        text = doc.text
        page = doc.page(qs)
        cites = [Citation(doc.id, doc.title, qs, qe, text[qs:qe], a0, a1,
                          sigmoid(float(scores[chosen])), cite_url(doc.meta.get("url"), text[qs:qe], page, text, qs),
                          page)]
        info = st.sentences(r.sentence_rows)
        used = {(d, qs, qe)}
        for i in order:
            if i == chosen:
                continue
            if len(cites) >= 3 or scores[chosen] - scores[i] > 1.0:
                break
            rd = int(info.doc[i])
            rs, re_ = (int(x) for x in info.span[i])
            if any(ud == rd and min(re_, ue) > max(rs, us) for ud, us, ue in used):
                continue
            used.add((rd, rs, re_))
            other = st.document(rd)
            rpage = other.page(rs)
            cites.append(Citation(other.id, other.title, rs, re_, other.text[rs:re_], None, None,
                                  sigmoid(float(scores[i])), cite_url(other.meta.get("url"), other.text[rs:re_],
                                                                       rpage, other.text, rs), rpage))
        return cites


# ------------------------------------------------------------------ the reader's confidence

TYPE_CAP = 0.5  # the highest confidence of an answer that holds no date/number/name/place when one is asked for

READER_FEATURES = ("answer", "margin", "first_answer", "ranker_best", "ranker_margin", "chosen_score", "chosen_top",
                   "dense", "coverage", "idf_coverage", "context_coverage", "chunk_coverage", "missing_rare",
                   "type_asked", "type_found", "windows", "span_chars")

# Until a reader's file carries its fitted calibration: the reader's own scores, nothing else.
DEFAULT_CALIBRATION = Calibration(("answer", "margin"), (1.0, 0.2), 0.0)


def reader_features(r: Retrieval, ranked: np.ndarray, order: np.ndarray, best: WindowReading,
                    readings: list[WindowReading], store: Store) -> dict[str, float]:
    """Named features of a read answer: the reader's scores, the ranker's signals for the window's sentence,
    and whether the span is of the kind the question asks for."""
    f = dict(zip(FEATURES, r.features[best.candidate]))
    a0, a1 = best.span  # type: ignore[misc]
    span_text = store.document(best.doc).text[a0:a1]
    asked = r.qtype in _WANTED
    found = bool(asked and typed_spans(r.qtype, span_text))
    second = float(ranked[order[1]]) if len(order) > 1 else float(ranked[order[0]]) - 5.0
    clip = lambda x: float(max(-20.0, min(20.0, x)))  # noqa: E731 (scores of an untrained head can be huge)
    return {"answer": clip(best.reading.answer), "margin": clip(best.reading.margin),
            "first_answer": clip(readings[0].reading.answer), "ranker_best": float(ranked[order[0]]),
            "ranker_margin": clip(float(ranked[order[0]]) - second), "chosen_score": float(ranked[best.candidate]),
            "chosen_top": float(best.candidate == order[0]), "dense": float(f["dense"]), "coverage": float(f["coverage"]),
            "idf_coverage": float(f["idf_coverage"]), "context_coverage": float(f["context_coverage"]),
            "chunk_coverage": float(f["chunk_coverage"]), "missing_rare": float(f["missing_rare"]),
            "type_asked": float(asked), "type_found": float(found), "windows": float(len(readings)),
            "span_chars": float(min(a1 - a0, 200)) / 100.0}
