"""Links from a citation to the original document on the web.

A source's ``url`` (from ``sources.yaml``) is only ever used when it is a
plain ``http(s)`` link, so document metadata can never put a ``javascript:``
URL on a page. :func:`cite_url` adds a text fragment (WICG "Scroll to Text
Fragment": ``#:~:text=``) that makes a browser scroll to the quote and
highlight it, plus ``page=N`` for PDFs, which PDF viewers use to open the
right page. Text fragments match rendered text inside one block, so a quote
that spans lines (blocks of an HTML page) or is long is linked as a
``start,end`` range of its first and last words.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote as _percent, urlsplit

DIRECTIVE = ":~:"
EXACT_MAX_CHARS = 120   # quotes up to this length (one line) are matched exactly
RANGE_WORDS = 5         # words kept at each end of a longer quote


def safe_url(url: Any) -> str | None:
    """``url`` if it is a plain http(s) link with a host, without whitespace, control characters or a
    user name ("https://trusted.org@evil.example/" shows one host and opens another), else None."""
    if not isinstance(url, str):
        return None
    url = url.strip()
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. a malformed IPv6 host
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    return url


def encode_term(text: str) -> str:
    """Percent-encode one text-directive term; ``-``, ``&`` and ``,`` too, as the spec requires."""
    return _percent(text, safe="").replace("-", "%2D")


def text_directive(quote: str) -> str | None:
    """``text=...`` selecting ``quote`` in a rendered page, or None for a quote without words."""
    lines = [ln.split() for ln in quote.splitlines() if ln.strip()]
    if not lines:
        return None
    words = [w for ln in lines for w in ln]
    exact = " ".join(words)
    if len(lines) == 1 and (len(exact) <= EXACT_MAX_CHARS or len(words) <= 2 * RANGE_WORDS):
        return "text=" + encode_term(exact)
    if len(lines) == 1:
        start, end = words[:RANGE_WORDS], words[-RANGE_WORDS:]
    else:  # each term must lie inside one block: the first words of the first line, the last of the last
        start, end = lines[0][:RANGE_WORDS], lines[-1][-RANGE_WORDS:]
    return "text=" + encode_term(" ".join(start)) + "," + encode_term(" ".join(end))


def cite_url(url: Any, quote: str, page: int | None = None) -> str | None:
    """The source's ``url`` with a fragment that opens ``page`` (PDF) and scrolls to ``quote``.

    None when ``url`` is missing or not http(s). A fragment already in ``url`` is kept, with its
    ``page=`` set to ``page`` ("#zoom=50" becomes "#zoom=50&page=3"); an old directive is replaced.
    """
    base = safe_url(url)
    if base is None:
        return None
    base, _, fragment = base.partition("#")
    fragment = fragment.split(DIRECTIVE, 1)[0]
    if page is not None:
        params = [p for p in fragment.split("&") if p and not p.lower().startswith("page=")]
        fragment = "&".join(params + [f"page={int(page)}"])
    directive = text_directive(quote)
    if directive:
        fragment += DIRECTIVE + directive
    return base + ("#" + fragment if fragment else "")

