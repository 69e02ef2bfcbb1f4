"""Train the span reader (qa/models/reading.py) from the bundled MiniLM, all six layers, on SQuAD train with
negatives and on real unanswerable questions. Runs on CUDA when a GPU is present, else on the CPU.

    python bench/train_reader.py --run .cache/reader-run [--epochs 1.5] [--resume]
    python bench/train_reader.py --run DIR --evaluate-only     # held-out figures of DIR's last checkpoint

Each example is (question, window): a window is a sentence of a paragraph with as many neighbouring
sentences as fit a token budget drawn per example (48-160 word pieces with the question), the budget
the pipeline gives it. Per training question:

- the window around the sentence holding the answer (sometimes centred on a neighbour that still
  lets the answer in), with the answer's first and last tokens as targets;
- with probability ``--para-negatives``, a window of the same paragraph without the answer text;
- with probability ``--article-negatives``, the window of another paragraph of the same article
  that shares the most idf-weighted words with the question (what the retriever proposes), unless
  it holds the answer text;
- with probability ``--swaps``, the question with one name or number swapped for one the paragraph
  does not hold (a SQuAD 2.0-style unanswerable question), against the answer's window.

Plus the real unanswerable questions of SQuAD 2.0 (``squad2-dev-tune.json``, articles in TUNE_TRAIN
only: the others choose thresholds) against the two windows of their paragraph that share the most
words with them, repeated ``--unanswerable-repeats`` times; their answerable questions as above.
A no-answer example's targets are [CLS]; the answerability head learns answer / no answer.

Articles of SQuAD v1.1 train: i % 10 in 0..7 train; 8 is held out for the calibrator and the
figures printed here; 9 for decisions through `qa eval`. SQuAD dev is never read.

Checkpoints (trainable weights, optimizer, scheduler, step) go to ``--run`` every ``--save-every``
steps, with ``latest.safetensors`` (float16, loadable by the pipeline); ``--resume`` goes on from
the last one, so a long run can be spread over several sittings.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from _training import ROOT, TRAIN, save_weights, trainable_names  # noqa: E402

sys.path.insert(0, str(ROOT))

from qa.models import reader as reading  # noqa: E402
from qa.text.words import tokenize  # noqa: E402
from qa.ingest.sentences import attach_run_in_headings, split_sentences  # noqa: E402

SQUAD2 = ROOT.parent / "shared" / "data" / "squad2-dev-tune.json"
TRAIN_IDS = tuple(range(8))
CHECK_ID = 8
BUDGETS = (48, 64, 72, 80, 96, 128, 160)


def tune_split(titles: list[str]) -> tuple[set[str], set[str]]:
    """SQuAD 2.0 tune articles: two of every three (sorted by title) train, the third chooses thresholds."""
    ordered = sorted(titles)
    return {t for i, t in enumerate(ordered) if i % 3 != 2}, {t for i, t in enumerate(ordered) if i % 3 == 2}


# ------------------------------------------------------------------ paragraphs and windows

class Paragraph:
    """A context split into sentences, with each sentence's word pieces and stemmed words."""

    def __init__(self, text: str, tok):
        self.text = text
        self.spans = attach_run_in_headings(text, split_sentences(text)) or [(0, len(text))]
        self.counts = tok.counts([text[s:e] for s, e in self.spans])
        self.words = [frozenset(tokenize(text[s:e])) for s, e in self.spans]

    def sentence_of(self, char: int) -> int | None:
        for i, (s, e) in enumerate(self.spans):
            if s <= char < e:
                return i
        return None

    def window(self, centre: int, budget: int) -> tuple[int, int]:
        first, last = reading.window(self.counts, centre, budget)
        return self.spans[first][0], self.spans[last - 1][1]


def labelled(question: str, para: Paragraph, ws: int, we: int, answer: tuple[int, int, str] | None, kind: str):
    """An example for the window ``text[ws:we]``: the answer's offsets inside it when it holds the answer,
    (-1, -1) when it does not hold the answer text at all, None when in between (skipped)."""
    text = para.text[ws:we]
    if answer is None:
        return (question, text, -1, -1, kind)
    a0, a1, atext = answer
    if ws <= a0 and a1 <= we:
        return (question, text, a0 - ws, a1 - ws, kind)
    if atext.lower() in text.lower():
        return None
    return (question, text, -1, -1, kind)


def best_overlap(qwords: frozenset, candidates, idf) -> int | None:
    """Index of the candidate (a set of stemmed words) sharing the most idf-weighted question words."""
    best, best_score = None, 0.0
    for i, words in enumerate(candidates):
        score = sum(idf.get(w, 0.0) for w in qwords & words)
        if score > best_score:
            best, best_score = i, score
    return best


# ------------------------------------------------------------------ swapped questions

_NAME = re.compile(r"(?<![\w'’])[A-Z][a-z]+(?:[ -][A-Z][a-z]+){0,2}(?![\w'’])")
_NUMBER = re.compile(r"(?<![\w.,])\d{1,4}(?:,\d{3})*(?![\w,]|\.\d)")


def swapped(question: str, para_text: str, names: list[str], rng: random.Random) -> str | None:
    """``question`` with one name or number the paragraph holds replaced by one it does not hold, or None."""
    low = para_text.lower()
    spots = [(m, "name") for m in _NAME.finditer(question) if m.start() > 0 and m.group() in para_text]
    spots += [(m, "number") for m in _NUMBER.finditer(question) if m.group() in para_text]
    if not spots:
        return None
    m, kind = rng.choice(spots)
    old = m.group()
    for _ in range(20):
        if kind == "name":
            new = rng.choice(names)
            if new.count(" ") != old.count(" "):
                continue
        else:
            value = int(old.replace(",", ""))
            if 1000 <= value <= 2100:
                new = str(value + rng.choice([-1, 1]) * rng.randint(1, 40))
            else:
                new = f"{max(2, value + rng.choice([-1, 1]) * rng.randint(1, max(2, value // 2))):,}"
        if new.lower() not in low and new.lower() not in question.lower():
            return question[:m.start()] + new + question[m.end():]
    return None


# ------------------------------------------------------------------ data

def load_articles(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["data"]


def prepare(articles: list[dict], tok) -> list[list[Paragraph]]:
    return [[Paragraph(p["context"], tok) for p in art["paragraphs"]] for art in articles]


def _idf(paras: list[Paragraph]) -> dict[str, float]:
    df = Counter(w for p in paras for words in p.words for w in words)
    n = sum(len(p.words) for p in paras)
    return {w: math.log(1 + n / c) for w, c in df.items()}


def examples(articles, paragraphs, tok, rng: random.Random, args, names: list[str] | None = None,
             unanswerable_repeats: int = 1) -> list[tuple]:
    """Training or check examples (question, window text, answer start, answer end, kind) from SQuAD-format articles."""
    out = []
    for art, paras in zip(articles, paragraphs):
        idf = _idf(paras)
        flat = [(k, i) for k, p in enumerate(paras) for i in range(len(p.spans))]
        for k, (para_json, para) in enumerate(zip(art["paragraphs"], paras)):
            for qa in para_json["qas"]:
                q = qa["question"].strip()
                qtokens = tok.counts([q])[0]
                budget = lambda: reading.context_budget(qtokens, rng.choice(BUDGETS))  # noqa: E731
                if qa.get("is_impossible"):
                    qwords = frozenset(tokenize(q))
                    first = best_overlap(qwords, para.words, idf)
                    centres = [first if first is not None else rng.randrange(len(para.spans))]
                    if len(para.spans) > 1:
                        centres.append(rng.choice([i for i in range(len(para.spans)) if i != centres[0]]))
                    for _ in range(unanswerable_repeats):
                        for c in centres:
                            out.append(labelled(q, para, *para.window(c, budget()), None, "unanswerable"))
                    continue
                ans = qa["answers"][0]
                a0, a1 = ans["answer_start"], ans["answer_start"] + len(ans["text"])
                if para.text[a0:a1] != ans["text"] or not ans["text"].strip():
                    continue
                answer = (a0, a1, ans["text"])
                centre = para.sentence_of(a0)
                if centre is None:
                    continue
                c = centre
                if rng.random() < 0.3 and len(para.spans) > 1:
                    c = min(len(para.spans) - 1, max(0, centre + rng.choice([-1, 1])))
                ex = labelled(q, para, *para.window(c, budget()), answer, "answer")
                if ex is not None and ex[2] < 0:
                    ex = labelled(q, para, *para.window(centre, budget()), answer, "answer")
                if ex is None or ex[2] < 0:
                    continue
                out.append(ex)
                if names is not None and rng.random() < args.swaps:
                    sq = swapped(q, para.text, names, rng)
                    if sq is not None:
                        out.append((sq, ex[1], -1, -1, "swap"))
                if rng.random() < args.para_negatives:
                    others = [i for i, (s, e) in enumerate(para.spans) if not (s <= a0 < e)]
                    if others:
                        neg = labelled(q, para, *para.window(rng.choice(others), budget()), answer, "paragraph")
                        if neg is not None and neg[2] < 0:
                            out.append(neg)
                if rng.random() < args.article_negatives:
                    cands = [(kk, i) for kk, i in flat if kk != k]
                    qwords = frozenset(tokenize(q))
                    best = best_overlap(qwords, [paras[kk].words[i] for kk, i in cands], idf)
                    if best is not None:
                        kk, i = cands[best]
                        ws, we = paras[kk].window(i, budget())
                        text = paras[kk].text[ws:we]
                        if ans["text"].lower() not in text.lower():  # offsets of another paragraph: text only
                            out.append((q, text, -1, -1, "article"))
    return [x for x in out if x is not None]


def name_pool(articles) -> list[str]:
    return sorted({m.group() for art in articles for p in art["paragraphs"] for m in _NAME.finditer(p["context"])
                   if m.start() > 0})


# ------------------------------------------------------------------ features

def targets(enc, a0: int, a1: int) -> tuple[int, int] | None:
    """Token indices of the answer's first and last tokens ((0, 0): no answer); None when the window was cut."""
    if a0 < 0:
        return 0, 0
    start = end = None
    for i, (sid, (s, e)) in enumerate(zip(enc.sequence_ids, enc.offsets)):
        if sid != 1 or e <= s:
            continue
        if start is None and e > a0:
            start = i
        if s < a1:
            end = i
    if start is None or end is None or end < start or enc.offsets[end][1] < a1 - 1:
        return None
    return start, end


def batches(data: list[tuple], size: int, tok, rng: random.Random) -> list[list[tuple]]:
    """Batches of similar length (each pads to its longest), in a random order."""
    lengths = [len(q) + len(t) for q, t, *_ in data]
    order = sorted(range(len(data)), key=lambda i: lengths[i])
    out = [[data[i] for i in order[b:b + size]] for b in range(0, len(order), size)]
    rng.shuffle(out)
    return out


def encode(tok, chunk):
    return tok.pair.encode_batch([(tok.short_question(q), t) for q, t, *_ in chunk])


def tensors(enc, device):
    import torch

    from qa.models.base import input_arrays

    return {k: torch.tensor(v, device=device) for k, v in input_arrays(enc).items()}


def loss_of(model, tok, chunk, device):
    import torch
    import torch.nn.functional as F

    enc = encode(tok, chunk)
    tg = [targets(e, a0, a1) for e, (_, _, a0, a1, _) in zip(enc, chunk)]
    keep = [i for i, x in enumerate(tg) if x is not None]
    if not keep:
        return None
    enc = [enc[i] for i in keep]
    start, end, answer = model(**tensors(enc, device))
    allowed = torch.tensor(np.array([reading.allowed_tokens(e) for e in enc]), device=device)
    start = start.float().masked_fill(~allowed, reading.NEG)
    end = end.float().masked_fill(~allowed, reading.NEG)
    st = torch.tensor([tg[i][0] for i in keep], device=device)
    en = torch.tensor([tg[i][1] for i in keep], device=device)
    has = (st > 0).float()
    return (F.cross_entropy(start, st) + F.cross_entropy(end, en)) / 2 + \
        F.binary_cross_entropy_with_logits(answer.float(), has)


# ------------------------------------------------------------------ evaluation

def read_all(model, tok, data, device, batch: int = 64) -> list[reading.Reading]:
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for b in range(0, len(data), batch):
            chunk = data[b:b + batch]
            enc = encode(tok, chunk)
            start, end, answer = (x.float().cpu().numpy() for x in model(**tensors(enc, device)))
            out += [reading.decode(s, e, a, en, t) for s, e, a, en, (_, t, *_r) in zip(start, end, answer, enc, chunk)]
    model.train()
    return out


def auc(pos, neg) -> float:
    from sklearn.metrics import roc_auc_score

    if not len(pos) or not len(neg):
        return float("nan")
    return float(roc_auc_score([1] * len(pos) + [0] * len(neg), list(pos) + list(neg)))


def report(model, tok, data, device, label: str) -> str:
    from qa.evaluation.squad import exact_match, f1_score

    reads = read_all(model, tok, data, device)
    lines = [f"{label}: {len(data)} windows"]
    pos = [(x, r) for x, r in zip(data, reads) if x[2] >= 0]
    if pos:
        em = np.mean([exact_match(x[1][r.start:r.end], [x[1][x[2]:x[3]]]) if r.start is not None else 0 for x, r in pos])
        f1 = np.mean([f1_score(x[1][r.start:r.end], [x[1][x[2]:x[3]]]) if r.start is not None else 0 for x, r in pos])
        lines.append(f"  answer windows: {len(pos)}, span EM {em:.3f}, F1 {f1:.3f}")
    kinds = sorted({x[4] for x in data if x[2] < 0})
    for k in kinds:
        neg = [r for x, r in zip(data, reads) if x[4] == k]
        lines.append(f"  vs {k} ({len(neg)}): AUC margin {auc([r.margin for _, r in pos], [r.margin for r in neg]):.3f}, "
                     f"answer head {auc([r.answer for _, r in pos], [r.answer for r in neg]):.3f}, "
                     f"sum {auc([r.margin + r.answer for _, r in pos], [r.margin + r.answer for r in neg]):.3f}")
    return "\n".join(lines)


# ------------------------------------------------------------------ training

def trainable(model) -> None:
    """Let every transformer layer, the token-type embeddings and the heads train; word and position
    embeddings stay as the bundled model has them (they are most of the parameters and generalise)."""
    for name, p in model.named_parameters():
        p.requires_grad = not (name.startswith("encoder.embeddings.word_embeddings")
                               or name.startswith("encoder.embeddings.position_embeddings"))


def build_model(device, weights: Path | None = None):
    from qa.models.base import load_weights

    if weights is not None:
        model = load_weights(weights, reading.span_model)
        model.train()
    else:
        model = reading.span_model()
    trainable(model)
    return model.to(device)


def save_snapshot(model, path: Path, **meta) -> None:
    save_weights(model.cpu(), path, trainable_names(model), **meta)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="folder for checkpoints and the snapshot (an ignored one)")
    ap.add_argument("--train", default=str(TRAIN))
    ap.add_argument("--squad2", default=str(SQUAD2))
    ap.add_argument("--epochs", type=float, default=1.5)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=8e-5)
    ap.add_argument("--para-negatives", type=float, default=0.5)
    ap.add_argument("--article-negatives", type=float, default=0.5)
    ap.add_argument("--swaps", type=float, default=0.2)
    ap.add_argument("--unanswerable-repeats", type=int, default=3)
    ap.add_argument("--articles", type=int, default=0, help="use only the first N articles of each set (smoke tests)")
    ap.add_argument("--check", type=int, default=2000, help="held-out windows printed at the end")
    ap.add_argument("--save-every", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--evaluate-only", action="store_true")
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps in this sitting (0: no limit)")
    args = ap.parse_args()
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        torch.set_num_threads(args.threads)
    run = Path(args.run)
    run.mkdir(parents=True, exist_ok=True)
    tok = reading.tokenizer()
    t0 = time.time()
    train_all = load_articles(Path(args.train))
    train_arts = [a for i, a in enumerate(train_all) if i % 10 in TRAIN_IDS]
    check_arts = [a for i, a in enumerate(train_all) if i % 10 == CHECK_ID]
    squad2 = load_articles(Path(args.squad2)) if Path(args.squad2).is_file() else []
    fit_titles, tune_titles = tune_split([a["title"] for a in squad2])
    s2_train = [a for a in squad2 if a["title"] in fit_titles]
    s2_tune = [a for a in squad2 if a["title"] in tune_titles]
    if args.articles:
        train_arts, check_arts = train_arts[:args.articles], check_arts[:args.articles]
        s2_train, s2_tune = s2_train[:1], s2_tune[:1]
    names = name_pool(train_arts)
    train_paras = prepare(train_arts, tok)
    s2_paras = prepare(s2_train, tok)
    print(f"prepared {sum(map(len, train_paras))} + {sum(map(len, s2_paras))} paragraphs in {time.time() - t0:.0f}s",
          file=sys.stderr, flush=True)

    def epoch_data(epoch: int) -> list[tuple]:
        rng = random.Random(1000 + epoch)
        data = examples(train_arts, train_paras, tok, rng, args, names)
        data += examples(s2_train, s2_paras, tok, rng, args, names, unanswerable_repeats=args.unanswerable_repeats)
        return data

    first = epoch_data(0)
    per_epoch = math.ceil(len(first) / args.batch)
    total = max(1, int(per_epoch * args.epochs))
    print(f"{len(first)} examples per epoch ({Counter(x[4] for x in first)}), {per_epoch} steps; {total} steps in all",
          file=sys.stderr, flush=True)

    ckpt = run / "checkpoint.pt"
    model = build_model(device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    warm = max(1, total // 25)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / (total - warm))))
    step = 0
    if (args.resume or args.evaluate_only) and ckpt.is_file():
        state = torch.load(ckpt, map_location=device, weights_only=False)
        model.load_state_dict(state["model"], strict=False)
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        step = state["step"]
        print(f"resumed at step {step}/{total}", file=sys.stderr, flush=True)

    def save() -> None:
        trainable = {n: p.detach().cpu() for n, p in model.named_parameters() if p.requires_grad}
        tmp = ckpt.with_suffix(".tmp")
        torch.save({"model": trainable, "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                    "step": step, "total": total, "args": vars(args)}, tmp)
        tmp.replace(ckpt)
        save_snapshot(build_copy(), run / "latest.safetensors", step=str(step), total=str(total))

    def build_copy():
        import copy

        return copy.deepcopy(model).cpu()

    started, sitting = time.time(), 0
    model.train()
    while step < total and not args.evaluate_only:
        epoch, offset = divmod(step, per_epoch)
        data = first if epoch == 0 else epoch_data(epoch)
        plan = batches(data, args.batch, tok, random.Random(2000 + epoch))
        for chunk in plan[offset:]:
            if step >= total or (args.max_steps and sitting >= args.max_steps):
                break
            if device == "cuda":
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    loss = loss_of(model, tok, chunk, device)
            else:
                loss = loss_of(model, tok, chunk, device)
            step += 1
            sitting += 1
            if loss is not None:
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()
            sched.step()
            if step % 50 == 0:
                rate = sitting * args.batch / (time.time() - started)
                print(f"step {step}/{total} epoch {epoch} loss {loss.item() if loss is not None else float('nan'):.3f} "
                      f"lr {sched.get_last_lr()[0]:.2e} {rate:.1f} ex/s", file=sys.stderr, flush=True)
            if step % args.save_every == 0:
                save()
        if args.max_steps and sitting >= args.max_steps:
            break
    if not args.evaluate_only:
        save()
        print(f"saved step {step}/{total} to {run}", file=sys.stderr, flush=True)

    rng = random.Random(7)
    check = examples(check_arts, prepare(check_arts, tok), tok, rng, argparse.Namespace(
        para_negatives=1.0, article_negatives=1.0, swaps=0.5), name_pool(check_arts))
    rng.shuffle(check)
    print(report(model, tok, check[:args.check], device, f"SQuAD train articles i%10=={CHECK_ID}"), file=sys.stderr)
    tune = examples(s2_tune, prepare(s2_tune, tok), tok, random.Random(8), argparse.Namespace(
        para_negatives=0.0, article_negatives=0.0, swaps=0.0), None)
    random.Random(9).shuffle(tune)
    print(report(model, tok, tune[:args.check], device, f"SQuAD 2.0 tune articles {sorted(tune_titles)}"), file=sys.stderr)


if __name__ == "__main__":
    main()
