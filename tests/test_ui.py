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
    words, numbers = ex.split('<details class="qa-numbers">')
    assert "Why no answer:</strong> no passage found mentions “Mars”." in words and "<table>" in numbers


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


# ------------------------------------------------------------------ what a newcomer sees (issue 22)

EXPORT_Q = "How much did Japan export to South Korea in 2021?"
FEATURE_NAMES = ("dense_gap", "chunk_best_dense", "missing_rare", "idf_coverage")


def _explain(pipeline, question):
    from qa.serve.explain import explain_html

    idx = pipeline.index
    answer = pipeline.ask(question)
    return answer, explain_html(answer, lambda d: pipeline.source(d)["text"], lambda d: pipeline.source(d)["title"],
                                idx.bm25_sentences.has)


def test_explain_says_in_words_why_the_sentence_won(seed_pipeline):
    answer, ex = _explain(seed_pipeline, EXPORT_Q)
    assert not answer.abstained
    words, numbers = ex.split('<details class="qa-numbers">')
    assert "Why this sentence:</strong> it mentions “Japan”, “export”, “South Korea” and “2021”" in words
    assert "next best sentence" in words and "answers need at least 30%" in words
    assert not any(name in words for name in FEATURE_NAMES)  # the raw numbers are one click away
    assert all(name in numbers for name in FEATURE_NAMES) and "<summary>The scores behind this</summary>" in numbers


def test_explain_says_what_an_abstention_missed(seed_pipeline):
    answer, ex = _explain(seed_pipeline, "Who was the first president of Mars?")
    assert answer.abstained
    words = ex.split('<details class="qa-numbers">')[0]
    assert "Why no answer:</strong> no document mentions “Mars”." in words
    assert "below the 30% needed to answer" in words and "The closest sentence: “" in words
    assert not any(name in words for name in FEATURE_NAMES)


def test_explain_when_the_words_are_there_but_not_together(tmp_path):
    from .conftest import make_corpus

    corpus = make_corpus(tmp_path, {"a.txt": "The lighthouse keeper lived alone.\n\nThe harbour was built of granite.\n"})
    p = fake_pipeline(tmp_path, corpus=corpus, abstain_threshold=1.0)
    answer, ex = _explain(p, "What granite lighthouse keeper?")
    assert answer.abstained and "the passages mention every word of the question, but not together" in ex


def test_the_chat_explains_with_the_corpus_vocabulary(seed_pipeline):
    respond = next(fn for fn in build_ui(seed_pipeline).fns.values() if getattr(fn, "name", "") == "respond").fn
    *_, explain, _conversation = respond("Who was the first president of Mars?", [])
    assert "no document mentions “Mars”" in explain


SENTENCE = "Delegates signed the treaty in Seoul after long talks."
BEFORE = "The talks began in May. "


def _cited(answer_start, answer_end, start=0, text=SENTENCE):
    quote = text[start:]
    return {"abstained": False, "answer": text[answer_start:answer_end], "confidence": 0.8,
            "citations": [{"source": "a.txt", "title": "A", "start": start, "end": len(text), "quote": quote,
                           "answer_start": answer_start, "answer_end": answer_end, "score": 0.8}], "passages": []}


def _shown_part(html_out: str) -> str:
    """What a message shows before its citations are opened (their <details> start closed)."""
    return html_out.split("<details")[0]


def test_a_sentence_answer_is_shown_once():
    out = answer_html(_cited(0, len(SENTENCE)), lambda d: SENTENCE)
    shown = _shown_part(out)
    assert shown.count(esc(SENTENCE)) == 1 and "<mark>" not in shown
    assert 'class="qa-answer qa-sentence"' in shown and "80% confident" in shown and "[1]" in shown
    # a two-sentence quote whose answer is one whole sentence: the quote once, the answer marked in it
    text = BEFORE + SENTENCE
    out = answer_html(_cited(len(BEFORE), len(text), 0, text), lambda d: text)
    shown = _shown_part(out)
    assert shown.count("Delegates signed") == 1 and f"<mark>{esc(SENTENCE)}</mark>" in shown
    # a shorter answer: the answer in bold, then the quote with it marked
    a0 = SENTENCE.index("Seoul")
    shown = _shown_part(answer_html(_cited(a0, a0 + 5), lambda d: SENTENCE))
    assert '<p class="qa-answer">Seoul<span' in shown and "<mark>Seoul</mark>" in shown


def _html_block(demo, elem_id):
    import gradio as gr

    return next(b for b in demo.blocks.values() if isinstance(b, gr.HTML) and b.elem_id == elem_id)


def test_the_page_lists_the_indexed_documents(tmp_path, seed_pipeline):
    from .conftest import make_corpus

    corpus = make_corpus(tmp_path / "own", {"policy.txt": "Remote days need the head of department's approval.",
                                            "guide/<b>.md": "# Onboarding <guide>\n\nNew staff get a laptop."})
    own = fake_pipeline(tmp_path / "own", corpus=corpus)
    listed = _html_block(build_ui(own), "qa-documents").value
    assert "Searching 2 documents" in listed
    assert 'href="/source/policy.txt"' in listed and 'href="/source/guide%2F%3Cb%3E.md"' in listed
    assert "Onboarding &lt;guide&gt;" in listed and "<guide>" not in listed  # titles escaped
    seeds = _html_block(build_ui(seed_pipeline), "qa-documents").value
    assert "Searching 3 documents" in seeds and seeds.count("<li>") == 3


OWN_DOCS = {
    "festival.txt": "Zorblax festival\n\nThe Zorblax is a lantern festival held in Osaka every spring. "
                    "Thousands of lanterns float on the river.\n",
    "parade.md": "# Parade notes\n\nHow to join the parade\n\nWrite to the parade office before March and wear "
                 "a blue scarf on the day.\n",
}


def test_examples_are_drawn_from_your_own_corpus(tmp_path):
    from qa.serve.examples import CHECK_EXAMPLES, EXAMPLES

    from .conftest import make_corpus

    own = fake_pipeline(tmp_path, corpus=make_corpus(tmp_path, OWN_DOCS), abstain_threshold=0.0)
    labels = _button_labels(build_ui(own))
    assert "What is the Zorblax?" in labels and not own.ask("What is the Zorblax?").abstained
    assert not (set(EXAMPLES) | set(CHECK_EXAMPLES)) & labels  # never a question about another corpus
    # "How do I join the parade?" is answered by its own heading (or, since the heading only repeats the
    # question, not at all), not by the section under it: not offered
    parade = own.ask("How do I join the parade?")
    assert parade.abstained or parade.citations[0].quote == "How to join the parade"
    assert "How do I join the parade?" not in labels


def test_drawn_questions_come_from_definitions_and_asking_headings():
    from qa.serve.examples import definition_question, heading_question

    assert definition_question("Ninja is a small build system with a focus on speed.") == "What is Ninja?"
    assert definition_question("A glob is a pattern that matches file names.") == "What is a glob?"
    assert definition_question("Return values are the codes bzip2 exits with.") == "What are return values?"
    assert definition_question("The default weight is 50.") is None  # no a/an/the: no definition
    assert definition_question("It is a library for fonts.") is None and definition_question("This is the end.") is None
    assert definition_question("since this reservation is the only one left.") is None
    assert heading_question("2.1 How to use bzip2") == "How do I use bzip2?"
    assert heading_question("Why is my build slow?") == "Why is my build slow?"
    assert heading_question("Return values") is None and heading_question("Options.") is None
    assert heading_question("where nk ∈{0, 1}. Then") is None  # a line of a formula, not a heading


def test_a_drawn_question_is_offered_only_when_it_is_answered_from_its_document(tmp_path):
    from qa.serve.examples import draw_questions

    from .conftest import make_corpus

    own = fake_pipeline(tmp_path, corpus=make_corpus(tmp_path, OWN_DOCS), abstain_threshold=0.0)
    asked = []

    def refuse(q):
        asked.append(q)
        return own.ask(q).__class__(q, None, True, 0.0)

    assert draw_questions(own.index, refuse) == () and len(asked) <= 12


def test_the_chat_trash_button_also_forgets_the_history(seed_pipeline):
    import gradio as gr

    demo = build_ui(seed_pipeline)
    chat = next(b for b in demo.blocks.values() if isinstance(b, gr.Chatbot))
    (clear,) = [fn for fn in demo.fns.values() if (chat._id, "clear") in getattr(fn, "targets", [])]
    assert type(clear.outputs[0]).__name__ == "State" and clear.fn()[0] == []
