"""PDF text as a reader sees it: wrapped lines joined, page furniture dropped, pages recorded.

pypdf gives each page's text in content-stream order with the PDF's hard line breaks, and, through
its text visitor, where each line starts and in which font size. A sentence must not stop at every
line end, so each line break is judged:

- it is a **wrap** (joined with a space) when the next line's first word would not have fit on the
  line, when the line ends mid-phrase ("... value is" / "50, and ..."), or when both lines sit on one
  baseline; a word split by a hyphen at the line end is joined back (the hyphen kept only when both
  halves are words on their own, as in "command-line");
- it stays a **break** before a bullet, at a change of font size, and where extra vertical space
  opens a new paragraph (written as a blank line, so chunks follow paragraphs as they do for HTML).

Running headers and footers (a page's top and bottom lines) and bare page numbers are dropped when
the same line, digits aside, tops or ends many pages; a paragraph that runs over a page break is
joined across it. Each page's start offset in the text is recorded. A PDF whose ``/Title`` is empty
is titled by the largest text on its first page, else by its first heading-like line.
"""

from __future__ import annotations

import io
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Callable

Warn = Callable[[str], None]

PAGE_SEPARATOR = "\n\n"
MIN_FURNITURE_PAGES = 3       # a header or footer repeats on at least this many pages...
FURNITURE_SHARE = 0.1         # ...and on at least this share of them
FIT = 0.9                     # a line this close to the column width (in characters) is full
PARAGRAPH_GAP = 1.45          # a line spacing this many times the usual one opens a paragraph
TITLE_SIZE = 1.15             # title text is at least this much larger than the body text
# Words a sentence cannot end on: a line ending on one goes on, whatever its length.
DANGLING = frozenset("""a an the of to in on at by for from with into onto than as and or nor but is are was
were be been has have had its their whose which that if when where whether per via""".split())
_BULLET = re.compile(r"[•◦▪▫‣∙·●○■□–—*-]\s|\(?\d{1,2}[.)]\s|\(?[a-z][.)]\s")
_ROMAN = re.compile(r"[ivxlcdm]+", re.I)
_DIGITS = re.compile(r"\d+")
_EDGE_NUMBER = re.compile(r"^(\d{1,4})\b|\b(\d{1,4})$")
_WORD_END = re.compile(r"(\w+)[^\w\s]*$")
_HYPHENS = ("-", "\u00ad", "\u2010")
SPACE, GLUE, UNSPLIT = " ", "", "unsplit"  # how a line goes on into the next (see joiner)
# Typographic ligatures (U+FB00..FB06) as the letters they join: "ﬁle" must be found as "file".
_LIGATURES = str.maketrans({"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl",
                            "\ufb05": "st", "\ufb06": "st"})


@dataclass
class Line:
    """One line of a page: its text and, when pypdf said so, where it starts and its font size."""

    text: str
    x: float | None = None
    y: float | None = None
    size: float | None = None


@dataclass
class _Layout:
    """What the document's body text looks like, measured over all its lines."""

    leading: dict[float, float] = field(default_factory=dict)   # font size -> usual baseline distance
    left: dict[int, float] = field(default_factory=dict)        # page -> x of the left margin
    body: float | None = None                                   # the body text's font size
    width: float | None = None                                  # characters in a full line of body text

    def full_width(self, line: Line, page: int) -> float | None:
        """Characters that fit on ``line``: the body's full line, scaled by font size, less any indent."""
        if self.width is None:
            return None
        width = self.width
        if line.size and self.body:  # the same column in a smaller font holds more characters
            width *= self.body / line.size
            if line.x is not None and page in self.left:  # an indented line has less room
                width -= max(0.0, line.x - self.left[page]) / (0.5 * line.size)
        return max(width, 10.0)


def _size_key(size: float | None) -> float:
    return round(size * 2) / 2 if size else 0.0


def page_lines(page) -> list[Line]:
    """The page's lines in pypdf's order, each with the position and font size of its first text."""
    lines: list[Line] = []
    at_start = True

    def visit(text, cm, tm, font, size) -> None:
        nonlocal at_start
        if not text:
            return
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        eff = abs(size or 0) * math.hypot(tm[2], tm[3]) * math.hypot(cm[2], cm[3]) or None
        for k, piece in enumerate(text.split("\n")):
            if k > 0:
                at_start = True
            if at_start:
                if not piece.strip():
                    continue
                # Only the fragment's first line has a known start; later ones keep the font size.
                lines.append(Line(piece, x if k == 0 else None, y if k == 0 else None, eff))
                at_start = False
            else:
                lines[-1].text += piece

    page.extract_text(visitor_text=visit)
    out = []
    for line in lines:
        text = " ".join(line.text.replace("\x00", "").translate(_LIGATURES).split())
        if text:
            out.append(Line(text, line.x, line.y, line.size))
    return out


def read_pages(data: bytes, doc_id: str, warn: Warn) -> tuple[list[list[Line]], str | None] | None:
    """Each page's lines and the document's ``/Title`` (None when empty), or None after a warning."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception:  # e.g. an AES PDF without the crypto package: still unreadable to us
                ok = 0
            if not ok:
                warn(f"{doc_id}: skipped, the PDF is encrypted and needs a password; save an unprotected copy")
                return None
        pages = [page_lines(page) for page in reader.pages]
        title = None
        try:
            title = str((reader.metadata or {}).get("/Title") or "").strip() or None
        except Exception:  # a damaged information dictionary costs the title, not the document
            pass
    except Exception as exc:  # pypdf raises many types for damaged files; all mean "unreadable"
        warn(f"{doc_id}: skipped, not a readable PDF ({type(exc).__name__}: {str(exc)[:80]})")
        return None
    return pages, title


# ------------------------------------------------------------------ page furniture

def _furniture_key(text: str) -> str | None:
    """A header/footer line with its digits (page numbers) blurred; None for lines too long to be one."""
    if len(text) > 80 or len(text.split()) > 12:
        return None
    key = text.lower()
    if _ROMAN.fullmatch(key):  # front matter numbers its pages i, ii, iii
        return "#"
    return " ".join(_DIGITS.sub("#", key).split())


def _edges(lines: list[Line]) -> list[int]:
    """Indexes of the two top and two bottom lines of a page (by position when known, else by order)."""
    if len(lines) <= 4:
        return list(range(len(lines)))
    if all(line.y is not None for line in lines):
        order = sorted(range(len(lines)), key=lambda i: -lines[i].y)  # type: ignore[operator]
    else:
        order = list(range(len(lines)))
    return sorted(set(order[:2] + order[-2:]))


def _numbered(text: str) -> tuple[int, str] | None:
    """``(number, rest)`` of a short line that starts or ends with a number (a page number, perhaps)."""
    if len(text) > 80:
        return None
    m = _EDGE_NUMBER.search(text)
    if not m:
        return None
    rest = (text[:m.start()] + text[m.end():]).strip()
    return int(m.group(1) or m.group(2)), " ".join(_DIGITS.sub("#", rest.lower()).split())


def drop_furniture(pages: list[list[Line]]) -> list[list[Line]]:
    """The pages without their running headers, footers and page numbers.

    A top or bottom line goes when the same line, digits aside, is on many pages, or when it carries
    the page's printed number (numbers that count up with the pages, by a constant offset) and is a
    bare number or a line seen so on more than one page ("Chapter 2: Structures 3", "... 4").
    """
    if len(pages) < MIN_FURNITURE_PAGES:
        return pages
    least = max(MIN_FURNITURE_PAGES, math.ceil(FURNITURE_SHARE * len(pages)))
    edges = [_edges(lines) for lines in pages]
    seen: dict[str, set[int]] = defaultdict(set)
    offsets: dict[int, set[int]] = defaultdict(set)
    for p, (lines, idx) in enumerate(zip(pages, edges)):
        for i in idx:
            key = _furniture_key(lines[i].text)
            if key:
                seen[key].add(p)
            numbered = _numbered(lines[i].text)
            if numbered:
                offsets[numbered[0] - p].add(p)
    drop: list[set[int]] = [set() for _ in pages]
    for p, (lines, idx) in enumerate(zip(pages, edges)):
        drop[p] = {i for i in idx if len(seen.get(_furniture_key(lines[i].text) or "", ())) >= least}
    offset, on = max(offsets.items(), key=lambda kv: len(kv[1]), default=(0, set()))
    if len(on) >= least:
        rests: dict[str, set[int]] = defaultdict(set)
        candidates = []
        for p, (lines, idx) in enumerate(zip(pages, edges)):
            for i in idx:
                numbered = _numbered(lines[i].text)
                if numbered and numbered[0] == p + offset:
                    rests[numbered[1]].add(p)
                    candidates.append((p, i, numbered[1]))
        for p, i, rest in candidates:
            if not rest or len(rests[rest]) >= 2:
                drop[p].add(i)
    return [[line for i, line in enumerate(lines) if i not in gone] for lines, gone in zip(pages, drop)]


# ------------------------------------------------------------------ joining lines

def measure(pages: list[list[Line]]) -> _Layout:
    """The body font size and full-line width in characters, and per font size the usual line spacing."""
    chars: Counter[float] = Counter()
    gaps: dict[float, list[float]] = defaultdict(list)
    lengths: dict[float, list[int]] = defaultdict(list)
    layout = _Layout()
    for p, lines in enumerate(pages):
        xs = []
        for a, b in zip([None] + lines, lines):
            size = _size_key(b.size)
            chars[size] += len(b.text)
            lengths[size].append(len(b.text))
            if b.x is not None:
                xs.append(b.x)
            if a is not None and a.y is not None and b.y is not None and b.size and _size_key(a.size) == size:
                dy = a.y - b.y
                if 0.5 * b.size < dy < 3 * b.size:
                    gaps[size].append(dy)
        if xs:
            xs.sort()
            layout.left[p] = xs[len(xs) // 10]
    body = max(chars, key=chars.get) if chars else None  # type: ignore[arg-type]
    layout.body = body or None
    for size, values in gaps.items():
        values.sort()
        layout.leading[size] = values[len(values) // 2]
    body_lengths = sorted(lengths.get(body, [])) if body is not None else []
    if len(body_lengths) >= 5:  # the long end of the body's lines: a full line (ragged lines fall short of it)
        layout.width = float(body_lengths[int(0.9 * (len(body_lengths) - 1))])
    return layout


def _common(word: str) -> bool:
    from qa.text.types import common_words

    return word.lower() in common_words()


def joiner(a: Line, b: Line, layout: _Layout, page: int, same_page: bool = True) -> str | None:
    """How line ``a`` goes on into line ``b``: :data:`SPACE` (a wrap), :data:`GLUE` (a wrap after a hyphen
    that stays), :data:`UNSPLIT` (a word hyphenated at the line end) or None (a real line break)."""
    if _BULLET.match(b.text) or b.text in ("•", "◦", "▪", "‣", "●"):
        return None
    if a.size and b.size and abs(a.size - b.size) > 0.1 * max(a.size, b.size):
        return None
    if same_page and a.y is not None and b.y is not None:
        dy = a.y - b.y
        size = a.size or b.size or 10.0
        if abs(dy) < 0.3 * size:  # the same baseline: one visual line that pypdf split
            return SPACE
        usual = layout.leading.get(_size_key(a.size), 1.2 * size)
        if dy > PARAGRAPH_GAP * usual:
            return None
    first = b.text.split()[0]
    starts_lower = first[0].islower()
    split = a.text[-1] in _HYPHENS and len(a.text) > 1 and a.text[-2].isalnum() and first[0].isalnum()
    if split and a.text[-2].isalpha() and starts_lower:
        m = _WORD_END.search(a.text[:-1])
        head = m.group(1) if m else ""
        tail = re.match(r"\w+", first)
        if a.text[-1] == "-" and head and tail and _common(head) and _common(tail.group()) \
                and not _common(head + tail.group()):
            return GLUE  # a real compound: "command-" + "line" keeps its hyphen
        return UNSPLIT  # "appli-" + "cation"
    last = a.text.split()[-1]
    if last.lower() in DANGLING and (starts_lower or first[0].isdigit()):
        return SPACE
    width = layout.full_width(a, page)
    if width is not None and len(a.text) + 1 + len(first) > FIT * width:
        # The next word would not have fit: the line wrapped ("Burrows-" + "Wheeler" keeps its hyphen).
        return GLUE if split else SPACE
    return None


def join_pages(pages: list[list[Line]], layout: _Layout) -> tuple[str, tuple[int, ...]]:
    """The document text and each page's start offset; a paragraph over a page break is joined."""
    out: list[str] = []
    starts: list[int] = []
    pos = 0
    prev: Line | None = None
    for p, lines in enumerate(pages):
        for i, line in enumerate(lines):
            if prev is None:
                sep = ""
            else:
                j = joiner(prev, line, layout, p, same_page=i > 0)
                if j is None:
                    sep = "\n" if i > 0 and not _gap(prev, line, layout) else PAGE_SEPARATOR
                elif j == UNSPLIT:
                    out[-1] = out[-1][:-1]  # the hyphen of a split word goes
                    pos -= 1
                    sep = ""
                else:
                    sep = j
            if i == 0:
                starts.append(pos + len(sep))
            out.append(sep + line.text)
            pos += len(sep) + len(line.text)
            prev = line
        if not lines:
            starts.append(pos + (len(PAGE_SEPARATOR) if prev is not None else 0))
    return "".join(out), _ascending(starts, pos)


def _gap(a: Line, b: Line, layout: _Layout) -> bool:
    """Extra space between two lines, or a change of font size: a new paragraph."""
    if a.size and b.size and abs(a.size - b.size) > 0.1 * max(a.size, b.size):
        return True
    if a.y is None or b.y is None:
        return False
    size = a.size or 10.0
    return a.y - b.y > PARAGRAPH_GAP * layout.leading.get(_size_key(a.size), 1.2 * size)


def _ascending(starts: list[int], end: int) -> tuple[int, ...]:
    """Page starts from 0, never past the text's end, never going back (a page without text starts where the next does)."""
    fixed = [min(s, end) for s in starts]
    if fixed:
        fixed[0] = 0
    for i in range(len(fixed) - 2, -1, -1):
        fixed[i] = min(fixed[i], fixed[i + 1])
    return tuple(fixed)


# ------------------------------------------------------------------ title

def heading_like(text: str) -> bool:
    """A short line with letters that does not read as a sentence or a fragment of one."""
    words = text.split()
    return (1 <= len(words) <= 12 and len(text) <= 120 and any(c.isalpha() for c in text)
            and text[-1] not in ".,;:" and words[-1].lower() not in DANGLING and not _BULLET.match(text))


def pdf_title(pages: list[list[Line]], kept: list[list[Line]], layout: _Layout) -> str | None:
    """The largest text of the first page that has text (when larger than the body), else the first
    heading-like line of the text kept."""
    first = next((lines for lines in pages if lines), [])
    sized = [line for line in first if line.size]
    if sized and layout.body:
        top = max(line.size for line in sized)  # type: ignore[type-var]
        if top >= TITLE_SIZE * layout.body:
            i = next(i for i, line in enumerate(first) if line.size and line.size >= top - 0.5)
            parts = []
            for line in first[i:i + 3]:
                if not line.size or line.size < top - 0.5:
                    break
                parts.append(line.text)
            title = " ".join(parts).strip()
            if sum(c.isalpha() for c in title) >= 2:  # not a drop cap or a stray symbol
                return title[:200]
    for lines in kept:
        for line in lines:
            if heading_like(line.text):
                return line.text
    return None


def extract(data: bytes, doc_id: str, warn: Warn) -> tuple[str, tuple[int, ...], str | None] | None:
    """``(text, page starts, title)`` of a PDF's bytes, or None after a warning saying why."""
    got = read_pages(data, doc_id, warn)
    if got is None:
        return None
    pages, meta_title = got
    if not any(pages):
        warn(f"{doc_id}: skipped, the PDF has no extractable text (a scanned image? run OCR first)")
        return None
    kept = drop_furniture(pages)
    layout = measure(kept)
    text, starts = join_pages(kept, layout)
    if not text.strip():  # nothing but headers and page numbers: keep them rather than nothing
        kept = pages
        text, starts = join_pages(pages, layout)
    return text, starts, meta_title or pdf_title(pages, kept, layout)
