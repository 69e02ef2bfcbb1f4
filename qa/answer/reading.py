"""Reading the best candidates: windows of the index around candidate sentences, read by the span reader.

The ranker orders the candidate sentences; the reader reads a window around the best one (the
sentence with its neighbours, within a token budget) and, when the ranker is unsure or the reader
finds no answer there, windows around the next candidates too. Windows never overlap: a candidate
already inside a read window is not read again. Every span is mapped back to document offsets.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from qa.index.interface import Store
from qa.models.reader import Reader, Reading, context_budget, window

# A number as the question writes it ("24000", "1,500", "3.5"): it names which of several alike sentences is meant.
_NUMBER = re.compile(r"(?<![\w.,])\d+(?:[.,]\d+)*(?![\w])")

COUNT_CACHE = 65_536  # sentences whose word-piece count is kept (a few MB at most)

# How the reader reads when its calibration says nothing else (the shipped reader's file does).
DEFAULT_SETTINGS = {
    "first_tokens": 64.0,   # the first window: question + window, in word pieces
    "more_tokens": 64.0,    # each further window
    "more_windows": 2.0,    # further windows read when in doubt
    "doubt_margin": 1.0,    # in doubt when the ranker's best two sentences are closer than this ...
    "doubt_answer": 0.0,    # ... or the first window's answerability logit is below this
    "ranker_weight": 0.5,   # the window read best: answer + margin_weight * margin + ranker_weight * ranker score
    "margin_weight": 0.25,
}


@dataclass(frozen=True)
class WindowReading:
    """A window of document ``doc`` (``text[start:end]``, sentence ids ``rows`` in text order) around
    candidate ``candidate`` (a position in ``Retrieval.sentence_rows``), and what the reader made of it."""

    candidate: int
    doc: int
    start: int
    end: int
    rows: tuple[int, ...]
    reading: Reading

    @property
    def span(self) -> tuple[int, int] | None:
        """The answer span in document offsets, or None when the reader found no token to mark."""
        if self.reading.start is None or self.reading.end is None:
            return None
        return self.start + self.reading.start, self.start + self.reading.end

    def covers(self, row: int) -> bool:
        return row in self.rows


class WindowReader:
    """Builds windows over one :class:`Store` and reads them with a :class:`Reader`."""

    def __init__(self, store: Store, reader: Reader, settings: dict[str, float] | None = None):
        self.store = store
        self.reader = reader
        self.settings = {**DEFAULT_SETTINGS, **(settings or {})}
        self._counts: OrderedDict[int, int] = OrderedDict()
        self._lock = threading.Lock()

    def counts(self, rows: Sequence[int]) -> list[int]:
        """Word pieces of each sentence (counted once, kept in a bounded cache)."""
        with self._lock:
            missing = [r for r in rows if r not in self._counts]
        if missing:
            found = self.reader.tokenizer.counts(self.store.sentence_texts(missing))
            with self._lock:
                self._counts.update(zip(missing, found))
                while len(self._counts) > COUNT_CACHE:
                    self._counts.popitem(last=False)
        with self._lock:
            return [self._counts[r] for r in rows]

    def window(self, row: int, budget: int) -> tuple[int, ...]:
        """Sentence ids of the window around ``row``, in text order: its document's sentences only."""
        reach = 8  # sentences looked at on each side: more never fit a reader's budget
        before, after = [], []
        at = np.array([row], dtype=np.int64)
        for _ in range(reach):
            prev = int(self.store.neighbours(at)[0][0])
            if prev < 0:
                break
            before.append(prev)
            at = np.array([prev], dtype=np.int64)
        at = np.array([row], dtype=np.int64)
        for _ in range(reach):
            nxt = int(self.store.neighbours(at)[1][0])
            if nxt < 0:
                break
            after.append(nxt)
            at = np.array([nxt], dtype=np.int64)
        rows = before[::-1] + [row] + after
        first, last = window(self.counts(rows), len(before), budget)
        return tuple(rows[first:last])

    def _text(self, rows: Sequence[int]) -> tuple[int, int, int, str]:
        """(document, start, end, text) of the sentences ``rows`` (consecutive, one document)."""
        info = self.store.sentences(np.asarray(rows, dtype=np.int64))
        d, s, e = int(info.doc[0]), int(info.span[0][0]), int(info.span[-1][1])
        return d, s, e, self.store.document(d).text[s:e]

    def read(self, question: str, candidates: Sequence[int], sentence_rows: np.ndarray, tokens: int,
             done: Sequence[WindowReading] = (), limit: int | None = None) -> list[WindowReading]:
        """Read a window around each candidate (positions in ``sentence_rows``) not inside a window already
        read, at most ``limit`` windows; one batch through the reader."""
        qtokens = self.reader.tokenizer.counts([question])[0]
        budget = context_budget(qtokens, tokens)
        plans: list[tuple[int, tuple[int, ...]]] = []
        for c in candidates:
            if limit is not None and len(plans) >= limit:
                break
            row = int(sentence_rows[c])
            if any(w.covers(row) for w in done) or any(row in rows for _, rows in plans):
                continue
            plans.append((c, self.window(row, budget)))
        if not plans:
            return []
        spans = [self._text(rows) for _, rows in plans]
        readings = self.reader.read(question, [text for *_, text in spans])
        out = [WindowReading(c, d, s, e, rows, rd) for (c, rows), (d, s, e, _), rd in zip(plans, spans, readings)]
        return [self.anchored(question, w) for w in out]

    def anchored(self, question: str, w: WindowReading) -> WindowReading:
        """``w``, or the reading of the one sentence of its window that holds the question's numbers when the
        span lies in a sentence lacking one of them (in a run of alike sentences, "record 24000" names one)."""
        numbers = {n.replace(",", "") for n in _NUMBER.findall(question)}
        span = w.span
        if not numbers or span is None:
            return w
        texts = self.store.sentence_texts(list(w.rows))
        held = {row: {n.replace(",", "") for n in _NUMBER.findall(t)} for row, t in zip(w.rows, texts)}
        named = numbers & set().union(*held.values())
        info = self.store.sentences(np.asarray(w.rows, dtype=np.int64))
        at = next((row for row, (s, e) in zip(w.rows, info.span) if s <= span[0] < e), None)
        if not named or at is None or named <= held[at]:
            return w
        rows = [row for row in w.rows if named <= held[row]]
        if not rows:
            return w
        row = min(rows, key=lambda r: abs(w.rows.index(r) - w.rows.index(at)))
        d, s, e, text = self._text([row])
        rd = self.reader.read(question, [text])[0]
        return WindowReading(w.candidate, d, s, e, (row,), rd)

    def best(self, readings: Sequence[WindowReading], ranked: np.ndarray) -> WindowReading | None:
        """The window whose span is likeliest the answer: the reader's answerability and span margin,
        with the ranker's score of the window's sentence as a tie-breaker of weight ``ranker_weight``."""
        s = self.settings
        usable = [w for w in readings if w.span is not None]
        if not usable:
            return None
        return max(usable, key=lambda w: w.reading.answer + s["margin_weight"] * w.reading.margin
                   + s["ranker_weight"] * float(ranked[w.candidate]))
