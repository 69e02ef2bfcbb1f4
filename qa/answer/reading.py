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

from qa.index.store import Index
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
    """A window of document ``doc`` (``text[start:end]``, sentence rows ``[first, last)``) around candidate
    ``candidate`` (a position in ``Retrieval.sentence_rows``), and what the reader made of it."""

    candidate: int
    doc: int
    start: int
    end: int
    first: int
    last: int
    reading: Reading

    @property
    def span(self) -> tuple[int, int] | None:
        """The answer span in document offsets, or None when the reader found no token to mark."""
        if self.reading.start is None or self.reading.end is None:
            return None
        return self.start + self.reading.start, self.start + self.reading.end

    def covers(self, row: int) -> bool:
        return self.first <= row < self.last


class WindowReader:
    """Builds windows over one loaded :class:`Index` and reads them with a :class:`Reader`."""

    def __init__(self, index: Index, reader: Reader, settings: dict[str, float] | None = None):
        self.index = index
        self.reader = reader
        self.settings = {**DEFAULT_SETTINGS, **(settings or {})}
        self._counts: OrderedDict[int, int] = OrderedDict()
        self._lock = threading.Lock()

    def counts(self, rows: Sequence[int]) -> list[int]:
        """Word pieces of each sentence row (counted once, kept in a bounded cache)."""
        with self._lock:
            missing = [r for r in rows if r not in self._counts]
        if missing:
            found = self.reader.tokenizer.counts([self.index.sentence_text(r) for r in missing])
            with self._lock:
                self._counts.update(zip(missing, found))
                while len(self._counts) > COUNT_CACHE:
                    self._counts.popitem(last=False)
        with self._lock:
            return [self._counts[r] for r in rows]

    def window(self, row: int, budget: int) -> tuple[int, int]:
        """Sentence rows ``[first, last)`` of the window around ``row``: its document's sentences only."""
        idx = self.index
        d = idx.sent_doc[row]
        lo, hi = row, row + 1
        reach = 8  # sentences looked at on each side: more never fit a reader's budget
        while lo > 0 and row - lo < reach and idx.sent_doc[lo - 1] == d:
            lo -= 1
        while hi < len(idx.sent_doc) and hi - row <= reach and idx.sent_doc[hi] == d:
            hi += 1
        rows = list(range(lo, hi))
        first, last = window(self.counts(rows), row - lo, budget)
        return lo + first, lo + last

    def read(self, question: str, candidates: Sequence[int], sentence_rows: np.ndarray, tokens: int,
             done: Sequence[WindowReading] = (), limit: int | None = None) -> list[WindowReading]:
        """Read a window around each candidate (positions in ``sentence_rows``) not inside a window already
        read, at most ``limit`` windows; one batch through the reader."""
        idx = self.index
        qtokens = self.reader.tokenizer.counts([question])[0]
        budget = context_budget(qtokens, tokens)
        plans: list[tuple[int, int, int]] = []
        for c in candidates:
            if limit is not None and len(plans) >= limit:
                break
            row = int(sentence_rows[c])
            if any(w.covers(row) for w in done) or any(f <= row < la for _, f, la in plans):
                continue
            first, last = self.window(row, budget)
            plans.append((c, first, last))
        if not plans:
            return []
        spans = []
        for _, first, last in plans:
            d = int(idx.sent_doc[first])
            spans.append((d, int(idx.sent_span[first][0]), int(idx.sent_span[last - 1][1])))
        readings = self.reader.read(question, [idx.texts[d][s:e] for d, s, e in spans])
        out = [WindowReading(c, d, s, e, first, last, rd)
               for (c, first, last), (d, s, e), rd in zip(plans, spans, readings)]
        return [self.anchored(question, w) for w in out]

    def anchored(self, question: str, w: WindowReading) -> WindowReading:
        """``w``, or the reading of the one sentence of its window that holds the question's numbers when the
        span lies in a sentence lacking one of them (in a run of alike sentences, "record 24000" names one)."""
        numbers = {n.replace(",", "") for n in _NUMBER.findall(question)}
        span = w.span
        if not numbers or span is None:
            return w
        idx = self.index
        held = {row: {n.replace(",", "") for n in _NUMBER.findall(idx.sentence_text(row))}
                for row in range(w.first, w.last)}
        named = numbers & set().union(*held.values())
        at = next((row for row in range(w.first, w.last) if idx.sent_span[row][0] <= span[0] < idx.sent_span[row][1]),
                  None)
        if not named or at is None or named <= held[at]:
            return w
        rows = [row for row in range(w.first, w.last) if named <= held[row]]
        if not rows:
            return w
        row = min(rows, key=lambda r: abs(r - at))
        d, (s, e) = int(idx.sent_doc[row]), (int(x) for x in idx.sent_span[row])
        rd = self.reader.read(question, [idx.texts[d][s:e]])[0]
        return WindowReading(w.candidate, d, s, e, row, row + 1, rd)

    def best(self, readings: Sequence[WindowReading], ranked: np.ndarray) -> WindowReading | None:
        """The window whose span is likeliest the answer: the reader's answerability and span margin,
        with the ranker's score of the window's sentence as a tie-breaker of weight ``ranker_weight``."""
        s = self.settings
        usable = [w for w in readings if w.span is not None]
        if not usable:
            return None
        return max(usable, key=lambda w: w.reading.answer + s["margin_weight"] * w.reading.margin
                   + s["ranker_weight"] * float(ranked[w.candidate]))
