"""The UI's HTML: highlights by offsets (never by searching again) and escapes everything it shows."""

from __future__ import annotations

import html
import re

import pytest

from qa.serve.ui import NO_ANSWER, answer_html, build_ui, esc, explain_html, highlight_html, percent, sources_html

from .conftest import fake_pipeline

MARK = re.compile(r"<mark>(.*?)</mark>", re.S)


def test_mark_is_exactly_at_the_offsets():
    text = "Intro. In 1910 it began; by 1945 it ended. Later: 1965."
    s = text.index("In 1910")
    e = text.index(" Later")
    a0 = text.index("1945")
    out = highlight_html(text, s, e, a0, a0 + 4)
    assert MARK.findall(out) == ["1945"]
    assert html.unescape(re.sub(r"</?mark>", "", out)) == text[s:e]
    before, _, after = out.partition("<mark>")
    assert html.unescape(before) == text[s:a0]


def test_mark_uses_offsets_when_the_answer_occurs_earlier():
    text = "The treaty was signed in 1965. Talks resumed in 1965 and again, 1965 was the year."
    # the answer is the *third* "1965"; a str.find would wrongly mark the first
    a0 = text.rindex("1965")
    out = highlight_html(text, 0, len(text), a0, a0 + 4)
    assert out.count("<mark>") == 1
    before, _, rest = out.partition("<mark>")
    assert before == esc(text[:a0]) and before.count("1965") == 2
    assert rest == esc(text[a0:a0 + 4]) + "</mark>" + esc(text[a0 + 4:])


def test_context_window_wraps_the_quote():
    text = "word " * 100 + "Japan exported $51.1 billion in 2021. " + "tail " * 100
    s = text.index("Japan")
    e = text.index(" tail")
    a0 = text.index("$51.1")
    out = highlight_html(text, s, e, a0, a0 + len("$51.1 billion"), context=40)
    assert out.startswith("…") and out.endswith("…")
    assert '<span class="qa-quote">Japan exported <mark>$51.1 billion</mark> in 2021.</span>' in out
    assert len(html.unescape(out)) < 200


def test_escapes_script_and_event_handlers():
    text = 'Before <script>alert(1)</script> and <img src=x onerror="alert(2)"> after "q" & \'s\'.'
    a0 = text.index("<script>")
    out = highlight_html(text, 0, len(text), a0, a0 + len("<script>alert(1)</script>"), context=10)
    assert "<script" not in out and "<img" not in out
    assert "<mark>&lt;script&gt;alert(1)&lt;/script&gt;</mark>" in out
    assert "&quot;alert(2)&quot;" in out and "&amp;" in out and "&#x27;s&#x27;" in out


def test_bad_offsets_are_refused():
    with pytest.raises(ValueError, match="outside"):
        highlight_html("short", 0, 99)
    with pytest.raises(ValueError, match="outside the quote"):
        highlight_html("a longer text", 2, 6, 0, 4)


def test_esc_leaves_no_blank_line():
    # a blank line would end the chat's HTML block and let Markdown reinterpret the rest
    assert esc("a\n\n\nb\r\n\r\nc <d>") == "a<br>b<br>c &lt;d&gt;"


def test_percent_never_rounds_up_to_certainty():
    assert percent(0.9985) == "99%" and percent(1.0) == "100%" and percent(0.4999) == "49%" and percent(0) == "0%"


def _result(pipeline, q):
    a = pipeline.ask(q)
    return a, a.to_dict()


def test_answer_html_for_a_grounded_answer(seed_pipeline):
    a, r = _result(seed_pipeline, "How much did Japan export to South Korea in 2021?")
    out = answer_html(r, lambda d: seed_pipeline.source(d)["text"])
    assert "<mark>$51.1 billion</mark>" in out
    assert "[1] " + esc(r["citations"][0]["title"]) in out
    assert f'{percent(r["confidence"])} confident' in out
    assert "/source/000_c6a6f3801ffa9646.txt?start=" in out and "#hl" in out
    assert "\n\n" not in out


def test_answer_html_for_an_abstention(seed_pipeline):
    a, r = _result(seed_pipeline, "What is the capital of Mars?")
    assert r["abstained"]
    out = answer_html(r, lambda d: seed_pipeline.source(d)["text"])
    assert esc(NO_ANSWER) in out and "Related, but not an answer" in out and "<mark>" not in out
    ex = explain_html(a, lambda d: seed_pipeline.source(d)["text"], lambda d: seed_pipeline.source(d)["title"])
    assert "Why no answer" in ex and esc(a.reason) in ex and "<table>" in ex


def test_sources_panel_lists_passages_with_scores(seed_pipeline):
    a, r = _result(seed_pipeline, "How much did Japan export to South Korea in 2021?")
    out = sources_html(r)
    assert out.count("<li>") == len(r["passages"]) and "score " in out and "cited" in out
    assert "Retrieved passages appear here" in sources_html(None)


def test_html_from_hostile_documents_is_inert(tmp_path):
    from .conftest import fake_pipeline, make_corpus

    corpus = make_corpus(tmp_path, {
        "<b>x</b>.txt": "Zorblax festival\n\nThe zorblax festival <img src=x onerror=alert(1)> was first held "
                        "in 1999 <script>alert(2)</script> in Osaka.\n"})
    p = fake_pipeline(tmp_path, corpus=corpus)
    a, r = _result(p, "When was the zorblax festival first held?")
    assert not a.abstained
    text_of = lambda d: p.source(d)["text"]  # noqa: E731
    for out in (answer_html(r, text_of), sources_html(r),
                explain_html(a, text_of, lambda d: p.source(d)["title"])):
        assert "<img" not in out and "<script" not in out and "<b>" not in out
    assert "%3Cb%3Ex%3C%2Fb%3E.txt" in answer_html(r, text_of)  # the id is percent-encoded in links


def test_build_ui_answers_through_the_pipeline(seed_pipeline):
    demo = build_ui(seed_pipeline)
    assert demo.title.startswith("qa")
    fns = [fn for fn in demo.fns.values() if getattr(fn, "name", "") == "respond"]
    assert fns, "the submit handler is wired"
    respond = fns[0].fn
    history, state, box, sources, explain, _ = respond("How much did Japan export to South Korea in 2021?", [])
    assert state == history  # the conversation is kept server-side, not sent back by the browser
    assert box == "" and history[0] == {"role": "user", "content": "How much did Japan export to South Korea in 2021?"}
    assert "<mark>$51.1 billion</mark>" in history[1]["content"] and "<li>" in sources
    history2, *_ = respond("<img src=x onerror=alert(1)> When?", history)
    assert len(history2) == 4 and history2[2]["content"].startswith("&lt;img")
    assert respond("   ", history2)[0] == history2  # an empty question does nothing
    long_q = "x" * (seed_pipeline.config.limits.max_question_chars + 1)
    history3, _, box3, *_ = respond(long_q, history2)
    assert "limit is" in history3[-1]["content"] and box3 == long_q
    assert len(history3[-2]["content"]) < 400  # the refused question is echoed cut short


def test_ui_history_is_bounded(seed_pipeline):
    from qa.serve.ui import MAX_TURNS

    respond = next(fn for fn in build_ui(seed_pipeline).fns.values() if getattr(fn, "name", "") == "respond").fn
    history: list = []
    for n in range(MAX_TURNS + 3):
        history = respond(f"What did Japan export in {1990 + n}?", history)[1]
    assert len(history) == MAX_TURNS * 2 and "1993" in history[0]["content"]
    too_long = "x" * (seed_pipeline.config.limits.max_question_chars + 1)
    for _ in range(3):  # refused questions are kept within the same bound
        history = respond(too_long, history)[1]
    assert len(history) == MAX_TURNS * 2 and "limit is" in history[-1]["content"]


def test_gradio_input_is_only_the_question(seed_pipeline):
    """The chat history and the conversation are States: no browser request carries the (growing) conversation."""
    demo = build_ui(seed_pipeline)
    fn = next(fn for fn in demo.fns.values() if getattr(fn, "name", "") == "respond")
    kinds = [type(c).__name__ for c in fn.inputs]
    assert kinds == ["Textbox", "State", "State"]


def test_the_chat_understands_a_follow_up_from_its_conversation_and_says_how(seed_pipeline):
    respond = next(fn for fn in build_ui(seed_pipeline).fns.values() if getattr(fn, "name", "") == "respond").fn
    history, _, _, _, _, conversation = respond("When did North Korea invade South Korea?", [], [])
    assert len(conversation) == 1 and conversation[0].question == "When did North Korea invade South Korea?"
    assert "Understood as" not in history[1]["content"]
    history, _, _, _, explain, conversation = respond("When did it end?", history, conversation)
    assert '<p class="qa-understood">Understood as: When did the invasion of South Korea by North Korea end?</p>' \
        in history[3]["content"]
    assert "Understood as:" in explain and "&quot;it&quot;" in explain  # and why, in the Explain view
    assert len(conversation) == 2
    # a refused question leaves the conversation as it was; it never grows past limits.max_history_turns
    assert respond("x" * 5000, history, conversation)[5] == conversation
    limit = seed_pipeline.config.limits.max_history_turns
    for n in range(limit + 2):
        conversation = respond(f"What did Japan export in {1990 + n}?", [], conversation)[5]
    assert len(conversation) == limit and conversation[-1].question == f"What did Japan export in {1991 + limit}?"
    # a new conversation (what "Clear the conversation" sends) reads "it" as nothing
    history, *_ = respond("When did it end?", [], [])
    assert "Understood as" not in history[1]["content"]


def test_understood_as_is_shown_only_for_a_rewritten_question_and_escaped():
    from qa.serve.ui import understood_html

    assert understood_html({"question": "When?"}) == ""
    assert understood_html({"question": "When?", "standalone_question": "When?"}) == ""
    assert understood_html({"question": "When did it end?", "standalone_question": "When did <b>it</b> end?"}) == \
        '<p class="qa-understood">Understood as: When did &lt;b&gt;it&lt;/b&gt; end?</p>'


def test_answer_html_shows_the_note():
    text = "Delegates signed the treaty in Seoul."
    r = {"abstained": False, "answer": text, "confidence": 0.8, "note": "The question asks for a date; <none>.",
         "citations": [{"source": "a.txt", "title": "A", "start": 0, "end": len(text), "quote": text,
                        "answer_start": 0, "answer_end": len(text), "score": 0.8}], "passages": []}
    out = answer_html(r, lambda d: text)
    assert '<p class="qa-note">The question asks for a date; &lt;none&gt;.</p>' in out
    del r["note"]
    assert "asks for" not in answer_html(r, lambda d: text)


def _button_labels(demo) -> set[str]:
    import gradio as gr

    return {b.value for b in demo.blocks.values() if isinstance(b, gr.Button)}


def test_built_in_examples_only_over_the_seed_corpus(seed_pipeline, tmp_path):
    from qa.serve.ui import CHECK_EXAMPLES, EXAMPLES

    assert set(EXAMPLES) | set(CHECK_EXAMPLES) <= _button_labels(build_ui(seed_pipeline))
    corpus = tmp_path / "own"
    corpus.mkdir()
    (corpus / "policy.txt").write_text("Requests for more remote days must be approved by the head of department.")
    own = fake_pipeline(tmp_path / "p", corpus=corpus)
    labels = _button_labels(build_ui(own))
    assert not (set(EXAMPLES) | set(CHECK_EXAMPLES)) & labels  # questions about Korea would only abstain here


def test_configured_examples_are_offered(tmp_path):
    corpus = tmp_path / "own"
    corpus.mkdir()
    (corpus / "policy.txt").write_text("Requests for more remote days must be approved by the head of department.")
    own = fake_pipeline(tmp_path / "p", corpus=corpus, examples=["Who approves remote days?"],
                        claim_examples=["The head of department approves remote days."])
    labels = _button_labels(build_ui(own))
    assert {"Who approves remote days?", "The head of department approves remote days."} <= labels
