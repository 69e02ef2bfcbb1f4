"""Pipeline.ask with the fake embedder: the JSON contract and exact offsets."""

import dataclasses
import json
import math
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qa
from qa import Pipeline
from qa.errors import InputError

from .conftest import fake_pipeline, make_corpus
from .fakes import FakeEmbedder

QUESTIONS = ["When did Japan colonize Korea?", "How much did Japan export to South Korea in 2021?",
             "What is the Dokdo/Takeshima dispute?", "Who was South Korea's head of state between 1961 and 1979?",
             "What is the distance between South Korea and Japan?"]


def test_public_api_is_pinned():
    assert sorted(qa.__all__) == ["Answer", "Chunk", "Citation", "Config", "Document", "Embedder", "Evidence",
                                  "Mismatch", "Passage", "Pipeline", "QAError", "QuoteCheck",
                                  "SentenceTransformerEmbedder", "Verdict", "load_config"]


def check_offsets(p, d: dict) -> None:
    idx = p.index
    for c in d["citations"]:
        text = idx.texts[idx.doc_position[c["source"]]]
        assert text[c["start"]:c["end"]] == c["quote"]
    for ps in d["passages"]:
        text = idx.texts[idx.doc_position[ps["source"]]]
        assert text[ps["start"]:ps["end"]] == ps["text"]
    if not d["abstained"]:
        first = d["citations"][0]
        text = idx.texts[idx.doc_position[first["source"]]]
        assert text[first["answer_start"]:first["answer_end"]] == d["answer"]
        assert first["start"] <= first["answer_start"] < first["answer_end"] <= first["end"]


@pytest.mark.parametrize("question", QUESTIONS)
def test_answer_json_contract_and_offsets(seed_pipeline, question):
    ans = seed_pipeline.ask(question, top_k=3)
    d = json.loads(json.dumps(ans.to_dict()))
    assert {"question", "answer", "abstained", "confidence", "citations", "passages"} <= set(d)
    assert d["question"] == question and 0 <= d["confidence"] <= 1
    assert len(d["passages"]) <= 3
    for c in d["citations"]:
        assert {"source", "title", "start", "end", "quote", "answer_start", "answer_end", "score"} <= set(c)
    for ps in d["passages"]:
        assert {"source", "title", "start", "end", "text", "score"} <= set(ps)
    if d["abstained"]:
        assert d["answer"] is None and d["citations"] == []
    else:
        assert d["citations"]
    check_offsets(seed_pipeline, d)


def test_abstention_is_a_normal_result(tmp_path):
    p = fake_pipeline(tmp_path, abstain_threshold=1.0)
    ans = p.ask("When did Japan colonize Korea?")
    assert ans.abstained and ans.answer is None and ans.citations == () and ans.passages
    assert "threshold" in ans.reason


def test_abstention_reason_rounds_down_as_the_ui_does(tmp_path):
    p = fake_pipeline(tmp_path, abstain_threshold=0.0)
    conf = p.ask("When did Japan colonize Korea?").confidence
    threshold = (math.floor(conf * 100) + 1) / 100  # the next whole percent: just above the confidence
    strict = Pipeline(dataclasses.replace(p.config, abstain_threshold=threshold), embedder=FakeEmbedder())
    ans = strict.ask("When did Japan colonize Korea?")
    m = re.fullmatch(r"confidence (\d+)% is below the threshold (\d+)%", ans.reason or "")
    assert ans.abstained and m and int(m[1]) == math.floor(conf * 100) and int(m[2]) == int(m[1]) + 1


def test_threshold_zero_always_answers(tmp_path):
    p = fake_pipeline(tmp_path, abstain_threshold=0.0)
    ans = p.ask("When did Japan colonize Korea?")
    assert not ans.abstained and "1910" in ans.citations[0].quote


@pytest.mark.parametrize("bad, message", [("", "question is empty"), ("   \n\t", "question is empty"),
                                          ("\x00\x01", "question is empty"), (None, "must be a string"),
                                          ("x" * 5000, "limit is 2000")])
def test_bad_questions_raise_input_errors(seed_pipeline, bad, message):
    with pytest.raises(InputError, match=message):
        seed_pipeline.ask(bad)


def test_control_characters_and_other_scripts_are_fine(seed_pipeline):
    for q in ["When\x00 did Japan\x07 colonize Korea?", "일본은 언제 한국을 식민지로 삼았나요?", "😀😀 ?", "日本"]:
        d = seed_pipeline.ask(q).to_dict()
        check_offsets(seed_pipeline, d)


def test_bad_top_k(seed_pipeline):
    with pytest.raises(InputError, match="top_k must be an integer between 1 and 100"):
        seed_pipeline.ask("Japan?", top_k=0)


def test_question_embedding_is_cached(seed_pipeline):
    emb = seed_pipeline.embedder
    seed_pipeline.ask("When did Japan colonize Korea?")
    calls = emb.calls
    seed_pipeline.ask("When did Japan colonize Korea?")
    assert emb.calls == calls


WORD = st.sampled_from(["Japan", "Korea", "signed", "treaty", "in", "1965", "the", "$30.1 billion",
                        "President", "Yoon", "met", "Kishida", "é", "한국", "<b>", "\t", "\r\n"])
DOC = st.lists(st.tuples(st.lists(WORD, min_size=1, max_size=12).map(" ".join),
                         st.sampled_from([". ", "? ", ".\n", "\n\n", " "])), min_size=1, max_size=40).map(
    lambda parts: "".join(a + b for a, b in parts))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(docs=st.lists(DOC, min_size=1, max_size=3), question=st.lists(WORD, min_size=1, max_size=6).map(" ".join))
def test_any_documents_any_question_offsets_are_exact(tmp_path_factory, docs, question):
    tmp = tmp_path_factory.mktemp("prop")
    docs = [d for d in docs if d.strip()] or ["Japan signed."]
    corpus = make_corpus(tmp, {f"d{i}.txt": d for i, d in enumerate(docs)})
    p = fake_pipeline(tmp, corpus, abstain_threshold=0.0)
    if not question.strip():
        return
    d = p.ask(question).to_dict()
    if d["abstained"]:  # with the threshold at 0, only an answer that merely repeats the question abstains
        assert d["reason"] == "the only match repeats the question's own words; it answers nothing"
        return
    check_offsets(p, d)


def test_question_vector_cache_is_a_bounded_lru(seed_pipeline, monkeypatch):
    import threading

    import qa.pipeline

    monkeypatch.setattr(qa.pipeline, "QUESTION_CACHE", 3)
    emb = seed_pipeline.embedder
    for q in ("Who is Kishida?", "What is Dokdo?", "When did Japan rule Korea?"):
        seed_pipeline.ask(q)
    seed_pipeline.ask("Who is Kishida?")  # a hit: not embedded again, and now the most recent
    calls = emb.calls
    seed_pipeline.ask("Who is Kishida?")
    assert emb.calls == calls
    seed_pipeline.ask("Who is Yoon?")  # evicts the least recently used: "What is Dokdo?"
    assert list(seed_pipeline._qcache) == ["When did Japan rule Korea?", "Who is Kishida?", "Who is Yoon?"]
    # many threads asking new questions at once never push it past its bound or break it
    errors = []

    def worker(n):
        try:
            for i in range(30):
                seed_pipeline.ask(f"What did Japan export in {n * 100 + i}?")
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(seed_pipeline._qcache) == 3


def test_a_typed_question_answered_by_a_whole_sentence_says_so(tmp_path):
    corpus = make_corpus(tmp_path, {"a.txt": "The treaty talks were long. Delegates signed the treaty in Seoul after "
                                             "many rounds of talks.\n\nThe harbour was busy."})
    p = fake_pipeline(tmp_path, corpus, abstain_threshold=0.0)
    d = p.ask("When did the delegates sign the treaty?").to_dict()
    assert not d["abstained"] and d["answer"] == "Delegates signed the treaty in Seoul after many rounds of talks."
    assert d["note"] == "No date in this passage fits the question, so the whole sentence is shown."
    corpus = make_corpus(tmp_path / "b", {"a.txt": "Delegates signed the treaty in Seoul in 1965 after many talks."})
    p = fake_pipeline(tmp_path / "b", corpus, abstain_threshold=0.0)
    d = p.ask("When did the delegates sign the treaty?").to_dict()
    assert d["answer"] == "1965" and "note" not in d
    assert "note" not in p.ask("Why did the delegates sign the treaty?").to_dict()


def test_a_nan_score_is_no_confidence():
    from qa.models.calibration import sigmoid

    assert sigmoid(float("nan")) == 0.0 and sigmoid(60.0) == 1.0 and sigmoid(0.0) == 0.5


def test_cleaning_keeps_joiners_and_drops_invisible_format_characters():
    from qa.text.chars import clean_text

    family = "\U0001F468\u200d\U0001F469"  # one emoji, joined
    assert clean_text(f"Who is {family}?", "question", 100) == f"Who is {family}?"
    assert clean_text("co\u00adoperation \u202eevil", "question", 100) == "cooperation evil"
    assert clean_text("a\x07b", "question", 100) == "a b"
