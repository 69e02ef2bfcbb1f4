"""Memory over many questions: ``Pipeline.ask`` N times in one process, RSS sampled as it goes.

Questions are generated so every cache sees both hits and misses: templates filled with words of
the corpus (mostly new questions), random letter strings (words no cache has seen), and repeats of
the eval questions. RSS is sampled every ``--every`` questions; the slope is fitted by least
squares over the samples after ``--warmup`` questions (default: the second half of the run, as the
allocator settles and bounded caches fill in the first). Memory is "flat" when that slope is under
``--max-slope`` MB per 1,000 questions; the exit status says so. The fill of each bounded cache is
printed too, since a cache still filling shows as a small slope that stops at its bound.

    nice -n 10 python bench/memory.py                      # 10,000 questions, seed corpus, real model
    python bench/memory.py --questions 2000 --every 250 --json
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import re
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TEMPLATES = ("When did {a} {b}?", "Who is {a} {b}?", "What is the {a} of {b}?", "How many {a} did {b} {c}?",
             "Why did {a} {b} the {c}?", "Where is {a}?", "What happened to {a} {b} in {year}?",
             "In what year did {a} {b} {c}?", "How much {a} did {b} {c} in {year}?")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def questions(pipeline, n: int, seed: int = 0):
    """``n`` varied questions: ~60% corpus-word templates, ~25% random strings, ~15% eval repeats."""
    rng = random.Random(seed)
    vocab = sorted({w for text in pipeline.index.texts for w in re.findall(r"[A-Za-z][A-Za-z'-]{2,}", text)})
    data = yaml.safe_load((ROOT / "eval" / "seed_questions.yaml").read_text(encoding="utf-8"))
    known = [q["question"] for q in data["questions"]] + [q["question"] for q in data["off_topic"]]
    for _ in range(n):
        r = rng.random()
        if r < 0.15:
            yield rng.choice(known)
        elif r < 0.40:
            yield " ".join("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 10)))
                           for _ in range(rng.randint(2, 8))) + "?"
        else:
            yield rng.choice(TEMPLATES).format(a=rng.choice(vocab), b=rng.choice(vocab), c=rng.choice(vocab),
                                               year=rng.randint(1850, 2030))


def slope(points: list[tuple[int, float]]) -> float:
    """Least-squares MB per 1,000 questions."""
    if len(points) < 2:
        return 0.0
    xs, ys = [p[0] / 1000 for p in points], [p[1] for p in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else 0.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", type=Path, default=None, help="qa.yaml (default: the seed corpus, indexed "
                                                                 "into a temporary folder)")
    ap.add_argument("--questions", type=int, default=10_000)
    ap.add_argument("--every", type=int, default=500, help="sample RSS every N questions")
    ap.add_argument("--warmup", type=int, default=None,
                    help="fit the slope after this many questions (default: half of --questions)")
    ap.add_argument("--max-slope", type=float, default=1.0, help="flat = under this many MB per 1,000 questions")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch intra-op threads (1: one question at a time gains little from more, and on a "
                         "busy machine OpenMP threads spin-waiting for each other make it many times slower)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)

    from qa import Pipeline
    from qa.config import config_from_dict
    from qa.text.words import _normalise
    from qa.pipeline import QUESTION_CACHE

    if args.warmup is None:
        args.warmup = args.questions // 2

    if args.config is None:
        tmp = Path(tempfile.mkdtemp(prefix="qa-mem-"))
        pipeline = Pipeline.from_config(config_from_dict({"corpus": str(ROOT / "seeds"), "index": str(tmp / "index")}))
    else:
        pipeline = Pipeline.from_config(args.config)
    pipeline.ensure_index(progress=False)
    pipeline.ask("When did Japan rule Korea?")  # model loaded, index attached
    gc.collect()
    samples = [(0, rss_mb())]
    abstained = refused = 0
    t0 = time.perf_counter()
    for i, q in enumerate(questions(pipeline, args.questions), 1):
        try:
            abstained += pipeline.ask(q).abstained
        except Exception as exc:  # a generated question must never break the pipeline
            refused += 1
            print(f"question {i} {q!r}: {type(exc).__name__}: {exc}", file=sys.stderr)
        if i % args.every == 0:
            samples.append((i, rss_mb()))
            if not args.json:
                print(f"{i:>6} questions  RSS {samples[-1][1]:7.1f} MB  {(time.perf_counter() - t0) / i * 1000:5.1f} "
                      "ms/question", flush=True)
    seconds = time.perf_counter() - t0
    after = [p for p in samples if p[0] >= args.warmup]
    result = {
        "questions": args.questions, "seconds": round(seconds, 1),
        "ms_per_question": round(seconds / max(args.questions, 1) * 1000, 2),
        "abstained": abstained, "errors": refused,
        "rss_mb": [[n, round(m, 1)] for n, m in samples],
        "rss_mb_start": round(samples[0][1], 1), "rss_mb_end": round(samples[-1][1], 1),
        "slope_mb_per_1000": round(slope(samples), 3),
        "slope_mb_per_1000_after_warmup": round(slope(after), 3),
        "question_cache": [len(pipeline._qcache), QUESTION_CACHE],
        "stem_cache": [_normalise.cache_info().currsize, _normalise.cache_info().maxsize],
    }
    result["flat"] = result["slope_mb_per_1000_after_warmup"] < args.max_slope and refused == 0
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.questions} questions in {seconds:.0f}s ({result['ms_per_question']} ms each), "
              f"{abstained} abstentions, {refused} errors")
        print(f"RSS {result['rss_mb_start']} MB -> {result['rss_mb_end']} MB; slope {result['slope_mb_per_1000']} MB "
              f"per 1,000 questions overall, {result['slope_mb_per_1000_after_warmup']} after {args.warmup}; "
              f"caches (entries, bound): questions {result['question_cache']}, stems {result['stem_cache']}")
        print("memory is flat" if result["flat"] else f"memory grows (limit {args.max_slope} MB per 1,000)")
    return 0 if result["flat"] else 1


if __name__ == "__main__":
    sys.exit(main())
