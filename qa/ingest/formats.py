"""Per-format text extraction: file bytes -> the text every offset indexes into.

``.txt`` and ``.md`` are the decoded file, byte for byte (less a byte-order mark). ``.html``/``.htm``
keep only the main text (BeautifulSoup, ``html.parser``): page chrome such as
scripts, navigation and footers is dropped, block elements end a line and
paragraph-like elements end a paragraph (a blank line), so chunking sees the
same structure a reader does. ``.pdf`` is the text of each page (pypdf), as
read by :mod:`qa.ingest.pdf` (wrapped lines joined, running headers and page
numbers dropped), with the start offset of each page recorded so any offset
maps to a page. A file that yields no usable text gives None after a
warning that names it and says why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from qa.ingest import pdf

Warn = Callable[[str], None]

TEXT_SUFFIXES = (".txt", ".md")
HTML_SUFFIXES = (".html", ".htm")
PDF_SUFFIXES = (".pdf",)
SUFFIXES = TEXT_SUFFIXES + HTML_SUFFIXES + PDF_SUFFIXES
PAGE_SEPARATOR = pdf.PAGE_SEPARATOR

# Version of each extractor, part of every document's fingerprint: bump one when its output
# changes, and the next `qa index` re-extracts files of that format (unchanged sentences keep
# their vectors) instead of serving text the current code would no longer produce.
EXTRACTORS = {".txt": "text-2", ".md": "text-2", ".html": "html-2", ".htm": "html-2", ".pdf": "pdf-2"}
# text-2: a byte-order mark is no part of the text, and UTF-16/32 files (with one) are read.
# html-2: every <article> of a page without <main>, not only the first; an empty <main> falls back to the body.
# pdf-2: wrapped lines joined (and words split by a hyphen), running headers, footers and page numbers dropped,
#        ligatures as letters, paragraphs as blank lines; the title is the first page's largest text.

_UTF_BOMS = ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
             (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"), (b"\xef\xbb\xbf", "utf-8-sig"))

# Page chrome and non-content elements: never part of the document text.
_DROP = ("script", "style", "nav", "header", "footer", "aside", "noscript", "form", "template",
         "head", "iframe", "svg", "canvas", "button", "select", "textarea")
# Elements that end a paragraph (blank line) or a line.
_PARAGRAPH = frozenset(("p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "ul", "ol",
                        "dl", "figure", "section", "article", "main", "hr", "address", "details", "body"))
_LINE = frozenset(("div", "li", "tr", "dt", "dd", "figcaption", "caption", "summary", "br"))
_CELL = frozenset(("td", "th"))
_SPACE = re.compile(r"\s+")
_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*\r?$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


@dataclass(frozen=True)
class Extracted:
    """The text of one file, plus what its format says about title and pages."""

    text: str
    title: str | None = None
    pages: tuple[int, ...] = ()


def markdown_headings(text: str) -> list[tuple[int, str]]:
    """``(offset, heading text)`` of each ATX heading, ignoring fenced code blocks."""
    out, pos, fenced = [], 0, False
    for line in text.splitlines(keepends=True):
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            m = _HEADING.match(line.rstrip("\n"))
            if m:
                out.append((pos, m.group(1).strip()))
        pos += len(line)
    return out


def extract(doc_id: str, suffix: str, data: bytes, warn: Warn) -> Extracted | None:
    """Extract the document text of a file's bytes according to its suffix."""
    suffix = suffix.lower()
    if suffix in TEXT_SUFFIXES and _bom_encoding(data) in ("utf-16", "utf-32"):
        return extract_text(doc_id, data, warn)  # NUL bytes are how UTF-16/32 write ASCII
    if suffix not in PDF_SUFFIXES and b"\x00" in data:
        warn(f"{doc_id}: skipped, it looks binary (contains NUL bytes)")
        return None
    if suffix in HTML_SUFFIXES:
        return extract_html(doc_id, data, warn)
    if suffix in PDF_SUFFIXES:
        return extract_pdf(doc_id, data, warn)
    return extract_text(doc_id, data, warn)


def _bom_encoding(data: bytes) -> str | None:
    return next((enc for bom, enc in _UTF_BOMS if data.startswith(bom)), None)


def extract_text(doc_id: str, data: bytes, warn: Warn) -> Extracted | None:
    """Plain text and Markdown: the decoded bytes, unchanged but for a byte-order mark (UTF-8, or UTF-16/32
    when a byte-order mark says so; binary files are refused by :func:`extract`)."""
    encoding = _bom_encoding(data) or "utf-8"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        warn(f"{doc_id}: skipped, not valid {encoding.upper().replace('-SIG', '')} (byte {exc.start}); "
             "re-save it as UTF-8")
        return None
    if not text.strip():
        warn(f"{doc_id}: skipped, it is empty")
        return None
    return Extracted(text)


def extract_html(doc_id: str, data: bytes, warn: Warn) -> Extracted | None:
    """Main text of an HTML page: ``<main>``, else every ``<article>``, else the whole body."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "html.parser")  # bytes: the parser honours <meta charset>
    title = None
    if soup.title is not None:
        title = _SPACE.sub(" ", soup.title.get_text()).strip() or None
    for tag in soup.find_all(_DROP):
        tag.decompose()
    main = soup.find("main")
    text = html_text(main) if main is not None else ""
    if not text:  # no <main>, or an empty one: every <article> (a blog page lists several), else the body
        outer = [a for a in soup.find_all("article") if a.find_parent("article") is None]  # nested: once
        text = PAGE_SEPARATOR.join(t for t in map(html_text, outer) if t)
    if not text:
        text = html_text(soup.body or soup)
    if not text:
        warn(f"{doc_id}: skipped, the HTML page has no main text")
        return None
    return Extracted(text, title=title)


def html_text(root) -> str:
    """Text of an element: one line per block element, a blank line after each paragraph."""
    from bs4 import Comment, NavigableString, Tag
    from bs4.element import Declaration, Doctype, ProcessingInstruction

    skip = (Comment, Declaration, Doctype, ProcessingInstruction)
    parts: list[str | int] = []  # text, or a break: 1 = new line, 2 = new paragraph

    def walk(node, pre: bool) -> None:
        for child in node.children:
            if isinstance(child, Tag):
                name = child.name
                brk = 2 if name in _PARAGRAPH else 1 if name in _LINE else 0
                if brk:
                    parts.append(brk)
                elif name in _CELL:
                    parts.append(" ")
                walk(child, pre or name == "pre")
                if brk:
                    parts.append(brk)
            elif isinstance(child, NavigableString) and not isinstance(child, skip):
                s = str(child)
                parts.append(s if pre else _SPACE.sub(" ", s))

    walk(root, root.name == "pre" if isinstance(root, Tag) else False)
    out: list[str] = []
    buf: list[str] = []
    pending = 0
    for p in parts + [2]:
        if isinstance(p, str):
            buf.append(p)
            continue
        line = "".join(buf).strip()
        buf.clear()
        if line:
            if out:
                out.append("\n\n" if pending >= 2 else "\n")
            out.append(line if "\n" in line else re.sub(" {2,}", " ", line))
            pending = 0
        pending = max(pending, p)
    return "".join(out)


def extract_pdf(doc_id: str, data: bytes, warn: Warn) -> Extracted | None:
    """A PDF's text with wrapped lines joined and page furniture dropped (:mod:`qa.ingest.pdf`);
    ``pages`` holds each page's start offset."""
    got = pdf.extract(data, doc_id, warn)
    if got is None:
        return None
    text, pages, title = got
    return Extracted(text, title=title, pages=pages)
