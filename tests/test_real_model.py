"""Integration tests with the real bundled MiniLM model (loaded once per run)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qa.evaluation.evaluate import eval_question_set, load_question_set

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def test_model_loads_offline(real_embedder):
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    v = real_embedder.embed(["When did Japan rule Korea?"])
    assert v.shape == (1, 384)


def test_seed_question_set_quality_floor(real_seed_pipeline):
    """Regression guard on the held-out split, just under the figures measured with the shipped span
    reader (EM 0.63, F1 0.75, answer holds gold 0.71, quote 0.84, answerable abstained 0.08, off-topic
    abstained 0.85).

    The issue's targets (>= 90% top-1, every off-topic question abstaining) are higher than this
    and not reached yet; `qa eval eval/seed_questions.yaml --split test` prints the current
    figures. Citations must always be exact.
    """
    qs = load_question_set(ROOT / "eval" / "seed_questions.yaml", "test")
    r = eval_question_set(real_seed_pipeline, qs)
    assert r["citations_exact"] == 1.0
    assert r["f1"] >= 0.70 and r["exact_match"] >= 0.58, r["misses"]
    assert r["answer_contains_gold_at_1"] >= 0.68, r["misses"]
    assert r["gold_in_first_quote"] >= 0.78, r["misses"]
    assert r["answerable_abstained"] <= 0.11, r["misses"]
    assert r["off_topic_abstained"] >= 0.8, r["off_topic_answered"]

def test_cli_index_then_ask_json_with_the_real_model(tmp_path):
    cfg = tmp_path / "qa.yaml"
    cfg.write_text(f"corpus: {ROOT / 'seeds'}\nindex: {tmp_path / 'index'}\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = lambda *a, **k: subprocess.run([sys.executable, "-m", "qa.cli", "--config", str(cfg), *a],  # noqa: E731
                                         capture_output=True, text=True, timeout=300, env=env, **k)
    first = run("index", "--json")
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["added"] == 3 and summary["chunks"] > 0
    again = json.loads(run("index", "--json").stdout)
    assert again["skipped"] and again["unchanged"] == 3
    out = run("ask", "--json", "-", input="When did Japan colonize Korea?\nWhat is the capital of Peru?\n")
    assert out.returncode == 0, out.stderr
    first_answer, off_topic = (json.loads(line) for line in out.stdout.strip().splitlines())
    assert "1910" in first_answer["answer"] and not first_answer["abstained"]
    c = first_answer["citations"][0]
    text = (ROOT / "seeds" / c["source"]).read_bytes().decode("utf-8")
    assert text[c["start"]:c["end"]] == c["quote"]
    assert text[c["answer_start"]:c["answer_end"]] == first_answer["answer"]
    assert off_topic["abstained"] and off_topic["citations"] == []


def test_claim_set_quality_floor(real_seed_pipeline):
    """Regression guard for the claim checker on the held-out test split (thresholds were set on dev).

    `qa eval eval/seed_claims.yaml --split test` prints the figures; at the time of writing 40/42
    (95.2%), with no supported claim reported as contradicted.
    """
    from qa.evaluation.evaluate import eval_claim_set, load_claim_set

    r = eval_claim_set(real_seed_pipeline, load_claim_set(ROOT / "eval" / "seed_claims.yaml", "test"))
    assert r["offsets_exact"] == 1.0
    assert r["supported_reported_contradicted"] == 0, r["errors"]
    assert r["accuracy"] >= 0.9, r["errors"]
    assert all(v["accuracy"] >= 0.8 for v in r["per_verdict"].values()), r["per_verdict"]
    assert r["mismatch_names_changed_detail"] >= 0.9


def test_source_sentences_are_never_contradicted_with_the_real_model(real_seed_pipeline):
    """A claim copied from the sources must come back supported, never contradicted."""
    idx = real_seed_pipeline.index
    rows = [r for r in range(0, len(idx.sent_doc), 5) if len(idx.sentence_text(r).split()) >= 6]
    verdicts = [real_seed_pipeline.check(idx.sentence_text(r)) for r in rows]
    assert not [v.claim for v in verdicts if v.verdict == "contradicted"]
    assert sum(v.verdict == "supported" for v in verdicts) >= 0.95 * len(verdicts)


def test_cli_check_stdin_with_the_real_model(tmp_path):
    cfg = tmp_path / "qa.yaml"
    cfg.write_text(f"corpus: {ROOT / 'seeds'}\nindex: {tmp_path / 'index'}\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    assert subprocess.run([sys.executable, "-m", "qa.cli", "--config", str(cfg), "index", "--json"],
                          capture_output=True, text=True, timeout=300, env=env).returncode == 0
    out = subprocess.run([sys.executable, "-m", "qa.cli", "--config", str(cfg), "check", "--json", "-"],
                         input="Japan is the second-largest economy in the world.\n"
                               "North Korea invaded South Korea in June 1950.\n",
                         capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr
    first, second = (json.loads(line) for line in out.stdout.splitlines())
    assert first["verdict"] == "contradicted" and first["mismatches"][0]["evidence_text"] == "third-largest"
    assert second["verdict"] == "supported"
