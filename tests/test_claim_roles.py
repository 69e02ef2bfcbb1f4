"""Issue 19: no false "supported". Every claim the issue lists, and each rule it asks for: details all
there, rivals only in the same role, roles and direction, negation both ways, claim splitting, and
``related`` passages on not_found. Each test here failed before the rules it pins."""

from __future__ import annotations

import pytest

from qa.check.claims import CONTRADICTED, NOT_FOUND, SUPPORTED

from .conftest import fake_pipeline, make_corpus


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    return fake_pipeline(tmp_path_factory.mktemp("roles"))


@pytest.fixture(scope="module")
def manuals(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("manuals")
    return fake_pipeline(tmp, corpus=make_corpus(tmp, {
        "libffi.txt": "Thread safety. libffi is not completely thread-safe. Some closures must be locked by the caller.\n",
        "squid.txt": ("Web servers such as Apache usually run as user www-data on Debian.\n\n"
                      "On Debian, squid runs as user proxy and keeps its cache in /var/spool/squid.\n"),
        "war.txt": ("North Korea invaded South Korea in June 1950, starting the war.\n\n"
                    "Germany was defeated by Brazil in the final of 2014.\n\n"
                    "The ferry runs from Busan to Fukuoka every day.\n\n"
                    "The old mill is no longer in use since the flood.\n\n"
                    "The harbour bridge is open to cyclists at night.\n"),
    }))


def pairs(v) -> list[tuple[str, str]]:
    return [(m.claim_text, m.evidence_text) for m in v.mismatches]


# ------------------------------------------------------------------ names: all there, rivals in the same role

def test_a_name_the_sources_never_mention_is_not_supported(seeds):
    v = seeds.check("In March 2023, South Korean President Yoon met Japanese Prime Minister Shinzo Abe.")
    assert v.verdict != SUPPORTED
    # contradicted only with the prime minister the evidence names, never an unrelated name
    assert all("Kishida" in e for _, e in pairs(v)), pairs(v)


def test_the_name_still_has_to_be_the_same_person(seeds):
    assert seeds.check("Japanese Prime Minister Shinzo Abe met South Korean President Yoon in 2023.").verdict != SUPPORTED


def test_an_unrelated_capitalised_word_is_never_a_rival_name(seeds):
    v = seeds.check("Bananas are the main export of Japan to Korea.")
    assert v.verdict != SUPPORTED and not any(c == "Bananas" for c, _ in pairs(v)), pairs(v)


def test_a_rival_is_only_a_name_in_the_same_role(manuals):
    v = manuals.check("Squid runs as user www-data.")
    assert v.verdict != SUPPORTED
    assert not any(c == "Squid" for c, _ in pairs(v)), pairs(v)


def test_a_detail_absent_from_the_evidence_is_not_supported(seeds):
    assert seeds.check("Japan exported $51.1 billion to South Korea in 2021 through 14 ports.").verdict != SUPPORTED


# ------------------------------------------------------------------ roles and direction

def test_swapped_exporter_and_importer_is_contradicted(seeds):
    v = seeds.check("South Korea's exports to Japan reached $51.1 billion in 2021.")
    assert v.verdict == CONTRADICTED, v.to_dict()
    assert {c for c, _ in pairs(v)} == {"South Korea's", "Japan"}
    text = seeds.source(v.mismatches[0].source)["text"]
    assert all(text[m.evidence_start:m.evidence_end] == m.evidence_text for m in v.mismatches)
    assert seeds.check("Japan's exports to South Korea reached $51.1 billion in 2021.").verdict == SUPPORTED


def test_a_question_about_one_direction_is_not_answered_from_the_other(seeds):
    a = seeds.ask("How much did South Korea export to Japan in 2021?")
    assert a.abstained or "51.1" not in a.answer, a.answer
    b = seeds.ask("How much did Japan export to South Korea in 2021?")
    assert not b.abstained and "51.1" in b.answer


def test_agent_and_object_swapped_in_the_passive_is_not_supported(manuals):
    assert manuals.check("Germany defeated Brazil in the final of 2014.").verdict != SUPPORTED
    assert manuals.check("Brazil defeated Germany in the final of 2014.").verdict == SUPPORTED


def test_from_and_to_reversed_is_not_supported(manuals):
    assert manuals.check("The ferry runs from Fukuoka to Busan every day.").verdict != SUPPORTED
    assert manuals.check("The ferry runs from Busan to Fukuoka every day.").verdict == SUPPORTED


# ------------------------------------------------------------------ negation, both ways

def test_a_negated_claim_against_the_positive_statement_is_contradicted(seeds):
    v = seeds.check("North Korea never invaded South Korea.")
    assert v.verdict == CONTRADICTED, v.to_dict()
    m, = v.mismatches
    assert m.kind == "NEGATION" and m.claim_text == "never"


def test_a_positive_claim_against_a_negated_statement_is_contradicted(manuals):
    v = manuals.check("libffi is completely thread-safe.")
    assert v.verdict == CONTRADICTED, v.to_dict()
    assert [m.evidence_text for m in v.mismatches] == ["not"]
    assert manuals.check("libffi is not completely thread-safe.").verdict == SUPPORTED


def test_no_longer_counts_as_a_negation(manuals):
    assert manuals.check("The old mill is in use since the flood.").verdict == CONTRADICTED
    assert manuals.check("The harbour bridge is no longer open to cyclists at night.").verdict == CONTRADICTED


# ------------------------------------------------------------------ splitting and where to look

@pytest.mark.parametrize("text, claims", [
    ("The default weight of a glob is 50. libffi is completely thread-safe.",
     ["The default weight of a glob is 50.", "libffi is completely thread-safe."]),
    ('The manual says "locks are optional." the caller must still lock closures.',
     ['The manual says "locks are optional."', "the caller must still lock closures."]),
    ("Exports rose 5%. 2019 was a worse year for trade.", ["Exports rose 5%.", "2019 was a worse year for trade."]),
    ("It costs approx. five dollars a month.", ["It costs approx. five dollars a month."]),
])
def test_claims_are_split_however_they_start(seeds, text, claims):
    assert [v.claim for v in seeds.check_text(text)] == claims


def test_not_found_carries_the_closest_passages_with_offsets(seeds):
    v = seeds.check("Japanese whalers sailed to Antarctica in the winter.")
    assert v.verdict == NOT_FOUND and v.evidence == () and 1 <= len(v.related) <= 3
    for e in v.related:
        assert seeds.source(e.source)["text"][e.start:e.end] == e.quote
    d = v.to_dict()
    assert [r["start"] for r in d["related"]] == [e.start for e in v.related]
    assert "related" not in seeds.check("Japan exported $51.1 billion to South Korea in 2021.").to_dict()


# ------------------------------------------------------------------ the verifier decides only what the rules leave

class _SureVerifier:
    """Says ``label`` with certainty for every passage."""

    def __init__(self, label: int):
        self.label = label
        self.calls: list[tuple[str, list[str]]] = []

    def probabilities(self, claim, passages):
        import numpy as np

        self.calls.append((claim, list(passages)))
        p = np.full((len(passages), 3), 0.0, dtype=np.float32)
        p[:, self.label] = 1.0
        return p


def _with_verifier(p, label: int) -> _SureVerifier:
    fake = _SureVerifier(label)
    p._checker._verifier = lambda: fake
    return fake


def test_the_verifier_decides_a_paraphrase_the_rules_leave_open(tmp_path):
    p = fake_pipeline(tmp_path, corpus=make_corpus(tmp_path, {
        "bridge.txt": "The Quibbit Bridge carries trains across the Tagus river since 1966.\n\nIt was painted red.\n"}))
    claim = "Since 1966 rail traffic has crossed the Tagus on the Quibbit Bridge."
    assert p.check(claim).verdict == NOT_FOUND  # in other words: the rules alone cannot tell
    fake = _with_verifier(p, 0)
    v = p.check(claim)
    assert v.verdict == SUPPORTED and fake.calls and v.evidence[0].source == "bridge.txt"
    _with_verifier(p, 1)
    r = p.check(claim)
    assert r.verdict == CONTRADICTED and r.mismatches[0].kind == "STATEMENT" and r.mismatches[0].claim_text == claim
    _with_verifier(p, 2)
    assert p.check(claim).verdict == NOT_FOUND


def test_the_verifier_never_supports_a_claim_whose_detail_differs_or_is_missing(seeds):
    _with_verifier(seeds, 0)
    try:
        assert seeds.check("Japan exported $15.1 billion to South Korea in 2021.").verdict == CONTRADICTED
        assert seeds.check("In March 2023, South Korean President Yoon met Japanese Prime Minister Shinzo Abe.").verdict != SUPPORTED
        assert seeds.check("South Korea's exports to Japan reached $51.1 billion in 2021.").verdict == CONTRADICTED
        assert seeds.check("North Korea never invaded South Korea.").verdict == CONTRADICTED
    finally:
        seeds._checker._verifier = None


# ------------------------------------------------------------------ direction: up or down, for or against

def test_the_opposite_direction_contradicts_and_none_does_not_support(tmp_path):
    p = fake_pipeline(tmp_path, corpus=make_corpus(tmp_path, {
        "bile.txt": "The bile acid chenodeoxycholic acid increases human brown adipose tissue activity.\n\n"
                    "Association between infection with Helicobacter pylori and gastric cancer in a prospective cohort.\n"}))
    v = p.check("Chenodeoxycholic acid increases brown adipose tissue activity in humans.")
    assert v.verdict == SUPPORTED
    v = p.check("Chenodeoxycholic acid decreases brown adipose tissue activity in humans.")
    assert v.verdict == CONTRADICTED and [(m.claim_text, m.evidence_text, m.kind) for m in v.mismatches] == [
        ("decreases", "increases", "DIRECTION")]
    # a title naming the topic states no direction: it cannot support "decreases the risk"
    assert p.check("Infection with Helicobacter pylori decreases gastric cancer in a prospective cohort.").verdict != SUPPORTED
    assert p.check("Chenodeoxycholic acid does not decrease brown adipose tissue activity in humans.").verdict != SUPPORTED
