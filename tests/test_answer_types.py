"""Answer typing and span narrowing: what kind of span a question wants, and which span of a sentence it is."""

import pytest

from qa.answer import narrow
from qa.answer_types import DATE, NUMBER, PERSON, PLACE, question_type, type_match, typed_spans


@pytest.mark.parametrize("question, kind", [
    ("When did North Korea invade the South?", DATE),
    ("In what year was the treaty signed?", DATE),
    ("How many soldiers were sent?", NUMBER),
    ("What percentage of exports went to Japan?", NUMBER),
    ("Who signed the treaty?", PERSON),
    ("Where was the summit held?", PLACE),
    ("What did Japan withdraw when the dispute ended?", None),
    ("Why did relations sour?", None),
])
def test_question_type(question, kind):
    assert question_type(question) == kind


def span(question, sentence):
    s, e = narrow(question_type(question), question, sentence)
    return sentence[s:e]


def test_narrow_takes_the_date_the_question_does_not_state():
    assert span("When did the war end?", "The war began in 1950 and ended on July 27, 1953.") in ("1950", "July 27, 1953")
    assert span("When did the talks resume in 2019?", "In 2019 the talks resumed after a pause in 2018.") == "2018"


def test_a_year_is_not_a_quantity_even_before_a_comma():
    sentence = "Visits fell again in 2012, the year 3,000 people protested."
    got = [sentence[s:e] for s, e in typed_spans(NUMBER, sentence)]
    assert "2012" not in "".join(got) and any("3,000" in g for g in got)
    assert span("How many tourists came in 2019?", "Relations cooled again in 2012, the report says.") == \
        "Relations cooled again in 2012, the report says."


def test_a_place_after_a_locative_is_not_a_person():
    question = "Who was the first president of South Korea?"
    sentence = "It was the first official visit to Tokyo by a South Korean president in 12 years."
    assert type_match(PERSON, question, sentence) == 0.0  # a name, but not a person's
    assert span(question, sentence) == sentence  # so the whole sentence, not "Tokyo"
    assert span(question, "The first president was Syngman Rhee, who later moved to Seoul.") == "Syngman Rhee"


def test_demonyms_are_not_answers_to_who():
    assert span("Who led the delegation?", "The Japanese delegation was led by Fumio Kishida.") == "Fumio Kishida"


def test_quantity_kind_is_preferred():
    sentence = "In 2021, 12 firms exported goods worth $30.1 billion, 8% more than before."
    assert span("What was the value of the exports?", sentence) == "$30.1 billion"
    assert span("By what percentage did exports grow?", sentence) == "8%"


def test_a_name_leading_a_group_is_answered_with_the_group_unless_a_person_is_asked_for():
    sentence = "It helps the Indo-Pacific Strategy of the Biden administration."
    assert span("Whose Indo-Pacific Strategy does it help?", sentence) == "Biden administration"
    assert span("Which president's Indo-Pacific Strategy does it help?", sentence) == "Biden"


def test_a_common_word_capitalised_only_by_its_position_is_no_name():
    question = "Who crosses the borders?"
    # It heads a list that goes on in lower case: the whole sentence (with the list) is the answer.
    sentence = "Exchange and education. Students, researchers, and professionals cross borders."
    s, e = narrow(question_type(question), question, sentence, lambda: {"exchange"})
    assert sentence[s:e] == sentence
    # The document also writes it in lower case.
    sentence = "Students cross borders for study."
    assert span(question, sentence) == "Students"  # not knowing the document's words, it looks like a name
    s, e = narrow(question_type(question), question, sentence, lambda: {"students", "for"})
    assert sentence[s:e] == sentence
    # A real name at the start, or a capitalised word inside the sentence, stays a name.
    s, e = narrow(PERSON, "Who met Kishida?", "Yoon met Kishida in Tokyo.", lambda: {"met", "in"})
    assert "Yoon met Kishida in Tokyo."[s:e] == "Yoon"
    s, e = narrow(PERSON, "Who crosses the borders?", "Each year Students cross them.", lambda: {"students"})
    assert "Each year Students cross them."[s:e] == "Students"
