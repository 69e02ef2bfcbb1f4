"""The Gradio UI: a chat over the corpus where every answer shows its sources.

Everything shown comes from :meth:`Pipeline.ask` (the "Ask" tab) and
:meth:`Pipeline.check_text` / :meth:`Pipeline.check_quote` (the "Check a claim" tab), rendered as
escaped HTML by :mod:`qa.serve.render` (spans highlighted by their offsets, never by searching for
the answer string again) and explained in words by :mod:`qa.serve.explain`. The chat renders no
Markdown, so Markdown syntax in a document or question stays text too. The page lists the indexed
documents and offers example questions (:mod:`qa.serve.examples`). :func:`build_ui` returns the
Blocks; :mod:`qa.serve.api` mounts it at ``/`` next to the JSON API.
"""

from __future__ import annotations

import os
from typing import Callable

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
# Gradio's queue summarises its per-event analytics with pandas after every event, for a monitoring
# page this app never enables; pandas 3 warns about the options Gradio uses (32 Pandas4Warnings a
# test run). Summarise never: no pandas work per question, no warnings.
os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", str(2**62))

import gradio as gr  # noqa: E402

from qa.errors import QAError  # noqa: E402
from qa.pipeline import Answer, Pipeline  # noqa: E402
from qa.text.markup import percent  # noqa: E402,F401 (public here too)
from qa.serve.examples import CHECK_EXAMPLES, EXAMPLES, draw_questions, examples_for  # noqa: E402,F401
from qa.serve.explain import explain_html  # noqa: E402
from qa.serve.render import (NO_ANSWER, SNIPPET_CHARS, answer_html, documents_html, esc,  # noqa: E402,F401
                             highlight_html, marked_html, quote_html, sources_html, understood_html,
                             verdicts_html)

MAX_TURNS = 50           # questions kept in a chat's history
EXPLAIN_PLACEHOLDER = '<p class="qa-note">Why an answer was chosen, or what was missing, appears here.</p>'

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
.qa-msg .qa-sentence { font-weight: 400; font-size: 1.05em; }
.qa-why { margin: 0 0 .4em; }
.qa-numbers summary { font-weight: 400; color: #6b7280; font-size: .9em; }
.qa-docs summary { cursor: pointer; font-weight: 600; }
.qa-docs ul { margin: .3em 0 0; padding: 0; list-style: none; max-height: 24em; overflow-y: auto; }
.qa-docs li { margin-bottom: .25em; overflow-wrap: anywhere; }
/* Gradio floats the chat's clear/copy-all buttons over the messages (the first one, or whichever is scrolled
   to the top): give them a row of their own above the scrolling messages. */
#qa-chat .icon-button-wrapper.top-panel { position: static; align-self: flex-end; width: fit-content;
                                          margin: 4px 4px 0 auto; }
footer { display: none !important; }
"""


def _shown(question: str, limit: int = SNIPPET_CHARS) -> str:
    """A refused question as echoed in the chat: cut, and with characters that cannot be shown replaced."""
    text = question.encode("utf-8", "replace").decode("utf-8")
    return text if len(text) <= limit else text[:limit] + "…"


def _bounded(history: list) -> list:
    """The chat's last ``MAX_TURNS`` questions and replies: a session never grows without bound."""
    return history[-MAX_TURNS * 2:]


# ------------------------------------------------------------------ the Blocks

def build_ui(pipeline: Pipeline, on_answer: Callable[[Answer], None] | None = None) -> gr.Blocks:
    """The chat UI over ``pipeline`` (mount it with :func:`qa.serve.api.create_app`); ``on_answer`` is told of
    every answer it gives (the server's metrics count them)."""
    told = on_answer or (lambda answer: None)
    limit = pipeline.config.limits.max_question_chars
    try:
        index = pipeline.store
        listed = index.catalogue()
    except QAError:  # no index yet: quotes are then checked against every document, and no examples are offered
        index, listed = None, []
    doc_ids = [d for _, d, _, _ in listed]
    config = pipeline.config
    drawn: tuple[str, ...] = ()
    if index is not None and doc_ids and not config.examples and not examples_for(config, doc_ids)[0]:
        drawn = draw_questions(index, pipeline.ask)  # the corpus's own questions, answered before offered
    questions, claims = examples_for(config, doc_ids, drawn)
    docs = [{"id": d, "title": title, "pages": pages} for _, d, title, pages in listed]

    def text_of(doc_id: str) -> str:
        return pipeline.source(doc_id)["text"]

    def title_of(doc_id: str) -> str:
        return pipeline.source(doc_id)["title"]

    def in_corpus(stem: str) -> bool:
        return index is not None and index.has_term(stem)

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
            told(answer)
        except QAError as exc:
            history = _bounded(history + [{"role": "user", "content": esc(_shown(question))},
                                          {"role": "assistant", "content": f'<div class="qa-msg">{esc(exc)}</div>'}])
            return history, history, question, gr.skip(), gr.skip(), conversation
        result = answer.to_dict()
        history = _bounded(history + [{"role": "user", "content": esc(question)},
                                      {"role": "assistant", "content": answer_html(result, text_of)}])
        conversation = (conversation + [answer])[-turns_kept:]
        return (history, history, "", sources_html(result), explain_html(answer, text_of, title_of, in_corpus),
                conversation)

    with gr.Blocks(title="qa: ask the sources", analytics_enabled=False) as demo:
        gr.Markdown("## Ask the sources\nAnswers are quoted word for word from "
                    + (f"the {len(docs)} documents it searches" if len(docs) > 1 else "the documents")
                    + ", with citations; when the documents don't answer, it says so.")
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
                    gr.HTML(documents_html(docs), elem_id="qa-documents")
                    gr.Markdown("### Sources")
                    sources = gr.HTML(sources_html(None), elem_id="qa-sources")
                    with gr.Accordion("Explain", open=False):
                        explain = gr.HTML(EXPLAIN_PLACEHOLDER, elem_id="qa-explain")
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
        clear.click(lambda: ([], [], "", sources_html(None), EXPLAIN_PLACEHOLDER, []), None, outputs)
        # The chat's own trash button empties what is shown; the kept history and conversation must go
        # too, or the next answer would bring the whole conversation back.
        chat.clear(lambda: ([], sources_html(None), EXPLAIN_PLACEHOLDER, []), None, [turns, sources, explain, conversation])

        def ask_api(question: str, top_k: int | None = None) -> dict:
            """The `qa ask --json` object, for gradio_client users; a bad question raises its message."""
            try:
                answer = pipeline.ask(question, top_k=top_k)
                told(answer)
                return answer.to_dict()
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
