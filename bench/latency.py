"""Query latency: ``Pipeline.ask`` against one bare ``SentenceTransformer.encode([question])``.

    python bench/latency.py                 # seed corpus (qa.yaml), its 103 eval questions
    python bench/latency.py --squad         # SQuAD v1.1 dev: 48 articles as 48 documents, 200 questions

Both are timed in the same process, interleaved question by question in a
random order per repeat, after a warm-up, so a busy shared machine slows both
alike; the figure that matters is the ratio of medians (target <= 1.5x). When
txtai is importable (the benchmark venv), its hybrid search over the same
passages (the chunks of our index) with the same model is timed in the same
loop, and so is qa's own embedder on its own (``embedder.embed([question])``). Then the time ``ask`` spends beyond the encode is broken down by stage
(question embedding cached, so only retrieval and answering remain) and the
hottest functions of that remainder are listed with cProfile.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import random
import time

import numpy as np
import yaml

from _common import ROOT, SQUAD_DEV, model_path, seed_pipeline, squad_pipeline, stats_ms, txtai_available, txtai_hybrid

from qa.text.words import tokenize
from qa.text.chars import clean_text
from qa.evaluation.squad import sample


def seed_questions() -> list[str]:
    data = yaml.safe_load((ROOT / "eval" / "seed_questions.yaml").read_text(encoding="utf-8"))
    return [q["question"] for q in data["questions"]] + [q["question"] for q in data.get("off_topic", [])]


def timed_loop(arms: dict, questions: list[str], repeats: int, rng: random.Random) -> dict[str, list[float]]:
    """Run every arm on every question, ``repeats`` times, in a shuffled order per question."""
    times: dict[str, list[float]] = {name: [] for name in arms}
    for _ in range(repeats):
        for q in questions:
            names = list(arms)
            rng.shuffle(names)
            for name in names:
                t = time.perf_counter()
                arms[name](q)
                times[name].append(time.perf_counter() - t)
    return times


def stage_breakdown(p, questions: list[str]) -> dict[str, float]:
    """Median ms of each stage of ``ask`` with the question vector already cached."""
    retriever, answerer, idx = p._retriever, p._answerer, p.index
    k = p.config.retrieval.candidates
    parts: dict[str, list[float]] = {s: [] for s in (
        "clean_text", "tokenize", "bm25 chunks", "bm25 sentences", "faiss search", "retrieve (total)",
        "answer", "ask (total, cached vector)", "to_dict")}

    def clock(name, fn):
        t = time.perf_counter()
        out = fn()
        parts[name].append(time.perf_counter() - t)
        return out

    for q in questions:
        qc = clean_text(q, "question", 10_000)
        qvec = p.embed_question(qc)
        clock("clean_text", lambda: clean_text(q, "question", 10_000))
        toks = clock("tokenize", lambda: tokenize(qc))
        if toks:
            clock("bm25 chunks", lambda: idx.bm25_chunks.scores(toks))
            clock("bm25 sentences", lambda: idx.bm25_sentences.scores(toks))
        clock("faiss search", lambda: retriever.dense_sentences(qvec, 2 * k))
        r = clock("retrieve (total)", lambda: retriever.retrieve(qc, qvec, top_k=p.config.top_k))
        clock("answer", lambda: answerer.answer(r))
        ans = clock("ask (total, cached vector)", lambda: p.ask(q))
        clock("to_dict", lambda: json.dumps(ans.to_dict()))
    return {name: 1000 * float(np.median(v)) for name, v in parts.items() if v}


def hot_spots(p, questions: list[str], top: int = 14) -> str:
    for q in questions:  # cache every vector: the profile shows what is left beyond the encode
        p.ask(q)
    prof = cProfile.Profile()
    prof.enable()
    for q in questions:
        p.ask(q)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    lines = out.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("ncalls"))
    return "\n".join(lines[start - 4:start + top + 1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--squad", nargs="?", const=str(SQUAD_DEV), default=None, metavar="FILE",
                    help="SQuAD-format corpus instead of the seeds (default file: %(const)s)")
    ap.add_argument("--questions", type=int, default=200, help="SQuAD questions sampled with --seed")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-txtai", action="store_true")
    args = ap.parse_args()

    import torch

    if args.squad:
        p, gold = squad_pipeline(args.squad)
        questions = [q.question for q in sample(gold, args.questions, seed=args.seed)]
        corpus = f"SQuAD dev ({len(p.index.doc_ids)} articles)"
    else:
        p = seed_pipeline()
        questions = seed_questions()
        corpus = f"seed corpus ({len(p.index.doc_ids)} documents)"
    idx = p.index
    from sentence_transformers import SentenceTransformer

    # The baseline is the library call itself, on the same model folder; qa's embedder may run the
    # same model without sentence-transformers (qa.models.embedding), which its own arm shows.
    st = SentenceTransformer(model_path(p.config.model), device="cpu", local_files_only=True)

    def ask(q: str) -> None:
        p._qcache.clear()  # no cached vector: every timed ask encodes its question
        p.ask(q)

    arms = {"bare encode": lambda q: st.encode([q]), "Pipeline.ask": ask,
            "qa embedder.embed": lambda q: p.embedder.embed([q])}
    if txtai_available() and not args.no_txtai:
        chunks = [idx.chunk_text(i) for i in range(len(idx.chunk_ids))]
        t = time.perf_counter()
        tx = txtai_hybrid(chunks, model_path(p.config.model))
        print(f"txtai hybrid index over the same {len(chunks)} passages ready in {time.perf_counter() - t:.1f}s")
        arms["txtai hybrid search"] = lambda q: tx.search(q, p.config.top_k)
    elif not args.no_txtai:
        print("txtai not importable: run under the benchmark venv (see docs/evaluation.md, Performance) to compare")

    rng = random.Random(args.seed)
    timed_loop(arms, questions[:10], 1, rng)  # warm-up
    times = timed_loop(arms, questions, args.repeats, rng)
    s = {name: stats_ms(v) for name, v in times.items()}
    base = s["bare encode"]
    print(f"\n{corpus}: {len(idx.chunk_ids)} passages, {len(idx.sent_doc)} sentences; "
          f"{len(questions)} questions x {args.repeats} repeats, interleaved; torch threads {torch.get_num_threads()}")
    print(f"{'':22s}{'p50 ms':>9s}{'p95 ms':>9s}{'mean ms':>9s}{'p50/encode p50':>16s}{'p95/encode p95':>16s}")
    for name, v in s.items():
        print(f"{name:22s}{v['p50']:9.2f}{v['p95']:9.2f}{v['mean']:9.2f}"
              f"{v['p50'] / base['p50']:15.2f}x{v['p95'] / base['p95']:15.2f}x")
    paired = np.asarray(times["Pipeline.ask"]) / np.asarray(times["bare encode"])
    verdict = "meets" if s["Pipeline.ask"]["p50"] <= 1.5 * base["p50"] else "MISSES"
    print(f"Pipeline.ask / bare encode: ratio of medians {s['Pipeline.ask']['p50'] / base['p50']:.2f}x "
          f"({verdict} the 1.5x target); median of per-question ratios {np.median(paired):.2f}x")
    if "txtai hybrid search" in s:
        ratio = s["Pipeline.ask"]["p50"] / s["txtai hybrid search"]["p50"]
        print(f"Pipeline.ask / txtai hybrid search: {ratio:.2f}x ({'no slower' if ratio <= 1 else 'SLOWER'})")

    print("\nWhere ask spends its time beyond the encode (median ms per question, vector cached):")
    for name, ms in stage_breakdown(p, questions).items():
        print(f"  {name:28s}{ms:8.3f}")
    print("\nHot spots of ask beyond the encode (cProfile, vector cached, by own time):")
    print(hot_spots(p, questions))


if __name__ == "__main__":
    main()
