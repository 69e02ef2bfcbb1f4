"""The span extractor: which span it reads off its scores, when the answer stage uses it, and the shipped model."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from qa import Pipeline
from qa.models.base import pair_tokenizer
from qa.models.extractor import MAX_ANSWER_TOKENS, MAX_TOKENS, Span, best_span

from .conftest import fake_pipeline
from .fakes import FakeEmbedder


def tokenizer():
    return pair_tokenizer(MAX_TOKENS)


def _logits(enc, start_at: int, end_at: int, null: float = 0.0) -> np.ndarray:
    lg = np.zeros((len(enc.ids), 2), dtype=np.float32)
    lg[0] = null / 2
    lg[start_at, 0] = 5.0
    lg[end_at, 1] = 5.0
    return lg


def test_best_span_maps_tokens_to_the_sentences_characters():
    sentence = "The treaty was signed in Tokyo by both governments."
    enc = tokenizer().encode("Where was it signed?", sentence)
    rows = [i for i, s in enumerate(enc.sequence_ids) if s == 1]
    tokyo = next(i for i in rows if sentence[enc.offsets[i][0]:enc.offsets[i][1]].lower() == "tokyo")
    span = best_span(_logits(enc, tokyo, tokyo), enc, sentence)
    assert sentence[span.start:span.end] == "Tokyo" and span.margin == pytest.approx(10.0)


def test_best_span_never_takes_question_tokens_or_an_end_before_its_start():
    sentence = "Seoul and Tokyo signed it."
    enc = tokenizer().encode("Which Tokyo ministry?", sentence)
    question_token = next(i for i, s in enumerate(enc.sequence_ids) if s == 0)
    lg = _logits(enc, question_token, question_token)
    rows = [i for i, s in enumerate(enc.sequence_ids) if s == 1]
    lg[rows[3], 0] = 4.0  # a start after the best end
    lg[rows[1], 1] = 4.5
    span = best_span(lg, enc, sentence)
    assert span is not None and span.start <= span.end
    assert sentence[span.start:span.end] in sentence and span.end <= len(sentence)


def test_best_span_is_at_most_the_longest_answer():
    sentence = " ".join(["word"] * 80)
    enc = tokenizer().encode("q?", sentence)
    rows = [i for i, s in enumerate(enc.sequence_ids) if s == 1]
    span = best_span(_logits(enc, rows[0], rows[-1]), enc, sentence)  # the favourite start and end are too far apart
    n = len(tokenizer().encode(sentence[span.start:span.end], add_special_tokens=False).ids)
    assert n <= MAX_ANSWER_TOKENS


def test_margin_is_against_the_no_span_score():
    sentence = "It ended in 1953."
    enc = tokenizer().encode("When?", sentence)
    rows = [i for i, s in enumerate(enc.sequence_ids) if s == 1]
    assert best_span(_logits(enc, rows[0], rows[0], null=14.0), enc, sentence).margin == pytest.approx(-4.0)


def test_a_sentence_cut_by_the_window_gives_no_span():
    sentence = " ".join(f"proposal{i}" for i in range(400)) + " and the harbour bridge."
    enc = tokenizer().encode("What was approved?", sentence)
    rows = [i for i, s in enumerate(enc.sequence_ids) if s == 1]
    assert best_span(_logits(enc, rows[0], rows[0]), enc, sentence) is None  # the end was never read


def test_a_span_keeps_the_accents_of_its_last_character():
    import unicodedata

    sentence = unicodedata.normalize("NFD", "The mill became a famous café in town.")
    enc = tokenizer().encode("What did the mill become?", sentence)
    rows = [i for i, s in enumerate(enc.sequence_ids) if s == 1]
    a = next(i for i in rows if sentence[enc.offsets[i][0]:enc.offsets[i][1]] == "a")
    cafe = next(i for i in rows if sentence[enc.offsets[i][0]:enc.offsets[i][1]] == "cafe")
    span = best_span(_logits(enc, a, cafe), enc, sentence)
    assert unicodedata.normalize("NFC", sentence[span.start:span.end]) == "a famous café"
    assert best_span(_logits(enc, a, a), enc, sentence + "\u200b") is not None  # an unread format character at the end


class FixedExtractor:
    """Answers with the first occurrence of ``words`` in the sentence, at a fixed margin; counts calls."""

    def __init__(self, words: str, margin: float, min_margin: float = 1.0):
        self.words, self.margin, self.min_margin, self.calls = words, margin, min_margin, 0

    def spans(self, question, sentences):
        self.calls += 1
        out = []
        for s in sentences:
            i = s.find(self.words)
            out.append(Span(i, i + len(self.words), self.margin) if i >= 0 else Span(0, 1, self.margin))
        return out


QUESTION = "What agreement normalized relations between Japan and South Korea?"


def _with(tmp_path, extractor) -> Pipeline:
    base = fake_pipeline(tmp_path, abstain_threshold=0.0)
    p = Pipeline(dataclasses.replace(base.config, extractor=True), embedder=FakeEmbedder(),
                 extractor=extractor)
    p.ensure_index(progress=False)
    return p


def test_an_untyped_question_is_narrowed_when_the_extractor_is_sure(tmp_path):
    before = fake_pipeline(tmp_path / "a", abstain_threshold=0.0).ask(QUESTION)
    words = before.answer.split()[1]  # some words of the sentence the pipeline answers with
    p = _with(tmp_path / "b", FixedExtractor(words, margin=3.0))
    a = p.ask(QUESTION)
    assert a.answer == words and a.citations[0].quote == before.citations[0].quote
    c = a.citations[0]
    text = p.index.texts[p.index.doc_position[c.source]]
    assert text[c.answer_start:c.answer_end] == a.answer  # still verbatim, at exact offsets


def test_an_unsure_extractor_leaves_the_whole_sentence(tmp_path):
    before = fake_pipeline(tmp_path / "a", abstain_threshold=0.0).ask(QUESTION)
    ex = FixedExtractor(before.answer.split()[1], margin=0.5)  # below its min_margin of 1.0
    a = _with(tmp_path / "b", ex).ask(QUESTION)
    assert ex.calls == 1 and a.answer == before.answer


def test_a_blank_span_is_never_the_answer(tmp_path):
    before = fake_pipeline(tmp_path / "a", abstain_threshold=0.0).ask(QUESTION)
    a = _with(tmp_path / "b", FixedExtractor(" ", margin=9.0)).ask(QUESTION)
    assert a.answer == before.answer


def test_typed_questions_keep_their_typed_narrowing(tmp_path):
    ex = FixedExtractor("Japan", margin=9.0)
    a = _with(tmp_path, ex).ask("When did Japan annex Korea?")
    assert ex.calls == 0 and a.answer is not None and any(ch.isdigit() for ch in a.answer)


def test_extractor_off_in_the_config_is_never_loaded(tmp_path, monkeypatch):
    p = fake_pipeline(tmp_path, abstain_threshold=0.0)  # extractor: false
    monkeypatch.setattr("qa.models.extractor.shared", lambda *a, **k: pytest.fail("the extractor was loaded"))
    p.ask(QUESTION)
    p.warm_up()


def test_damaged_extractor_weights_leave_whole_sentences(tmp_path, monkeypatch, caplog):
    from qa.models import extractor

    bad = tmp_path / "extractor.safetensors"
    bad.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{broken")
    monkeypatch.setattr(extractor, "EXTRACTOR_FILE", bad)
    monkeypatch.setattr(extractor, "_shared", {})
    assert extractor.shared("torch") is None and extractor.shared("torch") is None
    assert caplog.text.count("could not be loaded") == 1  # said once, not on every question


def test_damaged_reader_weights_answer_without_the_reader(tmp_path, monkeypatch, caplog):
    from qa.models import reader

    bad = tmp_path / "reader.safetensors"
    bad.write_bytes(b"")
    monkeypatch.setattr(reader, "READER_FILE", bad)
    monkeypatch.setattr(reader, "_shared", {})
    assert reader.shared(None, "torch") is None
    assert "could not be loaded" in caplog.text


@pytest.mark.slow
def test_shipped_extractor_finds_the_words_that_answer():
    from qa.models.extractor import EXTRACTOR_FILE, shared

    assert EXTRACTOR_FILE.is_file(), "qa/data/extractor.safetensors is missing: run bench/train_extractor.py"
    ex = shared()
    cases = [("What does the company sell?", "The company sells running shoes in twelve countries.", "running shoes"),
             ("What did the committee approve?", "After a long debate, the committee approved the new budget.",
              "the new budget")]
    for question, sentence, want in cases:
        span = ex.spans(question, [sentence])[0]
        assert want in sentence[span.start:span.end] and span.end - span.start < len(sentence) // 2


@pytest.mark.slow
def test_onnx_extractor_reads_like_the_torch_one():  # the test run's shared graph cache
    from qa.models.extractor import Extractor, OnnxExtractor

    onnx, torch_ex = OnnxExtractor.load(), Extractor.load()
    q = "Which of these " + "words " * 200 + "is it?"
    for question, sentences in [("What does it sell?", ["It sells shoes.", "x", "word " * 300]), (q, ["A sentence."])]:
        for a, b in zip(onnx.spans(question, sentences), torch_ex.spans(question, sentences)):
            if a is None or b is None:  # a sentence longer than the window: no span from either
                assert a is None and b is None
                continue
            assert (a.start, a.end) == (b.start, b.end) and a.margin == pytest.approx(b.margin, abs=1e-3)
    assert onnx.min_margin == torch_ex.min_margin
