"""Presentation shared by the chat UI, the source page and the command line: offsets -> escaped
HTML with marked spans, and a confidence as a percentage.

Marks are placed by offsets, never by searching for the string again (a search would mark the
wrong occurrence of a repeated answer). The caller chooses the escape function: the chat turns
line breaks into ``<br>``, the source page keeps them in a pre-wrapped block.
"""

from __future__ import annotations

import html
import math
from typing import Callable, Iterable


def marked(text: str, start: int, end: int, spans: Iterable[tuple[int, int]], open_tag: str = "<mark>",
           escape: Callable[[str], str] = html.escape) -> str:
    """Escaped ``text[start:end]`` with each ``(s, e)`` of ``spans`` (offsets into ``text``) wrapped
    in ``open_tag`` ... ``</mark>``. Spans outside the window or overlapping an earlier one are refused."""
    if not 0 <= start <= end <= len(text):
        raise ValueError(f"span {start}:{end} is outside a text of {len(text)} characters")
    out, pos = [], start
    for s, e in sorted(spans):
        if not pos <= s <= e <= end:
            raise ValueError(f"mark {s}:{e} is outside {start}:{end} or overlaps another")
        out.append(escape(text[pos:s]) + open_tag + escape(text[s:e]) + "</mark>")
        pos = e
    return "".join(out) + escape(text[pos:end])


def percent(confidence: float) -> str:
    """Rounded down, so 0.998 never reads as a certain 100% and 0.299 never as a 30% threshold."""
    return f"{math.floor(confidence * 100 + 1e-9)}%"
