"""Quote verification: normalisation that keeps original offsets, fuzzy closest passage, word diffs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.errors import InputError
from qa.check.quotes import DIFFERS, NOT_FOUND, VERBATIM, check_quote, normalise, word_diffs

from .conftest import fake_pipeline

TEXT = ("Intro line.\n\nIn July 2007, the U.S. House of Representatives passed a resolution demanding "
        "that Japan apologize — “formally” — for the war.  Later  text follows here.")
DOCS = [("a.txt", "Other", "Nothing relevant is written in this first document at all."), ("b.txt", "B", TEXT)]


def test_normalise_maps_back_to_the_original():
    text = "  Japan’s  “Quote” —\tEnd "
    n = normalise(text)
    norm, origin = n.text, n.origin
    assert norm == "japan's \"quote\" - end"
    assert len(origin) == len(norm)
    assert all(text[origin[i]].casefold().translate({0x2019: "'", 0x201C: '"', 0x201D: '"', 0x2014: "-"})
               == norm[i] or text[origin[i]].isspace() for i in range(len(norm)))


def test_verbatim_despite_case_quotes_dashes_and_whitespace():
    q = 'japan apologize - "formally" -   for the war.'
    r = check_quote(q, DOCS)
    assert r.status == VERBATIM and r.score == 1.0 and r.source == "b.txt" and not r.diffs
    assert TEXT[r.start:r.end] == r.passage == "Japan apologize — “formally” — for the war."


def test_not_verbatim_gives_the_closest_passage_and_the_differing_words():
    q = "the US House of Representatives adopted a resolution demanding Japan apologize"
    r = check_quote(q, DOCS)
    assert r.status == DIFFERS and r.source == "b.txt" and 0.8 < r.score < 1.0
    assert TEXT[r.start:r.end] == r.passage
    assert r.passage.startswith("the U.S. House") and r.passage.endswith("Japan apologize")
    got = [(d.op, d.quote_text, d.source_text) for d in r.diffs]
    assert got == [("replace", "US", "U.S."), ("replace", "adopted", "passed"), ("insert", "", "that")]
    for d in r.diffs:
        assert q[d.quote_start:d.quote_end] == d.quote_text
        assert TEXT[d.source_start:d.source_end] == d.source_text


def test_word_diffs_mark_deletions_on_the_quote_side():
    text = "one two three four"
    diffs = word_diffs("one two extra three four", text, 0, len(text))
    assert [(d.op, d.quote_text, d.source_text, d.source_start, d.source_end) for d in diffs] == [
        ("delete", "extra", "", 7, 7)]


def test_unrelated_text_is_not_found():
    r = check_quote("Bananas ripen faster in a paper bag next to apples and pears", DOCS)
    assert r.status == NOT_FOUND and r.passage is None and r.to_dict()["start"] is None


@settings(max_examples=40, deadline=None)
@given(a=st.integers(0, len(TEXT) - 1), n=st.integers(8, 60), upper=st.booleans())
def test_any_substring_of_whole_words_is_found_verbatim_at_its_offsets(a, n, upper):
    b = min(len(TEXT), a + n)
    while a > 0 and TEXT[a - 1].isalnum() and TEXT[a].isalnum():  # widened to whole words: a quote that
        a -= 1                                                     # cuts a word ("910" of "1910") is no quote
    while b < len(TEXT) and TEXT[b - 1].isalnum() and TEXT[b].isalnum():
        b += 1
    piece = TEXT[a:b]
    if len(piece.split()) < 2:
        return
    q = " ".join(piece.split())
    q = q.upper() if upper else q
    r = check_quote(q, DOCS)
    assert r.status == VERBATIM
    assert normalise(TEXT[r.start:r.end]).text == normalise(q).text


def test_pipeline_check_quote_with_and_without_source(tmp_path):
    p = fake_pipeline(tmp_path)
    r = p.check_quote("japan exported $51.1 billion to south korea in 2021")
    assert r.status == VERBATIM and r.source == "000_c6a6f3801ffa9646.txt"
    only = p.check_quote("japan exported $51.1 billion to south korea in 2021", source="002_8a6a162120bf64fe.txt")
    assert only.source in (None, "002_8a6a162120bf64fe.txt") and only.status != VERBATIM
    with pytest.raises(InputError, match="no document with id 'nope'"):
        p.check_quote("anything", source="nope")


def test_composed_and_decomposed_letters_are_the_same_quote():
    doc = [("c.txt", "C", "The Cafe\u0301 de Flore opened in 1887 in Paris.")]  # e + combining acute
    r = check_quote("Café de Flore opened", doc)  # precomposed é
    assert r.status == VERBATIM and r.passage == "Cafe\u0301 de Flore opened"
    r = check_quote("The Cafe\u0301", [("d.txt", "D", "The Café is open.")])
    assert r.status == VERBATIM and r.passage == "The Café"


def test_a_match_inside_one_characters_case_folding_is_not_verbatim():
    doc = [("s.txt", "S", "The Straße runs through the old town and the ﬁle room.")]
    assert check_quote("se runs", doc).status != VERBATIM   # "ß" folds to "ss": "se" starts inside it
    assert check_quote("ile room", doc).status != VERBATIM  # "ﬁ" folds to "fi": "ile" starts inside it
    r = check_quote("strasse runs", doc)  # the whole "ß" is matched: verbatim, with exact offsets
    assert r.status == VERBATIM and r.passage == "Straße runs"
    assert check_quote("file room", doc).passage == "ﬁle room"


def test_lexical_words_are_composed_before_matching():
    from qa.text.words import tokenize

    assert tokenize("Cafe\u0301 society") == tokenize("Café society")


def test_a_quote_never_cuts_a_word_and_backticks_are_quotes():
    doc = [("y.txt", "Y", "Japan ruled Korea from 1910 to 1945; Korea endured Japanese rule.")]
    assert check_quote("910 to 194", doc).status != VERBATIM
    assert check_quote("Korea endured Japan", doc).status != VERBATIM
    assert check_quote("from 1910 to 1945;", doc).status == VERBATIM
    assert check_quote("`ruled Korea'", [("b.txt", "B", "Japan 'ruled Korea' then.")]).status == VERBATIM


def test_a_difference_in_punctuation_only_is_shown():
    r = check_quote("Korea from 1910, to 1945 under Japanese rule", DOCS + [
        ("y.txt", "Y", "Japan ruled Korea from 1910 to 1945 under Japanese rule, historians say.")])
    assert r.status == DIFFERS and r.diffs and r.diffs[0].quote_text == "1910,"


def test_soft_hyphens_and_zero_width_spaces_are_no_difference():
    doc = [("a.txt", "A", "Economic co\u00adoperation between\u200b them grew.")]
    r = check_quote("cooperation between them", doc)
    assert r.status == VERBATIM and r.passage == "co\u00adoperation between\u200b them"
