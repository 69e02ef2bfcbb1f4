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
import unicodedata
from dataclasses import dataclass
from typing import Iterable

from rapidfuzz import fuzz

from qa.text.chars import INVISIBLE

VERBATIM, DIFFERS, NOT_FOUND = "verbatim", "differs", "not_found"
MIN_SCORE = 0.5        # below this similarity no passage is reported as the closest

_CHAR_MAP = str.maketrans({
    "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "`": "'", "´": "'",
    "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"', "«": '"', "»": '"',
    "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "―": "-", "−": "-",
})


@dataclass(frozen=True)
class Normalised:
    """``text`` case-folded and composed (NFC), with quotes, dashes and whitespace runs unified.

    Each character of ``text`` came from the original characters ``[origin[i], ends[i])``: one
    character, or a letter with its combining marks ("e\u0301" becomes "é"); one original
    character may give several ("ß" gives "ss"). Leading and trailing whitespace is dropped.
    """

    text: str
    origin: tuple[int, ...]
    ends: tuple[int, ...]

    def span(self, a: int, b: int) -> tuple[int, int]:
        """Original-text span of normalised ``[a, b)`` (b > a)."""
        return self.origin[a], self.ends[b - 1]

    def whole(self, a: int, b: int) -> bool:
        """True when ``[a, b)`` starts and ends on original characters' boundaries (not inside "ß" -> "ss")
        and does not cut a word ("910 to 194" is not quoted from "1910 to 1945")."""
        o, t = self.origin, self.text
        if not ((a == 0 or o[a - 1] != o[a]) and (b == len(o) or o[b] != o[b - 1])):
            return False
        cuts_start = a > 0 and t[a].isalnum() and t[a - 1].isalnum()
        cuts_end = b < len(t) and t[b - 1].isalnum() and t[b].isalnum()
        return not (cuts_start or cuts_end)


def normalise(text: str) -> Normalised:
    """``text`` as quotes are compared: see :class:`Normalised`."""
    out: list[str] = []
    origin: list[int] = []
    ends: list[int] = []
    space = True  # drop leading whitespace
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in INVISIBLE:  # a soft hyphen or zero-width space is no difference between texts
            i += 1
            continue
        if ch.isspace():  # no-break and thin spaces included
            if not space:
                out.append(" ")
                origin.append(i)
                ends.append(i + 1)
                space = True
            i += 1
            continue
        space = False
        j = i + 1
        while j < n and unicodedata.combining(text[j]):  # a letter and its combining marks: one unit
            j += 1
        unit = text[i:j].translate(_CHAR_MAP)
        if unit.isascii():
            unit = unit.casefold()
        else:
            unit = unicodedata.normalize("NFC", unicodedata.normalize("NFC", unit).casefold())
        for c in unit:
            out.append(c)
            origin.append(i)
            ends.append(j)
        i = j
    if out and out[-1] == " ":
        out.pop()
        origin.pop()
        ends.pop()
    return Normalised("".join(out), tuple(origin), tuple(ends))


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
    nq = normalise(quote).text
    if not nq:
        raise ValueError("quote is empty")
    best: tuple[float, str, str, str, int, int] | None = None
    for doc_id, title, text in documents:
        nd = normalise(text)
        norm = nd.text
        i = norm.find(nq)
        while i != -1 and not nd.whole(i, i + len(nq)):  # "se" is not in "Straße" ("strasse"), nor "910" in "1910"
            i = norm.find(nq, i + 1)
        if i != -1:
            s, e = nd.span(i, i + len(nq))
            return QuoteCheck(quote, VERBATIM, 1.0, doc_id, title, s, e, text[s:e])
        if not norm:
            continue
        score, a, b = _closest(nq, norm)
        if b > a and (best is None or score > best[0]):
            s, e = nd.span(a, b)
            best = (score, doc_id, title, text, s, e)
    if best is None or best[0] < MIN_SCORE:
        return QuoteCheck(quote, NOT_FOUND, best[0] if best else 0.0)
    score, doc_id, title, text, s, e = best
    return QuoteCheck(quote, DIFFERS, score, doc_id, title, s, e, text[s:e], tuple(word_diffs(quote, text, s, e)))
