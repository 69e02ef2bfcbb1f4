"""Text as quotes are compared, with a map back to the original offsets.

Case is folded, letters are composed (NFC: "e\u0301" is "é"), curly and straight quotes and the
various dashes are one character each, whitespace runs are one space, and invisible characters
(a soft hyphen, a zero-width space) are dropped. Every normalised character keeps the span of
original characters it came from, so a match found in normalised text is cited by its offsets in
the original.

The map is stored as segments, not one entry per character: a run of characters that normalise
one to one (nearly all text) is one segment, and only what changes length (a dropped space, "ß" to
"ss", a letter with its combining marks) starts another. Runs are translated with one
``str.translate`` call, so a 50 MB document normalises in about a second, which lets the index keep
every document's normalised text and a few offsets per document ("checkpoints") to start mapping
from, instead of normalising the corpus again for each quote.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from qa.text.chars import INVISIBLE

_CHAR_MAP = str.maketrans({
    "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "`": "'", "´": "'",
    "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"', "«": '"', "»": '"',
    "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "―": "-", "−": "-",
})

IDENTITY = -1  # Normalised.seg_end of a segment whose characters map one to one


def _unit(chars: str) -> str:
    """One letter with its combining marks (or one other character), normalised."""
    unit = chars.translate(_CHAR_MAP)
    if unit.isascii():
        return unit.casefold()
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", unit).casefold())


@lru_cache(maxsize=65536)
def _simple(ch: str) -> str | None:
    """What ``ch`` becomes when it normalises to one character on its own, else None (dropped,
    expanded, or a combining mark that joins the letter before it). Whitespace becomes a space."""
    if ch in INVISIBLE or unicodedata.combining(ch):
        return None
    if ch.isspace():
        return " "
    out = _unit(ch)
    return out if len(out) == 1 else None


def _rules(text: str) -> tuple[dict[int, str], re.Pattern]:
    """For the characters of ``text``: a translation table of the one-to-one ones, and a pattern
    that finds what is not (other characters, and whitespace runs, which become one space)."""
    table, special = {}, []
    for ch in set(text):
        out = _simple(ch)
        if out is None:
            special.append(ch)
        elif out != ch:
            table[ord(ch)] = out
    chars = "".join(sorted(special))
    return table, re.compile((f"[{re.escape(chars)}]|" if chars else "") + r"\s\s")


@dataclass(frozen=True)
class Normalised:
    """``text`` normalised; each of its characters came from original characters ``[origin(i), end(i))``.

    One original character may give several ("ß" gives "ss"), and a letter with its combining marks
    gives one. Offsets are relative to where normalising started (``start`` of :func:`normalise`).
    Segment ``k`` covers normalised ``[seg_norm[k], seg_norm[k+1])``: one to one from original
    ``seg_orig[k]`` when ``seg_end[k] == IDENTITY``, else every character from ``[seg_orig[k], seg_end[k])``.
    """

    text: str
    seg_norm: tuple[int, ...]
    seg_orig: tuple[int, ...]
    seg_end: tuple[int, ...]

    def _at(self, i: int) -> tuple[int, int]:
        k = bisect.bisect_right(self.seg_norm, i) - 1
        if self.seg_end[k] == IDENTITY:
            o = self.seg_orig[k] + i - self.seg_norm[k]
            return o, o + 1
        return self.seg_orig[k], self.seg_end[k]

    def origin_of(self, i: int) -> int:
        return self._at(i)[0]

    def end_of(self, i: int) -> int:
        return self._at(i)[1]

    @property
    def origin(self) -> tuple[int, ...]:
        """The original start of every normalised character (built on demand: for tests and small texts)."""
        return tuple(self._at(i)[0] for i in range(len(self.text)))

    @property
    def ends(self) -> tuple[int, ...]:
        return tuple(self._at(i)[1] for i in range(len(self.text)))

    def span(self, a: int, b: int) -> tuple[int, int]:
        """Original-text span of normalised ``[a, b)`` (b > a)."""
        return self._at(a)[0], self._at(b - 1)[1]

    def whole(self, a: int, b: int) -> bool:
        """True when ``[a, b)`` starts and ends on original characters' boundaries (not inside "ß" -> "ss")
        and does not cut a word ("910 to 194" is not quoted from "1910 to 1945")."""
        t = self.text
        if (a > 0 and t[a].isalnum() and t[a - 1].isalnum()) or (b < len(t) and t[b - 1].isalnum() and t[b].isalnum()):
            return False
        return ((a == 0 or self._at(a - 1)[0] != self._at(a)[0])
                and (b == len(t) or self._at(b)[0] != self._at(b - 1)[0]))


def normalise(text: str, start: int = 0, end: int | None = None, space: bool = True,
              final: bool = True, every: int = 0) -> Normalised | tuple[Normalised, list[tuple[int, int, bool]]]:
    """``text[start:end]`` as quotes are compared: see :class:`Normalised` (offsets from ``start``).

    ``space`` says whether the text before ``start`` ended in a space (True at the start of a text: leading
    whitespace is dropped); ``final`` drops a trailing space, as at the end of a text. With ``every > 0``,
    also returns checkpoints: ``(normalised offset, original offset, space)`` at a character boundary about
    every ``every`` normalised characters, from which :func:`normalise` can start again and give the same
    characters; the map itself is then not kept (the result maps nothing): a whole corpus's map would be
    large, and the checkpoints rebuild any part of it.
    """
    end = len(text) if end is None else end
    table, special = _rules(text[start:end])
    out: list[str] = []
    seg_norm: list[int] = []
    seg_orig: list[int] = []
    seg_end: list[int] = []
    checks: list[tuple[int, int, bool]] = [(0, 0, space)]  # where this call started: always one
    pos = 0
    next_check = every

    def add(piece: str, a: int, b: int, run: bool = False) -> None:
        """Original ``[a, b)`` gives ``piece``: a run of characters each normalised on its own, or one unit."""
        nonlocal pos, next_check
        one_to_one = run or (b - a == 1 and len(piece) == 1)
        if every:
            while next_check < pos + len(piece) and (next_check == pos or one_to_one):
                o = a + next_check - pos  # inside a one-to-one piece, or at the start of any
                checks.append((next_check, o - start, space if o == a else text[o - 1].isspace()))
                next_check += every
            if next_check < pos + len(piece):
                next_check = pos + len(piece)  # no checkpoint inside an expansion: the next boundary
        if every:
            pass  # checkpoints instead of a map
        elif one_to_one:
            if seg_end and seg_end[-1] == IDENTITY and seg_orig[-1] + pos - seg_norm[-1] == a - start:
                pass  # continues the previous one-to-one segment
            else:
                seg_norm.append(pos)
                seg_orig.append(a - start)
                seg_end.append(IDENTITY)
        else:
            seg_norm.append(pos)
            seg_orig.append(a - start)
            seg_end.append(b - start)
        out.append(piece)
        pos += len(piece)

    i = start
    while i < end:
        if space and text[i].isspace():
            i += 1
            continue
        m = special.search(text, i, end)
        stop = m.start() if m else end
        if stop < end and stop > i and unicodedata.combining(text[stop]) and not text[stop - 1].isspace():
            stop -= 1  # the letter before a combining mark is part of its unit
        if stop > i:
            add(text[i:stop].translate(table), i, stop, run=True)
            space = text[stop - 1].isspace()
            i = stop
            if i >= end:
                break
        ch = text[i]
        if ch in INVISIBLE:
            i += 1
        elif ch.isspace():
            if not space:
                add(" ", i, i + 1)
                space = True
            i += 1
        else:
            j = i + 1
            while j < end and unicodedata.combining(text[j]):
                j += 1
            add(_unit(text[i:j]), i, j)
            space = False
            i = j
    norm = "".join(out)
    if final and norm.endswith(" "):
        norm = norm[:-1]
        if seg_norm and seg_norm[-1] == len(norm):  # the space was a segment of its own
            del seg_norm[-1], seg_orig[-1], seg_end[-1]
        checks = [c for c in checks if c[0] < len(norm)] or checks[:1]
    if not every:
        checks = []
    result = Normalised(norm, tuple(seg_norm), tuple(seg_orig), tuple(seg_end))
    return (result, checks) if every else result
