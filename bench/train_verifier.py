"""Train the claim verifier (qa/models/verifier.py) from the bundled MiniLM, all six layers.

    python bench/train_verifier.py [--epochs 1.5] [--out qa/data/verifier.safetensors]
        [--checkpoints .cache/verifier-run] [--minutes 40] [--threads 2]

Checkpoints (model, optimiser, schedule, step) go to ``--checkpoints`` every ``--save-every`` steps; a
second run with the same arguments resumes from the last one. At ``--minutes`` the run stops early,
saves, and writes the weights it has (float16) to ``--out``.

Pairs (claim, evidence passage) labelled supports / refutes / unrelated, from:

- Climate-FEVER (claims/climate-fever.jsonl): every labelled claim-sentence pair of the claims whose
  id is not 9 mod 10 (that tenth is held out: accuracy per label printed at the end);
- SciFact train (claims/scifact-claims-train.jsonl over scifact-corpus.jsonl): a claim with its
  rationale sentences (SUPPORT / CONTRADICT), and with another sentence of the cited abstract
  (unrelated); claims whose id is 4 mod 5 are held out (their figures printed);
- SQuAD v1.1 train sentences holding a number, date or name (articles i%10 in 0..7): the sentence as
  the claim against its passage (supports), the same with one detail swapped for another value, a
  negation added, or two names exchanged (refutes), and against another sentence of the paragraph
  (unrelated).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from _training import ROOT, TRAIN, save_weights, trainable_names  # noqa: E402

from qa.ingest.sentences import split_sentences  # noqa: E402
from qa.models.verifier import LABELS, MAX_TOKENS, verifier_model  # noqa: E402
from qa.text.details import NAME, details  # noqa: E402
from qa.text.types import DATE, NUMBER  # noqa: E402
from qa.text.words import tokenize  # noqa: E402

CLAIMS = ROOT.parent / "shared" / "data" / "claims"
SUPPORTS, REFUTES, UNRELATED = (LABELS.index(x) for x in LABELS)


def climate_fever(held: bool) -> list[tuple[str, str, int]]:
    out = []
    label = {"SUPPORTS": SUPPORTS, "REFUTES": REFUTES, "NOT_ENOUGH_INFO": UNRELATED}
    for line in (CLAIMS / "climate-fever.jsonl").read_text(encoding="utf-8").splitlines():
        c = json.loads(line)
        if (int(c["claim_id"]) % 10 == 9) != held:
            continue
        for ev in c["evidences"]:
            if ev["evidence_label"] in label:
                out.append((c["claim"], ev["evidence"], label[ev["evidence_label"]]))
    return out


def scifact(held: bool, rng: random.Random) -> list[tuple[str, str, int]]:
    corpus = {}
    for line in (CLAIMS / "scifact-corpus.jsonl").read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        corpus[d["doc_id"]] = d["abstract"]
    out = []
    for line in (CLAIMS / "scifact-claims-train.jsonl").read_text(encoding="utf-8").splitlines():
        c = json.loads(line)
        if (int(c["id"]) % 5 == 4) != held:
            continue
        claim = c["claim"]
        words = set(tokenize(claim))
        used = set()
        for doc, sets in c["evidence"].items():
            abstract = corpus.get(int(doc), [])
            for s in sets:
                idx = [i for i in s["sentences"] if i < len(abstract)]
                if idx:
                    out.append((claim, " ".join(abstract[i] for i in idx), SUPPORTS if s["label"] == "SUPPORT" else REFUTES))
                    used.update((int(doc), i) for i in idx)
        for doc in c.get("cited_doc_ids", []):
            abstract = corpus.get(int(doc), [])
            others = [(len(words & set(tokenize(t))), i) for i, t in enumerate(abstract) if (int(doc), i) not in used]
            if others:
                # the most similar sentence that is no rationale: what a retriever proposes
                _, i = max(others)
                out.append((claim, abstract[i], UNRELATED))
    return out


_AUX = re.compile(r"\b(is|was|are|were|has|have|had|can|could|will|would|did|does|do)\b")


def negate(sentence: str) -> str | None:
    m = _AUX.search(sentence)
    if not m or sentence[m.end():m.end() + 4] in (" not", "n't"):
        return None
    return sentence[:m.end()] + " not" + sentence[m.end():]


def swap_detail(sentence: str, pool: dict[str, list[str]], rng: random.Random) -> str | None:
    ds = [d for d in details(sentence) if d.kind in (NUMBER, DATE, NAME)]
    if not ds:
        return None
    d = rng.choice(ds)
    old = sentence[d.start:d.end]
    for _ in range(10):
        new = rng.choice(pool[d.kind])
        if new.lower() != old.lower() and new.lower() not in sentence.lower():
            return sentence[:d.start] + new + sentence[d.end:]
    return None


def swap_roles(sentence: str) -> str | None:
    names = [d for d in details(sentence) if d.kind == NAME]
    if len(names) < 2:
        return None
    a, b = names[0], names[1]
    x, y = sentence[a.start:a.end], sentence[b.start:b.end]
    if x.lower() == y.lower():
        return None
    return sentence[:a.start] + y + sentence[a.end:b.start] + x + sentence[b.end:]


def squad_contrasts(articles, n: int, rng: random.Random) -> list[tuple[str, str, int]]:
    paras = [p["context"] for a in articles for p in a["paragraphs"]]
    rng.shuffle(paras)
    pool: dict[str, list[str]] = {NUMBER: [], DATE: [], NAME: []}
    for p in paras[:3000]:
        for d in details(p):
            if d.kind in pool:
                pool[d.kind].append(p[d.start:d.end])
    out = []
    for p in paras:
        if len(out) >= n:
            break
        spans = split_sentences(p)
        if len(spans) < 2:
            continue
        i = rng.randrange(len(spans))
        s, e = spans[i]
        sentence = p[s:e]
        if not 40 <= len(sentence) <= 300 or not details(sentence):
            continue
        lo, hi = spans[max(0, i - 1)][0], spans[min(len(spans) - 1, i + 1)][1]
        evidence = p[lo:hi]
        out.append((sentence, evidence, SUPPORTS))
        for make in (lambda t: swap_detail(t, pool, rng), negate, swap_roles):
            changed = make(sentence)
            if changed is not None and rng.random() < 0.7:
                out.append((changed, evidence, REFUTES))
        j = rng.choice([k for k in range(len(spans)) if abs(k - i) > 1] or [None])
        if j is not None:
            out.append((sentence, p[spans[j][0]:spans[j][1]], UNRELATED))
    return out


def report(model, tok, data, label: str) -> str:
    import torch

    from qa.models.base import torch_inputs

    model.eval()
    pred = []
    with torch.no_grad():
        for b in range(0, len(data), 64):
            chunk = data[b:b + 64]
            enc = tok.encode_batch([(c, e) for c, e, _ in chunk])
            pred += model(**torch_inputs(enc)).argmax(-1).tolist()
    model.train()
    gold = [y for _, _, y in data]
    per = {LABELS[k]: f"{np.mean([p == k for p, g in zip(pred, gold) if g == k]):.3f} ({sum(g == k for g in gold)})"
           for k in range(len(LABELS)) if any(g == k for g in gold)}
    return f"{label}: accuracy {np.mean([p == g for p, g in zip(pred, gold)]):.3f}; per label {per}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=float, default=1.5)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--squad", type=int, default=4000, help="SQuAD sentences made into contrasting pairs")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="use only this many training pairs (smoke tests)")
    ap.add_argument("--out", default=str(ROOT / "qa" / "data" / "verifier.safetensors"))
    ap.add_argument("--checkpoints", default=str(ROOT / ".cache" / "verifier-run"))
    ap.add_argument("--save-every", type=int, default=50)
    ap.add_argument("--minutes", type=float, default=40.0, help="stop, save and report after this long")
    ap.add_argument("--held-limit", type=int, default=0, help="report on only this many held-out pairs per set")
    args = ap.parse_args()
    import torch

    from qa.models.base import pair_tokenizer, torch_inputs

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    rng = random.Random(1)
    squad = json.loads(TRAIN.read_text(encoding="utf-8"))["data"]
    train = (climate_fever(False) + scifact(False, rng)
             + squad_contrasts([a for i, a in enumerate(squad) if i % 10 < 8], args.squad, rng))
    rng.shuffle(train)
    if args.limit:
        train = train[:args.limit]
    print(f"{len(train)} training pairs: {Counter(LABELS[y] for _, _, y in train)}", file=sys.stderr, flush=True)
    held = {"Climate-FEVER held-out tenth": climate_fever(True), "SciFact train, held-out fifth": scifact(True, rng),
            "SQuAD contrasts, articles i%10==9": squad_contrasts([a for i, a in enumerate(squad) if i % 10 == 9],
                                                                   400, random.Random(2))}
    if args.held_limit:
        held = {k: random.Random(3).sample(v, min(len(v), args.held_limit)) for k, v in held.items()}
    tok = pair_tokenizer(MAX_TOKENS)
    model = verifier_model()
    for name, p in model.named_parameters():  # word and position embeddings stay as bundled
        p.requires_grad = not (name.startswith("encoder.embeddings.word_embeddings")
                               or name.startswith("encoder.embeddings.position_embeddings"))
    params = [p for p in model.parameters() if p.requires_grad]
    order = sorted(range(len(train)), key=lambda i: len(train[i][0]) + len(train[i][1]))
    batches = [[train[i] for i in order[b:b + args.batch]] for b in range(0, len(order), args.batch)]
    steps = max(1, int(len(batches) * args.epochs))
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm))))
    # Climate-FEVER is mostly "unrelated": weigh the labels evenly.
    counts = Counter(y for _, _, y in train)
    weight = torch.tensor([len(train) / (len(LABELS) * max(1, counts[k])) for k in range(len(LABELS))])
    model.train()
    started = time.time()
    plan = []
    while len(plan) < steps:
        random.Random(len(plan)).shuffle(batches)
        plan += batches
    ckpt_dir = Path(args.checkpoints)
    ckpt = ckpt_dir / "checkpoint.pt"
    done = 0
    if ckpt.is_file():
        state = torch.load(ckpt, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        done = int(state["step"])
        print(f"resumed from {ckpt} at step {done}/{steps}", file=sys.stderr, flush=True)

    def save_checkpoint(step: int) -> None:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        tmp = ckpt.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(), "step": step}, tmp)
        tmp.replace(ckpt)  # atomic: a run killed while saving keeps the previous checkpoint

    step = done
    for step, chunk in enumerate(plan[done:steps], done + 1):
        if time.time() - started > args.minutes * 60:
            step -= 1
            print(f"time limit ({args.minutes} min) reached at step {step}/{steps}", file=sys.stderr, flush=True)
            break
        enc = tok.encode_batch([(c, e) for c, e, _ in chunk])
        logits = model(**torch_inputs(enc))
        loss = torch.nn.functional.cross_entropy(logits, torch.tensor([y for _, _, y in chunk]), weight=weight)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        if step % 50 == 0:
            print(f"step {step}/{steps} loss {loss.item():.3f} {(step - done) * args.batch / (time.time() - started):.1f} pairs/s",
                  file=sys.stderr, flush=True)
        if step % args.save_every == 0:
            save_checkpoint(step)
    save_checkpoint(step)
    model.eval()
    for name, data in held.items():
        print(report(model, tok, data, name), file=sys.stderr)
    save_weights(model, Path(args.out), trainable_names(model), labels=",".join(LABELS))
    print("wrote", args.out, file=sys.stderr)


if __name__ == "__main__":
    main()
