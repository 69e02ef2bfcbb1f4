"""Fit the span chooser (qa/answer/spans.py) on SQuAD *train*: which typed span of the answer sentence answers.

    python bench/train_spans.py [--out qa/data/spans.json]

For each question whose type is a date, number, person or place, the sentence holding its gold
answer is split into the candidate spans the pipeline would consider; the spans overlapping the
gold answer are the positives. One listwise linear model per answer type. Articles i%10 in
{1,2,3,4,6,7} fit, i%10 == 8 is held out; SQuAD dev is never read.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from train_ranker import TRAIN, fit_listwise  # noqa: E402

from qa.text.types import candidate_spans, lowercase_words_of, question_type  # noqa: E402
from qa.ingest.sentences import split_sentences  # noqa: E402
from qa.answer.spans import SPAN_FEATURES, SpanModel, span_features  # noqa: E402

TYPES = ("DATE", "NUMBER", "PERSON", "PLACE")


def groups(articles, remainders):
    """Per type: (features, labels, question, sentence, spans) for every usable question."""
    out = defaultdict(list)
    for i, art in enumerate(articles):
        if i % 10 not in remainders:
            continue
        text = "\n\n".join(p["context"] for p in art["paragraphs"])
        lower = lowercase_words_of(text)
        for para in art["paragraphs"]:
            ctx = para["context"]
            sents = split_sentences(ctx)
            for qa in para["qas"]:
                qtype = question_type(qa["question"])
                if qtype not in TYPES:
                    continue
                golds = [(a["answer_start"], a["answer_start"] + len(a["text"])) for a in qa["answers"]]
                a0 = golds[0][0]
                sent = next(((s, e) for s, e in sents if s <= a0 < e), None)
                if sent is None:
                    continue
                s0, e0 = sent
                sentence = ctx[s0:e0]
                spans = candidate_spans(qtype, qa["question"], sentence, lambda: lower)
                if not spans:
                    continue
                y = np.array([any(s0 + x0 < g1 and g0 < s0 + x1 for g0, g1 in golds) for x0, x1 in spans])
                out[qtype].append((span_features(qtype, qa["question"], sentence, spans), y,
                                   qa["question"], sentence, spans))
    return out


def accuracy(model: SpanModel, qtype: str, rows) -> float:
    """Share of questions whose chosen span overlaps the gold answer (all questions with candidates)."""
    hits = 0
    for X, y, q, sentence, spans in rows:
        chosen = model.choose(qtype, q, sentence, spans)
        hits += bool(y[spans.index(chosen)])
    return hits / max(1, len(rows))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "qa" / "data" / "spans.json"))
    ap.add_argument("--l2", type=float, default=1e-3)
    args = ap.parse_args()
    articles = json.loads(TRAIN.read_text(encoding="utf-8"))["data"]
    fit = groups(articles, {1, 2, 3, 4, 6, 7})
    hold = groups(articles, {8})
    weights = {}
    for t in TYPES:
        usable = [(X, y) for X, y, *_ in fit[t] if y.any() and len(y) > 1]
        weights[t] = tuple(float(x) for x in fit_listwise(usable, np.ones(len(usable)), l2=args.l2))
    fitted = SpanModel(weights)
    base = SpanModel.default()
    for t in TYPES:
        print(f"{t}: {len(fit[t])} fit / {len(hold[t])} held-out questions; chosen span overlaps the answer: "
              f"nearest-preferred {accuracy(base, t, hold[t]):.3f} -> fitted {accuracy(fitted, t, hold[t]):.3f}",
              file=sys.stderr)
        print("   ", dict(zip(SPAN_FEATURES, np.round(weights[t], 2))), file=sys.stderr)
    Path(args.out).write_text(json.dumps({
        "features": list(SPAN_FEATURES), "weights": weights,
        "fitted_on": "SQuAD v1.1 train, articles i%10 in {1,2,3,4,6,7}; held out i%10 == 8",
    }, indent=1) + "\n", encoding="utf-8")
    print("wrote", args.out, file=sys.stderr)


if __name__ == "__main__":
    main()
