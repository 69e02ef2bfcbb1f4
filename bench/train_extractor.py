"""Fine-tune the span extractor (qa/models/extractor.py) on SQuAD *train* (never on dev).

    python bench/train_extractor.py [--questions 30000] [--layers 4] [--out qa/data/extractor.safetensors]

Each example is a question with one sentence of its paragraph: the sentence holding the answer, with
the answer's first and last tokens as targets, or (a share ``--negatives`` of examples) another
sentence of the paragraph that does not contain the answer text, whose target is the first token
([CLS], "no span here"). Only the top ``--layers`` transformer layers and the head train.

Articles: i % 10 in {1, 2, 3, 4, 6, 7}. Not 0 and 5 (the ranker's corpus and off-topic pool), 8 (the
check printed here and the narrowing threshold's fit in bench/train_spans.py) or 9 (held out for
decisions: `qa eval` over those articles).

The shipped weights: ``--questions 24000`` (4 layers, one pass, batch 32, lr 1e-4), 17 minutes on two
cores; check exact span 0.445 on articles i%10==8, where showing the span instead of the sentence
raises token F1 from 0.238 to 0.637 on answer sentences of questions that ask for no date, number or
name, and the span holds the gold answer 0.60 of the time (the sentence always does). The margin
that maximises F1 (``min_margin``, kept in the file's metadata) is -7.5, near the bottom of the grid
(-8): narrow almost always (99.9% of those answers).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

from _training import ROOT, TRAIN, optimiser, save_weights, step as fit_step, train_top, trainable_names  # noqa: E402

sys.path.insert(0, str(ROOT))

from qa.models.extractor import Extractor, best_span, span_model, whole_characters  # noqa: E402
from qa.ingest.sentences import attach_run_in_headings, split_sentences  # noqa: E402

TRAIN_IDS = (1, 2, 3, 4, 6, 7)
CHECK_ID = 8


def examples(articles, negatives: float, seed: int):
    """(question, sentence, answer start, answer end) with offsets into the sentence; (-1, -1) for no span."""
    rng = random.Random(seed)
    out = []
    for art in articles:
        for para in art["paragraphs"]:
            ctx = para["context"]
            spans = attach_run_in_headings(ctx, split_sentences(ctx))
            for qa in para["qas"]:
                ans = qa["answers"][0]
                a0, a1 = ans["answer_start"], ans["answer_start"] + len(ans["text"])
                pos = [(s, e) for s, e in spans if s <= a0 and a1 <= e]
                if not pos or ctx[a0:a1] != ans["text"]:
                    continue
                s, e = pos[0]
                out.append((qa["question"], ctx[s:e], a0 - s, a1 - s))
                if rng.random() < negatives:
                    others = [(s2, e2) for s2, e2 in spans if ans["text"].lower() not in ctx[s2:e2].lower()]
                    if others:
                        s2, e2 = rng.choice(others)
                        out.append((qa["question"], ctx[s2:e2], -1, -1))
    rng.shuffle(out)
    return out


def targets(enc, a0: int, a1: int, sentence: str) -> tuple[int, int] | None:
    """Token indices of the answer's first and last tokens (0, 0 for no span); None when truncation cut it."""
    if a0 < 0:
        return 0, 0
    seq, offsets = enc.sequence_ids, enc.offsets
    start = end = None
    for i, (sid, (s, e)) in enumerate(zip(seq, offsets)):
        if sid != 1 or e <= s:
            continue
        if start is None and e > a0:
            start = i
        if s < a1:
            end = i
    if start is None or end is None or end < start or whole_characters(sentence, 0, offsets[end][1])[1] < a1:
        return None
    return start, end


def evaluate(ex: Extractor, data) -> str:
    """Exact match of the best span (answer examples) and margin > 0 rates."""
    ex.model.eval()
    exact, pos_m, neg_m = [], [], []
    for b in range(0, len(data), 64):
        chunk = data[b:b + 64]
        for (q, sent, a0, a1), span in zip(chunk, _spans(ex, chunk)):
            if a0 < 0:
                neg_m.append(span.margin if span else -99)
            else:
                exact.append(span is not None and (span.start, span.end) == (a0, a1))
                pos_m.append(span.margin if span else -99)
    ex.model.train()
    return (f"exact {np.mean(exact):.3f}, answer margin > 0 {np.mean(np.array(pos_m) > 0):.3f}, "
            f"no-answer margin < 0 {np.mean(np.array(neg_m) < 0):.3f}")


def _spans(ex: Extractor, chunk):
    import torch

    enc = ex.tokenizer.encode_batch([(q, s) for q, s, _, _ in chunk])
    with torch.inference_mode():
        logits = ex.forward(enc).float().numpy()
    return [best_span(lg, e, s) for lg, e, (_, s, _, _) in zip(logits, enc, chunk)]


def _f1(pred: str, gold: str) -> float:
    from qa.evaluation.squad import f1_score

    return f1_score(pred, [gold])


def tune(ex: Extractor, data) -> tuple[float, str]:
    """The ``min_margin`` with the best mean token F1 on answer sentences of questions that ask for no
    date/number/name (the ones the extractor narrows), against showing the whole sentence; and a report."""
    from qa.text.types import question_type

    pos = [x for x in data if x[2] >= 0 and question_type(x[0]) is None]
    spans = []
    for b in range(0, len(pos), 64):
        spans += _spans(ex, pos[b:b + 64])
    rows = []
    for (q, sent, a0, a1), span in zip(pos, spans):
        gold = sent[a0:a1]
        m = span.margin if span else -99.0
        piece = sent[span.start:span.end] if span else sent
        rows.append((m, _f1(piece, gold), _f1(sent, gold), gold.lower() in piece.lower()))
    rows = np.array(rows, dtype=float)
    best, lines = None, []
    for t in np.arange(-8.0, 8.01, 0.5):
        use = rows[:, 0] >= t
        f1 = np.where(use, rows[:, 1], rows[:, 2]).mean()
        contains = np.where(use, rows[:, 3], 1.0).mean()
        lines.append(f"  min_margin {t:5.1f}: narrowed {use.mean():.3f}, F1 {f1:.3f}, answer contains gold {contains:.3f}")
        if best is None or f1 > best[1]:
            best = (float(t), f1)
    return best[0], "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", type=int, default=30000, help="training examples (answer and no-answer)")
    ap.add_argument("--negatives", type=float, default=0.3)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--out", default=str(ROOT / "qa" / "data" / "extractor.safetensors"))
    ap.add_argument("--tune-only", metavar="WEIGHTS", help="only choose min_margin for these weights (rewritten in place)")
    args = ap.parse_args()
    import torch

    torch.manual_seed(0)
    data = json.loads(TRAIN.read_text(encoding="utf-8"))["data"]
    if args.tune_only:
        ex = Extractor.load(Path(args.tune_only))
        check = examples([a for i, a in enumerate(data) if i % 10 == CHECK_ID], args.negatives, seed=2)[:3000]
        ex.min_margin, report = tune(ex, check)
        print(report, f"\nchosen min_margin {ex.min_margin}", file=sys.stderr)
        save(ex, Path(args.tune_only), _saved_names(args.tune_only))
        return
    train = examples([a for i, a in enumerate(data) if i % 10 in TRAIN_IDS], args.negatives, seed=1)[:args.questions]
    check = examples([a for i, a in enumerate(data) if i % 10 == CHECK_ID], args.negatives, seed=2)[:1500]
    ex = Extractor(span_model())
    train_top(ex.model, args.layers)
    model = ex.model
    params = [p for p in model.parameters() if p.requires_grad]
    print(f"{len(train)} training examples; {sum(p.numel() for p in params):,} trainable parameters", file=sys.stderr)
    # Batches of similar length (each pads to its longest), in a random order.
    order = sorted(range(len(train)), key=lambda i: len(train[i][0]) + len(train[i][1]))
    batches = [[train[i] for i in order[b:b + args.batch]] for b in range(0, len(order), args.batch)]
    random.Random(4).shuffle(batches)
    steps = len(batches)
    opt, sched = optimiser(params, args.lr, steps)
    model.train()
    t = time.time()
    for step in range(steps):
        chunk = batches[step]
        enc = ex.tokenizer.encode_batch([(q, s) for q, s, _, _ in chunk])
        tg = [targets(e, a0, a1, sent) for e, (_, sent, a0, a1) in zip(enc, chunk)]
        keep = [i for i, x in enumerate(tg) if x is not None]
        if not keep:
            continue
        enc = [enc[i] for i in keep]
        logits = ex.forward(enc)  # B x T x 2
        # Only [CLS] and the sentence's tokens can be chosen.
        allowed = torch.tensor([[i == 0 or sid == 1 for i, sid in enumerate(e.sequence_ids)] for e in enc])
        logits = logits.masked_fill(~allowed.unsqueeze(-1), -1e4)
        st = torch.tensor([tg[i][0] for i in keep])
        en = torch.tensor([tg[i][1] for i in keep])
        loss = (torch.nn.functional.cross_entropy(logits[..., 0], st)
                + torch.nn.functional.cross_entropy(logits[..., 1], en)) / 2
        fit_step(opt, sched, loss, step, steps, t)
    print(f"after: check {evaluate(ex, check)} ({len(check)} held-out examples, articles i%10=={CHECK_ID})", file=sys.stderr)
    model.eval()  # no dropout while choosing the threshold
    ex.min_margin, report = tune(ex, check)
    print(report, f"\nchosen min_margin {ex.min_margin}", file=sys.stderr)
    save(ex, Path(args.out))
    print("wrote", args.out, file=sys.stderr)


def save(ex: Extractor, path: Path, names=None) -> None:
    save_weights(ex.model, path, names or trainable_names(ex.model), min_margin=repr(float(ex.min_margin)))


def _saved_names(path: str) -> list[str]:
    """The names of the weights a file holds (the ones trained), so a rewrite holds the same."""
    from safetensors import safe_open

    with safe_open(path, framework="np") as f:
        return list(f.keys())


if __name__ == "__main__":
    main()
