"""The document view: a whole source as escaped HTML, the cited span highlighted, and links to it.

Both the API (which serves ``/source/{id}``) and the chat UI (which links to it) use this module.
"""

from __future__ import annotations

import html
import re
import unicodedata
from urllib.parse import quote

from qa.ingest.corpus import page_of
from qa.text.links import cite_url, safe_url
from qa.text.markup import marked


def source_link(doc_id: str, start: int | None = None, end: int | None = None,
                answer_start: int | None = None, answer_end: int | None = None) -> str:
    """Relative URL of the document view with a span highlighted (ids are percent-encoded)."""
    url = "/source/" + quote(doc_id, safe="")
    params = [(k, v) for k, v in (("start", start), ("end", end), ("answer_start", answer_start),
                                  ("answer_end", answer_end)) if v is not None]
    if params:
        url += "?" + "&".join(f"{k}={int(v)}" for k, v in params) + "#hl"
    return url


PAGE_CHARS = 200_000  # characters of a document one page shows (a browser lays out ~1 MB of text a second)
BREAK_EVERY = 64  # characters of one unbroken run between two break opportunities (<wbr>)
_LONG_RUN = re.compile(rf"\S{{{BREAK_EVERY + 1},}}")


def _escape(text: str) -> str:
    """``text`` escaped, with a ``<wbr>`` every ``BREAK_EVERY`` characters of a longer unbroken run.

    A browser lays out a long run without break opportunities as one unit: a 1,000,000-character
    "word" of mixed scripts took Chromium minutes. ``<wbr>`` adds no character, so copied text and
    the offsets stay the same. A letter is never parted from its combining marks.
    """
    out, pos = [], 0
    for m in _LONG_RUN.finditer(text):
        out.append(html.escape(text[pos:m.start()]))
        a = m.start()
        while a < m.end():
            b = min(m.end(), a + BREAK_EVERY)
            while a + 1 < b < m.end() and unicodedata.combining(text[b]):
                b -= 1
            out.append(html.escape(text[a:b]) + ("<wbr>" if b < m.end() else ""))
            a = b
        pos = m.end()
    out.append(html.escape(text[pos:]))
    return "".join(out)


SOURCE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font: 16px/1.6 system-ui, sans-serif; max-width: 46rem; margin: 0 auto; padding: 1rem; color: #1f2937; }}
h1 {{ font-size: 1.3rem; line-height: 1.3; }}
.meta {{ color: #6b7280; font-size: .9rem; overflow-wrap: anywhere; }}
.text {{ white-space: pre-wrap; overflow-wrap: anywhere; }}
.quote {{ background: #fef3c7; }}
mark {{ background: #fbbf24; color: inherit; padding: 0 .1em; }}
#hl {{ scroll-margin-top: 35vh; }}
</style></head>
<body><h1>{title}</h1><p class="meta">{meta}</p><div class="text">{body}</div></body></html>
"""


def _window(n: int, start: int | None, end: int | None, at: int | None) -> tuple[int, int]:
    """The part of a text of ``n`` characters one page shows: all of it, or ``PAGE_CHARS`` from ``at``,
    or around the quote ``[start, end)`` (a quarter of the page before it)."""
    if n <= PAGE_CHARS:
        return 0, n
    if start is not None and end is not None:
        lo = start - PAGE_CHARS // 4 if end - start < PAGE_CHARS // 2 else start
    else:
        lo = at or 0
    lo = max(0, min(lo, n - PAGE_CHARS))
    return lo, min(n, max(lo + PAGE_CHARS, end or 0))


def render_source(doc: dict, start: int | None, end: int | None,
                  answer_start: int | None, answer_end: int | None, at: int | None = None) -> str:
    """The document as escaped HTML; ``text[start:end]`` shaded, the answer span in ``<mark>``.

    A document over ``PAGE_CHARS`` characters is shown a page at a time, around the quote or from
    offset ``at``, with links to the parts before and after. The page holds no script: the ``#hl``
    fragment of :func:`source_link` scrolls the quote into view.
    """
    text = doc["text"]
    n = len(text)
    if start is None or end is None or not 0 <= start < end <= n:
        start = end = None
    if answer_start is None or answer_end is None or start is None or not (
            start <= answer_start < answer_end <= end):  # type: ignore[operator]
        answer_start = answer_end = None
    lo, hi = _window(n, start, end, at)
    if start is None:
        body = _escape(text[lo:hi])
    else:
        inner = marked(text, start, end, [(start, end) if answer_start is None else (answer_start, answer_end)],
                       '<mark id="hl">', _escape)
        body = (_escape(text[lo:start]) + f'<span class="quote">{inner}</span>' + _escape(text[end:hi]))
    meta = doc.get("meta") or {}
    parts = [html.escape(f"{k}: {v}") for k, v in meta.items() if k != "url"]
    if (lo, hi) != (0, n):
        link = source_link(doc["id"])
        parts.append(f"characters {lo:,}-{hi:,} of {n:,}" + "".join(
            f' <a href="{link}?at={where}">{label}</a>' for label, where, show in (
                ("earlier", max(0, lo - PAGE_CHARS), lo > 0), ("later", hi, hi < n)) if show))
    page = page_of(doc.get("pages") or (), start) if start is not None else None
    if page is not None:
        parts.append(f"page {page}")
    # With a highlighted span, the link scrolls the original page to the same quote.
    url = (cite_url(meta.get("url"), text[start:end], page, text, start) if start is not None
           else safe_url(meta.get("url")))
    if url:
        parts.append(f'<a href="{html.escape(url, quote=True)}" rel="noopener noreferrer">original</a>')
    parts.append(f"id: {html.escape(doc['id'])}")
    return SOURCE_PAGE.format(title=html.escape(doc["title"]), meta=" · ".join(parts), body=body)
