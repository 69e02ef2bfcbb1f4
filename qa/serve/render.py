"""The chat's HTML: answers, citations, sources, verdicts and the document list, escaped and highlighted by offsets.

Document text, titles, ids and questions are always escaped with :func:`esc`, and spans are
highlighted by their offsets (``text[answer_start:answer_end]``), never by searching for the string
again. The result never holds a blank line, so Gradio's chat passes it through as HTML.
"""

from __future__ import annotations

import html
import re
from typing import Any

from qa.ingest.sentences import split_sentences
from qa.text.markup import marked, percent
from qa.serve.pages import source_link

NO_ANSWER = "The sources don't answer this."
CONTEXT_CHARS = 160      # characters of document shown either side of a cited quote
SNIPPET_CHARS = 300      # characters of a retrieved passage shown in lists
VERDICT_LABEL = {"supported": "Supported", "contradicted": "Contradicted", "not_found": "Not found"}


_BREAKS = re.compile(r"[ \t]*(?:\r\n|\r|\n)(?:[ \t\r\n]*(?:\r\n|\r|\n))?[ \t]*")

def esc(text: Any) -> str:
    """HTML-escape ``text`` (quotes included); a run of line breaks becomes one ``<br>``.

    The result never holds a blank line, so the chat's Markdown renderer passes it through as HTML.
    """
    return _BREAKS.sub("<br>", html.escape(str(text), quote=True))


def highlight_html(text: str, start: int, end: int, answer_start: int | None = None,
                   answer_end: int | None = None, context: int = 0) -> str:
    """Escaped HTML of ``text[start:end]``, the answer ``text[answer_start:answer_end]`` in ``<mark>``.

    With ``context`` > 0, up to that many characters either side (cut at a space) are shown too and
    the quote is wrapped in ``<span class="qa-quote">``. Offsets are trusted, never re-searched.
    """
    if not 0 <= start <= end <= len(text):
        raise ValueError(f"span {start}:{end} is outside a text of {len(text)} characters")
    has_answer = answer_start is not None and answer_end is not None
    if has_answer and not start <= answer_start <= answer_end <= end:  # type: ignore[operator]
        raise ValueError(f"answer span {answer_start}:{answer_end} is outside the quote {start}:{end}")
    quote = marked(text, start, end, [(answer_start, answer_end)] if has_answer else [], "<mark>", esc)
    if context <= 0:
        return quote
    left = max(0, start - context)
    if left > 0:
        cut = text.find(" ", left, start)
        left = cut + 1 if cut != -1 else left
    right = min(len(text), end + context)
    if right < len(text):
        cut = text.rfind(" ", end, right)
        right = cut if cut != -1 else right
    return ("…" if left > 0 else "") + esc(text[left:start]) + f'<span class="qa-quote">{quote}</span>' \
        + esc(text[end:right]) + ("…" if right < len(text) else "")


def source_href(doc_id: str, start: int | None = None, end: int | None = None,
                answer_start: int | None = None, answer_end: int | None = None) -> str:
    """Escaped link to the whole-document view (see :func:`qa.serve.pages.source_link`)."""

    return html.escape(source_link(doc_id, start, end, answer_start, answer_end), quote=True)


def page_label(item: dict) -> str:
    """`` · p. N`` for a citation or passage of a PDF, else empty."""
    page = item.get("page")
    return f" · p. {int(page)}" if isinstance(page, int) and not isinstance(page, bool) else ""


def original_link(citation: dict) -> str:
    """A link to the original document (scrolled to the quote), only for a plain http(s) url."""
    from qa.text.links import safe_url

    url = safe_url(citation.get("url"))
    if url is None:
        return ""
    return (f' · <a class="qa-open qa-original" href="{html.escape(url, quote=True)}" target="_blank" '
            f'rel="noopener noreferrer">Open the original</a>')


def _snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    if len(text) <= limit:
        return esc(text)
    cut = text.rfind(" ", 0, limit)
    return esc(text[:cut if cut > limit // 2 else limit]) + "…"


def sentence_answer(citation: dict) -> bool:
    """True when the answer is no shorter than a sentence: the whole quote, or one whole sentence of it."""
    start, a0, a1 = citation["start"], citation["answer_start"], citation["answer_end"]
    if a0 is None or a1 is None:
        return False
    return (a0, a1) == (start, citation["end"]) or (a0 - start, a1 - start) in split_sentences(citation["quote"])


def understood_html(result: dict) -> str:
    """"Understood as: ..." when a follow-up was asked of the sources as another question, so a wrong
    reading is visible; empty otherwise."""
    standalone = result.get("standalone_question")
    if not standalone or " ".join(standalone.split()) == " ".join(str(result["question"]).split()):
        return ""
    return f'<p class="qa-understood">Understood as: {esc(standalone)}</p>'


def answer_html(result: dict, text_of) -> str:
    """The chat message for ``Answer.to_dict()``; ``text_of(doc_id)`` gives a document's text."""
    if result["abstained"]:
        return abstention_html(result)
    conf = f'<span class="qa-conf" title="calibrated confidence">{percent(result["confidence"])} confident</span>'
    first = result["citations"][0]
    text = text_of(first["source"])
    if sentence_answer(first):  # the answer is a sentence of the quote: say it once, as the quote
        whole = (first["answer_start"], first["answer_end"]) == (first["start"], first["end"])
        quote = highlight_html(text, first["start"], first["end"], None if whole else first["answer_start"],
                               None if whole else first["answer_end"])
        parts = ['<div class="qa-msg">', understood_html(result),
                 f'<p class="qa-answer qa-sentence">“{quote}” <span class="qa-ref">[1]</span>{conf}</p>']
        if result.get("note"):
            parts.append(f'<p class="qa-note">{esc(result["note"])}</p>')
    else:
        parts = ['<div class="qa-msg">', understood_html(result), f'<p class="qa-answer">{esc(result["answer"])}{conf}</p>']
        if result.get("note"):
            parts.append(f'<p class="qa-note">{esc(result["note"])}</p>')
        quote = highlight_html(text, first["start"], first["end"], first["answer_start"], first["answer_end"])
        parts.append(f'<p class="qa-said">“{quote}” <span class="qa-ref">[1]</span></p>')
    for n, c in enumerate(result["citations"], 1):
        text = text_of(c["source"])
        ctx = highlight_html(text, c["start"], c["end"], c["answer_start"], c["answer_end"], CONTEXT_CHARS)
        href = source_href(c["source"], c["start"], c["end"], c["answer_start"], c["answer_end"])
        role = "answer" if n == 1 else "supporting"
        parts.append(f'<details class="qa-cite"><summary>[{n}] {esc(c["title"])}{page_label(c)}'
                     f'</summary><div class="qa-ctx">{ctx}</div>'
                     f'<a class="qa-open" href="{href}" target="_blank" rel="noopener noreferrer">'
                     f'Open the whole document ({role})</a>{original_link(c)}</details>')
    parts.append("</div>")
    return "".join(parts)


def abstention_html(result: dict, related: int = 3) -> str:
    parts = ['<div class="qa-msg">', understood_html(result), f'<p class="qa-abstain">{esc(NO_ANSWER)}'
             f'<span class="qa-conf low" title="calibrated confidence">{percent(result["confidence"])}</span></p>']
    passages = result.get("passages", [])[:related]
    if passages:
        parts.append('<p class="qa-note">Related, but not an answer:</p>')
    for n, p in enumerate(passages, 1):
        href = source_href(p["source"], p["start"], p["end"])
        parts.append(f'<details class="related"><summary>[{n}] {esc(p["title"])}{page_label(p)}</summary>'
                     f'<div class="qa-ctx">{_snippet(p["text"])}</div>'
                     f'<a class="qa-open" href="{href}" target="_blank" rel="noopener noreferrer">'
                     f'Open the whole document</a></details>')
    parts.append("</div>")
    return "".join(parts)


def sources_html(result: dict | None) -> str:
    """The sources panel: every retrieved passage with its fused, dense and lexical scores."""
    if not result:
        return '<div class="qa-list"><p class="qa-note">Retrieved passages appear here.</p></div>'
    cited = {(c["source"], c["start"], c["end"]) for c in result["citations"]}
    parts = ['<div class="qa-list"><ol>']
    for p in result["passages"]:
        holds = any(s == p["source"] and p["start"] <= a and b <= p["end"] for s, a, b in cited)
        href = source_href(p["source"], p["start"], p["end"])
        parts.append(f'<li><a href="{href}" target="_blank" rel="noopener noreferrer"><strong>{esc(p["title"])}'
                     f'</strong></a>{" · cited" if holds else ""}<br><span class="qa-score">score {p["score"]:.3f}'
                     f' · dense {p["dense"]:.3f} · lexical {p["lexical"]:.3f} · chars {p["start"]}–{p["end"]}{page_label(p)}'
                     f'</span><div class="qa-ctx">{_snippet(p["text"])}</div></li>')
    if not result["passages"]:
        parts.append('<li class="qa-note">No passage was retrieved.</li>')
    parts.append("</ol></div>")
    return "".join(parts)


def marked_html(text: str, start: int, end: int, spans, cls: str = "qa-diff") -> str:
    """Escaped ``text[start:end]`` with each ``(s, e)`` of ``spans`` (offsets into ``text``) in a ``<mark>``.

    Spans outside the window or overlapping an earlier one are refused, never re-searched.
    """
    return marked(text, start, end, spans, f'<mark class="{cls}">', esc)


def verdicts_html(verdicts: list[dict], text_of) -> str:
    """One block per claim (``Verdict.to_dict()``): the verdict, the claim with its differing details
    marked, and each evidence passage with the source's differing details marked by their offsets."""
    parts = ['<div class="qa-msg">']
    for v in verdicts:
        claim = v["claim"]
        mm = v["mismatches"]
        parts.append(f'<div class="qa-verdict"><p><span class="qa-badge {esc(v["verdict"])}">'
                     f'{esc(VERDICT_LABEL[v["verdict"]])}</span>'
                     f'{marked_html(claim, 0, len(claim), [(m["claim_start"], m["claim_end"]) for m in mm])}'
                     f'<span class="qa-conf low" title="confidence">{percent(v["confidence"])} confident</span></p>')
        if v["verdict"] == "not_found":
            parts.append('<p class="qa-note">Nothing in the sources is about this closely enough.'
                         + (' The closest passages:' if v.get("related") else '') + '</p>')
            for n, e in enumerate(v.get("related") or [], 1):
                href = source_href(e["source"], e["start"], e["end"])
                parts.append(f'<details class="related"><summary>[{n}] {esc(e["title"])}</summary>'
                             f'<div class="qa-ctx">“{marked_html(text_of(e["source"]), e["start"], e["end"], [])}”</div>'
                             f'<a class="qa-open" href="{href}" target="_blank" rel="noopener noreferrer">'
                             f'Open the whole document</a></details>')
        for m in mm:
            parts.append(f'<p class="qa-note">The claim says “{esc(m["claim_text"])}”; the source says '
                         f'“{esc(m["evidence_text"])}”.</p>')
        for n, e in enumerate(v["evidence"], 1):
            text = text_of(e["source"])
            marks = [(m["evidence_start"], m["evidence_end"]) for m in mm
                     if n == 1 and m["source"] == e["source"]]
            href = source_href(e["source"], e["start"], e["end"])
            parts.append(f'<details class="qa-cite" open><summary>[{n}] {esc(e["title"])}</summary>'
                         f'<div class="qa-ctx">“{marked_html(text, e["start"], e["end"], marks)}”</div>'
                         f'<a class="qa-open" href="{href}" target="_blank" rel="noopener noreferrer">'
                         f'Open the whole document</a></details>')
        parts.append("</div>")
    parts.append("</div>")
    return "".join(parts)


def quote_html(result: dict, text_of) -> str:
    """The quote check (``QuoteCheck.to_dict()``): verbatim, or the closest passage with both sides'
    differing words marked by their offsets."""
    status = result["status"]
    label = {"verbatim": "Verbatim", "differs": "Not verbatim", "not_found": "Not found"}[status]
    parts = ['<div class="qa-msg"><div class="qa-verdict">',
             f'<p><span class="qa-badge {esc(status)}">{esc(label)}</span>'
             f'<span class="qa-conf low" title="similarity">{percent(result["score"])} similar</span></p>']
    if status == "not_found":
        parts.append('<p class="qa-note">No passage of the sources is close to this quote.</p></div></div>')
        return "".join(parts)
    quote = result["quote"]
    diffs = result["diffs"]
    if diffs:
        parts.append('<p class="qa-note">Your quote (words not in the source marked):</p><p>“'
                     + marked_html(quote, 0, len(quote), [(d["quote_start"], d["quote_end"]) for d in diffs
                                                          if d["quote_end"] > d["quote_start"]]) + "”</p>")
    text = text_of(result["source"])
    marks = [(d["source_start"], d["source_end"]) for d in diffs if d["source_end"] > d["source_start"]]
    href = source_href(result["source"], result["start"], result["end"])
    parts.append(f'<details class="qa-cite" open><summary>{esc(result["title"])}</summary>'
                 f'<div class="qa-ctx">“{marked_html(text, result["start"], result["end"], marks, "qa-ins")}”'
                 f'</div><a class="qa-open" href="{href}" target="_blank" rel="noopener noreferrer">'
                 f'Open the whole document</a></details></div></div>')
    return "".join(parts)


DOCUMENTS_SHOWN = 500  # a larger corpus lists its first ones and says how many more


def documents_html(docs: list[dict]) -> str:
    """The indexed documents (``{"id", "title", "pages"}`` each): a count, and each title linked to its
    whole-document view, with its file name and a PDF's page count."""
    if not docs:
        return ('<div class="qa-docs"><p class="qa-note">No documents are indexed yet: put files in the corpus '
                'folder and run <code>qa index</code>.</p></div>')
    n = len(docs)
    parts = [f'<div class="qa-docs"><details open><summary>Searching {n} document{"s" if n != 1 else ""}'
             f'</summary><ul>']
    for d in docs[:DOCUMENTS_SHOWN]:
        extra = [d["id"]] if d["title"] != d["id"] else []
        if d.get("pages"):
            extra.append(f'{d["pages"]} page{"s" if d["pages"] != 1 else ""}')
        note = f' <span class="qa-note">{esc(" · ".join(extra))}</span>' if extra else ""
        parts.append(f'<li><a href="{source_href(d["id"])}" target="_blank" rel="noopener noreferrer">'
                     f'{esc(d["title"])}</a>{note}</li>')
    if n > DOCUMENTS_SHOWN:
        parts.append(f'<li class="qa-note">… and {n - DOCUMENTS_SHOWN:,} more</li>')
    parts.append("</ul></details></div>")
    return "".join(parts)
