"""One grammar of quantities: the answer types and the claim details read the same units the same way."""

from __future__ import annotations

import pytest

from qa.text.details import details
from qa.text.types import DATE, NUMBER, typed_spans, _span_kind
from qa.text.units import DISTANCE, DURATION, MASS, MONEY, PERCENT, UNITS

SENTENCES = [
    ("The wall is 5 feet high.", "5 feet", "ft", DISTANCE),
    ("The ship carried 30 tonnes of rice.", "30 tonnes", "t", MASS),
    ("A ticket costs 12 euros.", "12 euros", "€", MONEY),
    ("The dispute lasted 3 decades.", "3 decades", "decade", DURATION),
    ("The bridge is 55 kilometres long.", "55 kilometres", "km", DISTANCE),
    ("Turnout rose 4 percentage points.", "4 percentage points", "pp", PERCENT),
    ("Exports reached $1500 last year.", "$1500", "$", MONEY),
]


@pytest.mark.parametrize("sentence, span, unit, kind", SENTENCES)
def test_answers_and_claims_read_a_quantity_alike(sentence, span, unit, kind):
    (d,) = [d for d in details(sentence) if d.kind == NUMBER]
    assert sentence[d.start:d.end] == span and d.unit == unit          # the claim checker's reading
    (s, e), = typed_spans(NUMBER, sentence)
    assert sentence[s:e] == span                                         # the answer stage's reading
    assert _span_kind(span) == (kind if kind != MASS else "COUNT")      # what question it answers


def test_every_unit_word_is_read_by_both():
    for word, (canon, _) in UNITS.items():
        if canon in ("%",):
            continue
        sentence = f"It was 7 {word} in all."
        assert [sentence[s:e] for s, e in typed_spans(NUMBER, sentence)] == [f"7 {word}"], word
        (d,) = [d for d in details(sentence) if d.kind == NUMBER]
        assert sentence[d.start:d.end] == f"7 {word}" and d.unit == canon, word


def test_a_year_is_a_date_to_both_and_a_count_to_both():
    assert [d.kind for d in details("It ended in 1945.") if d.kind != "NAME"] == [DATE]
    assert typed_spans(NUMBER, "It ended in 1945.") == []
    assert [d.kind for d in details("An army of 1500 soldiers crossed.") if d.kind != "NAME"] == [NUMBER]
    assert typed_spans(NUMBER, "An army of 1500 soldiers crossed.") != []
