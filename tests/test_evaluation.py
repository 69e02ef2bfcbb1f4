"""The figures `qa eval` reports: how gold answers, paragraphs, percentiles and exactness are counted."""

from __future__ import annotations

import json
import logging

from qa.config import config_from_dict
from qa.evaluation.evaluate import QuestionSet, _percentiles, eval_question_set, eval_squad, holds, is_paragraph
from qa.pipeline import Pipeline
from qa.evaluation.squad import load_squad

from .conftest import fake_pipeline
from .fakes import FakeEmbedder


def test_a_gold_answer_counts_as_whole_words_ignoring_case():
    assert holds("Japan exported $51.1 billion to South Korea.", "$51.1 billion")
    assert holds("They met in seoul.", "Seoul")
    assert not holds("It was founded in 1940.", "40")
    assert not holds("The Koreans", "Korea")


def test_p95_is_the_nearest_rank():
    times = [i / 1000 for i in range(1, 21)]  # 1..20 ms
    assert _percentiles(times) == {"p50_ms": 10.5, "p95_ms": 19.0}
    assert _percentiles([i / 1000 for i in range(1, 101)])["p95_ms"] == 95.0


def test_a_passage_is_a_paragraph_when_half_of_the_shorter_overlaps():
    assert is_paragraph(100, 600, (100, 600))
    assert is_paragraph(0, 800, (150, 650))        # a chunk starting in the paragraph before
    assert is_paragraph(300, 1100, (0, 600))       # half of the chunk lies in it
    assert not is_paragraph(590, 1390, (0, 600))   # only its last 10 characters
    assert not is_paragraph(600, 900, (0, 600))


def test_citation_exactness_counts_answered_questions_only(tmp_path):
    p = fake_pipeline(tmp_path, abstain_threshold=1.0)  # abstains on everything
    qs = QuestionSet([{"question": "When did Japan colonize Korea?", "answers": ["1910"]}],
                     [{"question": "What is the capital of Mars?"}])
    r = eval_question_set(p, qs)
    assert r["answered"] == 0 and r["citations_exact"] is None and r["answerable_abstained"] == 1.0
    r = eval_question_set(fake_pipeline(tmp_path / "b", abstain_threshold=0.0), qs)
    assert r["answered"] == 2 and r["citations_exact"] == 1.0 and 0.0 <= r["f1"] <= 1.0


def _squad_file(tmp_path):
    paras = [
        {"context": "The quibbit bridge opened in 1966 in Lisbon after years of work on its towers.",
         "qas": [{"id": "q1", "question": "When did the quibbit bridge open?",
                  "answers": [{"text": "1966", "answer_start": 29}]},
                 {"id": "q2", "question": "Where is the quibbit bridge?",
                  "answers": [{"text": "Lisbon", "answer_start": 3}]}]},  # a wrong answer_start
        {"context": "The zorblax festival was first held in 1999 in Osaka with lanterns and drums.",
         "qas": [{"id": "q3", "question": "Where was the zorblax festival first held?",
                  "answers": [{"text": "Osaka", "answer_start": 47}]}]},
    ]
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps({"data": [{"title": "Tiny", "paragraphs": paras}]}), encoding="utf-8")
    return path


def test_squad_answers_that_do_not_match_their_text_are_reported(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        _, questions = load_squad(_squad_file(tmp_path))
    assert [q.id for q in questions] == ["q1", "q3"]
    assert "1 question(s) had gold answers whose answer_start does not point at their text" in caplog.text


def test_squad_recall_at_5_is_never_below_recall_at_1(tmp_path):
    def make(corpus, index):
        cfg = config_from_dict({"corpus": str(corpus), "index": str(index), "reader": False, "abstain_threshold": 0.0})
        return Pipeline(cfg, embedder=FakeEmbedder())

    r = eval_squad(_squad_file(tmp_path), None, 0, make, workdir=tmp_path / "work")
    assert r["questions"] == 2 and r["paragraph_recall_at_5"] >= r["paragraph_recall_at_1"] == 1.0
    assert r["answer_in_quote_at_1"] == 1.0 and r["citations_exact"] == 1.0


DIALOGUES = """
dialogues:
  - id: d1
    split: dev
    turns:
      - question: "How much did Japan export to South Korea in 2021?"
        answers: ["$51.1 billion"]
      - question: "What about in 1995?"
        followup: true
        standalone: "How much did Japan export to South Korea in 1995?"
        answers: ["$17.3 billion"]
      - question: "When did North Korea invade South Korea?"
        answers: ["June 1950"]
  - id: t1
    split: test
    turns:
      - question: "What is Dokdo?"
        answers: ["Liancourt Rocks"]
      - question: "What is it called in Japanese?"
        followup: true
        answers: ["Takeshima"]
"""


def test_a_dialogue_set_is_run_turn_by_turn_with_its_history(tmp_path, capsys, monkeypatch):
    from qa import cli
    from qa.evaluation.dialogues import eval_dialogues, is_dialogue_set, load_dialogue_set

    from .conftest import fake_config_file

    path = tmp_path / "dialogues.yaml"
    path.write_text(DIALOGUES, encoding="utf-8")
    assert is_dialogue_set(path) and len(load_dialogue_set(path, "dev")) == 1
    p = fake_pipeline(tmp_path)
    r = eval_dialogues(p, load_dialogue_set(path))
    assert (r["dialogues"], r["followups"], r["standalone_with_history"], r["first_turns"]) == (2, 2, 1, 2)
    assert r["standalone_rewritten"] == 0.0 and r["followups_rewritten"] == 1.0
    assert r["rewrites"] == ["d1.2: What about in 1995? -> How much did Japan export to South Korea in 1995?",
                             "t1.2: What is it called in Japanese? -> What is Dokdo called in Japanese?"]
    assert r["followups_understood_as_written"] == 1.0  # d1.2's own standalone; t1.2 has none
    assert r["followups_right"] == f"{round(r['followup_answer_contains_gold'] * 2)} of 2"
    # word overlap with the gold strings: the fake's answers share some words with the gold, none holds it
    assert 0.0 <= r["followup_exact_match"] <= r["followup_f1"] <= 1.0
    assert r["followup_answer_contains_gold"] == 0.0 and r["followup_f1"] > 0.0
    # `qa eval` recognises the set by its top-level key and prints the figures
    cfg = fake_config_file(p, tmp_path, monkeypatch)
    assert cli.main(["--config", str(cfg), "eval", str(path), "--split", "test", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["dialogues"] == 1 and out["followups"] == 1 and "followup_answer_contains_gold" in out


def test_a_malformed_dialogue_set_is_a_one_line_error(tmp_path):
    import pytest

    from qa.errors import ConfigError
    from qa.evaluation.dialogues import load_dialogue_set

    path = tmp_path / "bad.yaml"
    path.write_text("dialogues:\n  - id: x\n    turns:\n      - question: 'When?'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"dialogue #1 needs 'turns', each with 'question' \(text\) and 'answers'"):
        load_dialogue_set(path)
