"""How well the confidence tells answerable questions from ones the corpus cannot answer.

    python bench/answerability.py [--questions 600] [--reader | --extractor]

Prints, for the seed question set (dev and test splits) and for held-out SQuAD *train*
questions, the ROC AUC of the calibrated confidence (answerable vs off-topic) and the
abstention rates at the configured ``abstain_threshold``. Off-topic SQuAD questions come in
two kinds: *near* (their paragraph is left out of an article that stays in the corpus: same
topic, names and words, no answer) and *far* (questions about other articles).

The SQuAD corpus is the ranker's (``bench/train_ranker.py``: articles i%10==0, every 6th
paragraph left out, index cached under .cache/squad-train); the questions are those its fit
did not draw. ``--reader`` also scores the top sentence with the reader (the cross-encoder) and
prints the AUC of its logit alone and of a logistic combination with the confidence
(5-fold cross-validated): whether running the reader would buy better abstentions.
``--extractor`` does the same with the span extractor's margin (best span against "no span here")
for the top sentence.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT  # noqa: E402

from qa import Pipeline  # noqa: E402
from qa.config import config_from_dict  # noqa: E402
from qa.evaluation.evaluate import load_question_set  # noqa: E402
from qa.evaluation.squad import sample, write_corpus  # noqa: E402
from train_ranker import WORK, ranker_data, ranker_draws  # noqa: E402


def rows_for(p: Pipeline, items, reader) -> list[dict]:
    """Per (question, kind): the confidence and, with a reader, its logit for the top sentence."""
    answerer = p._answerer
    out = []
    for q, kind in items:
        r = p._retriever.retrieve(q, p.embed_question(q), top_k=p.config.top_k)
        if len(r.sentence_rows) == 0:
            out.append({"kind": kind, "conf": 0.0, "logit": -10.0})
            continue
        scores = answerer.sentence_scores(r)
        conf = answerer.confidence(answerer.calibration_features(r, scores))
        logit = None
        if reader is not None:
            top = int(r.sentence_rows[int(np.argmax(scores))])
            logit = float(reader.score(q, [p.index.sentence_text(top)])[0])
        out.append({"kind": kind, "conf": conf, "logit": logit})
    return out


def report(name: str, rows: list[dict], threshold: float, with_reader: str | None) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import cross_val_predict

    y = np.array([r["kind"] == "answerable" for r in rows], dtype=int)
    conf = np.array([r["conf"] for r in rows])
    kinds = sorted({r["kind"] for r in rows} - {"answerable"})
    line = [f"{name}: {int(y.sum())} answerable, abstain {np.mean(conf[y == 1] < threshold):.3f}"]
    for k in kinds:
        m = np.array([r["kind"] == k for r in rows])
        sel = m | (y == 1)
        line.append(f"{k} {int(m.sum())}: answered {np.mean(conf[m] >= threshold):.3f}, "
                    f"AUC {roc_auc_score(y[sel], conf[sel]):.3f}")
    print("; ".join(line))
    if with_reader:
        c = np.clip(conf, 1e-4, 1 - 1e-4)
        X = np.c_[np.log(c / (1 - c)), [r["logit"] for r in rows]]
        folds = min(5, int(y.sum()), int((1 - y).sum()))
        both = cross_val_predict(LogisticRegression(), X, y, cv=folds, method="predict_proba")[:, 1]
        print(f"  AUC: confidence {roc_auc_score(y, conf):.3f}, {with_reader} {roc_auc_score(y, X[:, 1]):.3f}, "
              f"both (cross-validated) {roc_auc_score(y, both):.3f}")


class _Margins:
    """The extractor's margins, read like reader logits."""

    def __init__(self, extractor):
        self.extractor = extractor

    def score(self, question, sentences) -> np.ndarray:
        return np.array([s.margin if s else -99.0 for s in self.extractor.spans(question, sentences)])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", type=int, default=600, help="answerable SQuAD questions (half as many of each off-topic kind)")
    ap.add_argument("--reader", action="store_true", help="also measure the reader's logit as an answerability signal")
    ap.add_argument("--extractor", action="store_true", help="also measure the extractor's span margin as one")
    args = ap.parse_args()
    signal = "reader logit" if args.reader else "extractor margin" if args.extractor else None

    seed = Pipeline.from_config(ROOT / "qa.yaml")
    seed.ensure_index(progress=False)
    seed.ask("warm-up question")
    reader = None
    if args.reader:
        from qa.models.reader import shared

        reader = shared(seed.embedder, seed.config.runtime)
    elif args.extractor:
        from qa.models.extractor import shared as shared_extractor

        reader = _Margins(shared_extractor(seed.config.runtime))
    threshold = seed.config.abstain_threshold
    for split in ("dev", "test"):
        qs = load_question_set(ROOT / "eval" / "seed_questions.yaml", split)
        items = [(q["question"], "answerable") for q in qs.answerable] + [(q["question"], "off-topic") for q in qs.off_topic]
        report(f"seed {split}", rows_for(seed, items, reader), threshold, signal)

    # The ranker's corpus, and the questions its fit drew (left out here).
    docs, questions, near, far = ranker_data()
    drawn, drawn_off = ranker_draws(questions, near, far)
    used = {q.id for q in drawn + drawn_off}
    fresh = lambda qs: [q for q in qs if q.id not in used]  # noqa: E731
    write_corpus(docs, WORK / "corpus")
    p = Pipeline(config_from_dict({"corpus": str(WORK / "corpus"), "index": str(WORK / "index")}), embedder=seed.embedder)
    p.ensure_index(progress=True)
    p.ask("warm-up question")
    n = args.questions
    items = ([(q.question, "answerable") for q in sample(fresh(questions), n, seed=21)]
             + [(q.question, "near") for q in sample(fresh(near), n // 2, seed=22)]
             + [(q.question, "far") for q in sample(fresh(far), n // 2, seed=23)])
    report("held-out SQuAD train", rows_for(p, items, reader), threshold, signal)


if __name__ == "__main__":
    main()
