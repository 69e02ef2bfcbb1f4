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

import re
from typing import Any
from urllib.parse import quote as _percent, urlsplit

DIRECTIVE = ":~:"
EXACT_MAX_CHARS = 120   # quotes up to this length (one line) are matched exactly
RANGE_WORDS = 5         # words kept at each end of a longer quote
PREFIX_WORDS = 3        # words before the quote that tell it apart from an earlier occurrence


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


def link_fields(url: str | None, page: int | None) -> dict:
    """The optional ``url`` and ``page`` keys of a citation's or an evidence's JSON."""
    return {**({"url": url} if url else {}), **({"page": page} if page is not None else {})}


def encode_term(text: str) -> str:
    """Percent-encode one text-directive term; ``-``, ``&`` and ``,`` too, as the spec requires."""
    return _percent(text, safe="").replace("-", "%2D")


def text_directive(quote: str, text: str = "", start: int = 0) -> str | None:
    """``text=...`` selecting ``quote`` in a rendered page, or None for a quote without words.

    ``text``/``start``: the document and where the quote starts in it. A browser goes to the first
    match of the directive's opening words, so when they also occur earlier in the document, the
    words just before the quote (on its line) are added as a ``prefix-``.
    """
    lines = [ln.split() for ln in quote.splitlines() if ln.strip()]
    if not lines:
        return None
    words = [w for ln in lines for w in ln]
    exact = " ".join(words)
    if len(lines) == 1 and (len(exact) <= EXACT_MAX_CHARS or len(words) <= 2 * RANGE_WORDS):
        first, terms = words, [encode_term(exact)]
    else:
        if len(lines) == 1:
            first, last = words[:RANGE_WORDS], words[-RANGE_WORDS:]
        else:  # each term must lie inside one block: the first words of the first line, the last of the last
            first, last = lines[0][:RANGE_WORDS], lines[-1][-RANGE_WORDS:]
        terms = [encode_term(" ".join(first)), encode_term(" ".join(last))]
    if start > 0 and _occurs_before(first, text, start):
        before = text[text.rfind("\n", 0, start) + 1:start].split()[-PREFIX_WORDS:]
        if before:
            terms.insert(0, encode_term(" ".join(before)) + "-")
    return "text=" + ",".join(terms)


def _occurs_before(words: list[str], text: str, start: int) -> bool:
    """Whether ``words`` (with any whitespace between them) occur in ``text`` before ``start``, ignoring case."""
    if words and words[0].casefold() not in text[:start].casefold():
        return False  # the usual case, without compiling a pattern for this quote
    pattern = r"(?<!\w)" + r"\s+".join(map(re.escape, words)) + r"(?!\w)"
    return re.compile(pattern, re.IGNORECASE).search(text, 0, start) is not None


def cite_url(url: Any, quote: str, page: int | None = None, text: str = "", start: int = 0) -> str | None:
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
    directive = text_directive(quote, text, start)
    if directive:
        fragment += DIRECTIVE + directive
    return base + ("#" + fragment if fragment else "")

