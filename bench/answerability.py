"""How well the confidence tells answerable questions from ones the corpus cannot answer.

    python bench/answerability.py [--questions 600] [--config qa.yaml]

Asks every question through the whole pipeline (with the reader as the config says) and prints,
per set, the abstention rates at the configured ``abstain_threshold`` and the ROC AUC of the
confidence between answerable questions and each kind of unanswerable one:

- the seed question set (dev and test splits): off-topic and near-topic unanswerable questions;
- the documentation set (eval/docs.yaml, eval/docs_questions.yaml), when present;
- held-out SQuAD *train* (articles i%10==9, which neither the reader, its calibration nor the ranker
  saw) as a corpus with every 6th paragraph left out: *near* questions (their paragraph is left out:
  same topic, names and words, no answer) and *far* ones (questions about articles i%10==5).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT  # noqa: E402

from qa import Pipeline  # noqa: E402
from qa.config import load_config  # noqa: E402
from qa.evaluation.evaluate import load_question_set, roc_auc  # noqa: E402
from qa.evaluation.squad import load_squad, sample, write_corpus  # noqa: E402

TRAIN = ROOT.parent / "shared" / "data" / "squad-train-v1.1.reconstructed.json"
WORK = ROOT / ".cache" / "answerability"


def confidences(p: Pipeline, questions: list[str]) -> np.ndarray:
    return np.array([p.ask(q).confidence for q in questions])


def report(name: str, answerable: np.ndarray, others: dict[str, np.ndarray], threshold: float) -> None:
    parts = [f"answerable {len(answerable)} abstained {np.mean(answerable < threshold):.3f}"]
    for kind, conf in others.items():
        if len(conf):
            parts.append(f"{kind} {len(conf)} abstained {np.mean(conf < threshold):.3f} "
                         f"(AUC {roc_auc(list(answerable), list(conf)):.3f})")
    print(f"{name}: " + "; ".join(parts))


def question_set(p: Pipeline, path: Path, name: str, threshold: float) -> None:
    for split in ("dev", "test"):
        qs = load_question_set(path, split)
        report(f"{name} {split}", confidences(p, [q["question"] for q in qs.answerable]),
               {"off-topic": confidences(p, [q["question"] for q in qs.off_topic]),
                "near-topic unanswerable": confidences(p, [q["question"] for q in qs.unanswerable])}, threshold)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--questions", type=int, default=600)
    ap.add_argument("--config", default=str(ROOT / "qa.yaml"), help="the settings (reader, threshold) to measure")
    args = ap.parse_args()
    cfg = load_config(args.config)
    threshold = cfg.abstain_threshold
    seed = Pipeline(cfg)
    seed.ensure_index(progress=False)
    question_set(seed, ROOT / "eval" / "seed_questions.yaml", "seed", threshold)
    docs_cfg = ROOT / "eval" / "docs.yaml"
    if docs_cfg.is_file():
        d = load_config(docs_cfg)
        docs = Pipeline(dataclasses.replace(cfg, corpus=d.corpus, index=d.index), embedder=seed.embedder)
        docs.ensure_index(progress=True)
        question_set(docs, ROOT / "eval" / "docs_questions.yaml", "docs", threshold)

    ids = [i for i in range(442) if i % 10 == 9]
    texts, questions, near = load_squad(TRAIN, ids, hold_out=lambda i, j: j % 6 == 3)
    _, far = load_squad(TRAIN, [i for i in range(442) if i % 10 == 5])
    write_corpus(texts, WORK / "corpus")
    p = Pipeline(dataclasses.replace(cfg, corpus=WORK / "corpus", index=WORK / "index"), embedder=seed.embedder)
    p.ensure_index(progress=True)
    n = args.questions
    report("held-out SQuAD train (i%10==9)", confidences(p, [q.question for q in sample(questions, n, seed=21)]),
           {"near": confidences(p, [q.question for q in sample(near, n // 2, seed=22)]),
            "far": confidences(p, [q.question for q in sample(far, n // 2, seed=23)])}, threshold)


if __name__ == "__main__":
    main()
