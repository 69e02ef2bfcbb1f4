"""Fit the sentence ranker and the confidence calibrator on SQuAD *train* (never on dev).

    python bench/train_ranker.py [--questions 4000] [--out qa/data/ranker.json]

Corpus: every 10th training article (about the size of SQuAD dev). Positives:
questions about those articles. Off-topic negatives for calibration: questions
from other training articles, which the corpus cannot answer. The index is
cached under .cache/ so re-runs do not re-embed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa import Pipeline  # noqa: E402
from qa.answer.answerer import CALIBRATION_FEATURES, AnswerModel, Answerer  # noqa: E402
from qa.config import config_from_dict, load_config  # noqa: E402
from qa.retrieval.retriever import FEATURES  # noqa: E402
from qa.evaluation.squad import load_squad, sample, write_corpus  # noqa: E402
from qa.evaluation.evaluate import load_question_set  # noqa: E402
from types import SimpleNamespace  # noqa: E402

TRAIN = ROOT.parent / "shared" / "data" / "squad-train-v1.1.reconstructed.json"


CORPUS_IDS = [i for i in range(442) if i % 10 == 0]   # the ranker's corpus: every 10th training article
OFFTOPIC_IDS = [i for i in range(442) if i % 10 == 5]  # questions about these are off-topic for it
WORK = ROOT / ".cache" / "squad-train"


def ranker_data():
    """``(documents, questions, near, far)``: the corpus with every 6th paragraph left out (its questions,
    ``near``, are on topic but unanswerable, the hardest kind to abstain on) and questions about other
    articles (``far``)."""
    docs, questions, near = load_squad(TRAIN, CORPUS_IDS, hold_out=lambda i, j: j % 6 == 3)
    _, far = load_squad(TRAIN, OFFTOPIC_IDS)
    return docs, questions, near, far


def ranker_draws(questions, near, far, n_questions: int = 4000, n_offtopic: int = 1500):
    """The answerable and off-topic questions a fit draws (seeded; the defaults are the shipped fit's)."""
    return (sample(questions, n_questions, seed=1),
            sample(near, n_offtopic // 2, seed=3) + sample(far, n_offtopic // 2, seed=4))


def collect(p: Pipeline, questions, top_k: int):
    """Per question: retrieval, the candidate sentences' spans, and their features."""
    texts = [q.question for q in questions]
    vecs = p.embedder.embed(texts)  # one batched encode instead of one call per question
    return [p._retriever.retrieve(t, v, top_k=top_k) for t, v in zip(texts, vecs)]


def labels_for(p: Pipeline, r, gold) -> np.ndarray:
    idx = p.index
    pos = idx.doc_position[gold.doc_id]
    lab = np.zeros(len(r.sentence_rows), dtype=np.int32)
    for i, row in enumerate(r.sentence_rows):
        if idx.sent_doc[row] != pos:
            continue
        s, e = idx.sent_span[row]
        lab[i] = any(s <= a0 and a1 <= e for a0, a1, _ in gold.answers)
    return lab


def calibration(index, model: AnswerModel, rs) -> np.ndarray:
    """The calibrator's input features for each retrieval, scored with ``model``'s ranker."""
    ans = Answerer(index, model)
    return np.array([ans.calibration_features(r, ans.sentence_scores(r)) for r in rs])


def confidences(index, model: AnswerModel, rs) -> np.ndarray:
    ans = Answerer(index, model)
    return np.array([ans.confidence(c) for c in calibration(index, model, rs)])


def top_correct(index, model: AnswerModel, rs, labels) -> np.ndarray:
    """1.0 where the ranker's top sentence holds the answer, per retrieval."""
    ans = Answerer(index, model)
    return np.array([float(lab[int(np.argmax(ans.sentence_scores(r)))]) if len(lab) else 0.0
                     for r, lab in zip(rs, labels)])


def seed_labels(seed: Pipeline, rs, questions) -> list[np.ndarray]:
    """Per seed retrieval: which candidate sentences hold a gold answer string."""
    return [np.array([any(a in seed.index.sentence_text(int(row)) for a in q.answers) for row in r.sentence_rows],
                     dtype=np.int32) for r, q in zip(rs, questions)]


def fit_listwise(groups: list[tuple[np.ndarray, np.ndarray]], weights: np.ndarray, l2: float = 1e-3):
    """Linear sentence scores fitted so the softmax over each question's candidates puts its mass
    on the sentences holding the answer (the ranker is only ever used to pick the top one)."""
    from scipy.optimize import minimize

    groups_w = [(X, y.astype(bool), w) for (X, y), w in zip(groups, weights) if y.any()]
    dim = groups_w[0][0].shape[1]
    total = sum(w for _, _, w in groups_w)

    def loss(theta):
        value, grad = l2 * theta @ theta, 2 * l2 * theta
        for X, y, w in groups_w:
            s = X @ theta
            m = s.max()
            p = np.exp(s - m)
            z = p.sum()
            zp = p[y].sum()
            value += w * (np.log(z) - np.log(zp)) / total
            grad += w * (X.T @ (p / z) - X[y].T @ (p[y] / zp)) / total
        return value, grad

    res = minimize(loss, np.zeros(dim), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return res.x


def write_model(model: AnswerModel, out: Path, fitted_on: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "features": list(FEATURES), "ranker": list(model.ranker), "ranker_bias": model.ranker_bias,
        "calibration_features": list(CALIBRATION_FEATURES), "calibration": list(model.calibration),
        "calibration_bias": model.calibration_bias, "join_margin": model.join_margin,
        "fitted_on": fitted_on,
    }, indent=1) + "\n")
    print("wrote", out, file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", type=int, default=4000)
    ap.add_argument("--offtopic", type=int, default=1500)
    ap.add_argument("--seed-share", type=float, default=0.2, help="weight of the seed dev split in the fit")
    ap.add_argument("--pointwise", action="store_true", help="rank with the pointwise logistic fit")
    ap.add_argument("--calibrate", choices=("correct", "topic"), default="topic",
                    help="confidence target: the question is answerable (default), or the top answer is right")
    ap.add_argument("--out", default=str(ROOT / "qa" / "data" / "ranker.json"))
    args = ap.parse_args()
    from sklearn.linear_model import LogisticRegression

    docs, questions, near, far = ranker_data()
    qs, off = ranker_draws(questions, near, far, args.questions, args.offtopic)
    write_corpus(docs, WORK / "corpus")
    # The ranker and its calibrator are fitted without the reader: they serve `reader: false`, and the
    # reader's own calibration (bench/calibrate_reader.py) takes the ranker's scores as features.
    cfg = config_from_dict({"corpus": str(WORK / "corpus"), "index": str(WORK / "index"), "reader": False})
    p = Pipeline(cfg)
    t = time.time()
    print(p.build_index(), f"{time.time() - t:.0f}s", file=sys.stderr)

    fit_q, hold_q = qs[: len(qs) * 3 // 4], qs[len(qs) * 3 // 4:]
    offs = sample(off, len(off), seed=2)
    fit_off, hold_off = offs[: len(offs) * 3 // 4], offs[len(offs) * 3 // 4:]

    t = time.time()
    R_fit = collect(p, fit_q, top_k=10)
    R_hold = collect(p, hold_q, top_k=p.config.top_k)
    R_off_fit = collect(p, fit_off, top_k=p.config.top_k)
    R_off_hold = collect(p, hold_off, top_k=p.config.top_k)
    print(f"retrieval {time.time() - t:.0f}s", file=sys.stderr)

    fit_labels = [labels_for(p, r, g) for r, g in zip(R_fit, fit_q)]
    X = np.vstack([r.features for r in R_fit])
    y = np.concatenate(fit_labels)
    weights = np.ones(len(y))
    # The seed corpus's dev split (never its test split) joins the fit with a fixed share of the
    # weight, so the ranker also fits long single-topic documents, not only Wikipedia paragraphs.
    seed = Pipeline(dataclasses.replace(load_config(ROOT / "qa.yaml"), reader=False))
    seed.ensure_index(progress=False)
    seed_set = load_question_set(ROOT / "eval" / "seed_questions.yaml", "dev")
    seed_q = [SimpleNamespace(question=q["question"], answers=[str(a) for a in q["answers"]]) for q in seed_set.answerable]
    seed_off = [SimpleNamespace(question=q["question"]) for q in seed_set.off_topic]
    R_seed = collect(seed, seed_q, top_k=10)
    ys = seed_labels(seed, R_seed, seed_q)
    Xs, ys_ = np.vstack([r.features for r in R_seed]), np.concatenate(ys)
    share = args.seed_share
    X = np.vstack([X, Xs])
    weights = np.r_[weights, np.full(len(ys_), share * len(y) / max(1, len(ys_)))]
    y = np.r_[y, ys_]
    recall = np.mean([lab.any() for lab in fit_labels])
    print(f"candidate recall (answer in some candidate sentence): {recall:.3f}; rows {len(y)}", file=sys.stderr)
    # Pointwise logistic regression gives the scale and bias that the confidence calibrator expects;
    # a listwise fit (softmax per question) gives the ranking direction, which is what picks the answer.
    pointwise = LogisticRegression(C=1.0, max_iter=2000).fit(X, y, sample_weight=weights)
    groups = [(r.features, lab) for r, lab in zip(R_fit, fit_labels)] + [(r.features, lab) for r, lab in zip(R_seed, ys)]
    gw = np.r_[np.ones(len(R_fit)), np.full(len(R_seed), share * len(R_fit) / max(1, len(R_seed)))]
    w = fit_listwise(groups, gw)
    b = float(pointwise.intercept_[0])
    if args.pointwise:
        w = pointwise.coef_[0]
    print("ranker:", dict(zip(FEATURES, np.round(w, 3))), round(b, 3), file=sys.stderr)

    model = AnswerModel(tuple(map(float, w)), b, AnswerModel.default().calibration,
                        AnswerModel.default().calibration_bias)

    def top1(index, rs, labels):
        return float(np.mean(top_correct(index, model, rs, labels)))

    print(f"held-out train: answer sentence @1 = "
          f"{top1(p.index, R_hold, [labels_for(p, r, g) for r, g in zip(R_hold, hold_q)]):.3f}", file=sys.stderr)
    print(f"seed dev: answer sentence @1 = {top1(seed.index, R_seed, ys):.3f}", file=sys.stderr)
    R_cal = collect(p, fit_q[:1500], top_k=p.config.top_k)
    Xc = np.vstack([calibration(p.index, model, R_cal), calibration(p.index, model, R_off_fit)])
    # Positives: answerable questions (--calibrate correct: only those whose top sentence holds the answer;
    # measured no better on held-out train, the seed dev split or SQuAD dev, so not the default).
    top_right = top_correct(p.index, model, R_cal, [labels_for(p, r, g) for r, g in zip(R_cal, fit_q[:1500])])
    yc = np.r_[top_right if args.calibrate == "correct" else np.ones(len(R_cal)), np.zeros(len(R_off_fit))]
    wc = np.r_[np.full(min(1500, len(fit_q)), 0.5 / min(1500, len(fit_q))), np.full(len(R_off_fit), 0.5 / len(R_off_fit))]
    R_seed5 = collect(seed, seed_q, top_k=seed.config.top_k)
    R_seed_off = collect(seed, seed_off, top_k=seed.config.top_k)
    Xc = np.vstack([Xc, calibration(seed.index, model, R_seed5), calibration(seed.index, model, R_seed_off)])
    ys5 = seed_labels(seed, R_seed5, seed_q)
    seed_right = top_correct(seed.index, model, R_seed5, ys5)
    yc = np.r_[yc, seed_right if args.calibrate == "correct" else np.ones(len(R_seed5)), np.zeros(len(R_seed_off))]
    wc = np.r_[wc, np.full(len(R_seed5), share / 2 / len(R_seed5)), np.full(len(R_seed_off), share / 2 / len(R_seed_off))]
    cal = LogisticRegression(C=1.0, max_iter=2000).fit(Xc, yc, sample_weight=wc * len(yc))
    model = AnswerModel(model.ranker, model.ranker_bias, tuple(map(float, cal.coef_[0])),
                        float(cal.intercept_[0]))
    conf_pos = confidences(p.index, model, R_hold)
    conf_neg = confidences(p.index, model, R_off_hold)
    for th in (0.3, 0.5, 0.7):
        print(f"held-out: threshold {th}: answerable abstain {np.mean(conf_pos < th):.3f}, "
              f"off-topic answered {np.mean(conf_neg >= th):.3f}", file=sys.stderr)
    sp = confidences(seed.index, model, R_seed5)
    sn = confidences(seed.index, model, R_seed_off)
    for th in (0.3, 0.4, 0.5, 0.6, 0.7):
        print(f"seed dev: threshold {th}: answerable abstain {np.mean(sp < th):.3f}, off-topic answered "
              f"{np.mean(sn >= th):.3f}", file=sys.stderr)
    # The threshold: best balanced accuracy (answerable answered + off-topic abstained), averaged over
    # held-out SQuAD train and the seed dev split; among equally good values, the one nearest 0.5.
    grid = np.round(np.arange(0.05, 0.96, 0.01), 2)
    good = [float(np.mean(sp >= th) + np.mean(sn < th) + np.mean(conf_pos >= th) + np.mean(conf_neg < th))
            for th in grid]
    best = max(good)
    chosen = min((th for th, g in zip(grid, good) if g >= best - 1e-9), key=lambda th: abs(th - 0.5))
    print(f"chosen abstain_threshold (held-out train + seed dev): {chosen:.2f}", file=sys.stderr)
    print("seed dev off-topic confidences:", np.round(np.sort(sn), 3), file=sys.stderr)
    print("seed dev answerable confidences:", np.round(np.sort(sp)[:8], 3), file=sys.stderr)
    write_model(model, Path(args.out), f"SQuAD v1.1 train, articles i%10==0 ({len(CORPUS_IDS)}), {len(fit_q)} "
                                       f"questions; off-topic from articles i%10==5")


if __name__ == "__main__":
    main()
