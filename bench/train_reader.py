"""Fine-tune the answer-sentence reader on SQuAD *train* (never on dev).

    python bench/train_reader.py [--questions 6000] [--layers 3] [--out qa/data/reader.safetensors]

The reader is a cross-encoder: the question and one candidate sentence go through the bundled
all-MiniLM-L6-v2 together, and a linear head on the mean-pooled output scores how likely the
sentence holds the answer. Only the top ``--layers`` transformer layers and the head are trained;
the shipped file holds just those weights (float16), the rest comes from the bundled model.

Training questions come from articles the ranker never sees (i % 10 not in {0, 5}: 0 is the ranker's
corpus, 5 its off-topic pool). Each question is a group: the sentence holding the answer and up to
three other sentences of its paragraph, trained with a softmax over the group.

With ``--null-share F`` the softmax also holds a fixed "no answer here" logit of 0, and a share F of
the groups leave the answer sentence out (only sentences that do not contain the answer text), so
their target is that null. The reader's logit then means something on its own: above 0, the
sentence likely holds the answer; below, the question is likely not answered by it (SQuAD 2.0's
idea, built from SQuAD 1.1 by taking the answer away). Measured and not adopted: 12,000 more
questions at share 0.5 gave check @1 0.840, answer sentence > 0 for 0.80, no-answer groups all
< 0 for 0.70; its logit separated answerable from off-topic questions inside the calibrator's
doubtful band only weakly (AUC 0.64-0.69), and letting it move the confidence there gained 0.7
points of balanced accuracy on held-out train and none on the seed dev split.

With ``--hard N`` each group also holds the N sentences of the article's other paragraphs that share
the most (idf-weighted) question words, none holding the answer text: the look-alikes the reader
meets among the ranker's candidates. Measured and not adopted: 10,000 questions (offset 24000,
unseen by the shipped weights) from the shipped weights, about 80 minutes on a busy machine: check
@1 0.846, with look-alikes 0.784; with its reader settings refitted (``train_ranker.py
--reader-only``: 3 candidates, margin 1.0, weight 2.0, running on 36% of questions) held-out train
answer sentence @1 0.762 -> 0.769 against the shipped reader, but one seed dev question fewer
(0.923 -> 0.897) and SQuAD dev paragraph @1 0.858 -> 0.853 with answer-in-quote unchanged (0.748).
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

from qa.text.words import tokenize
from qa.models.reader import Reader, cross_encoder
from qa.ingest.sentences import attach_run_in_headings, split_sentences



def _article_sentences(art) -> list[tuple[int, str, frozenset[str]]]:
    """(paragraph number, sentence, its stemmed words) for every sentence of an article."""
    out = []
    for k, para in enumerate(art["paragraphs"]):
        ctx = para["context"]
        for s, e in attach_run_in_headings(ctx, split_sentences(ctx)):
            out.append((k, ctx[s:e], frozenset(tokenize(ctx[s:e]))))
    return out


def _hard_negatives(question: str, answer: str, para: int, sentences, idf, n: int) -> list[str]:
    """The ``n`` sentences of the article's other paragraphs sharing the most (idf-weighted) question
    words, none holding the answer text: the look-alikes the ranker puts next to the answer."""
    if n <= 0:
        return []
    q = set(tokenize(question))
    scored = [(sum(idf[t] for t in q & words), text) for k, text, words in sentences
              if k != para and answer not in text.lower()]
    return [text for score, text in sorted(scored, key=lambda x: -x[0])[:n] if score > 0]


def groups(articles, n_questions: int, negatives: int, seed: int, hard: int = 0):
    rng = random.Random(seed)
    null_rng = random.Random(seed + 1000)  # its own stream: the groups' order stays that of earlier runs
    out = []
    for art in articles:
        sentences = _article_sentences(art) if hard else []
        df: dict[str, int] = {}
        for _, _, words in sentences:
            for t in words:
                df[t] = df.get(t, 0) + 1
        idf = {t: float(np.log(1 + len(sentences) / c)) for t, c in df.items()}
        for k, para in enumerate(art["paragraphs"]):
            ctx = para["context"]
            spans = attach_run_in_headings(ctx, split_sentences(ctx))
            if len(spans) < 2:
                continue
            for qa in para["qas"]:
                a0 = qa["answers"][0]["answer_start"]
                a1 = a0 + len(qa["answers"][0]["text"])
                pos = [i for i, (s, e) in enumerate(spans) if s <= a0 and a1 <= e]
                if not pos:
                    continue
                others = [i for i in range(len(spans)) if i not in pos]
                neg = rng.sample(others, min(negatives, len(others)))
                # sentences fit for a "no answer" group: none may contain the answer text anywhere
                answer = qa["answers"][0]["text"].lower()
                clean = [i for i in others if answer not in ctx[spans[i][0]:spans[i][1]].lower()]
                null = null_rng.sample(clean, min(negatives + 1, len(clean)))
                extra = _hard_negatives(qa["question"], answer, k, sentences, idf, hard)
                out.append((qa["question"], [ctx[s:e] for s, e in (spans[pos[0]], *(spans[i] for i in neg))] + extra,
                            [ctx[s:e] for s, e in (spans[i] for i in null)]))
    rng.shuffle(out)
    return out[:n_questions]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", type=int, default=6000)
    ap.add_argument("--negatives", type=int, default=3)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--batch", type=int, default=8, help="questions per step")
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--offset", type=int, default=0, help="skip this many training groups (to continue on new ones)")
    ap.add_argument("--null-share", type=float, default=0.0,
                    help="share of groups whose answer sentence is left out, target 'no answer' (logit 0)")
    ap.add_argument("--hard", type=int, default=0,
                    help="add this many look-alike sentences from the article's other paragraphs to each group")
    ap.add_argument("--init", help="start from these reader weights instead of a fresh head")
    ap.add_argument("--out", default=str(ROOT / "qa" / "data" / "reader.safetensors"))
    args = ap.parse_args()
    import torch

    torch.manual_seed(0)
    data = json.loads(TRAIN.read_text(encoding="utf-8"))["data"]
    train_arts = [a for i, a in enumerate(data) if i % 10 not in (0, 5, 9)]
    check_arts = [a for i, a in enumerate(data) if i % 10 == 9]
    train = groups(train_arts, args.offset + args.questions, args.negatives, seed=1, hard=args.hard)[args.offset:]
    check = groups(check_arts, 1000, 6, seed=2)
    # The same questions with two look-alikes from other paragraphs: what the reader meets in use.
    check_hard = groups(check_arts, 1000, 6, seed=2, hard=2)
    reader = Reader(cross_encoder())
    train_top(reader.model, args.layers)
    model = reader.model
    if args.init:
        from safetensors.torch import load_file

        model.load_state_dict({k: v.float() for k, v in load_file(args.init).items()}, strict=False)
    params = [p for n, p in model.named_parameters() if p.requires_grad]
    print(f"{len(train)} training groups; {sum(p.numel() for p in params):,} trainable parameters", file=sys.stderr)
    steps = int(len(train) * args.epochs / args.batch)
    opt, sched = optimiser(params, args.lr, steps)

    def accuracy(groups_) -> str:
        """@1 among the sentences; with a null: answer sentence above 0, and no-answer groups all below 0."""
        model.eval()
        pos = [reader.score(q, sents) for q, sents, _ in groups_]
        text = f"@1 {np.mean([int(np.argmax(g)) == 0 for g in pos]):.3f}"
        if args.null_share:
            nulls = [reader.score(q, ns) for q, _, ns in groups_ if ns]
            text += (f", answer sentence > 0 {np.mean([g[0] > 0 for g in pos]):.3f}"
                     f", no-answer groups all < 0 {np.mean([g.max() < 0 for g in nulls]):.3f}")
        model.train()
        return text

    print(f"before: check {accuracy(check[:300])}, with look-alikes {accuracy(check_hard[:300])}", file=sys.stderr)
    model.train()
    t = time.time()
    pick = random.Random(3)
    zero = torch.zeros(1)
    for step in range(steps):
        batch = []
        for k in range(args.batch):
            q, sents, null = train[(step * args.batch + k) % len(train)]
            is_null = bool(null) and pick.random() < args.null_share
            batch.append((q, null if is_null else sents, is_null))
        qs = [q for q, sents, _ in batch for _ in sents]
        ss = [s for _, sents, _ in batch for s in sents]
        logits = reader.logits(qs, ss)
        loss, i = 0.0, 0
        for _, sents, is_null in batch:
            g = logits[i:i + len(sents)]
            if args.null_share:
                g = torch.cat([zero, g])  # index 0 is now "no answer"; the answer sentence is 1
            loss = loss + torch.logsumexp(g, 0) - g[0 if is_null or not args.null_share else 1]
            i += len(sents)
        loss = loss / len(batch)
        fit_step(opt, sched, loss, step, steps, t)
    print(f"after: check {accuracy(check)} ({len(check)} held-out groups of up to 7 sentences), "
          f"with look-alikes {accuracy(check_hard)}", file=sys.stderr)
    save_weights(model, Path(args.out), trainable_names(model))
    print("wrote", args.out, file=sys.stderr)


if __name__ == "__main__":
    main()
