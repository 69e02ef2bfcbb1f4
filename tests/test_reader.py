"""The span reader: windows in, spans and no-answer scores out, exact offsets, and how answering uses it."""

from __future__ import annotations

import json
import subprocess
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa import Pipeline
from qa.answer.answerer import TYPE_CAP
from qa.config import config_from_dict
from qa.errors import ConfigError
from qa.models.calibration import Calibration
from qa.models.reader import Reading, Tokenizer, decode, whole_words, window

from .conftest import ROOT, fake_pipeline
from .fakes import FakeEmbedder

QUESTION = "When was the Treaty on Basic Relations between Japan and South Korea signed?"


class KeywordReader:
    """A reader that marks ``keyword`` wherever a window holds it and finds no answer elsewhere."""

    name = "keyword"
    calibration = None

    def __init__(self, keyword: str, answer: float = 5.0):
        self.keyword = keyword
        self.answer = answer
        self.tokenizer = Tokenizer()
        self.windows: list[str] = []

    def read(self, question, windows):
        self.windows += list(windows)
        out = []
        for w in windows:
            i = w.find(self.keyword)
            if i < 0:
                out.append(Reading(0, min(len(w), 5), -3.0, 4.0, -self.answer))
            else:
                out.append(Reading(i, i + len(self.keyword), 9.0, 0.0, self.answer))
        return out


def with_reader(tmp_path, reader, **settings) -> Pipeline:
    base = fake_pipeline(tmp_path, **settings)
    p = Pipeline(base.config, embedder=FakeEmbedder(), reader=reader)
    p.ensure_index(progress=False)
    return p


def test_the_answer_is_the_span_the_reader_marks_at_exact_offsets(tmp_path):
    p = with_reader(tmp_path, KeywordReader("1965"), abstain_threshold=0.0)
    ans = p.ask(QUESTION)
    assert ans.answer == "1965" and not ans.abstained
    c = ans.citations[0]
    text = p.index.texts[p.index.doc_position[c.source]]
    assert text[c.start:c.end] == c.quote and text[c.answer_start:c.answer_end] == "1965"
    # the quote is the sentence that holds the answer, not the whole window
    assert "1965" in c.quote and len(c.quote) < 400
    assert ans.explain["reader"] == "keyword" and ans.explain["windows"]


def test_a_window_without_an_answer_abstains(tmp_path):
    reader = KeywordReader("no such words in the seeds")
    ans = with_reader(tmp_path, reader).ask(QUESTION)
    assert ans.abstained and ans.answer is None and ans.citations == ()
    assert "below the threshold" in ans.reason
    assert len(reader.windows) >= 2  # in doubt, it read further windows before giving up


def test_a_sure_first_window_is_the_only_one_read_and_doubt_reads_more(tmp_path):
    only_the_readers_doubt = Calibration(("answer", "margin"), (1.0, 0.2), 0.0, {"doubt_margin": -1e9})
    sure = KeywordReader("1965")
    sure.calibration = only_the_readers_doubt
    ans = with_reader(tmp_path / "a", sure, abstain_threshold=0.0).ask(QUESTION)
    assert len(sure.windows) == 1 and "1965" in sure.windows[0] and ans.answer == "1965"
    unsure = KeywordReader("no such words in the seeds")
    unsure.calibration = only_the_readers_doubt
    with_reader(tmp_path / "b", unsure, abstain_threshold=0.0).ask(QUESTION)
    assert len(unsure.windows) == 3  # the first window, then two more (more_windows)


def test_windows_never_overlap_and_stay_in_their_document(tmp_path):
    reader = KeywordReader("no such words in the seeds")
    p = with_reader(tmp_path, reader, abstain_threshold=0.0)
    ans = p.ask(QUESTION)
    spans = [(w["source"], w["start"], w["end"]) for w in ans.explain["windows"]]
    for i, (d, s, e) in enumerate(spans):
        text = p.index.texts[p.index.doc_position[d]]
        assert 0 <= s < e <= len(text)
        assert all(d2 != d or e2 <= s or e <= s2 for d2, s2, e2 in spans[i + 1:])


def test_an_answer_of_the_wrong_kind_is_never_sure(tmp_path):
    # "Who" asks for a person; the reader marks a year with all its confidence.
    p = with_reader(tmp_path, KeywordReader("1965", answer=20.0), abstain_threshold=0.0)
    ans = p.ask("Who signed the Treaty on Basic Relations in 1965?")
    assert not ans.abstained and ans.confidence <= TYPE_CAP
    assert ans.note and "asks for a name" in ans.note


def test_reader_off_answers_from_the_ranker_and_never_loads_it(tmp_path, monkeypatch):
    monkeypatch.setattr("qa.models.reader.shared", lambda *a, **k: pytest.fail("the reader was loaded"))
    p = fake_pipeline(tmp_path, abstain_threshold=0.0, reader=False)
    p.warm_up()
    ans = p.ask(QUESTION)
    assert ans.explain["reader"] is None and "1965" in ans.citations[0].quote


def test_damaged_reader_weights_are_said_once_and_answers_go_on(tmp_path, caplog):
    bad = tmp_path / "reader.safetensors"
    bad.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{broken")
    p = fake_pipeline(tmp_path, abstain_threshold=0.0, reader=str(bad), runtime="torch")
    first, second = p.ask(QUESTION), p.ask("What is Dokdo?")
    assert first.explain["reader"] is None and not first.abstained and second.explain["reader"] is None
    assert caplog.text.count("could not be loaded") == 1  # said once, not on every question


def test_a_reader_file_that_is_not_there_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"reader: no weights file at .*nope\.safetensors \(true: the shipped reader"):
        config_from_dict({"corpus": str(tmp_path), "index": str(tmp_path / "i"), "reader": "nope.safetensors"},
                         base=tmp_path)


def test_the_replaced_extractor_key_is_said_and_ignored(tmp_path, caplog):
    cfg = config_from_dict({"corpus": str(tmp_path), "index": str(tmp_path / "i"), "extractor": True})
    assert cfg.reader is True
    assert "extractor is no longer used: the span reader (reader:)" in caplog.text


# ------------------------------------------------------------------ offsets

TOKENIZER = Tokenizer()
WORDS = st.sampled_from(["café", "cafe\u0301", "Seoul", "1965", "naïve", "👍🏽", "👨‍👩‍👧", "❤️", "東京", "—", "(Dokdo)",
                         "x", "U.S.", "don't", "Åsa", "İstanbul", "ß", "ﬁle", "\u00ad", "e\u0301\u0301"])
TEXTS = st.lists(WORDS, min_size=1, max_size=25).map(" ".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, seed=st.integers(0, 2**16))
def test_every_span_is_a_verbatim_slice_of_whole_words(text, seed):
    enc = TOKENIZER.encode("What is it?", [text])[0]
    rng = np.random.default_rng(seed)
    n = len(enc.ids)
    reading = decode(rng.normal(size=n), rng.normal(size=n), 0.0, enc, text)
    if reading.start is None:
        assert not text.strip() or all(o[1] <= o[0] for o, s in zip(enc.offsets, enc.sequence_ids) if s == 1)
        return
    a, b = reading.start, reading.end
    assert 0 <= a < b <= len(text)
    piece = text[a:b]
    assert piece == text[a:b] and piece.strip()
    # never cuts a word or splits a character from its accents and joiners
    assert a == 0 or not (text[a - 1].isalnum() and text[a].isalnum())
    assert b == len(text) or not (text[b - 1].isalnum() and text[b].isalnum())
    assert b == len(text) or unicodedata.category(text[b]) not in ("Mn", "Me")
    assert unicodedata.category(text[a]) not in ("Mn", "Me")


def test_whole_words_keeps_the_accents_of_the_last_character():
    text = "Le cafe\u0301 est ouvert"
    assert whole_words(text, 3, 7) == (3, 8) and text[3:8] == "cafe\u0301"
    assert whole_words("Seoulites", 0, 5) == (0, 9)


def test_decode_never_takes_question_tokens():
    enc = TOKENIZER.encode("Seoul Seoul Seoul?", ["Tokyo is far."])[0]
    start = np.zeros(len(enc.ids))
    end = np.zeros(len(enc.ids))
    q = [i for i, s in enumerate(enc.sequence_ids) if s == 0]
    start[q], end[q] = 50.0, 50.0  # the question's tokens score highest: still never chosen
    r = decode(start, end, 0.0, enc, "Tokyo is far.")
    assert r.start is not None and "Tokyo is far."[r.start:r.end] in "Tokyo is far."


def test_a_window_holds_the_centre_and_grows_both_ways_within_the_budget():
    counts = [10, 10, 50, 10, 10]
    assert window(counts, 2, 5) == (2, 3)        # the centre always, even over budget
    assert window(counts, 2, 70) == (1, 4)       # one before, one after
    assert window(counts, 2, 1000) == (0, 5)
    assert window(counts, 0, 30) == (0, 2)


# ------------------------------------------------------------------ the shipped weights

@pytest.mark.slow
def test_shipped_reader_marks_the_answer_and_declines_an_unrelated_window():
    from qa.models.reader import READER_FILE, shared

    reader = shared(READER_FILE, "onnx")
    assert reader is not None, "qa/data/reader.safetensors is missing: run bench/train_reader.py"
    answer, other = reader.read("When did the war end?", ["The war ended in 1953 with an armistice.",
                                                          "Many historians have written books about painting."])
    text = "The war ended in 1953 with an armistice."
    assert "1953" in text[answer.start:answer.end]
    assert answer.answer > other.answer and answer.margin > other.margin


@pytest.mark.slow
def test_onnx_int8_reader_reads_like_the_torch_one():
    from qa.models.reader import READER_FILE, load_torch, shared

    onnx, torch_reader = shared(READER_FILE, "onnx"), load_torch(READER_FILE)
    question = "Who founded the company?"
    windows = ["The company was founded by Maria Lopez in a garage in 1998.",
               "The company sells shoes in twelve countries, mostly online."]
    for a, b in zip(onnx.read(question, windows), torch_reader.read(question, windows)):
        assert (a.start, a.end) == (b.start, b.end)
        assert abs(a.answer - b.answer) < 1.0 and abs(a.margin - b.margin) < 1.5


@pytest.mark.slow
def test_shipped_reader_reads_a_question_and_window_longer_than_its_input():
    from qa.models.reader import MAX_TOKENS, READER_FILE, shared

    reader = shared(READER_FILE, "onnx")
    question = "Which of these " + "words " * (MAX_TOKENS + 50) + "is it?"  # allowed: up to 2,000 characters
    readings = reader.read(question, ["A sentence.", "word " * 300])
    assert len(readings) == 2 and all(np.isfinite([r.answer, r.margin]).all() for r in readings)
    assert reader.read("q", []) == []


@pytest.mark.slow
def test_training_script_runs_on_a_handful_of_examples(tmp_path):
    paras = [{"context": "The treaty was signed in 1965. It normalised relations between the two countries.",
              "qas": [{"id": "a", "question": "When was the treaty signed?",
                       "answers": [{"text": "1965", "answer_start": 25}]},
                      {"id": "b", "question": "Who wrote the treaty's preamble?", "answers": [], "is_impossible": True}]}]
    data = {"data": [{"title": f"T{i}", "paragraphs": paras} for i in range(10)]}
    train = tmp_path / "train.json"
    train.write_text(json.dumps(data), encoding="utf-8")
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "train_reader.py"), "--run", str(tmp_path / "run"),
                          "--train", str(train), "--squad2", str(train), "--epochs", "1", "--batch", "4",
                          "--check", "20", "--threads", "1"], capture_output=True, text=True, timeout=600,
                         env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert (tmp_path / "run" / "latest.safetensors").is_file() and (tmp_path / "run" / "checkpoint.pt").is_file()
    assert "answer windows" in out.stderr
    resumed = subprocess.run([sys.executable, str(ROOT / "bench" / "train_reader.py"), "--run",
                              str(tmp_path / "run"), "--train", str(train), "--squad2", str(train), "--epochs", "1",
                              "--batch", "4", "--check", "5", "--threads", "1", "--resume"],
                             capture_output=True, text=True, timeout=600,
                             env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})
    assert resumed.returncode == 0 and "resumed at step" in resumed.stderr
    assert Path(tmp_path / "run" / "latest.safetensors").stat().st_size > 1_000_000
