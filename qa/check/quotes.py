"""Quote verification: is a quote verbatim in the sources, and if not, what is closest and what differs?

Quote and documents are compared normalised (:mod:`qa.text.normal`: case, whitespace runs, curly and
straight quotes, dashes, composed accents), but every offset returned points into the *original*
document text. Over an index (:class:`QuoteSearch`) the cost is bounded by design, not by luck:

1. verbatim: the quote is searched in the normalised texts kept with the index (a C-speed scan in
   slices of a megabyte), and a hit is mapped back from the nearest checkpoint;
2. otherwise the candidates: BM25 over the index's sentences with the quote's rarest words (a
   misspelt word stands for its closest indexed word), summed over as many consecutive sentences
   as the quote spans, so the place where most of the quote's words sit together comes first;
3. alignment only there: a window around each of a few candidates is normalised and aligned with
   rapidfuzz (character by character for short quotes, word by word for long ones, then widened to
   whole words and scored by character), the best passage diffed word by word (difflib opcodes).

A time budget (``limits.quote_seconds``) bounds the whole: when it runs out, the answer is the best
found so far, marked ``complete: false``.
"""

from __future__ import annotations

import difflib
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

import numpy as np
from rapidfuzz import fuzz, process

from qa.ingest.sentences import split_sentences
from qa.text.normal import Normalised, normalise
from qa.text.words import tokenize

if TYPE_CHECKING:
    from qa.index.store import Index

__all__ = ["VERBATIM", "DIFFERS", "NOT_FOUND", "Normalised", "normalise", "WordDiff", "QuoteCheck", "word_diffs",
           "check_quote", "QuoteSearch"]

VERBATIM, DIFFERS, NOT_FOUND = "verbatim", "differs", "not_found"
MIN_SCORE = 0.5        # below this similarity no passage is reported as the closest
CHAR_ALIGN_MAX = 200   # longer quotes are aligned word by word first (character alignment grows with length squared)
SLICE = 1 << 20        # normalised characters searched per call: the GIL is let go between slices
RAREST = 16            # the quote's words looked up in BM25 (the rarest ones say the most)
CANDIDATES = 8         # places aligned with the quote


@dataclass(frozen=True)
class WordDiff:
    """One difference between the quote and the passage: ``op`` is replace, delete (quote only) or insert."""

    op: str
    quote_start: int
    quote_end: int
    quote_text: str
    source_start: int
    source_end: int
    source_text: str

    def to_dict(self) -> dict:
        return {"op": self.op, "quote_text": self.quote_text, "quote_start": self.quote_start,
                "quote_end": self.quote_end, "source_text": self.source_text,
                "source_start": self.source_start, "source_end": self.source_end}


@dataclass(frozen=True)
class QuoteCheck:
    """The result of :meth:`Pipeline.check_quote`; ``passage == document_text[start:end]``."""

    quote: str
    status: str
    score: float
    source: str | None = None
    title: str | None = None
    start: int | None = None
    end: int | None = None
    passage: str | None = None
    diffs: tuple[WordDiff, ...] = ()
    complete: bool = True  # False: the time budget ran out first; this is the best found until then

    def __post_init__(self) -> None:
        if self.status not in (VERBATIM, DIFFERS, NOT_FOUND):
            raise ValueError(f"unknown status {self.status!r}")
        if not 0.0 <= self.score <= 1.0:
            raise ValueError("score must be in [0, 1]")
        if (self.passage is None) != (self.status == NOT_FOUND):
            raise ValueError("a passage is given exactly when the quote was found or approximated")
        if self.passage is not None and (self.start is None or self.end is None
                                         or len(self.passage) != self.end - self.start):
            raise ValueError("passage must be document_text[start:end]")
        if self.status == VERBATIM and self.diffs:
            raise ValueError("a verbatim quote has no differences")
        for d in self.diffs:
            if self.quote[d.quote_start:d.quote_end] != d.quote_text:
                raise ValueError("WordDiff.quote_text must be quote[quote_start:quote_end]")

    def to_dict(self) -> dict:
        return {"quote": self.quote, "status": self.status, "score": round(self.score, 4),
                "source": self.source, "title": self.title, "start": self.start, "end": self.end,
                "passage": self.passage, "diffs": [d.to_dict() for d in self.diffs], "complete": self.complete}


_WORD = re.compile(r"\S+")


def _word_key(word: str) -> str:
    """A word as compared: normalised, without the punctuation around it ("2007," == "2007")."""
    norm = normalise(word).text
    return norm.strip(".,;:!?()[]{}\"'") or norm


def word_diffs(quote: str, text: str, start: int, end: int) -> list[WordDiff]:
    """Word-level differences between ``quote`` and ``text[start:end]`` (offsets into each).

    Words are compared normalised and without surrounding punctuation (with it, when only
    punctuation differs: "2007, then" against "2007 then"); an ``insert`` has an empty quote side,
    a ``delete`` an empty source side, each placed where the words would go.
    """
    qt = [(m.start(), m.end()) for m in _WORD.finditer(quote)]
    st = [(m.start(), m.end()) for m in _WORD.finditer(text, start, end)]
    out = _diffs(quote, text, start, qt, st, _word_key)
    return out or _diffs(quote, text, start, qt, st, lambda w: normalise(w).text)


def _diffs(quote: str, text: str, start: int, qt, st, key) -> list[WordDiff]:
    qn = [key(quote[a:b]) for a, b in qt]
    sn = [key(text[a:b]) for a, b in st]
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, qn, sn, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        qa_, qb = (qt[i1][0], qt[i2 - 1][1]) if i2 > i1 else ((qt[i1 - 1][1] if i1 else 0),) * 2
        sa, sb = (st[j1][0], st[j2 - 1][1]) if j2 > j1 else ((st[j1 - 1][1] if j1 else start),) * 2
        out.append(WordDiff(op, qa_, qb, quote[qa_:qb], sa, sb, text[sa:sb]))
    return out


def _pattern(nq: str) -> re.Pattern:
    """``nq`` not inside a longer word: the checks after the literal, so the regex engine scans for the
    literal at C speed (a check before it would be tried at every position, 10x slower)."""
    e = re.escape(nq)
    return re.compile(e + (rf"(?<![^\W_]{e})" if nq[0].isalnum() else "") + (r"(?![^\W_])" if nq[-1].isalnum() else ""))


def _hits(pattern: re.Pattern, nq: str, text: str, deadline: float) -> Iterator[int]:
    """Start of each match of ``pattern`` in ``text`` that starts and ends on a word boundary, in order;
    stops (raising :class:`_OutOfTime`) when ``deadline`` passes."""
    n = len(nq)
    for lo in range(0, len(text), SLICE):
        if time.monotonic() > deadline:
            raise _OutOfTime
        for m in pattern.finditer(text, lo, min(len(text), lo + SLICE + n)):
            a = m.start()
            if a >= lo + SLICE:
                break  # the next slice finds it
            if not (m.end() < len(text) and text[m.end() - 1].isalnum() and text[m.end()].isalnum()):
                yield a  # (the slice's end hid what follows: checked here)


class _OutOfTime(Exception):
    pass


def _closest(nq: str, norm: str) -> tuple[float, int, int]:
    """Best whole-word window of ``norm`` for ``nq``: ``(similarity 0..1, start, end)`` in ``norm``."""
    words = [(m.start(), m.end()) for m in re.finditer(r"[^ ]+", norm)]
    if not words:
        return 0.0, 0, 0
    if len(nq) <= CHAR_ALIGN_MAX:
        al = fuzz.partial_ratio_alignment(nq, norm)
        if al is None or al.dest_end <= al.dest_start:
            return 0.0, 0, 0
        lo, hi = al.dest_start, al.dest_end
    else:  # one character per distinct word: the alignment is then over words, hundreds of times cheaper
        codes: dict[str, int] = {}
        q = "".join(chr(0x10000 + codes.setdefault(w, len(codes))) for w in nq.split(" "))
        d = "".join(chr(0x10000 + codes.setdefault(norm[a:b], len(codes))) for a, b in words)
        al = fuzz.partial_ratio_alignment(q, d)
        if al is None or al.dest_end <= al.dest_start:
            return 0.0, 0, 0
        lo, hi = words[al.dest_start][0], words[al.dest_end - 1][1]
    first = next(i for i, (_, e) in enumerate(words) if e > lo)
    last = max(i for i, (s, _) in enumerate(words) if s < hi)
    best = (-1.0, 0, 0)
    # Words added or dropped in the quote make the true passage longer or shorter: try a few.
    for i in range(max(0, first - 3), min(len(words), first + 4)):
        for j in range(max(i, last - 3), min(len(words), last + 4)):
            r = fuzz.ratio(nq, norm[words[i][0]:words[j][1]])
            if r > best[0]:
                best = (r, words[i][0], words[j][1])
    return best[0] / 100.0, best[1], best[2]


def _differs(quote: str, best: tuple[float, str, str, str, int, int] | None, complete: bool) -> QuoteCheck:
    if best is None or best[0] < MIN_SCORE:
        return QuoteCheck(quote, NOT_FOUND, best[0] if best else 0.0, complete=complete)
    score, doc_id, title, text, s, e = best
    return QuoteCheck(quote, DIFFERS, score, doc_id, title, s, e, text[s:e], tuple(word_diffs(quote, text, s, e)),
                      complete=complete)


def check_quote(quote: str, documents: Iterable[tuple[str, str, str]]) -> QuoteCheck:
    """Find ``quote`` in ``documents`` (``(id, title, text)``): verbatim, else the closest passage.

    Every document is normalised and aligned whole: for a handful of texts. Over an index, use
    :class:`QuoteSearch`, whose cost does not grow with the corpus.
    """
    nq = normalise(quote).text
    if not nq:
        raise ValueError("quote is empty")
    pattern = _pattern(nq)
    best: tuple[float, str, str, str, int, int] | None = None
    for doc_id, title, text in documents:
        nd = normalise(text)
        for a in _hits(pattern, nq, nd.text, float("inf")):
            if nd.whole(a, a + len(nq)):  # "se" is not in "Straße" ("strasse"), nor "910" in "1910"
                s, e = nd.span(a, a + len(nq))
                return QuoteCheck(quote, VERBATIM, 1.0, doc_id, title, s, e, text[s:e])
        score, a, b = _closest(nq, nd.text)
        if b > a and (best is None or score > best[0]):
            s, e = nd.span(a, b)
            best = (score, doc_id, title, text, s, e)
    return _differs(quote, best, True)


class QuoteSearch:
    """Quote checks over one loaded :class:`~qa.index.store.Index`, within a time budget (see the module)."""

    def __init__(self, index: "Index"):
        self.index = index

    def check(self, quote: str, docs: Sequence[int] | None = None, seconds: float = 1.5) -> QuoteCheck:
        """``quote`` in the documents at positions ``docs`` (default: all): verbatim, else the closest passage."""
        deadline = time.monotonic() + seconds
        nq = normalise(quote).text
        if not nq:
            raise ValueError("quote is empty")
        idx = self.index
        docs = range(len(idx.doc_ids)) if docs is None else docs
        best = None
        try:
            found = self._verbatim(quote, nq, docs, deadline)
            if found is not None:
                return found
            for d, ws, we in self._candidates(quote, docs):
                if time.monotonic() > deadline:
                    raise _OutOfTime
                text = idx.texts[d]
                local = normalise(text, ws, we, final=we == len(text))
                score, a, b = _closest(nq, local.text)
                if b > a and (best is None or score > best[0]):
                    s, e = local.span(a, b)
                    best = (score, idx.doc_ids[d], idx.titles[d], text, ws + s, ws + e)
                    if score == 1.0:
                        break
        except _OutOfTime:
            return _differs(quote, best, False)
        return _differs(quote, best, True)

    def _verbatim(self, quote: str, nq: str, docs: Sequence[int], deadline: float) -> QuoteCheck | None:
        idx = self.index
        normalised = idx.normalised
        pattern = _pattern(nq)
        for d in docs:
            for a in _hits(pattern, nq, normalised.texts[d], deadline):
                part, p0, o0 = normalised.window(d, idx.texts[d], a, a + len(nq))
                if part.whole(a - p0, a - p0 + len(nq)):
                    s, e = part.span(a - p0, a - p0 + len(nq))
                    text = idx.texts[d]
                    return QuoteCheck(quote, VERBATIM, 1.0, idx.doc_ids[d], idx.titles[d], o0 + s, o0 + e,
                                      text[o0 + s:o0 + e])
        return None

    def _candidates(self, quote: str, docs: Sequence[int]) -> list[tuple[int, int, int]]:
        """Up to ``CANDIDATES`` windows ``(doc, start, end)`` of the original texts, the likeliest first."""
        idx = self.index
        n_rows = len(idx.sent_doc)
        terms = self._terms(quote)
        if not terms or not n_rows:
            return []
        scores = idx.bm25_sentences.scores(terms).astype(np.float64)
        if len(docs) < len(idx.doc_ids):
            scores[~np.isin(idx.sent_doc, np.asarray(docs, dtype=np.int64))] = 0.0
        # A quote spans about as many sentences as it holds: score each run of that many rows.
        span = max(1, len(split_sentences(quote)))
        csum = np.concatenate([[0.0], np.cumsum(scores)])
        run = csum[np.minimum(np.arange(n_rows) + span, n_rows)] - csum[:n_rows]
        out: list[tuple[int, int, int]] = []
        taken: list[tuple[int, int]] = []
        margin = len(quote) // 2 + 50
        k = min(n_rows, CANDIDATES * 8)
        top = np.argpartition(-run, k - 1)[:k] if k < n_rows else np.arange(n_rows)
        for r in top[np.argsort(-run[top], kind="stable")].tolist():
            if run[r] <= 0 or len(out) >= CANDIDATES:
                break
            d = int(idx.sent_doc[r])
            last = r
            while last + 1 < min(n_rows, r + span) and idx.sent_doc[last + 1] == d:
                last += 1
            if any(d == td and abs(r - tr) < span for td, tr in taken):
                continue  # the same place again, a row earlier or later
            taken.append((d, r))
            text = idx.texts[d]
            ws = max(0, int(idx.sent_span[r, 0]) - margin)
            we = min(len(text), int(idx.sent_span[last, 1]) + margin)
            while ws > 0 and not text[ws - 1].isspace():  # whole words at the edges
                ws -= 1
            while we < len(text) and not text[we].isspace():
                we += 1
            out.append((d, ws, we))
        return out

    def _terms(self, quote: str) -> list[str]:
        """The quote's rarest indexed words; a word the index lacks (a typo) stands as its closest indexed word."""
        bm25 = self.index.bm25_sentences
        tokens = list(dict.fromkeys(tokenize(quote)))
        vocab = bm25.vocabulary
        known = [t for t in tokens if t in vocab]
        for t in sorted((t for t in tokens if t not in vocab), key=len, reverse=True)[:RAREST // 2]:
            match = process.extractOne(t, bm25.terms, scorer=fuzz.ratio, score_cutoff=80)
            if match is not None:
                known.append(match[0])
        known = list(dict.fromkeys(known))
        if len(known) > RAREST:
            idf = bm25.idf(known)
            known = [known[i] for i in np.argsort(-idf, kind="stable")[:RAREST]]
        return known
