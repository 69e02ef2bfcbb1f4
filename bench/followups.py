"""Follow-up questions: what understanding the conversation costs, and that standalone questions stay untouched.

    python bench/followups.py                        # seed corpus (qa.yaml), split test: both parts below
    python bench/followups.py --split dev
    python bench/followups.py --squad --workdir .cache/squad-dev --limit 1000 --seed 0

1. Latency. For every follow-up of eval/seed_dialogues.yaml (its dialogue so far as history, as
   ``{"question", "answer"}`` dicts the way the HTTP API gets them): the conversation step alone
   (reading the history, understanding the question, checking it is about the conversation's documents,
   finding where the last answer came from: ``Pipeline.understand``), and
   ``ask(question, history)`` against ``ask(standalone question)`` -- the same retrieval and answer
   work -- interleaved in a shuffled order, after a warm-up; p50 of each and the difference.
2. Standalone questions. Every question of eval/seed_questions.yaml (the split) asked alone, with an
   empty history, and after an unrelated earlier turn (the question half the list away, with the answer
   the system gave it): the `qa eval` figures of each and how many questions were rewritten.
   With --squad: SQuAD dev questions (the `qa eval` sample), each asked after the previously sampled
   question (another article, nearly always) and its answer; compare with `qa eval` of the same file.

Prints figures; never a test (a shared machine being slow must not fail anything).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import yaml  # noqa: E402

from qa import Pipeline  # noqa: E402
from qa.answer.referents import candidates  # noqa: E402
from qa.evaluation.evaluate import eval_question_set, eval_squad, load_question_set  # noqa: E402
from qa.text.phrases import phrases, words  # noqa: E402

FIGURES = ("answer_contains_gold_at_1", "gold_in_first_quote", "exact_match", "f1", "right_source_at_1",
           "answerable_abstained", "off_topic_abstained", "citations_exact")
SQUAD_FIGURES = ("paragraph_recall_at_1", "paragraph_recall_at_5", "answer_in_quote_at_1", "answer_in_span_at_1",
                 "exact_match", "f1", "abstained", "citations_exact")


class InConversation(Pipeline):
    """A pipeline whose ``ask`` brings along the history ``history_for(question)`` gives (a list of turns);
    it keeps its last turn in ``previous`` and the questions it rewrote in ``rewritten``."""

    def __init__(self, *args, history_for=lambda q: [], **kwargs):
        super().__init__(*args, **kwargs)
        self.history_for = history_for
        self.previous: list[dict] = []
        self.rewritten: list[tuple[str, str]] = []

    def ask(self, question, top_k=None, history=None):
        if history is not None or question == "warm-up question":
            return super().ask(question, top_k, history)
        ans = super().ask(question, top_k, history=self.history_for(question))
        if ans.standalone_question != " ".join(question.split()):
            self.rewritten.append((question, ans.standalone_question))
        self.previous = [{"question": question, "answer": ans.answer}]
        return ans


def p50_ms(times: list[float]) -> float:
    return round(1000 * statistics.median(times), 3)


def latency(p: Pipeline, split: str, repeats: int, rng: random.Random) -> dict:
    data = yaml.safe_load((ROOT / "eval" / "seed_dialogues.yaml").read_text(encoding="utf-8"))
    cases = []  # (question, history as dicts, standalone)
    for d in data["dialogues"]:
        if split not in ("all", d["split"]):
            continue
        history: list[dict] = []
        for turn in d["turns"]:
            ans = p.ask(turn["question"], history=history)
            if turn.get("followup"):
                cases.append((turn["question"], list(history), ans.standalone_question))
            history.append({"question": turn["question"], "answer": ans.answer})
    def conversation_step(q: str, history: list[dict]) -> None:
        p.understand(q, history)  # read the history, understand, judge it against the corpus, find the favour

    cold = []  # with the text caches emptied first: a question and a history never seen before
    for q, history, _ in cases:
        for cache in (words, phrases, candidates):
            cache.cache_clear()
        t = time.perf_counter()
        conversation_step(q, history)
        cold.append(time.perf_counter() - t)
    step, with_history, alone = [], [], []
    for _ in range(repeats):
        rng.shuffle(cases)
        for q, history, standalone in cases:
            t = time.perf_counter()
            conversation_step(q, history)
            step.append(time.perf_counter() - t)
            arms = [("with", lambda: p.ask(q, history=history)), ("alone", lambda: p.ask(standalone))]
            rng.shuffle(arms)
            for name, run in arms:
                t = time.perf_counter()
                run()
                (with_history if name == "with" else alone).append(time.perf_counter() - t)
    return {"followups": len(cases), "timed": len(step), "conversation_step_cold_p50_ms": p50_ms(cold),
            "conversation_step_cold_max_ms": round(1000 * max(cold), 3), "conversation_step_p50_ms": p50_ms(step),
            "conversation_step_p95_ms": round(1000 * sorted(step)[int(0.95 * (len(step) - 1))], 3),
            "ask_with_history_p50_ms": p50_ms(with_history), "ask_standalone_alone_p50_ms": p50_ms(alone),
            "added_p50_ms": round(p50_ms(with_history) - p50_ms(alone), 3)}


def standalone_questions(config, split: str) -> dict:
    qs = load_question_set(ROOT / "eval" / "seed_questions.yaml", split)
    questions = [q["question"] for q in qs.answerable + qs.off_topic]
    plain = Pipeline(config)
    alone = eval_question_set(plain, qs)
    answers = {q: plain.ask(q).answer for q in questions}
    half = len(questions) // 2
    unrelated = {q: {"question": questions[(i + half) % len(questions)],
                     "answer": answers[questions[(i + half) % len(questions)]]} for i, q in enumerate(questions)}
    empty = InConversation(config, embedder=plain.embedder)
    empty_figures = eval_question_set(empty, qs)
    after = InConversation(config, embedder=plain.embedder, history_for=lambda q: [unrelated[q]])
    after_figures = eval_question_set(after, qs)
    return {"questions": len(questions),
            "alone": {k: alone[k] for k in FIGURES},
            "empty_history": {k: empty_figures[k] for k in FIGURES},
            "after_unrelated_turn": {k: after_figures[k] for k in FIGURES},
            "largest_difference": max(abs((after_figures[k] or 0) - (alone[k] or 0)) for k in FIGURES),
            "rewritten_with_empty_history": len(empty.rewritten),
            "rewritten_after_unrelated_turn": len(after.rewritten), "rewrites": after.rewritten}


def squad_after_unrelated(config, args) -> dict:
    pipelines: list[InConversation] = []

    def make(corpus: Path, index: Path) -> Pipeline:
        # the previous question of the (random) sample and its answer: nearly always another article
        p = InConversation(dataclasses.replace(config, corpus=corpus, index=index),
                           history_for=lambda q: pipelines[0].previous)
        pipelines.append(p)
        return p

    workdir = Path(args.workdir) if args.workdir else None
    result = eval_squad(Path(args.squad_file), args.limit, args.seed, make, workdir=workdir)
    p = pipelines[0]
    return {"after_unrelated_turn": {k: result[k] for k in SQUAD_FIGURES}, "questions": result["questions"],
            "rewritten_after_unrelated_turn": len(p.rewritten), "rewrites": p.rewritten[:20]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default=str(ROOT / "qa.yaml"))
    ap.add_argument("--split", default="test", choices=["all", "dev", "test"])
    ap.add_argument("--repeats", type=int, default=5, help="timed passes over the follow-ups")
    ap.add_argument("--squad", action="store_true", help="SQuAD dev after an unrelated turn instead of the seed parts")
    ap.add_argument("--squad-file", default=str(ROOT.parent / "shared" / "data" / "squad-dev-v1.1.json"))
    ap.add_argument("--workdir", default=None, help="--squad: the `qa eval --workdir` folder, so nothing is embedded")
    ap.add_argument("--limit", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    from qa.config import load_config

    config = load_config(args.config)
    if args.squad:
        print(json.dumps(squad_after_unrelated(config, args), ensure_ascii=False, indent=1))
        return
    p = Pipeline(config)
    p.ask("warm-up question", history=[])
    out = {"latency": latency(p, args.split, args.repeats, random.Random(0)),
           "standalone_questions": standalone_questions(config, args.split)}
    print(json.dumps(out, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
