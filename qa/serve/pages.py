"""The document view: a whole source as escaped HTML, the cited span highlighted, and links to it.

Both the API (which serves ``/source/{id}``) and the chat UI (which links to it) use this module.
"""

from __future__ import annotations

import html
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


def render_source(doc: dict, start: int | None, end: int | None,
                  answer_start: int | None, answer_end: int | None) -> str:
    """The whole document as escaped HTML; ``text[start:end]`` shaded, the answer span in ``<mark>``.

    The page holds no script: the ``#hl`` fragment of :func:`source_link` scrolls the quote into view.
    """
    text = doc["text"]
    n = len(text)
    if start is None or end is None or not 0 <= start < end <= n:
        start = end = None
    if answer_start is None or answer_end is None or start is None or not (
            start <= answer_start < answer_end <= end):  # type: ignore[operator]
        answer_start = answer_end = None
    if start is None:
        body = html.escape(text)
    else:
        inner = marked(text, start, end, [(start, end) if answer_start is None else (answer_start, answer_end)],
                       '<mark id="hl">')
        body = (html.escape(text[:start]) + f'<span class="quote">{inner}</span>' + html.escape(text[end:]))
    meta = doc.get("meta") or {}
    parts = [html.escape(f"{k}: {v}") for k, v in meta.items() if k != "url"]
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
