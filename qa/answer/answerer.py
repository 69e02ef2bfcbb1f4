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

from qa.text.types import DATE, NUMBER, PERSON, PLACE, candidate_spans, widened
from qa.text.links import cite_url, link_fields, safe_url
from qa.text.markup import percent
from qa.retrieval.retriever import FEATURES, Passage, Retrieval
from qa.answer.spans import SpanModel
from qa.models.calibration import sigmoid, weights_by_name
from qa.index.faiss_store import as_store
from qa.index.interface import Store
from qa.index.store import Index

if TYPE_CHECKING:  # the reader and the extractor load only when first used
    from qa.models.extractor import Extractor, OnnxExtractor
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
    # The reader re-scores the top ``reader_candidates`` sentences when the best two are less than
    # ``reader_margin`` apart: score + reader_weight * reader logit. 0 candidates: never.
    reader_candidates: int = 0
    reader_margin: float = 0.0
    reader_weight: float = 0.0

    @classmethod
    def load(cls, path: Path = WEIGHTS_FILE) -> "AnswerModel":
        if not path.is_file():
            return cls.default()
        data = json.loads(path.read_text(encoding="utf-8"))
        refit = "bench/train_ranker.py"
        ranker = weights_by_name(data["features"], data["ranker"], FEATURES, path, refit)
        calibration = weights_by_name(data["calibration_features"], data["calibration"], CALIBRATION_FEATURES, path, refit)
        reader = data.get("reader") or {}
        return cls(ranker, data["ranker_bias"], calibration,
                   data["calibration_bias"], data.get("join_margin", 0.5), int(reader.get("candidates", 0)),
                   float(reader.get("margin", 0.0)), float(reader.get("weight", 0.0)))

    @classmethod
    def default(cls) -> "AnswerModel":
        """Hand-set weights, used only until a fitted ``ranker.json`` exists."""
        ranker = dict(dense=4.0, dense_gap=1.0, lexical=2.0, chunk_dense=1.0, chunk_lexical=1.0, chunk_best_dense=1.0,
                      neighbour_dense=0.5, coverage=1.5, type_match=1.0, short=-1.0, idf_coverage=1.5,
                      context_coverage=0.5, chunk_coverage=0.5, bigram=0.5, missing_rare=-0.5)
        calib = dict(best=1.0, margin=1.0, dense=4.0, coverage=3.0, lexical=0.0, type_match=0.5, type_missing=-2.0,
                     idf_coverage=1.0, context_coverage=1.0, chunk_coverage=0.0, missing_rare=-1.0)
        return cls(tuple(ranker[f] for f in FEATURES), -4.0, tuple(calib[f] for f in CALIBRATION_FEATURES), -6.0)


_TYPE_MATCH = FEATURES.index("type_match")

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
                 reader: Callable[[], "Reader | None"] | None = None, spans: SpanModel | None = None,
                 extractor: Callable[[], "Extractor | OnnxExtractor | None"] | None = None):
        self.store = as_store(index)
        self.model = model or AnswerModel.load()
        self.threshold = threshold
        self._reader = reader  # called on first need: the reader loads only if it is ever used
        self._extractor = extractor  # likewise: narrows the answers of questions that ask for no date/number/name
        self.spans = spans or SpanModel.load()
        self._w = np.asarray(self.model.ranker, dtype=np.float32)

    def sentence_scores(self, r: Retrieval) -> np.ndarray:
        return r.features @ self._w + self.model.ranker_bias

    def reread(self, r: Retrieval, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Scores after the reader re-reads the closest candidates, and its logits (None if it did not run).

        The re-read sentences keep the ranker's best score at the top, so the scale stays the ranker's.
        """
        m = self.model
        if self._reader is None or m.reader_candidates < 2 or len(scores) < 2:
            return scores, None
        order = np.argsort(-scores, kind="stable")
        # The ranker is in doubt when its best two are close, or when its best sentence lacks the
        # date/number/name the question asks for, however far ahead it is: then the reader re-reads.
        lacks_type = r.qtype is not None and r.features[order[0], _TYPE_MATCH] < 1.0
        if scores[order[0]] - scores[order[1]] >= m.reader_margin and not lacks_type:
            return scores, None
        reader = self._reader()
        if reader is None:
            return scores, None
        top = order[:m.reader_candidates]
        logits = reader.score(r.question, self.store.sentence_texts([int(r.sentence_rows[i]) for i in top]))
        combined = scores[top] + m.reader_weight * logits
        out = scores.copy()
        out[top] = combined + (scores[order[0]] - combined.max())
        return out, logits

    def calibration_features(self, r: Retrieval, scores: np.ndarray) -> np.ndarray:
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

    def answer(self, r: Retrieval, threshold: float | None = None) -> Answer:
        threshold = self.threshold if threshold is None else threshold
        if len(r.sentence_rows) == 0:
            return Answer(r.question, None, True, 0.0, (), r.passages, reason="the index holds no passages")
        ranked = self.sentence_scores(r)
        calib = self.calibration_features(r, ranked)
        conf = self.confidence(calib)
        # The reader only re-reads questions that will be answered.
        scores, logits = self.reread(r, ranked) if conf >= threshold else (ranked, None)
        order = np.argsort(-scores, kind="stable")
        if logits is not None and order[0] != int(np.argmax(ranked)):
            # The reader chose another sentence: the confidence is that sentence's, not the one it displaced.
            calib = self.calibration_features(r, scores)
            conf = self.confidence(calib)
        explain = {"question_type": r.qtype, "threshold": threshold,
                   "calibration": dict(zip(CALIBRATION_FEATURES, map(float, calib))),
                   "top_sentences": [self._explain_row(r, scores, int(i)) for i in order[:5]],
                   "reader": None if logits is None else [round(float(x), 4) for x in logits]}
        if conf < threshold:
            return Answer(r.question, None, True, conf, (), r.passages, explain=explain,
                          reason=f"confidence {percent(conf)} is below the threshold {percent(threshold)}")
        citations = self._citations(r, scores, order)
        first = citations[0]
        note = None
        sentence = tuple(int(x) for x in self.store.sentences(r.sentence_rows[order[:1]]).span[0])
        if r.qtype in _WANTED and (first.answer_start, first.answer_end) == sentence:
            note = f"No {_WANTED[r.qtype]} in this passage fits the question, so the whole sentence is shown."
        return Answer(r.question, first.quote[first.answer_start - first.start:first.answer_end - first.start],
                      False, conf, tuple(citations), r.passages, explain=explain, note=note)

    def _extract(self, question: str, sentence: str) -> tuple[int, int]:
        """The extractor's span of ``sentence`` when it is sure enough of it, else the whole sentence."""
        extractor = self._extractor() if self._extractor is not None else None
        if extractor is None:
            return 0, len(sentence)
        span = extractor.spans(question, [sentence])[0]
        if span is None or span.margin < extractor.min_margin or not sentence[span.start:span.end].strip():
            return 0, len(sentence)
        return span.start, span.end

    def _explain_row(self, r: Retrieval, scores: np.ndarray, i: int) -> dict:
        row = self.store.sentences(r.sentence_rows[i:i + 1])
        d = int(row.doc[0])
        s, e = (int(x) for x in row.span[0])
        return {"source": self.store.document(d).id, "start": s, "end": e, "score": float(scores[i]),
                "features": {k: round(float(v), 4) for k, v in zip(FEATURES, r.features[i])}}

    def _citations(self, r: Retrieval, scores: np.ndarray, order: np.ndarray) -> list[Citation]:
        st = self.store
        best = int(order[0])
        row = int(r.sentence_rows[best])
        info = st.sentences(r.sentence_rows)  # doc and span of every candidate, in one call
        d = int(info.doc[best])
        doc = st.document(d)
        text = doc.text
        s, e = (int(x) for x in info.span[best])
        if r.qtype is None:  # no date, number or name asked for: typed narrowing has nothing to pick
            a0, a1 = self._extract(r.question, text[s:e])
        else:
            a0, a1 = narrow(r.qtype, r.question, text[s:e], functools.partial(st.lowercase_words, d), self.spans)
        qs, qe = s, e
        # Join an adjacent sentence of the same passage when it is nearly as likely to hold the answer.
        pos = {int(x): i for i, x in enumerate(r.sentence_rows)}
        prev, nxt = st.neighbours(np.array([row]))
        near = [(scores[j], j) for nb in (int(prev[0]), int(nxt[0])) for j in [pos.get(nb)]
                if nb >= 0 and j is not None and scores[best] - scores[j] < self.model.join_margin]
        if near:  # the likelier of the two neighbours (on a tie, the later one)
            j = max(near, key=lambda x: (x[0], int(r.sentence_rows[x[1]])))[1]
            ns, ne = (int(x) for x in info.span[j])
            qs, qe = min(qs, ns), max(qe, ne)
        page = doc.page(qs)
        cites = [Citation(doc.id, doc.title, qs, qe, text[qs:qe], s + a0, s + a1,
                          sigmoid(float(scores[best])), cite_url(doc.meta.get("url"), text[qs:qe], page, text, qs), page)]
        # Supporting citations: the best sentence of other passages that score close to the answer.
        used = {(d, qs, qe)}
        for i in order[1:]:
            if len(cites) >= 3 or scores[best] - scores[i] > 1.0:
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
