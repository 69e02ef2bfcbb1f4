"""The span chooser: which of a sentence's candidate dates/numbers/names answers the question."""

import json

import numpy as np
import pytest

from qa.text.types import DATE, NUMBER, PERSON, answer_spans, question_type
from qa.answer.spans import SPAN_FEATURES, WEIGHTS_FILE, SpanModel, span_features


def choose(model, question, sentence):
    qtype = question_type(question)
    s, e = model.choose(qtype, question, sentence, answer_spans(qtype, question, sentence))
    return sentence[s:e]


def test_features_are_one_row_per_span_and_finite():
    sentence = "The treaty was signed in 1965, and trade grew by 40% after 1970."
    spans = answer_spans(NUMBER, "By how much did trade grow?", sentence)
    X = span_features(NUMBER, "By how much did trade grow?", sentence, spans)
    assert X.shape == (len(spans), len(SPAN_FEATURES)) and np.isfinite(X).all()


def test_the_shipped_weights_match_the_features_and_cover_every_type():
    data = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))
    assert tuple(data["features"]) == SPAN_FEATURES
    model = SpanModel.load()
    assert model != SpanModel.default()
    assert {DATE, NUMBER, PERSON, "PLACE"} <= set(model.weights)


def test_weights_for_other_features_are_an_error_that_says_how_to_refit(tmp_path):
    path = tmp_path / "spans.json"
    path.write_text(json.dumps({"features": ["something", "else"], "weights": {}}))
    with pytest.raises(ValueError, match=r"does not fit the features .*refit it with `python bench/train_spans.py`"):
        SpanModel.load(path)
    assert SpanModel.load(tmp_path / "missing.json") == SpanModel.default()


def test_weights_are_matched_to_features_by_name_not_position(tmp_path):
    data = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))
    order = list(range(len(SPAN_FEATURES)))[::-1]
    shuffled = {"features": [data["features"][i] for i in order],
                "weights": {k: [w[i] for i in order] for k, w in data["weights"].items()}}
    path = tmp_path / "spans.json"
    path.write_text(json.dumps(shuffled))
    assert SpanModel.load(path) == SpanModel.load()


def test_the_fitted_chooser_takes_the_span_beside_the_question_words():
    model = SpanModel.load()
    sentence = ("Born in Lyon in 1802, the painter moved to Paris in 1830 and opened his first studio "
                "there in 1841.")
    assert choose(model, "When did the painter open his first studio?", sentence) == "1841"
    assert choose(model, "When was the painter born?", sentence) == "1802"
    sentence = "Kim met Tanaka in Seoul, while Park, the finance minister, stayed in Busan."
    assert choose(model, "Who was the finance minister?", sentence) == "Park"


def test_by_how_much_wants_an_amount_not_a_stretch_of_time():
    model = SpanModel.load()
    sentence = "Tourism saw a drop of ~65% in the final three months of 2019."
    assert choose(model, "By how much did tourism drop in the last quarter of 2019?", sentence) == "~65%"


def test_a_which_question_wants_the_span_that_names_its_noun():
    model = SpanModel.load()
    sentence = "Nami/Namiseom island. The island of Namiseom in the Bukhan River draws visitors from Seoul."
    assert choose(model, "In which river is Namiseom located?", sentence) == "Bukhan River"
