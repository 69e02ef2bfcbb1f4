"""``qa eval`` of a dialogue set: follow-up questions asked in their conversations.

A dialogue set (``eval/seed_dialogues.yaml``, recognised by its top-level ``dialogues:``) holds short
conversations; each turn is asked with the earlier turns as history -- the questions and the answers
the system itself gave, as a chat user would see them -- so a wrong early answer costs the follow-ups
that lean on it. A turn is right when its answer holds a gold string as whole words, ignoring case.
Besides accuracy it counts how often a question marked as standing on its own was rewritten anyway
(it should not be), how often a follow-up was left as it was, and what the follow-ups get when asked
as the set's own hand-written standalone questions (what a perfect rewrite would get from this
answer stage), which tells the understanding's misses from the answer stage's.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import yaml

from qa.errors import ConfigError
from qa.evaluation.evaluate import _percentiles, holds
from qa.evaluation.squad import exact_match, f1_score
from qa.pipeline import Pipeline
from qa.text.words import tokenize


def is_dialogue_set(path: Path) -> bool:
    """True for a YAML file whose top level holds ``dialogues:`` (eval/seed_dialogues.yaml)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and "dialogues" in data


def load_dialogue_set(path: Path, split: str | None = None) -> list[dict]:
    """The dialogues of a dialogue set (optionally one split), each with ``id``, ``split`` and ``turns``."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict) or not isinstance(data.get("dialogues"), list):
        raise ConfigError(f"{path}: expected a YAML mapping with 'dialogues:' (a list)")
    for i, d in enumerate(data["dialogues"]):
        turns = d.get("turns") if isinstance(d, dict) else None
        if not isinstance(turns, list) or not turns or not all(
                isinstance(t, dict) and isinstance(t.get("question"), str) and isinstance(t.get("answers"), list)
                for t in turns):
            raise ConfigError(f"{path}: dialogue #{i + 1} needs 'turns', each with 'question' (text) and 'answers' "
                              "(a list of gold strings)")
    return [d for d in data["dialogues"] if split in (None, "all") or d.get("split") == split]


def eval_dialogues(pipeline: Pipeline, dialogues: list[dict], progress: Callable = lambda it, **k: it) -> dict:
    """Follow-up accuracy, standalone questions rewritten, and the misses, over ``dialogues``."""
    pipeline.ensure_index(progress=False)
    pipeline.ask("warm-up question", history=[])
    times: list[float] = []
    counts = {"followup": [0, 0], "standalone": [0, 0], "first": [0, 0]}  # [asked, answer holds gold]
    rewritten_standalone, left_followups, misses, rewrites = [], [], [], []
    overlap = [0.0, 0.0]  # follow-ups: summed SQuAD F1 and exact match of the answer against the gold strings
    written = [0, 0, 0]  # follow-ups with a `standalone`: [asked, its answer alone holds gold, understood as it says]
    for d in progress(dialogues, desc="dialogues"):
        history: list = []
        for n, turn in enumerate(d["turns"]):
            t = time.perf_counter()
            ans = pipeline.ask(turn["question"], history=history)
            times.append(time.perf_counter() - t)
            history.append(ans)
            kind = "first" if n == 0 else "followup" if turn.get("followup") else "standalone"
            golds = [str(g) for g in turn["answers"]]
            ok = not ans.abstained and any(holds(ans.answer, g) for g in golds)
            counts[kind][0] += 1
            counts[kind][1] += ok
            where = f"{d.get('id')}.{n + 1}"
            changed = ans.standalone_question != " ".join(turn["question"].split())
            if kind == "standalone" and changed:
                rewritten_standalone.append({"turn": where, "question": turn["question"],
                                             "understood_as": ans.standalone_question})
            if kind == "followup":
                if not ans.abstained:
                    overlap[0] += f1_score(ans.answer, golds)
                    overlap[1] += exact_match(ans.answer, golds)
                if turn.get("standalone"):  # the reader's share of the misses: the set's own rewrite, asked alone
                    alone = pipeline.ask(turn["standalone"])
                    written[0] += 1
                    written[1] += not alone.abstained and any(holds(alone.answer, g) for g in golds)
                    written[2] += set(tokenize(turn["standalone"])) == set(tokenize(ans.standalone_question))
                if changed:
                    rewrites.append(f"{where}: {turn['question']} -> {ans.standalone_question}")
                else:
                    left_followups.append({"turn": where, "question": turn["question"]})
                if not ok:
                    misses.append({"turn": where, "question": turn["question"],
                                   "understood_as": ans.standalone_question, "got": ans.answer, "gold": golds[0]})

    def rate(kind: str) -> float | None:
        asked, right = counts[kind]
        return round(right / asked, 4) if asked else None

    standalone = counts["standalone"][0]
    return {
        "dialogues": len(dialogues), "followups": counts["followup"][0],
        "standalone_with_history": standalone, "first_turns": counts["first"][0],
        "followup_answer_contains_gold": rate("followup"),
        "followups_right": f"{counts['followup'][1]} of {counts['followup'][0]}",
        # SQuAD's word-overlap scores of the follow-ups' answers (abstentions score 0): a span shorter than the
        # gold phrase ("four" for "four times") is a miss above but scores partly here
        "followup_f1": round(overlap[0] / counts["followup"][0], 4) if counts["followup"][0] else None,
        "followup_exact_match": round(overlap[1] / counts["followup"][0], 4) if counts["followup"][0] else None,
        "followups_rewritten": (round(1 - len(left_followups) / counts["followup"][0], 4)
                                if counts["followup"][0] else None),
        "standalone_rewritten": round(len(rewritten_standalone) / standalone, 4) if standalone else None,
        "standalone_answer_contains_gold": rate("standalone"), "first_turn_answer_contains_gold": rate("first"),
        # the same follow-ups asked as the set's hand-written standalone questions, with no history: what a
        # perfect rewrite would get from this answer stage
        "followup_as_written_alone_answer_contains_gold": round(written[1] / written[0], 4) if written[0] else None,
        # understood as the set says: the same content words as its hand-written standalone question
        "followups_understood_as_written": round(written[2] / written[0], 4) if written[0] else None,
        **_percentiles(times),
        "misses": misses, "standalone_questions_rewritten": rewritten_standalone,
        "followups_left_as_asked": left_followups, "rewrites": rewrites,
    }
