"""The Gradio UI: a chat over the corpus where every answer shows its sources.

Everything shown comes from :meth:`Pipeline.ask` (the "Ask" tab) and
:meth:`Pipeline.check_text` / :meth:`Pipeline.check_quote` (the "Check a claim" tab), rendered as
HTML: document text and questions are escaped with :func:`html.escape`, and
spans are highlighted by their offsets (``text[answer_start:answer_end]``),
never by searching for the answer string again. The chat renders no Markdown,
so Markdown syntax in a document or question stays text too. :func:`build_ui` returns the
Blocks; :mod:`qa.serve.api` mounts it at ``/`` next to the JSON API.
"""

from __future__ import annotations

import html
import os
import re
from typing import Any

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import gradio as gr  # noqa: E402

from qa.errors import QAError  # noqa: E402
from qa.text.markup import marked, percent  # noqa: E402
from qa.pipeline import Pipeline  # noqa: E402
from qa.serve.pages import source_link  # noqa: E402

EXAMPLES = (
    "When did Japan rule Korea as a colony?",
    "How much did Japan export to South Korea in 2021?",
    "Who met Yoon Suk Yeol in Tokyo in March 2023?",
)
NO_ANSWER = "The sources don't answer this."
CONTEXT_CHARS = 160      # characters of document shown either side of a cited quote
SNIPPET_CHARS = 300      # characters of a retrieved passage shown in lists
MAX_TURNS = 50           # questions kept in a chat's history

# System fonts only: the page must not fetch anything from a CDN.
THEME = gr.themes.Soft(primary_hue="amber", secondary_hue="slate", neutral_hue="slate",
                       font=["system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"],
                       font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"])

CSS = """
.qa-msg { line-height: 1.55; overflow-wrap: anywhere; }
.qa-msg .qa-answer { font-size: 1.1em; font-weight: 600; margin: 0 0 .3em; }
.qa-conf { display: inline-block; font-size: .8em; font-weight: 600; padding: .05em .55em; border-radius: 1em;
           background: #fef3c7; color: #78350f; margin-left: .4em; vertical-align: middle; }
.qa-conf.low { background: #e5e7eb; color: #374151; }
.qa-msg details, .qa-list details { margin: .35em 0; border-left: 3px solid #f59e0b; padding-left: .6em; }
.qa-msg details.related, .qa-list details.related { border-left-color: #94a3b8; }
.qa-msg summary, .qa-list summary { cursor: pointer; font-weight: 600; }
.qa-ctx { margin: .3em 0; font-size: .95em; color: inherit; }
.qa-quote { background: rgba(253, 230, 138, .45); }
.qa-msg mark, .qa-list mark, .qa-ctx mark { background: #fbbf24; color: #111827; padding: 0 .1em; border-radius: 2px; }
.qa-open { font-size: .85em; }
.qa-said { margin: .2em 0 .5em; }
.qa-ref { font-size: .8em; font-weight: 600; color: #92400e; }
.qa-abstain { font-weight: 600; margin: 0 0 .3em; }
.qa-note { color: #6b7280; font-size: .85em; margin: .2em 0; }
.qa-understood { color: #6b7280; font-size: .85em; font-style: italic; margin: 0 0 .3em; }
.qa-list ol { padding-left: 1.3em; margin: 0; }
.qa-list li { margin-bottom: .6em; }
.qa-score { font-family: ui-monospace, monospace; font-size: .8em; color: #6b7280; }
.qa-explain table { border-collapse: collapse; width: 100%; font-size: .85em; }
.qa-explain td, .qa-explain th { border-bottom: 1px solid #e5e7eb; padding: .25em .4em; text-align: left;
                                vertical-align: top; }
.qa-examples button { white-space: normal !important; text-align: left; }
.qa-verdict { margin: 0 0 1em; }
.qa-badge { display: inline-block; font-size: .8em; font-weight: 700; padding: .1em .6em; border-radius: 1em;
            margin-right: .4em; text-transform: uppercase; letter-spacing: .02em; }
.qa-badge.supported, .qa-badge.verbatim { background: #dcfce7; color: #14532d; }
.qa-badge.contradicted { background: #fee2e2; color: #7f1d1d; }
.qa-badge.not_found, .qa-badge.differs { background: #e5e7eb; color: #1f2937; }
.qa-verdict mark.qa-diff { background: #fca5a5; color: #111827; }
.qa-verdict .qa-ins { background: #bbf7d0; color: #111827; }
footer { display: none !important; }
"""
CHECK_EXAMPLES = (
    "Japan is the second-largest economy in the world.",
    "North Korea invaded South Korea in June 1950. The armistice was signed in 1953.",
)
VERDICT_LABEL = {"supported": "Supported", "contradicted": "Contradicted", "not_found": "Not found"}
# The built-in examples are about the seed documents: offered only when the corpus holds them.
SEED_DOCUMENTS = frozenset({"000_c6a6f3801ffa9646.txt", "002_8a6a162120bf64fe.txt", "004_34ba08f7c481c79f.txt"})


def examples_for(config, doc_ids) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(questions, claims) to offer as buttons: ``examples``/``claim_examples`` from the config, else the
    built-in ones over the seed corpus, else none (a question about Korea over someone's own documents
    would only abstain)."""
    seeds = SEED_DOCUMENTS <= set(doc_ids)
    return (config.examples or (EXAMPLES if seeds else ()), config.claim_examples or (CHECK_EXAMPLES if seeds else ()))


# ------------------------------------------------------------------ HTML helpers (pure, tested)

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


def _shown(question: str, limit: int = SNIPPET_CHARS) -> str:
    """A refused question as echoed in the chat: cut, and with characters that cannot be shown replaced."""
    text = question.encode("utf-8", "replace").decode("utf-8")
    return text if len(text) <= limit else text[:limit] + "…"


def _bounded(history: list) -> list:
    """The chat's last ``MAX_TURNS`` questions and replies: a session never grows without bound."""
    return history[-MAX_TURNS * 2:]


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
    conf = result["confidence"]
    parts = ['<div class="qa-msg">', understood_html(result),
             f'<p class="qa-answer">{esc(result["answer"])}'
             f'<span class="qa-conf" title="calibrated confidence">{percent(conf)} confident</span></p>']
    if result.get("note"):
        parts.append(f'<p class="qa-note">{esc(result["note"])}</p>')
    first = result["citations"][0]
    quote = highlight_html(text_of(first["source"]), first["start"], first["end"], first["answer_start"],
                           first["answer_end"])
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


def explain_html(answer, text_of, title_of) -> str:
    """Per-sentence ranker scores, the calibration features and, for an abstention, the reason."""
    ex = answer.explain or {}
    parts = ['<div class="qa-explain">']
    if answer.abstained:
        parts.append(f'<p><strong>Why no answer:</strong> {esc(answer.reason or "no passage holds an answer")}</p>')
    why = (ex.get("conversation") or {}).get("why") or []
    if why:
        parts.append(f'<p><strong>Understood as:</strong> {esc(answer.standalone_question)} ({esc("; ".join(why))})</p>')
    parts.append(f'<p>Confidence {percent(answer.confidence)} (threshold {percent(ex.get("threshold", 0))}); '
                 f'question type: {esc(ex.get("question_type") or "any sentence")}.</p>')
    rows = ex.get("top_sentences") or []
    if rows:
        parts.append("<table><thead><tr><th>#</th><th>score</th><th>sentence</th><th>features</th></tr></thead><tbody>")
        for n, r in enumerate(rows, 1):
            text = text_of(r["source"])
            feats = ", ".join(f"{k} {v:.2f}" for k, v in r.get("features", {}).items())
            parts.append(f'<tr><td>{n}</td><td class="qa-score">{r["score"]:.2f}</td>'
                         f'<td>{esc(text[r["start"]:r["end"]])}<br><span class="qa-note">{esc(title_of(r["source"]))}'
                         f'</span></td><td class="qa-score">{esc(feats)}</td></tr>')
        parts.append("</tbody></table>")
    calib = ex.get("calibration") or {}
    if calib:
        parts.append('<p class="qa-score">calibration: ' + esc(", ".join(f"{k} {v:.3f}" for k, v in calib.items()))
                     + "</p>")
    parts.append("</div>")
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
            parts.append('<p class="qa-note">Nothing in the sources is about this closely enough.</p>')
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


# ------------------------------------------------------------------ the Blocks

def build_ui(pipeline: Pipeline) -> gr.Blocks:
    """The chat UI over ``pipeline`` (mount it with :func:`qa.serve.api.create_app`)."""
    limit = pipeline.config.limits.max_question_chars
    try:
        doc_ids = list(pipeline.index.doc_ids)
    except QAError:  # no index yet: quotes are then checked against every document, and no examples are offered
        doc_ids = []
    questions, claims = examples_for(pipeline.config, doc_ids)

    def text_of(doc_id: str) -> str:
        return pipeline.source(doc_id)["text"]

    def title_of(doc_id: str) -> str:
        return pipeline.source(doc_id)["title"]

    turns_kept = pipeline.config.limits.max_history_turns

    def respond(question: str, history: list | None, conversation: list | None = None):
        """One turn: ``(history, history, box, sources, explain, conversation)``; the chat and the
        conversation (the earlier answers, which follow-ups are understood from) live in server-side States.

        The browser sends only the question (never the conversation back), so a long chat cannot push
        a request past ``limits.max_body_bytes``.
        """
        history = list(history or [])
        conversation = list(conversation or [])
        if not isinstance(question, str) or not question.strip():
            return history, history, "", gr.skip(), gr.skip(), conversation
        try:
            answer = pipeline.ask(question, history=conversation)
        except QAError as exc:
            history = _bounded(history + [{"role": "user", "content": esc(_shown(question))},
                                          {"role": "assistant", "content": f'<div class="qa-msg">{esc(exc)}</div>'}])
            return history, history, question, gr.skip(), gr.skip(), conversation
        result = answer.to_dict()
        history = _bounded(history + [{"role": "user", "content": esc(question)},
                                      {"role": "assistant", "content": answer_html(result, text_of)}])
        conversation = (conversation + [answer])[-turns_kept:]
        return history, history, "", sources_html(result), explain_html(answer, text_of, title_of), conversation

    with gr.Blocks(title="qa: ask the sources", analytics_enabled=False) as demo:
        gr.Markdown("## Ask the sources\nAnswers are quoted word for word from the documents, with citations; "
                    "when the documents don't answer, it says so.")
        with gr.Tab("Ask"):
            with gr.Row(equal_height=False):
                with gr.Column(scale=3, min_width=320):
                    # Markdown off: a document or question holding `[x](javascript:..)` or `![x](http://tracker)`
                    # must show as those characters, not become a link or an image.
                    chat = gr.Chatbot(label="Answers", show_label=False, height=520, buttons=["copy", "copy_all"],
                                      sanitize_html=True, latex_delimiters=[], render_markdown=False,
                                      feedback_options=None, group_consecutive_messages=False,
                                      elem_id="qa-chat", placeholder="Ask a question about the documents.")
                    with gr.Row(equal_height=True):
                        box = gr.Textbox(show_label=False, placeholder="Type a question and press Enter",
                                         lines=1, max_lines=4, max_length=limit, scale=5, min_width=180,
                                         autofocus=True, elem_id="qa-question")
                        ask = gr.Button("Ask", variant="primary", scale=1, min_width=70, elem_id="qa-ask")
                    gr.Markdown("Try one:", visible=bool(questions))
                    with gr.Row(elem_classes="qa-examples", visible=bool(questions)):
                        buttons = [gr.Button(q, size="sm", variant="secondary", min_width=160) for q in questions]
                    clear = gr.Button("Clear the conversation", size="sm", variant="secondary")
                with gr.Column(scale=2, min_width=300):
                    gr.Markdown("### Sources")
                    sources = gr.HTML(sources_html(None), elem_id="qa-sources")
                    with gr.Accordion("Explain", open=False):
                        explain = gr.HTML('<p class="qa-note">Scores of the best sentences appear here.</p>',
                                          elem_id="qa-explain")
        with gr.Tab("Check a claim"):
            gr.Markdown("Paste a claim (each sentence is checked on its own) or switch to quote mode to see "
                        "whether words are quoted verbatim.")
            mode = gr.Radio(["Check claims", "Verify a quote"], value="Check claims", show_label=False,
                            elem_id="qa-check-mode")
            claim_box = gr.Textbox(show_label=False, placeholder="A claim, or a quote, to check", lines=3,
                                   max_lines=10, max_length=limit, elem_id="qa-claim")
            source_pick = gr.Dropdown([("All documents", "")] + [(title_of(d), d) for d in doc_ids], value="",
                                      label="Quote source", visible=False, elem_id="qa-quote-source")
            check_btn = gr.Button("Check", variant="primary", elem_id="qa-check")
            with gr.Row(elem_classes="qa-examples", visible=bool(claims)):
                check_examples = [gr.Button(c, size="sm", variant="secondary", min_width=160)
                                  for c in claims]
            check_out = gr.HTML('<p class="qa-note">Verdicts appear here.</p>', elem_id="qa-check-result")

        turns = gr.State([])
        conversation = gr.State([])  # the earlier Answers of this chat: what "it" or "he" can point back to
        outputs = [chat, turns, box, sources, explain, conversation]
        box.submit(respond, [box, turns, conversation], outputs)
        ask.click(respond, [box, turns, conversation], outputs)
        for b, q in zip(buttons, questions):
            b.click(lambda history, conv, q=q: respond(q, history, conv), [turns, conversation], outputs)
        clear.click(lambda: ([], [], "", sources_html(None), "", []), None, outputs)

        def ask_api(question: str, top_k: int | None = None) -> dict:
            """The `qa ask --json` object, for gradio_client users; a bad question raises its message."""
            try:
                return pipeline.ask(question, top_k=top_k).to_dict()
            except QAError as exc:
                raise gr.Error(str(exc), print_exception=False) from None

        gr.api(ask_api, api_name="ask")

        def run_check(text: str, how: str, source: str | None) -> str:
            if not isinstance(text, str) or not text.strip():
                return '<p class="qa-note">Type a claim or a quote first.</p>'
            try:
                if how == "Verify a quote":
                    return quote_html(pipeline.check_quote(text, source or None).to_dict(), text_of)
                return verdicts_html([v.to_dict() for v in pipeline.check_text(text)], text_of)
            except QAError as exc:
                return f'<div class="qa-msg">{esc(exc)}</div>'

        mode.change(lambda how: gr.update(visible=how == "Verify a quote"), [mode], [source_pick])
        check_btn.click(run_check, [claim_box, mode, source_pick], [check_out])
        claim_box.submit(run_check, [claim_box, mode, source_pick], [check_out])
        for b, c in zip(check_examples, claims):
            b.click(lambda c=c: (c, "Check claims", run_check(c, "Check claims", "")), None,
                    [claim_box, mode, check_out])

        def check_api(claim: str) -> dict:
            """`{"verdicts": [...]}` for a claim, one per sentence (as POST /api/check); a bad claim raises its message."""
            try:
                return {"verdicts": [v.to_dict() for v in pipeline.check_text(claim)]}
            except QAError as exc:
                raise gr.Error(str(exc), print_exception=False) from None

        gr.api(check_api, api_name="check")
    return demo
