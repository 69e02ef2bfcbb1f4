"""Which of a sentence's typed spans answers the question: a small linear scorer over the candidates.

``answer_types.answer_spans`` proposes the dates, numbers or names that could answer; this stage
describes each by where it sits relative to the question's words (how near, on which side, in
the same clause, ...) and picks the best by per-type weights that ``bench/train_spans.py`` fits on
SQuAD *train*. Until a fitted ``spans.json`` exists, the nearest span of the preferred kind wins.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from qa.text.types import DISTANCE, NUMBER, PERCENT, preferred, quantity_kind
from qa.models.calibration import check_names, weights_by_name
from qa.text.words import tokenize

WEIGHTS_FILE = Path(__file__).resolve().parents[1] / "data" / "spans.json"

SPAN_FEATURES = ("preferred", "preferred_explicit", "distance", "near3", "near8", "left2", "right2",
                 "same_clause", "after_terms", "subject_after", "first", "last", "words", "in_parens",
                 "has_year", "preposition_before", "sentence_start", "unique_near5", "focus_near3",
                 "head_in_span")

_WORD = re.compile(r"\w[\w'’\-]*")
_CLAUSE_BREAK = re.compile(r"[,;:()\[\]–—]| - ")
_PREPOSITION = frozenset("in on at by from to of since until during for with as after before under".split())
_YEARISH = re.compile(r"\b\d{3,4}\b")


# The hand-set weights: the preferred kind first, then the nearest to the question's words.
_NEAREST_PREFERRED = tuple(8.0 if f == "preferred" else -1.0 if f == "distance" else 0.0 for f in SPAN_FEATURES)


@dataclass(frozen=True)
class SpanModel:
    """Per answer type, one weight per :data:`SPAN_FEATURES`."""

    weights: dict[str, tuple[float, ...]]

    @classmethod
    def load(cls, path: Path = WEIGHTS_FILE) -> "SpanModel":
        return _load(str(path))

    @classmethod
    def default(cls) -> "SpanModel":
        """Hand-set: the preferred kind first, then the nearest to the question's words."""
        return cls({"*": _NEAREST_PREFERRED})

    def choose(self, qtype: str | None, question: str, sentence: str,
               spans: list[tuple[int, int]]) -> tuple[int, int]:
        """The best of ``spans`` (offsets into ``sentence``; at least one)."""
        if qtype == NUMBER and quantity_kind(question) == PERCENT:
            # Asked for a percentage, a percentage answers (96% of such SQuAD train questions whose
            # sentence also holds other numbers): the other numbers do not compete.
            spans = [sp for sp in spans if preferred(qtype, question, sentence, sp)] or spans
        if len(spans) == 1:
            return spans[0]
        w = np.asarray(self.weights.get(qtype or "") or self.weights.get("*") or _NEAREST_PREFERRED)
        scores = span_features(qtype, question, sentence, spans) @ w
        return spans[int(np.argmax(scores))]  # ties: the earlier span


@lru_cache(maxsize=4)
def _load(path: str) -> SpanModel:
    p = Path(path)
    if not p.is_file():
        return SpanModel.default()
    data = json.loads(p.read_text(encoding="utf-8"))
    names, refit = data["features"], "bench/train_spans.py"
    check_names(names, SPAN_FEATURES, p, refit)  # even a file with no weights must name today's features
    return SpanModel({k: weights_by_name(names, v, SPAN_FEATURES, p, refit) for k, v in data["weights"].items()})


def _subject_question(question: str) -> bool:
    """"Who wrote X?" asks for the subject; "Whom did X meet?", "What share did X take?" ask for something else."""
    m = re.match(r"\s*(?:who|what|which)\b((?:\s+\w+){1,3})", question, re.IGNORECASE)  # "In which ..." is not
    return bool(m) and not any(w.lower() in ("did", "does", "do") for w in m.group(1).split())


def _focus(question: str) -> set[str]:
    """The stemmed first content word after the question word ("wrote" in "Who wrote ...?")."""
    m = re.search(r"\b(?:who|whom|whose|when|where|which|what|how (?:many|much|long|far|old))\b\s+(.*)",
                  question, re.IGNORECASE)
    for w in _WORD.findall(m.group(1) if m else ""):
        toks = tokenize(w)
        if toks:
            return set(toks)
    return set()


def _head(question: str) -> set[str]:
    """The stemmed noun a "which/what X" question asks for ("sea" in "In which sea is ...?")."""
    m = re.search(r"\b(?:which|what)\s+(\w+)", question, re.IGNORECASE)
    return set(tokenize(m.group(1))) if m else set()


def span_features(qtype: str | None, question: str, sentence: str,
                  spans: list[tuple[int, int]]) -> np.ndarray:
    """One row of :data:`SPAN_FEATURES` per span."""
    qterms = set(tokenize(question))
    words = [(m.start(), m.end(), set(tokenize(m.group()))) for m in _WORD.finditer(sentence)]
    clause = [len(_CLAUSE_BREAK.findall(sentence, 0, s)) for s, _, _ in words]
    subject = _subject_question(question)
    # A question that names its unit ("what percentage", "how far") is sure of the kind it wants.
    explicit = quantity_kind(question) in (PERCENT, DISTANCE)
    focus = _focus(question)
    head = _head(question)
    counts: dict[str, int] = {}
    for _, _, toks in words:
        for t in toks & qterms:
            counts[t] = counts.get(t, 0) + 1
    unique = {t for t, c in counts.items() if c == 1}
    rows = []
    for rank, (s, e) in enumerate(spans):
        inside = [i for i, (ws, we, _) in enumerate(words) if ws >= s and we <= e]
        if not inside and words:  # a span inside a word: the word nearest its start
            inside = [min(range(len(words)), key=lambda i: abs(words[i][0] - s))]
        i0, i1 = (inside[0], inside[-1]) if inside else (0, 0)
        # the words outside the span holding question terms, and each term's nearest occurrence
        # (signed distance in words: > 0 after the span, < 0 before it)
        matched = [i for i, (_, _, toks) in enumerate(words) if not i0 <= i <= i1 and toks & qterms]
        nearest: dict[str, int] = {}
        for i in matched:
            d = i - i1 if i > i1 else i - i0
            for t in words[i][2] & qterms:
                if t not in nearest or abs(d) < abs(nearest[t]):
                    nearest[t] = d
        n = len(nearest)
        dist = [abs(d) for d in nearest.values()]
        after = sum(d > 0 for d in nearest.values()) / n if n else 0.0
        b = i0 - 1
        while b > 0 and sentence[words[b][0]:words[b][1]].lower() in ("the", "a", "an"):
            b -= 1  # "in the Sea of Japan": the preposition before the article
        before_word = sentence[words[b][0]:words[b][1]].lower() if b >= 0 and words else ""
        span_words = set().union(*(words[i][2] for i in range(i0, i1 + 1))) if words else set()
        kind_ok = float(preferred(qtype, question, sentence, (s, e)))
        values = {
            "preferred": kind_ok,
            "preferred_explicit": kind_ok * explicit,
            "distance": math.log1p(sum(dist) / n) if n else math.log1p(len(words)),
            "near3": sum(x <= 3 for x in dist) / n if n else 0.0,
            "near8": sum(x <= 8 for x in dist) / n if n else 0.0,
            "left2": float(any(-2 <= d < 0 for d in nearest.values())),
            "right2": float(any(0 < d <= 2 for d in nearest.values())),
            "same_clause": sum(clause[i] == clause[i0] for i in matched) / max(1, len(matched)),
            "after_terms": after,
            "subject_after": after if subject else 0.0,
            "first": float(rank == 0),
            "last": float(rank == len(spans) - 1),
            "words": math.log1p(i1 - i0 + 1),
            "in_parens": float(sentence.count("(", 0, s) > sentence.count(")", 0, s)),
            "has_year": float(bool(_YEARISH.search(sentence[s:e]))),
            "preposition_before": float(before_word in _PREPOSITION),
            "sentence_start": float(i0 == 0),
            "unique_near5": sum(abs(d) <= 5 for t, d in nearest.items() if t in unique) / max(1, len(unique)),
            "focus_near3": float(any(abs(d) <= 3 for t, d in nearest.items() if t in focus)),
            "head_in_span": float(bool(head & span_words)),
        }
        rows.append([values[f] for f in SPAN_FEATURES])
    return np.asarray(rows, dtype=np.float64)
