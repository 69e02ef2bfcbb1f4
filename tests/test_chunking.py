"""Offsets are the citation: every sentence and chunk equals the document text at its offsets."""

from hypothesis import given, settings
from hypothesis import strategies as st

from qa.ingest.chunking import chunk_document, paragraphs
from qa.ingest.corpus import Document
from qa.ingest.sentences import attach_run_in_headings, split_sentences

WORDS = st.sampled_from(["Japan", "Korea", "the", "treaty", "1965", "U.S.", "Dr.", "signed", "e.g.",
                         "$30.1", "billion", "“quoted”", "2.16%", "Mr.", "emoji😀", "한국", "日本"])
PUNCT = st.sampled_from([".", "?", "!", "", ",", ".\n", "\n\n", ". ", "\r\n", "  ", "\t"])
TEXT = st.lists(st.tuples(WORDS, PUNCT), min_size=1, max_size=200).map(
    lambda parts: " ".join(w + p for w, p in parts))


def doc(text: str) -> Document:
    return Document(id="d.txt", title="d", text=text, fingerprint="x")


@settings(max_examples=300, deadline=None)
@given(TEXT | st.text(min_size=1, max_size=3000))
def test_sentences_are_exact_trimmed_and_ordered(text):
    spans = split_sentences(text)
    last = 0
    for s, e in spans:
        assert last <= s < e <= len(text)
        piece = text[s:e]
        assert piece == piece.strip() and piece
        last = e
    # Nothing but whitespace is lost between sentences.
    covered = "".join(text[s:e] for s, e in spans)
    assert "".join(covered.split()) == "".join(text.split())


@settings(max_examples=200, deadline=None)
@given(TEXT | st.text(min_size=1, max_size=4000), st.integers(60, 900), st.integers(0, 59))
def test_chunks_are_exact_and_cover_every_sentence(text, size, overlap):
    chunks = chunk_document(doc(text), size=size, overlap=overlap)
    all_sentences = set(attach_run_in_headings(text, split_sentences(text)))
    seen = set()
    for c in chunks:
        assert c.text == text[c.start:c.end]
        assert c.sentences[0][0] == c.start and c.sentences[-1][1] == c.end
        for s, e in c.sentences:
            assert (s, e) in all_sentences
            seen.add((s, e))
        # A chunk exceeds the size only when it is a single sentence.
        assert c.end - c.start <= size or len(c.sentences) == 1
    assert seen == all_sentences
    assert len({c.id for c in chunks}) == len(chunks)


def test_abbreviations_and_numbers_do_not_split():
    text = "In July 2007, the U.S. House passed it. Exports grew 2.16% to $30.1 billion. Dr. Kim agreed."
    got = [text[s:e] for s, e in split_sentences(text)]
    assert got == ["In July 2007, the U.S. House passed it.", "Exports grew 2.16% to $30.1 billion.",
                   "Dr. Kim agreed."]


def test_line_breaks_are_sentence_boundaries():
    text = "A heading\nThe body starts here. It goes on.\n"
    assert [text[s:e] for s, e in split_sentences(text)] == ["A heading", "The body starts here.", "It goes on."]


def test_chunks_respect_paragraphs_and_overlap_long_ones():
    para1 = " ".join(f"Sentence number {i} is about Japan." for i in range(30))
    text = "Short title\n\n" + para1 + "\n\nAnother paragraph about Korea. It is short but not tiny at all, " \
        "since it has enough words to stand alone as a block of its own here."
    chunks = chunk_document(doc(text), size=300, overlap=80)
    # The heading joins the paragraph after it.
    assert chunks[0].text.startswith("Short title\n\nSentence number 0")
    # Consecutive chunks of the long paragraph share whole sentences.
    assert chunks[1].start < chunks[0].end
    last = chunks[-1]
    assert last.text.startswith("Another paragraph") and last.start > chunks[-2].end
    assert paragraphs(text)[0] == (0, len("Short title"))


def test_long_single_line_is_cut():
    text = "word " * 5000
    spans = split_sentences(text)
    assert all(e - s <= 600 for s, e in spans)
    assert chunk_document(doc(text), 800, 100)


def test_run_in_heading_joins_the_sentence_it_introduces():
    from qa.ingest.sentences import attach_run_in_headings, split_sentences

    text = ("Trade frictions and economic policy. Trade tensions around export controls persist. Another one.\n"
            "He died in 1900. He was buried in Rome.\n"
            "Overview\n"
            "Oxygen is a chemical element. It has the symbol O.")
    spans = attach_run_in_headings(text, split_sentences(text))
    got = [text[s:e] for s, e in spans]
    assert got[0] == "Trade frictions and economic policy. Trade tensions around export controls persist."
    assert got[1] == "Another one."
    # Short real sentences (a verb, a pronoun subject) and headings on their own line stay as they are.
    assert "He died in 1900." in got and "Overview" in got and "Oxygen is a chemical element." in got


def test_index_records_segmentation_so_a_new_splitter_rebuilds(tmp_path):
    from qa.config import config_from_dict
    from qa.index.store import index_settings, staleness

    cfg = config_from_dict({"corpus": str(tmp_path), "index": str(tmp_path / "index")})
    manifest = {"settings": {**index_settings(cfg), "segmentation": 1}}
    assert "segmentation" in (staleness(cfg, manifest, {}) or "")


def test_an_over_long_sentence_is_cut_at_any_whitespace_and_never_inside_a_letter():
    from qa.ingest.sentences import MAX_SENTENCE_CHARS, split_sentences

    text = "a" * 400 + "  " + "b" * 400  # double space: no piece keeps a trailing space
    assert [text[s:e] for s, e in split_sentences(text)] == ["a" * 400, "b" * 400]
    text = "a" * 400 + "\t" + "b" * 400  # a tab is whitespace too
    assert [text[s:e] for s, e in split_sentences(text)] == ["a" * 400, "b" * 400]
    text = "x" * (MAX_SENTENCE_CHARS - 1) + "e\u0301" + "b" * 300  # no whitespace: cut before the letter
    pieces = [text[s:e] for s, e in split_sentences(text)]
    assert "".join(pieces) == text and pieces[1].startswith("e\u0301")


def test_no_chunk_lies_inside_the_one_before():
    from qa.ingest.chunking import _pack

    windows = _pack([(0, 300), (301, 501), (502, 1102)], 800, 200)
    assert [(w[0][0], w[-1][1]) for w in windows] == [(0, 501), (502, 1102)]
