"""Cut a :class:`Document` into overlapping, sentence-aligned :class:`Chunk` s.

Pure functions, no I/O. A chunk is a run of whole sentences of at most
``size`` characters (a single longer sentence stays whole), and carries the
exact ``start``/``end`` of its text in the document plus the spans of the
sentences inside it. Chunks do not run across a blank-line paragraph break,
except that a short block (a heading, a one-liner) joins the paragraph after
it. When a paragraph is longer than ``size``, consecutive chunks share up to
``overlap`` characters of whole sentences. Chunks of a Markdown document carry
the ``section`` they belong to: the nearest heading at or before their start.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from qa.ingest.corpus import Document
from qa.ingest.formats import markdown_headings
from qa.ingest.sentences import attach_run_in_headings, split_sentences

_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n\s*")
MARKDOWN_SUFFIXES = (".md", ".markdown")


@dataclass(frozen=True)
class Chunk:
    """A passage of a document: ``text == document.text[start:end]``."""

    id: str
    doc_id: str
    start: int
    end: int
    text: str
    sentences: tuple[tuple[int, int], ...]
    section: str | None = None  # nearest preceding Markdown heading

    def __post_init__(self) -> None:
        if not (0 <= self.start < self.end):
            raise ValueError(f"bad chunk span {self.start}..{self.end}")
        if len(self.text) != self.end - self.start:
            raise ValueError("Chunk.text must be document.text[start:end]")
        if not self.sentences or self.sentences[0][0] != self.start or self.sentences[-1][1] != self.end:
            raise ValueError("a chunk must start and end on its sentences")


def paragraphs(text: str) -> list[tuple[int, int]]:
    """Spans of blank-line separated blocks (raw, untrimmed)."""
    spans, pos = [], 0
    for m in _PARAGRAPH_BREAK.finditer(text):
        spans.append((pos, m.start()))
        pos = m.end()
    spans.append((pos, len(text)))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def _blocks(text: str, size: int) -> list[list[tuple[int, int]]]:
    """Sentences grouped by paragraph, short blocks merged into the next one."""
    blocks: list[list[tuple[int, int]]] = []
    pending: list[tuple[int, int]] = []
    for ps, pe in paragraphs(text):
        sents = attach_run_in_headings(text, split_sentences(text, ps, pe))
        if not sents:
            continue
        pending.extend(sents)
        if pending[-1][1] - pending[0][0] >= size // 4:
            blocks.append(pending)
            pending = []
    if pending:
        if blocks and pending[-1][1] - blocks[-1][0][0] <= size:
            blocks[-1].extend(pending)
        else:
            blocks.append(pending)
    return blocks


def _pack(sents: list[tuple[int, int]], size: int, overlap: int) -> list[list[tuple[int, int]]]:
    """Greedy packing of one block's sentences into windows with sentence overlap."""
    windows: list[list[tuple[int, int]]] = []
    i = 0
    while i < len(sents):
        j = i + 1
        while j < len(sents) and sents[j][1] - sents[i][0] <= size:
            j += 1
        windows.append(sents[i:j])
        if j >= len(sents):
            break
        # Step back over trailing sentences that fit in the overlap, but always advance, and only when
        # the next window can then reach past this one (else it would lie inside it).
        k = j
        while k - 1 > i and sents[j - 1][1] - sents[k - 1][0] <= overlap:
            k -= 1
        if sents[j][1] - sents[k][0] > size:
            k = j
        i = k
    return windows


def chunk_document(doc: Document, size: int = 800, overlap: int = 200) -> list[Chunk]:
    """All chunks of ``doc`` in document order."""
    headings = markdown_headings(doc.text) if doc.id.lower().endswith(MARKDOWN_SUFFIXES) else []
    heading_starts = [h[0] for h in headings]
    chunks = []
    for block in _blocks(doc.text, size):
        for window in _pack(block, size, overlap):
            start, end = window[0][0], window[-1][1]
            i = bisect.bisect_right(heading_starts, start)
            chunks.append(Chunk(id=f"{doc.id}:{start}-{end}", doc_id=doc.id, start=start, end=end,
                                text=doc.text[start:end], sentences=tuple(window),
                                section=headings[i - 1][1] if i else None))
    return chunks
