"""Follow-up questions: what a question means in its conversation, the history it may bring, and the
retrieval preference for where the last answer came from."""

from __future__ import annotations

import pytest

from qa.answer.conversation import favour, read_history, understand
from qa.answer.referents import Turn
from qa.errors import InputError
from qa.retrieval.retriever import Favour
from qa.text.phrases import phrases

LONG = ("Dokdo/Takeshima dispute. The sovereignty question over Dokdo in the Sea of Japan is a persistent irritant "
        "in the bilateral relationship.")


def turns(*pairs: tuple[str, str | None]) -> tuple[Turn, ...]:
    return read_history([{"question": q, "answer": a} for q, a in pairs], 2000, 20)


@pytest.mark.parametrize("history, question, standalone", [
    # "he": the person the last answer named
    ([("Who was South Korea's head of state between 1961 and 1979?", "Park Chung-hee")],
     "Where did he serve during World War II?", "Where did Park Chung-hee serve during World War II?"),
    # "he" again: still the one the last question's "he" was, not the person its answer named
    ([("Who was South Korea's head of state between 1961 and 1979?", "Park Chung-hee"),
      ("With which Japanese prime minister did he have a private lunch after the war?", "Nobusuke Kishi")],
     "What did he compare his clique with?", "What did Park Chung-hee compare the clique with?"),
    # "it": what the last question was about
    ([("What is Dokdo?", LONG)], "What is it called in Japanese?", "What is Dokdo called in Japanese?"),
    ([("In what year did Japan and South Korea sign the Treaty on Basic Relations?", "1965")],
     "What did it aim to provide?", "What did the Treaty on Basic Relations aim to provide?"),
    # "it" of an event ("when did it end?"): what happened, named from the last question's verb
    ([("When did North Korea invade South Korea?", "June 1950")], "When did it end?",
     "When did the invasion of South Korea by North Korea end?"),
    ([("When did North Korea launch an invasion of South Korea?", "June 1950")], "Who halted it?",
     "Who halted the invasion of South Korea?"),
    # "it": the thing the last answer named
    ([("Which sea separates Japan and South Korea?", "Sea of Japan")], "What is it known as in Korea?",
     "What is the Sea of Japan known as in Korea?"),
    # "they", "them": a plural thing, or the pair of the last question
    ([("Whose visit to the Liancourt Rocks made the Japanese public's image of South Korea deteriorate?",
       "Lee Myung-bak")], "In what year did he visit them?", "In what year did Lee Myung-bak visit the Liancourt Rocks?"),
    ([("How far apart are Japan and South Korea?", "942 km")], "Which sea separates them?",
     "Which sea separates Japan and South Korea?"),
    # "the two"
    ([("When did the leaders of Japan and South Korea meet for the first time in twelve years?", "March 16, 2023")],
     "What quote did the two decide to pick up?",
     "What quote did the leaders of Japan and South Korea decide to pick up?"),
    # "that year", "that period"
    ([("When did Japan and South Korea agree to hold formal talks?", "November 2019")],
     "How much did tourism drop in the final three months of that year?",
     "How much did tourism drop in the final three months of 2019?"),
    ([("During which years did Korea endure Japanese rule?", "1910 to 1945")], "What marked that period?",
     "What marked the period from 1910 to 1945?"),
    # ellipsis: the last question with the fragment in its place
    ([("How much did South Korea export to Japan in 2021?", "$30.1 billion")], "What about in 1995?",
     "How much did South Korea export to Japan in 1995?"),
    ([("How much did Japan export to South Korea in 2021?", "$51.1 billion")], "And South Korea to Japan?",
     "How much did South Korea export to Japan in 2021?"),
    ([("On what date did South Korea become independent?", "August 15, 1945")], "And North Korea?",
     "On what date did North Korea become independent?"),
    ([("What is the Korean name of the Liancourt Rocks?", "Dokdo")], "And the Japanese name?",
     "What is the Japanese name of the Liancourt Rocks?"),
    ([("What are the Liancourt Rocks called in Korean?", "Dokdo")], "And in Japanese?",
     "What are the Liancourt Rocks called in Japanese?"),
    ([("What is Dokdo?", LONG)], "And in Japanese?", "What is Dokdo called in Japanese?"),
    ([("When did the U.S. House of Representatives pass a resolution demanding that Japan apologize?", "July 2007")],
     "What about the European Parliament?",
     "When did the European Parliament pass a resolution demanding that Japan apologize?"),
    ([("Under which Japanese prime minister are both countries attempting to restore ties?", "Shigeru Ishiba")],
     "And which South Korean president?",
     "Under which South Korean president are both countries attempting to restore ties?"),
    # a bare question word: the last question, asked that way
    ([("When did Japan and South Korea agree to hold formal talks?", "November 2019")], "Why?",
     "Why did Japan and South Korea agree to hold formal talks?"),
])
def test_a_follow_up_becomes_the_question_it_stands_for(history, question, standalone):
    reading = understand(question, turns(*history))
    assert reading.followup and reading.rewritten
    assert reading.standalone == standalone
    assert reading.why and reading.turn is not None


def test_a_thing_named_inside_an_of_phrase_can_be_what_they_stand_for():
    history = turns(("What is the Korean name of the Liancourt Rocks?", "Dokdo"),
                    ("And the Japanese name?", "Takeshima"))
    assert history[1].standalone == "What is the Japanese name of the Liancourt Rocks?"
    assert understand("In which sea do they lie?", history).standalone == "In which sea do the Liancourt Rocks lie?"


def test_a_chain_of_follow_ups_resolves_turn_by_turn():
    history = turns(("Who is Fumio Kishida?", "Prime Minister Fumio Kishida"), ("Who visited him in Tokyo?", "Yoon Suk Yeol"))
    assert history[1].standalone == "Who visited Fumio Kishida in Tokyo?"
    assert understand("When was he inaugurated?", history).standalone == "When was Yoon Suk Yeol inaugurated?"


STANDALONE = [
    "What is Dokdo?",
    "Who is Fumio Kishida?",
    "How long had it been since a South Korean president made an official visit to Tokyo before Yoon's trip?",
    "How many times had Yoon and Kishida met before their meeting in Tokyo?",
    "When did North Korea launch its invasion of the South?",
    "Where did Xi Jinping give his speech for China's 74th anniversary?",
    "When did Japan and South Korea agree to restore their currency swap arrangement?",
    "Which config element hides fonts so they are treated as if they weren't installed?",
    "Which client request macro lets my program find out whether it is running under Valgrind?",
    "And what did Japan drop?",
    "How much did Japan export to South Korea in 2021?",
    # a name before the pronoun is what it stands for; "itself" is always the question's own; a clause is no ellipsis
    "What district of Osaka is known for its nightlife?",
    "Which party began to assert itself in the 1990s?",
    "When did Portugal found their first colony?",
    "What is it called when prices rise and wages fall at once?",
    "What does it mean for a treaty to be ratified?",
    "What about Kishida changed as his approval fell?",
]


@pytest.mark.parametrize("question", STANDALONE)
def test_a_question_that_stands_alone_is_never_rewritten(question):
    for history in [(), turns(("When did Japan rule Korea as a colony?", "1910 to 1945")),
                    turns(("Who was South Korea's head of state between 1961 and 1979?", "Park Chung-hee"))]:
        reading = understand(question, history)
        assert reading.standalone == question and not reading.followup and reading.why == ()


def test_without_history_nothing_is_read_into_a_question():
    reading = understand("When did it end?", ())
    assert reading.standalone == "When did it end?" and not reading.followup and reading.turn is None


def test_a_follow_up_with_nothing_to_point_back_to_is_left_as_asked_but_still_a_follow_up():
    reading = understand("What did they say?", turns(("When?", None)))
    assert reading.followup and reading.standalone == "What did they say?"


@pytest.mark.parametrize("history, message", [
    ("When?", "history must be a list of earlier turns"),
    ({"question": "When?"}, "history must be a list of earlier turns"),
    ([{"question": "When?", "answer": None}] * 3, r"history has 3 turns; the limit is 2 \(limits.max_history_turns"),
    (["When?"], r"history\[0\] must be an object with 'question' and 'answer', got str"),
    ([{"question": "When?", "answer": None, "when": 1}], r"history\[0\] has an unknown field 'when'"),
    ([{"question": "When?", "answer": None}, {"answer": "1965"}], r"history\[1\].question is missing"),
    ([{"question": 42, "answer": None}], r"history\[0\].question must be a string, got int"),
    ([{"question": "   ", "answer": None}], r"history\[0\].question is empty"),
    ([{"question": "When?", "answer": 1965}], r"history\[0\].answer must be a string or null, got int"),
    ([{"question": "When?", "answer": "x" * 41}], r"history\[0\].answer is 41 characters long; the limit is 40"),
    ([{"question": "x" * 41, "answer": None}], r"history\[0\].question is 41 characters long; the limit is 40"),
])
def test_a_bad_history_is_refused_naming_the_field(history, message):
    with pytest.raises(InputError, match=message):
        read_history(history, 40, 2)


# ------------------------------------------------------------------ through the pipeline

def test_history_none_keeps_the_json_exactly_and_an_empty_history_only_adds_the_standalone_question(seed_pipeline):
    q = "How much did Japan export to South Korea in 2021?"
    plain = seed_pipeline.ask(q).to_dict()
    assert "standalone_question" not in plain
    empty = seed_pipeline.ask(q, history=[]).to_dict()
    assert list(empty)[:2] == ["question", "standalone_question"] and empty["standalone_question"] == q
    del empty["standalone_question"]
    assert empty == plain


def test_earlier_answers_and_dicts_are_the_same_history(seed_pipeline):
    first = seed_pipeline.ask("When did North Korea invade South Korea?", history=[])
    as_answer = seed_pipeline.ask("When did it end?", history=[first])
    as_dict = seed_pipeline.ask("When did it end?", history=[{"question": first.question, "answer": first.answer}])
    assert as_answer.question == "When did it end?"
    assert as_answer.standalone_question == as_dict.standalone_question == \
        "When did the invasion of South Korea by North Korea end?"
    assert as_answer.to_dict()["standalone_question"] == as_answer.standalone_question
    assert as_answer.explain["conversation"]["followup"] and as_answer.explain["conversation"]["why"]
    for ans in (as_answer, as_dict):  # offsets stay exact
        for c in ans.citations:
            assert seed_pipeline.source(c.source)["text"][c.start:c.end] == c.quote


def test_the_pipeline_refuses_a_bad_history(seed_pipeline):
    with pytest.raises(InputError, match=r"history\[0\].answer must be a string or null"):
        seed_pipeline.ask("When did it end?", history=[{"question": "When?", "answer": 3}])
    limit = seed_pipeline.config.limits.max_history_turns
    with pytest.raises(InputError, match=f"the limit is {limit}"):
        seed_pipeline.ask("When did it end?", history=[{"question": "When?", "answer": None}] * (limit + 1))


# ------------------------------------------------------------------ favouring where the last answer came from

def test_favour_raises_the_passages_it_names_without_excluding_others(seed_pipeline):
    p = seed_pipeline
    retriever, idx = p._retriever, p.index
    q = "How much did Japan export to South Korea in 2021?"
    qvec = p.embed_question(q)
    plain = retriever.retrieve(q, qvec, top_k=3)
    outside = next(r for r in range(len(idx.chunk_ids)) if r not in {x.row for x in plain.passages})
    same = retriever.retrieve(q, qvec, top_k=3, favour=Favour((outside,), (), 0.0, 0.0))
    assert [(x.row, x.score) for x in same.passages] == [(x.row, x.score) for x in plain.passages]
    raised = retriever.retrieve(q, qvec, top_k=3, favour=Favour((outside,), (), 10.0, 0.0))
    assert raised.passages[0].row == outside and len(raised.passages) == 3
    assert [x.row for x in raised.passages[1:]] == [x.row for x in plain.passages[:2]]


def test_favour_finds_the_passages_of_an_earlier_answer(seed_pipeline):
    idx = seed_pipeline.index
    ans = seed_pipeline.ask("How much did Japan export to South Korea in 2021?", history=[])
    c = ans.citations[0]
    for turn in read_history([ans], 2000, 20) + read_history([{"question": ans.question, "answer": ans.answer}], 2000, 20):
        f = favour(idx, turn)
        assert f is not None and f.docs == (idx.doc_position[c.source],)
        for r in f.chunks:
            s, e = idx.chunk_span[r]
            assert idx.chunk_doc[r] == idx.doc_position[c.source] and s <= c.answer_start and c.answer_end <= e
    assert favour(idx, Turn("When?", None, "When?")) is None
    assert favour(idx, Turn("When?", "words found in no document at all", "When?")) is None


# ------------------------------------------------------------------ noun phrases

@pytest.mark.parametrize("text, found", [
    ("When did the leaders of Japan and South Korea meet for the first time?",
     [("the leaders of Japan and South Korea", "described"), ("the first time", "described")]),
    ("In what year did Japan and South Korea sign the Treaty on Basic Relations?",
     [("Japan and South Korea", "pair"), ("the Treaty on Basic Relations", "name")]),
    ("Where did leaders from South Korea, Japan, and the United States meet in August 2023?",
     [("South Korea, Japan, and the United States", "pair")]),
    ("What did the 1965 normalization agreement provide?", [("the 1965 normalization agreement", "described")]),
    ("Who was South Korea's head of state between 1961 and 1979?", [("South Korea's head of state", "described")]),
])
def test_noun_phrases_of_a_question(text, found):
    got = phrases(text)
    assert [(p.text, p.kind) for p in got] == found
    assert all(text[p.start:p.end] == p.text for p in got)


def test_a_pronoun_question_about_another_document_is_not_read_into_the_conversation(tmp_path):
    from .conftest import fake_pipeline, make_corpus

    corpus = make_corpus(tmp_path, {
        "park.txt": "Park Chung-hee ruled South Korea from 1961 to 1979. He had served in the Imperial Japanese "
                    "military during World War II.\n",
        "tesla.txt": "Nikola Tesla studied resonance, which gave him the teleforce weapon idea in his New York "
                     "laboratory. Tesla worked on refining the design until the end of his life.\n"})
    p = fake_pipeline(tmp_path, corpus=corpus)
    history = [{"question": "Who ruled South Korea from 1961 to 1979?", "answer": "Park Chung-hee"}]
    other = "What was he studying that gave him the teleforce weapon idea?"
    ans = p.ask(other, history=history)
    assert ans.standalone_question == other and not ans.explain["conversation"]["followup"]
    assert p.ask("Where did he serve during World War II?", history=history).standalone_question == \
        "Where did Park Chung-hee serve during World War II?"
    # without the index, the rules alone would have read "he" as Park Chung-hee
    assert understand(other, read_history(history, 2000, 20)).rewritten


def test_each_earlier_turn_is_read_as_the_judge_read_it_when_it_was_asked():
    from qa.answer.conversation import Reading

    history = [{"question": "Who ruled South Korea from 1961 to 1979?", "answer": "Park Chung-hee"},
               {"question": "What was he studying?", "answer": "resonance"}]
    assert read_history(history, 2000, 20)[1].standalone == "What was Park Chung-hee studying?"
    alone = read_history(history, 2000, 20, judge=lambda r: Reading(r.question, r.question, False))
    assert alone[1].standalone == "What was he studying?" and alone[1].refs == ()
