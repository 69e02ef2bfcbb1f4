"""Quote verification: is a quote verbatim in the sources, and if not, what is closest and what differs?

Quote and documents are compared after normalisation (case, whitespace runs, curly and
straight quotes, the various dashes), but every offset returned points into the
*original* document text: :func:`normalise` keeps, for each normalised character, the
index it came from. A quote not found verbatim is aligned with rapidfuzz's
``partial_ratio_alignment``; the closest passage is widened to whole words, scored, and
diffed word by word (difflib opcodes), so both sides of each difference carry offsets.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Iterable

from rapidfuzz import fuzz

VERBATIM, DIFFERS, NOT_FOUND = "verbatim", "differs", "not_found"
MIN_SCORE = 0.5        # below this similarity no passage is reported as the closest

_CHAR_MAP = str.maketrans({
    "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "`": "'", "´": "'",
    "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"', "«": '"', "»": '"',
    "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "―": "-", "−": "-",
})


def normalise(text: str) -> tuple[str, list[int]]:
    """``(normalised, origin)``: case-folded text with quotes, dashes and whitespace runs unified.

    ``origin[i]`` is the index in ``text`` of the character that produced ``normalised[i]``;
    leading and trailing whitespace is dropped.
    """
    out: list[str] = []
    origin: list[int] = []
    space = True  # drop leading whitespace
    for i, ch in enumerate(text):
        if ch.isspace():  # no-break and thin spaces included
            if not space:
                out.append(" ")
                origin.append(i)
                space = True
            continue
        space = False
        for c in ch.translate(_CHAR_MAP).casefold():
            out.append(c)
            origin.append(i)
    if out and out[-1] == " ":
        out.pop()
        origin.pop()
    return "".join(out), origin


def _span(origin: list[int], a: int, b: int) -> tuple[int, int]:
    """Original-text span of normalised ``[a, b)`` (b > a)."""
    return origin[a], origin[b - 1] + 1


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
                "passage": self.passage, "diffs": [d.to_dict() for d in self.diffs]}


_WORD = re.compile(r"\S+")


def _word_key(word: str) -> str:
    """A word as compared: normalised, without the punctuation around it ("2007," == "2007")."""
    norm = normalise(word)[0]
    return norm.strip(".,;:!?()[]{}\"'") or norm


def word_diffs(quote: str, text: str, start: int, end: int) -> list[WordDiff]:
    """Word-level differences between ``quote`` and ``text[start:end]`` (offsets into each).

    Words are compared normalised and without surrounding punctuation; an ``insert`` has an
    empty quote side, a ``delete`` an empty source side, each placed where the words would go.
    """
    qt = [(m.start(), m.end()) for m in _WORD.finditer(quote)]
    st = [(m.start(), m.end()) for m in _WORD.finditer(text, start, end)]
    qn = [_word_key(quote[a:b]) for a, b in qt]
    sn = [_word_key(text[a:b]) for a, b in st]
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, qn, sn, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        qa_, qb = (qt[i1][0], qt[i2 - 1][1]) if i2 > i1 else ((qt[i1 - 1][1] if i1 else 0),) * 2
        sa, sb = (st[j1][0], st[j2 - 1][1]) if j2 > j1 else ((st[j1 - 1][1] if j1 else start),) * 2
        out.append(WordDiff(op, qa_, qb, quote[qa_:qb], sa, sb, text[sa:sb]))
    return out


def _closest(nq: str, norm: str) -> tuple[float, int, int]:
    """Best whole-word window of ``norm`` for ``nq``: ``(similarity 0..1, start, end)`` in ``norm``."""
    al = fuzz.partial_ratio_alignment(nq, norm)
    if al is None or al.dest_end <= al.dest_start:
        return 0.0, 0, 0
    words = [(m.start(), m.end()) for m in re.finditer(r"[^ ]+", norm)]
    first = next(i for i, (_, e) in enumerate(words) if e > al.dest_start)
    last = max(i for i, (s, _) in enumerate(words) if s < al.dest_end)
    best = (-1.0, 0, 0)
    # Words added or dropped in the quote make the true passage longer or shorter: try a few.
    for i in range(max(0, first - 3), min(len(words), first + 4)):
        for j in range(max(i, last - 3), min(len(words), last + 4)):
            r = fuzz.ratio(nq, norm[words[i][0]:words[j][1]])
            if r > best[0]:
                best = (r, words[i][0], words[j][1])
    return best[0] / 100.0, best[1], best[2]


def check_quote(quote: str, documents: Iterable[tuple[str, str, str]]) -> QuoteCheck:
    """Find ``quote`` in ``documents`` (``(id, title, text)``): verbatim, else the closest passage."""
    nq, _ = normalise(quote)
    if not nq:
        raise ValueError("quote is empty")
    best: tuple[float, str, str, str, int, int] | None = None
    for doc_id, title, text in documents:
        norm, origin = normalise(text)
        i = norm.find(nq)
        if i != -1:
            s, e = _span(origin, i, i + len(nq))
            return QuoteCheck(quote, VERBATIM, 1.0, doc_id, title, s, e, text[s:e])
        if not norm:
            continue
        score, a, b = _closest(nq, norm)
        if b > a and (best is None or score > best[0]):
            s, e = _span(origin, a, b)
            best = (score, doc_id, title, text, s, e)
    if best is None or best[0] < MIN_SCORE:
        return QuoteCheck(quote, NOT_FOUND, best[0] if best else 0.0)
    score, doc_id, title, text, s, e = best
    return QuoteCheck(quote, DIFFERS, score, doc_id, title, s, e, text[s:e], tuple(word_diffs(quote, text, s, e)))
