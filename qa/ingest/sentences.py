"""Sentence segmentation with exact character offsets.

Returns ``(start, end)`` spans into the text, never rewritten strings, so every
sentence can be cited as ``text[start:end]``. Line breaks are hard boundaries
(headings and list items are their own sentences); inside a line a sentence
ends at ``. ! ?`` (plus closing quotes/brackets) followed by space and a
plausible sentence start, except after common abbreviations and initials.
Over-long runs without punctuation are cut at whitespace so no "sentence" is
unbounded. :func:`attach_run_in_headings` joins a run-in heading ("Trade
frictions and economic policy. Trade tensions around ...") to the sentence it
introduces, so the indexed unit carries both its topic and its content.
"""

from __future__ import annotations

import re
import unicodedata

MAX_SENTENCE_CHARS = 600
# Bump when segmentation changes what a sentence is: indexes record it and are rebuilt.
SEGMENTATION_VERSION = 4  # 3: over-long sentences cut at any whitespace; 4: no chunk inside the one before
RUN_IN_HEADING_MAX_WORDS = 6

_ABBREVIATIONS = frozenset("""
mr mrs ms dr prof sr jr st mt ft gen adm col lt sgt capt gov sen rep pres rev
no nos vol vols fig figs pp p ed eds al etc vs v cf ca approx dept univ inc ltd corp co
jan feb mar apr jun jul aug sep sept oct nov dec e.g i.e a.k.a u.s u.k u.n
""".split())

# Candidate boundary: terminal punctuation, optional closers, whitespace.
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+)")
_STARTER = re.compile(r"[\"'“‘(\[]*[A-Z0-9\u00C0-\u024F\u0370-\u03FF\u0400-\u04FF\u3040-\u30FF\u4E00-\u9FFF\uAC00-\uD7AF]")
_LINE = re.compile(r"[^\n]+")


def _is_abbreviation(text: str, dot: int, line_start: int) -> bool:
    """True when the '.' at ``dot`` ends an abbreviation or an initial, not a sentence."""
    i = dot
    while i > line_start and not text[i - 1].isspace() and text[i - 1] not in "([\"'“‘":
        i -= 1
    word = text[i:dot].lower()
    if not word:
        return False
    if word in _ABBREVIATIONS:
        return True
    # Single letters ("J. Smith") and dotted acronyms ("U.S.", "a.m.").
    return bool(re.fullmatch(r"[a-z]|([a-z]\.)+[a-z]?", word))


def _cut_long(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split an over-long span at whitespace into pieces of at most MAX_SENTENCE_CHARS (no piece ends in
    whitespace; without any, the cut never separates a letter from its combining marks)."""
    pieces = []
    while end - start > MAX_SENTENCE_CHARS:
        window = text[start + MAX_SENTENCE_CHARS // 2:start + MAX_SENTENCE_CHARS]
        spaces = [m.start() for m in re.finditer(r"\s", window)]
        cut = start + MAX_SENTENCE_CHARS // 2 + spaces[-1] if spaces else start + MAX_SENTENCE_CHARS
        while not spaces and cut > start + 1 and unicodedata.combining(text[cut]):
            cut -= 1
        piece_end = cut
        while piece_end > start and text[piece_end - 1].isspace():
            piece_end -= 1
        pieces.append((start, piece_end))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if start < end:
        pieces.append((start, end))
    return pieces


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans of ``text[start:end]`` as offsets into ``text``; whitespace is never included."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    for line in _LINE.finditer(text, start, end):
        ls, le = line.start(), line.end()
        cursor = ls
        for m in _BOUNDARY.finditer(text, ls, le):
            stop = m.end()
            nxt = stop
            while nxt < le and text[nxt].isspace():
                nxt += 1
            if nxt >= le or not _STARTER.match(text, nxt):
                continue
            if text[m.start()] == "." and m.end() - m.start() == 1 and _is_abbreviation(text, m.start(), ls):
                continue
            s, e = _trimmed(text, cursor, stop)
            if s < e:
                spans.extend(_cut_long(text, s, e))
            cursor = stop
        s, e = _trimmed(text, cursor, le)
        if s < e:
            spans.extend(_cut_long(text, s, e))
    return spans


# A word that makes a short line a sentence rather than a label: auxiliaries, copulas, pronoun
# subjects, and past-tense forms ("He died in 1900." is a sentence; "Trade frictions and policy." is not).
_VERB_HINT = re.compile(
    r"\b(?:is|are|was|were|be|been|being|am|has|have|had|do|does|did|will|would|can|could|may|might|"
    r"must|shall|should|he|she|it|they|we|i|you|this|these|there|[a-z]{2,}ed)\b")


def _is_run_in_heading(text: str, start: int, end: int) -> bool:
    """A short verbless label ending in '.', e.g. "Postwar normalization and reparations."."""
    body = text[start:end]
    words = body.split()
    return (body.endswith(".") and not body.endswith("..") and 1 <= len(words) <= RUN_IN_HEADING_MAX_WORDS
            and body[0].isupper() and not any(ch.isdigit() for ch in body)
            and not _VERB_HINT.search(body.lower()))


def attach_run_in_headings(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Join each run-in heading that starts a line to the sentence after it on the same line."""
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(spans):
        s, e = spans[i]
        if (i + 1 < len(spans) and (s == 0 or text[s - 1] == "\n") and "\n" not in text[e:spans[i + 1][0]]
                and _is_run_in_heading(text, s, e) and spans[i + 1][1] - s <= MAX_SENTENCE_CHARS):
            out.append((s, spans[i + 1][1]))
            i += 2
            continue
        out.append((s, e))
        i += 1
    return out
