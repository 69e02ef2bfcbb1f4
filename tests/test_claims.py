"""Claim checking: detail extraction and alignment, verdict invariants, offsets, and paraphrase safety."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.text.details import NAME, ORDINAL, details
from qa.text.types import DATE, NUMBER
from qa.check.claims import (CONTRADICTED, NOT_FOUND, SUPPORTED, CheckSettings, Evidence, Mismatch, Verdict,
                       compare, name_in, same_value, _name_words)
from qa.errors import InputError

from .conftest import fake_pipeline

SEED = "000_c6a6f3801ffa9646.txt"


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    return fake_pipeline(tmp_path_factory.mktemp("claims"))


def spans(text: str) -> list[tuple[str, str]]:
    return [(text[d.start:d.end], d.kind) for d in details(text)]


# ------------------------------------------------------------------ details

def test_details_find_dates_numbers_ordinals_and_names():
    text = ("On March 16, 2023, Xi Jinping said South Korea's exports grew from $17.3 billion to 3.16% "
            "in twelve years; Japan is the third-largest economy since the 1990s.")
    found = spans(text)
    assert ("March 16, 2023", DATE) in found and ("1990s", DATE) in found
    assert ("$17.3 billion", NUMBER) in found and ("3.16%", NUMBER) in found and ("twelve years", NUMBER) in found
    assert ("third-largest", ORDINAL) in found
    assert ("Xi Jinping", NAME) in found and ("Japan", NAME) in found
    # spans never overlap and always index the text
    ds = details(text)
    assert all(a.end <= b.start for a, b in zip(ds, ds[1:]))


def test_details_values_are_comparable():
    a, = [d for d in details("in July 2007") if d.kind == DATE]
    b, = [d for d in details("on July 30, 2007") if d.kind == DATE]
    c, = [d for d in details("in July 2009") if d.kind == DATE]
    assert same_value(a, b) and not same_value(a, c)
    x, = [d for d in details("twelve years") if d.kind == NUMBER]
    y, = [d for d in details("12 years") if d.kind == NUMBER]
    assert same_value(x, y)
    m1, = [d for d in details("$51.1 billion") if d.kind == NUMBER]
    m2, = [d for d in details("$51,100 million") if d.kind == NUMBER]
    assert same_value(m1, m2)


def test_citation_markers_and_list_of_names_are_not_details():
    found = spans("[89][90][91] South Korea and Japan agreed.")
    assert found == [("South Korea", NAME), ("Japan", NAME)]


def test_name_matching_tolerates_inflection_and_acronyms_not_other_names():
    assert name_in("Japan's", _name_words("Japanese rule"))
    assert name_in("U.S. House", _name_words("the United States House"))
    assert name_in("Prime Minister Nobusuke Kishi", _name_words("Kishi met Park"))
    assert not name_in("Prime Minister Shigeru Yoshida", _name_words("Prime Minister Nobusuke Kishi"))
    assert not name_in("Mar-a-Lago", _name_words("in March at Camp David"))


# ------------------------------------------------------------------ alignment

def check_compare(claim: str, evidence: str):
    return compare(claim, details(claim), evidence, details(evidence))


def test_a_changed_year_is_paired_with_the_year_in_the_same_place():
    claim = "Korea endured Japanese rule from 1910 to 1950."
    ev = "From 1910 to 1945, Korea endured Japanese rule, a period of coercive labor."
    pairs, unconfirmed, confirmed = check_compare(claim, ev)
    assert [(claim[d.start:d.end], ev[e.start:e.end]) for d, e in pairs] == [("1950", "1945")]
    assert not unconfirmed and confirmed == 3


def test_the_partner_is_chosen_by_its_neighbouring_words():
    claim = "Exports grew from $17.3 billion in 1995 to $41.3 billion in 2021."
    ev = "Exports grew from $17.3 billion in 1995 to $30.1 billion in 2021, about $2 billion a year."
    pairs, _, _ = check_compare(claim, ev)
    assert [(claim[d.start:d.end], ev[e.start:e.end]) for d, e in pairs] == [("$41.3 billion", "$30.1 billion")]


def test_a_paraphrase_has_no_mismatch():
    claim = "About 60% of South Koreans disapprove of Yoon's handling of the forced labor issue."
    ev = "Nearly 60% of people in South Korea dislike how President Yoon handled forced labor."
    pairs, unconfirmed, _ = check_compare(claim, ev)
    assert pairs == [] and unconfirmed == []


def test_unlike_details_are_never_paired():
    claim = "The treaty was signed in 1965 by 2 countries."
    ev = "The treaty cost 40% of the budget."
    pairs, unconfirmed, _ = check_compare(claim, ev)
    assert pairs == [] and {claim[d.start:d.end] for d in unconfirmed} == {"1965", "2"}


# ------------------------------------------------------------------ dataclass invariants

def ev(quote="abc", start=0):
    return Evidence("d.txt", "T", start, start + len(quote), quote, 0.9)


def test_verdict_invariants():
    with pytest.raises(ValueError, match="evidence is empty exactly"):
        Verdict("c", SUPPORTED, 0.9)
    with pytest.raises(ValueError, match="evidence is empty exactly"):
        Verdict("c", NOT_FOUND, 0.9, (ev(),))
    with pytest.raises(ValueError, match="mismatches"):
        Verdict("c", CONTRADICTED, 0.9, (ev(),))
    with pytest.raises(ValueError, match="verdict must be"):
        Verdict("c", "maybe", 0.5)
    with pytest.raises(ValueError, match="confidence"):
        Verdict("c", NOT_FOUND, 1.5)
    with pytest.raises(ValueError, match=r"quote must be document_text\[start:end\]"):
        Evidence("d", "T", 0, 5, "abc", 0.5)
    m = Mismatch("1950", 0, 4, "1948", 10, 14, DATE, "d.txt")
    with pytest.raises(ValueError, match="claim_text must be"):
        Verdict("1951 was", CONTRADICTED, 0.9, (ev("x" * 20, 5),), (m,))
    with pytest.raises(ValueError, match="inside the first evidence"):
        Verdict("1950 was", CONTRADICTED, 0.9, (ev("x" * 3, 20),), (m,))
    ok = Verdict("1950 was", CONTRADICTED, 0.9, (ev("x" * 20, 5),), (m,))
    assert ok.to_dict()["mismatches"][0] == {"claim_text": "1950", "claim_start": 0, "claim_end": 4,
                                             "evidence_text": "1948", "evidence_start": 10, "evidence_end": 14,
                                             "kind": DATE, "source": "d.txt"}


def test_settings_are_checked():
    with pytest.raises(ValueError, match="CheckSettings.support"):
        CheckSettings(support=1.5)


# ------------------------------------------------------------------ the stage, with the fake embedder

def test_contradicted_with_offsets(pipeline):
    v = pipeline.check("Japan exported $15.1 billion to South Korea in 2021.")
    assert v.verdict == CONTRADICTED
    text = pipeline.source(SEED)["text"]
    e = v.evidence[0]
    assert e.source == SEED and text[e.start:e.end] == e.quote
    m, = v.mismatches
    assert (m.claim_text, m.evidence_text) == ("$15.1 billion", "$51.1 billion")
    assert v.claim[m.claim_start:m.claim_end] == "$15.1 billion"
    assert text[m.evidence_start:m.evidence_end] == "$51.1 billion"
    d = v.to_dict()
    assert set(d) == {"claim", "verdict", "confidence", "evidence", "mismatches"}
    assert set(d["evidence"][0]) >= {"source", "title", "start", "end", "quote", "score"}


def test_supported_and_not_found(pipeline):
    v = pipeline.check("Japan exported $51.1 billion worth of goods to South Korea in 2021.")
    assert v.verdict == SUPPORTED and v.evidence and not v.mismatches
    n = pipeline.check("Bananas ripen faster in a paper bag with an apple.")
    assert n.verdict == NOT_FOUND and n.evidence == () and n.to_dict()["evidence"] == []


def test_every_source_sentence_is_supported_never_contradicted(pipeline):
    """A sentence copied from the sources is the strongest paraphrase: it can never be contradicted."""
    idx = pipeline.index
    for row in range(len(idx.sent_doc)):
        text = idx.sentence_text(row)
        if len(text.split()) >= 5:
            v = pipeline.check(text)
            assert v.verdict == SUPPORTED, (text, v.to_dict())


def test_multi_sentence_text_gives_one_verdict_per_claim(pipeline):
    vs = pipeline.check_text("The Republic of Korea was founded in 1950.\nJapan exported $51.1 billion to "
                             "South Korea in 2021. Bananas are yellow.")
    assert [v.verdict for v in vs] == [CONTRADICTED, SUPPORTED, NOT_FOUND]
    assert vs[0].claim == "The Republic of Korea was founded in 1950."


def test_bad_claims_are_input_errors(pipeline):
    with pytest.raises(InputError, match="claim is empty"):
        pipeline.check("  ")
    with pytest.raises(InputError, match="limit"):
        pipeline.check("word " * 1000)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(row=st.integers(min_value=0, max_value=10_000), year=st.integers(min_value=1900, max_value=2030))
def test_offsets_are_exact_for_edited_sentences(pipeline, row, year):
    """Any sentence with its first year or number changed: every offset returned indexes the documents."""
    idx = pipeline.index
    row %= len(idx.sent_doc)
    sentence = idx.sentence_text(row)
    ds = [d for d in details(sentence) if d.kind in (DATE, NUMBER)]
    claim = sentence if not ds else sentence[:ds[0].start] + str(year) + sentence[ds[0].end:]
    if not claim.strip():
        return
    v = pipeline.check(claim)
    for e in v.evidence:
        assert pipeline.source(e.source)["text"][e.start:e.end] == e.quote
    for m in v.mismatches:
        assert v.claim[m.claim_start:m.claim_end] == m.claim_text
        assert pipeline.source(m.source)["text"][m.evidence_start:m.evidence_end] == m.evidence_text


def test_evidence_links_only_to_http_sources_with_a_fragment_to_the_quote(tmp_path):
    from .conftest import make_corpus

    corpus = make_corpus(tmp_path, {
        "tower.txt": "The Eiffel Tower was completed in 1889 in Paris.\n",
        "bridge.txt": "The Quibbit Bridge was completed in 1966 in Lisbon.\n",
        "sources.yaml": "tower.txt:\n  url: \"javascript:alert(1)\"\nbridge.txt:\n  url: https://example.org/bridge\n"})
    p = fake_pipeline(tmp_path, corpus=corpus)
    tower = p.check("The Eiffel Tower was completed in 1890 in Paris.")
    assert tower.evidence and all(e.url is None and "url" not in e.to_dict() for e in tower.evidence)
    bridge = p.check("The Quibbit Bridge was completed in 1966 in Lisbon.")
    first = bridge.evidence[0]
    assert first.source == "bridge.txt" and first.url.startswith("https://example.org/bridge#:~:text=")
    with pytest.raises(ValueError):
        Evidence("a.txt", "A", 0, 1, "x", 0.5, "javascript:alert(1)")


def test_a_line_of_control_characters_between_claims_is_skipped(pipeline):
    verdicts = pipeline.check_text("Japan exported $51.1 billion to South Korea in 2021.\n\u0000\u0007\nThe war ended in 1945.")
    assert [v.claim for v in verdicts] == ["Japan exported $51.1 billion to South Korea in 2021.", "The war ended in 1945."]
    assert verdicts[0].verdict == SUPPORTED


def _agrees(claim: str, evidence: str) -> bool:
    pairs, unconfirmed, _ = compare(claim, details(claim), evidence, details(evidence))
    return not pairs and not unconfirmed


# A detail that differs is never confirmed (False); the same detail said differently is (True).
@pytest.mark.parametrize("claim, evidence, agrees", [
    ("Japan exported $51.1 billion to North Korea in 2021.", "Japan exported $51.1 billion to South Korea in 2021.", False),
    ("Hunter Biden met Kim Jong Un in 2019.", "Joe Biden met Kim Jong Un in 2019.", False),
    ("The war began on June 3, 1950.", "The war began in June 1950.", False),            # the source is less precise
    ("Unemployment was 10% in 2019.", "Unemployment was 10-20% in 2019.", False),
    ("Exports reached 30 billion yen in 2019.", "Exports reached US$30 billion in 2019.", False),
    ("It was 5 degrees in Seoul in January 2020.", "It was -5 degrees in Seoul in January 2020.", False),
    ("Turnout rose 25 percent in 2019.", "Turnout rose twenty-five percentage points in 2019.", False),
    ("Turnout rose 5% in 2019.", "Turnout rose twenty-five percent in 2019.", False),
    ("The treaty was signed on May 5 in Seoul.", "The treaty was signed on March 5 in Seoul.", False),  # no year
    ("President Biden met Kim Jong Un in 2019.", "Joe Biden met Kim Jong Un in 2019.", True),
    ("Joe Biden visited Seoul in 2022.", "Biden visited Seoul in 2022.", True),
    ("The war began in June 1950.", "The war began on June 25, 1950.", True),           # the claim is less precise
    ("Turnout rose twenty-five percent in 2019.", "Turnout rose 25% in 2019.", True),
    ("Exports reached $30 billion in 2019.", "Exports reached US$30 billion in 2019.", True),
    ("An army of 1,500 soldiers crossed the river.", "An army of 1500 soldiers crossed the river.", True),  # a count
    ("The treaty was signed on 5 May in Seoul.", "The treaty was signed on May 5th in Seoul.", True),
])
def test_a_detail_is_confirmed_only_when_it_is_the_same(claim, evidence, agrees):
    assert _agrees(claim, evidence) is agrees


def test_a_negated_source_does_not_support_the_claim(tmp_path):
    from .conftest import make_corpus

    corpus = make_corpus(tmp_path, {"vote.txt": "The senator Quibble did not vote for the harbour bill in 2019.\n"})
    p = fake_pipeline(tmp_path, corpus=corpus)
    assert p.check("The senator Quibble voted for the harbour bill in 2019.").verdict != SUPPORTED
    assert p.check("The senator Quibble did not vote for the harbour bill in 2019.").verdict == SUPPORTED


def test_look_alike_letters_and_odd_spacing_do_not_break_details():
    assert [d.kind for d in details("Inflation reached ſix percent. The ſecond war.") if d.kind != "NAME"] == []
    text = "It opened on the  7th of May 2019."
    (d,) = [d for d in details(text) if d.kind == DATE]
    assert text[d.start:d.end] == "7th of May 2019" and d.value == (2019, 5, 7)


def test_a_claim_whose_only_detail_changed_is_contradicted(tmp_path):
    from .conftest import make_corpus

    p = fake_pipeline(tmp_path, corpus=make_corpus(tmp_path, {
        "b.txt": "The bridge opened to traffic in 2019 after years of work.\n"}))
    v = p.check("The bridge opened to traffic in 2016.")
    assert v.verdict == CONTRADICTED and [m.claim_text for m in v.mismatches] == ["2016"]
    assert v.mismatches[0].evidence_text == "2019"
    assert p.check("A ferry opened to traffic in 2016.").verdict == NOT_FOUND  # other words differ too


@pytest.mark.parametrize("claim, evidence, reverse", [
    ("Brazil defeated Germany in 2014.", "Germany defeated Brazil in 2014.", True),
    ("South Korea invaded North Korea in June 1950.", "North Korea invaded South Korea in June 1950.", True),
    ("Exports fell from $12 billion to $10 billion.", "Exports rose from $10 billion to $12 billion.", True),
    ("The army had 40 soldiers and 300 horses.", "The army had 300 soldiers and 40 horses.", True),
    ("Japan and South Korea signed the treaty in 1965.", "South Korea and Japan signed the treaty in 1965.", False),
    ("Germany was defeated by Brazil in 2014.", "Brazil defeated Germany in 2014.", False),
    ("Yoon met Kishida in Tokyo in March 2023.", "Yoon met Kishida in Tokyo in March 2023.", False),
])
def test_the_same_details_in_reverse_roles_are_noticed(claim, evidence, reverse):
    from qa.check.claims import swapped

    assert swapped(claim, details(claim), evidence) is reverse


def test_a_claim_with_its_roles_reversed_is_not_supported(tmp_path):
    from .conftest import make_corpus

    p = fake_pipeline(tmp_path, corpus=make_corpus(tmp_path, {
        "war.txt": "North Korea invaded South Korea in June 1950, starting the Korean War.\n"}))
    assert p.check("South Korea invaded North Korea in June 1950.").verdict != SUPPORTED
    assert p.check("North Korea invaded South Korea in June 1950.").verdict == SUPPORTED
