"""Quote verification: normalisation that keeps original offsets, fuzzy closest passage, word diffs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.errors import InputError
from qa.check.quotes import DIFFERS, NOT_FOUND, VERBATIM, check_quote, normalise, word_diffs

from .conftest import fake_pipeline, make_corpus

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


# ------------------------------------------------------------------ the fast normaliser against a reference

def reference_normalise(text: str) -> tuple[str, list[int], list[int]]:
    """One character at a time, the plainest way: what :func:`normalise` must give, map included."""
    import unicodedata

    from qa.text.chars import INVISIBLE
    from qa.text.normal import _unit

    out, origin, ends = [], [], []
    space, i = True, 0
    while i < len(text):
        ch = text[i]
        if ch in INVISIBLE:
            i += 1
        elif ch.isspace():
            if not space:
                out.append(" "), origin.append(i), ends.append(i + 1)
                space = True
            i += 1
        else:
            space = False
            j = i + 1
            while j < len(text) and unicodedata.combining(text[j]):
                j += 1
            for c in _unit(text[i:j]):
                out.append(c), origin.append(i), ends.append(j)
            i = j
    if out and out[-1] == " ":
        out.pop(), origin.pop(), ends.pop()
    return "".join(out), origin, ends


PIECES = ["a", "B", "x1", " ", "\n", "\t", "  ", "\u00a0", "ß", "ẞ", "ﬁ", "ﬃ", "e\u0301", "\u0301", " \u0301",
          "\u00ad", "\u200b", "’", "“", "—", "é", "É", "İ", "Σ", "ς", "ǅ", "\u0345", "Å", "\u212b", "\u0344",
          "ΐ", "\u0f73", "日本", "🇯🇵"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=30))
def test_normalise_equals_the_character_by_character_reference(pieces):
    text = "".join(pieces)
    n = normalise(text)
    assert (n.text, list(n.origin), list(n.ends)) == reference_normalise(text)
    # From any checkpoint, normalising again gives the same characters and the same map.
    full, checks = normalise(text, every=3)
    assert full.text == n.text and checks[0] == (0, 0, True)
    for p, o, space in checks:
        part = normalise(text, o, space=space)
        assert part.text == n.text[p:]
        assert [o + x for x in part.origin] == list(n.origin[p:]) and [o + x for x in part.ends] == list(n.ends[p:])


# ------------------------------------------------------------------ over an index: cost bounded by design

LEDGER = ("Record {i} of the quarnix ledger lists {n} crates of plums shipped from Osaka. "
          "The harbour master signed it on day {d}.")


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    """A 180 KB document (as a stand-in for a big corpus) and a short one."""
    tmp = tmp_path_factory.mktemp("ledger")
    text = "\n\n".join(LEDGER.format(i=i, n=i * 7 % 1000, d=i % 28 + 1) for i in range(1500))
    corpus = make_corpus(tmp, {"ledger.txt": text, "y.txt": "Japan ruled Korea from 1910 to 1945, historians say."})
    return fake_pipeline(tmp, corpus)


HOSTILE = ["é" * 2000, "a" * 2000, "e\u0301" * 1000, "to be or not to be", "e"]


def test_a_quote_check_normalises_and_aligns_only_small_windows(ledger, monkeypatch):
    import qa.check.quotes as quotes

    normalised, aligned = [], []
    real_normalise, real_align = quotes.normalise, quotes.fuzz.partial_ratio_alignment

    def spy_normalise(text, start=0, end=None, *a, **k):
        normalised.append((len(text) if end is None else end) - start)
        return real_normalise(text, start, end, *a, **k)

    def spy_align(s1, s2, *a, **k):
        aligned.append(len(s2))
        return real_align(s1, s2, *a, **k)

    monkeypatch.setattr(quotes, "normalise", spy_normalise)
    monkeypatch.setattr(quotes.fuzz, "partial_ratio_alignment", spy_align)
    text = ledger.source("ledger.txt")["text"]
    start = text.index("Record 700 ")
    passage = text[start:text.index("Record 712 ")].strip()
    edited = passage.replace("plums", "pears").replace("harbour", "port")
    for quote in HOSTILE + [passage, edited, "quarnix ledger lists", "The harbour mastr signed"]:
        r = ledger.check_quote(quote)
        assert r.complete
        limit = 3 * len(quote) + 2000  # the quote, a window of sentences around a candidate, margins
        assert max(normalised) <= limit and max(aligned, default=0) <= limit, (quote[:20], max(normalised))
        assert sum(normalised) <= 10 * limit  # the quote, its words (for the diff), at most 8 candidate windows
        normalised.clear(), aligned.clear()
    assert ledger.check_quote(passage).start == start  # verbatim, at its offsets
    r = ledger.check_quote(edited)
    assert r.status == DIFFERS and abs(r.start - start) < 50 and r.score > 0.9
    assert [(d.quote_text, d.source_text) for d in r.diffs][:2] == [("pears", "plums"), ("port", "harbour")]
    for quote in HOSTILE:
        assert ledger.check_quote(quote).status in (NOT_FOUND, DIFFERS)
    r = ledger.check_quote("The harbour mastr signed")  # a misspelt word stands for its closest indexed word
    assert r.status == DIFFERS and r.passage == "The harbour master signed"


def test_the_time_budget_answers_with_what_it_has(ledger, monkeypatch, tmp_path, capsys):
    import dataclasses

    from qa import cli
    from qa.pipeline import Pipeline

    cfg = dataclasses.replace(ledger.config, limits=dataclasses.replace(ledger.config.limits, quote_seconds=1e-9))
    rushed = Pipeline(cfg, embedder=ledger.embedder)
    r = rushed.check_quote("The harbour mastr signed")
    assert not r.complete and r.to_dict()["complete"] is False and r.status == NOT_FOUND
    assert ledger.check_quote("The harbour mastr signed").to_dict()["complete"] is True
    monkeypatch.setattr(Pipeline, "from_config", classmethod(lambda cls, *a, **k: rushed))
    assert cli.main(["check", "--quote", "The harbour mastr signed"]) == 0
    assert "stopped at its time limit, limits.quote_seconds" in capsys.readouterr().out


def test_a_build_without_normalised_texts_is_normalised_once_on_first_use(tmp_path):
    import json

    from qa.index.files import checksums
    from qa.index.store import live_path
    from qa.pipeline import Pipeline

    p = fake_pipeline(tmp_path, make_corpus(tmp_path, {"b.txt": TEXT}))
    build = live_path(p.config.index)
    (build / "normalised.json").unlink()
    (build / "normalised.npz").unlink()
    manifest = json.loads((build / "manifest.json").read_text())
    manifest["checksums"] = checksums(build)
    (build / "manifest.json").write_text(json.dumps(manifest))
    r = Pipeline(p.config, embedder=p.embedder).check_quote('japan apologize - "formally" - for the war.')
    assert r.status == VERBATIM and TEXT[r.start:r.end] == "Japan apologize — “formally” — for the war."


def test_quote_checks_beyond_the_queue_get_503():
    """Two quote checks compute at once over HTTP, 32 more wait without holding a thread; more get a 503."""
    import threading

    import anyio

    from qa.serve.api import ApiError, Slots

    gate = threading.Event()
    slots = Slots(1, 1, "quote checks")
    outcomes: list[str] = []

    async def one():
        try:
            outcomes.append(await slots.run(gate.wait, 10))
        except ApiError as exc:
            outcomes.append(f"{exc.status} {exc.message}")

    async def main():
        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(one)
            await anyio.sleep(0.2)
            gate.set()

    anyio.run(main)
    assert sorted(map(str, outcomes)) == ["503 too many quote checks at once (2); try again in a few seconds", "True",
                                          "True"]
