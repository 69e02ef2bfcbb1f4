"""The cross-encoder reader: when it runs, what it changes, and that the shipped weights read well."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from qa import Pipeline
from qa.answer.answerer import CALIBRATION_FEATURES, AnswerModel
from qa.models.calibration import sigmoid

from .conftest import fake_pipeline
from .fakes import FakeEmbedder


class KeywordReader:
    """Prefers sentences holding a keyword; counts its calls."""

    def __init__(self, keyword: str):
        self.keyword = keyword
        self.calls = 0

    def score(self, question, sentences):
        self.calls += 1
        return np.array([5.0 if self.keyword in s else 0.0 for s in sentences], dtype=np.float32)


def pipeline_with(tmp_path, reader, threshold=0.0, **reader_params) -> Pipeline:
    base = fake_pipeline(tmp_path, reader=True, abstain_threshold=threshold)
    model = dataclasses.replace(AnswerModel.load(), **reader_params)
    p = Pipeline(base.config, embedder=FakeEmbedder(), answer_model=model, reader=reader)
    p.ensure_index(progress=False)
    return p


QUESTION = "What agreement normalized relations between Japan and South Korea?"


def test_reader_rereads_close_candidates_and_the_answer_stays_exact(tmp_path):
    base = fake_pipeline(tmp_path / "a", abstain_threshold=0.0)
    before = base.ask(QUESTION)
    third = before.explain["top_sentences"][2]  # the ranker's third choice
    target = base.index.texts[base.index.doc_position[third["source"]]][third["start"]:third["end"]]
    reader = KeywordReader(target)
    p = pipeline_with(tmp_path / "b", reader, reader_candidates=3, reader_margin=99.0, reader_weight=10.0)
    after = p.ask(QUESTION)
    assert reader.calls == 1
    assert target in after.citations[0].quote and target not in before.citations[0].quote
    c = after.citations[0]
    text = p.index.texts[p.index.doc_position[c.source]]
    assert text[c.start:c.end] == c.quote and text[c.answer_start:c.answer_end] == after.answer
    assert after.explain["reader"] is not None


def test_when_the_reader_picks_another_sentence_the_confidence_is_that_sentences(tmp_path):
    base = fake_pipeline(tmp_path / "a", abstain_threshold=0.0)
    before = base.ask(QUESTION)
    third = before.explain["top_sentences"][2]
    target = base.index.texts[base.index.doc_position[third["source"]]][third["start"]:third["end"]]
    p = pipeline_with(tmp_path / "b", KeywordReader(target), reader_candidates=3, reader_margin=99.0,
                      reader_weight=10.0)
    after = p.ask(QUESTION)
    model = AnswerModel.load()
    calib = after.explain["calibration"]  # the features of the sentence shown, after the re-read
    assert calib["best"] == pytest.approx(after.explain["top_sentences"][0]["score"])
    expected = sigmoid(sum(calib[k] * w for k, w in zip(CALIBRATION_FEATURES, model.calibration))
                       + model.calibration_bias)
    assert target in after.citations[0].quote and after.confidence == pytest.approx(expected)
    assert after.confidence != pytest.approx(before.confidence)  # not the displaced sentence's


def test_reader_does_not_run_when_the_ranker_is_sure_or_it_is_off(tmp_path, monkeypatch):
    reader = KeywordReader("1965")
    p = pipeline_with(tmp_path / "a", reader, reader_candidates=4, reader_margin=0.0, reader_weight=10.0)
    p.ask(QUESTION)
    assert reader.calls == 0  # margin 0: the best two are never "close"
    off = fake_pipeline(tmp_path / "b", abstain_threshold=0.0)  # reader: false
    monkeypatch.setattr("qa.models.reader.shared", lambda *a, **k: pytest.fail("the reader was loaded"))
    assert off.ask(QUESTION).explain.get("reader") is None


def test_reader_does_not_run_for_abstentions(tmp_path):
    reader = KeywordReader("1965")
    p = pipeline_with(tmp_path, reader, threshold=1.0, reader_candidates=4, reader_margin=99.0, reader_weight=1.0)
    assert p.ask(QUESTION).abstained
    assert reader.calls == 0


@pytest.mark.slow
def test_shipped_reader_prefers_the_sentence_that_answers():
    from qa.models.reader import shared

    reader = shared()
    assert reader is not None, "qa/data/reader.safetensors is missing: run bench/train_reader.py"
    logits = reader.score("When did the war end?", [
        "The war was a long and costly conflict that shaped the region.",
        "The war ended in 1953 with an armistice.",
        "Many historians have written about the war.",
    ])
    assert int(np.argmax(logits)) == 1
    logits = reader.score("Who founded the company?", [
        "The company was founded by Maria Lopez in a garage.",
        "The company sells shoes in twelve countries.",
    ])
    assert logits[0] > logits[1]


@pytest.mark.slow
def test_shipped_reader_reads_a_question_longer_than_its_window():
    from qa.models.reader import MAX_TOKENS, shared

    reader = shared()
    long_question = "Which of these " + "words " * (MAX_TOKENS + 50) + "is the answer?"  # allowed: up to 2,000 chars
    logits = reader.score(long_question, ["A sentence.", "Another, somewhat longer sentence about words."])
    assert logits.shape == (2,) and np.isfinite(logits).all()


def test_warm_up_loads_the_reader_only_when_enabled(tmp_path, monkeypatch):
    reader = KeywordReader("x")
    p = pipeline_with(tmp_path / "a", reader, reader_candidates=4, reader_margin=1.0, reader_weight=1.0)
    p.warm_up()
    assert p._load_reader() is reader
    off = fake_pipeline(tmp_path / "b")
    monkeypatch.setattr("qa.models.reader.shared", lambda *a, **k: pytest.fail("the reader was loaded"))
    off.warm_up()


@pytest.mark.slow
def test_reader_built_from_the_embedders_model_reads_the_same():
    from qa.models.embedding import SentenceTransformerEmbedder
    from qa.models.reader import Reader, bundled_encoder

    real_embedder = SentenceTransformerEmbedder(runtime="torch")
    real_embedder.embed(["load it"])
    base = bundled_encoder(real_embedder)
    assert base is not None  # the bundled model runs directly: its weights can be reused
    question, sentences = "When did the war end?", ["The war ended in 1953.", "Many wrote about it."]
    before = real_embedder.embed([question])
    copied = Reader.load(base=base).score(question, sentences)
    fresh = Reader.load().score(question, sentences)
    assert np.allclose(copied, fresh, atol=1e-5)
    # The fine-tuned layers go into the reader's copy: the embedder's vectors do not change.
    assert np.array_equal(real_embedder.embed([question]), before)
    assert bundled_encoder(object()) is None


def test_reader_rereads_when_the_best_sentence_lacks_the_wanted_type(tmp_path):
    # margin 0: a wide lead never makes the reader run, but a "when" question whose best
    # sentence (by the ranker alone) holds no date does.
    q = "When did the people of both countries exchange students and researchers?"
    base = fake_pipeline(tmp_path / "a", abstain_threshold=0.0)
    assert base.ask(q).explain["top_sentences"][0]["features"]["type_match"] < 1.0
    reader = KeywordReader("1965")
    p = pipeline_with(tmp_path / "b", reader, reader_candidates=4, reader_margin=0.0, reader_weight=10.0)
    assert p.ask(q).explain["reader"] is not None and reader.calls == 1
    p.ask(QUESTION)  # untyped: only the margin could make it run
    assert reader.calls == 1
