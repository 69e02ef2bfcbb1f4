"""SQuAD v1.1 dev, side by side: plain baselines, txtai, and qa's own pipeline, in one run.

    python bench/compare.py [--limit 1000] [--seed 0] [--file ../shared/data/squad-dev-v1.1.json]

Questions: the same sample as ``qa eval squad-dev-v1.1.json --limit 1000 --seed 0``
(``qa.evaluation.squad.load_squad`` + ``qa.evaluation.squad.sample``). Rows:

- dense: MiniLM (the bundled model) over the 2,067 paragraphs, FAISS flat inner product;
- BM25: bm25s (English stop words, Snowball stemming) over the paragraphs;
- RRF: reciprocal-rank fusion (k=60) of the two; its answer-in-quote column picks the
  sentence with the best cosine to the question among the top 3 paragraphs;
- txtai hybrid (only when txtai is importable, i.e. in the benchmark venv) with the same model;
- qa: ``qa.evaluation.evaluate.eval_squad`` over the 48 articles as 48 documents; the pipeline finds
  the paragraph itself, and it counts as right when the first citation starts inside the
  gold paragraph's span (@5: the cited paragraph, or a passage of the top 5 that is mostly the
  gold paragraph; see ``qa.evaluation.evaluate.is_paragraph``).

Columns: right paragraph @1 and @5, answer inside the picked sentence @1, median ms per question.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time

import numpy as np

from _common import CACHE, SQUAD_DEV, cached_encode, load_config, model_path, ROOT, txtai_available, txtai_hybrid

from qa import Pipeline
from qa.models.embedding import SentenceTransformerEmbedder
from qa.evaluation.evaluate import eval_squad
from qa.ingest.sentences import split_sentences
from qa.evaluation.squad import SEPARATOR, load_squad, sample

RRF_K = 60
DEPTH = 100  # how deep each ranked list goes into the fusion


@dataclasses.dataclass(frozen=True)
class Paragraph:
    doc_id: str
    start: int
    text: str


def paragraphs(path, docs: dict[str, str]) -> list[Paragraph]:
    """Every paragraph with its offset in its article document (as ``load_squad`` lays them out)."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    out = []
    for doc_id, art in zip(docs, data):
        pos = 0
        for para in art["paragraphs"]:
            ctx = para["context"]
            assert docs[doc_id][pos:pos + len(ctx)] == ctx
            out.append(Paragraph(doc_id, pos, ctx))
            pos += len(ctx) + len(SEPARATOR)
    return out


def rrf(*rankings: np.ndarray) -> np.ndarray:
    score: dict[int, float] = {}
    for ranking in rankings:
        for rank, i in enumerate(ranking):
            score[int(i)] = score.get(int(i), 0.0) + 1.0 / (RRF_K + rank + 1)
    return np.array(sorted(score, key=lambda i: -score[i]), dtype=np.int64)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--file", default=str(SQUAD_DEV))
    ap.add_argument("--limit", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-txtai", action="store_true")
    args = ap.parse_args()

    import bm25s
    import faiss
    import Stemmer
    import torch

    from pathlib import Path

    path = Path(args.file)
    docs, questions = load_squad(path)
    chosen = sample(questions, args.limit, seed=args.seed)
    paras = paragraphs(path, docs)
    index_of = {(p.doc_id, p.start): i for i, p in enumerate(paras)}
    gold = np.array([index_of[(q.doc_id, q.paragraph[0])] for q in chosen])
    qtexts = [q.question for q in chosen]
    print(f"{path.name}: {len(docs)} articles, {len(paras)} paragraphs, {len(chosen)} questions "
          f"(seed {args.seed}); torch threads {torch.get_num_threads()}", flush=True)

    cfg = load_config(ROOT / "qa.yaml")
    embedder = SentenceTransformerEmbedder(cfg.model, batch_size=cfg.batch_size, runtime=cfg.runtime)  # qa's own, for its row
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(model_path(cfg.model), device="cpu", local_files_only=True)  # the baselines'
    rows: dict[str, dict] = {}

    def report(name: str, ranks: list[np.ndarray], times: list[float], quote: float | None = None) -> None:
        r1 = float(np.mean([len(r) > 0 and r[0] == g for r, g in zip(ranks, gold)]))
        r5 = float(np.mean([g in r[:5] for r, g in zip(ranks, gold)]))
        rows[name] = {"p@1": r1, "p@5": r5, "quote@1": quote, "ms": 1000 * float(np.median(times))}
        print(f"  done: {name}", flush=True)

    # --- dense: paragraph vectors in a flat inner-product index
    pvecs = cached_encode(st, [p.text for p in paras], "paragraphs", cfg.batch_size)
    flat = faiss.IndexFlatIP(pvecs.shape[1])
    flat.add(pvecs)
    dense_ranks, dense_t, qvecs = [], [], []
    for q in qtexts:
        t = time.perf_counter()
        v = st.encode([q], normalize_embeddings=True, convert_to_numpy=True).astype(np.float32)
        _, ids = flat.search(v, DEPTH)
        dense_t.append(time.perf_counter() - t)
        dense_ranks.append(ids[0])
        qvecs.append(v[0])
    report("dense MiniLM + FAISS flat", dense_ranks, dense_t)

    # --- BM25 with bm25s over the same paragraphs
    stemmer = Stemmer.Stemmer("english")
    bm = bm25s.BM25()
    bm.index(bm25s.tokenize([p.text for p in paras], stopwords="en", stemmer=stemmer, show_progress=False),
             show_progress=False)
    bm_ranks, bm_t = [], []
    for q in qtexts:
        t = time.perf_counter()
        ids, _ = bm.retrieve(bm25s.tokenize([q], stopwords="en", stemmer=stemmer, show_progress=False),
                             k=DEPTH, show_progress=False)
        bm_t.append(time.perf_counter() - t)
        bm_ranks.append(ids[0])
    report("BM25 (bm25s)", bm_ranks, bm_t)

    # --- RRF of the two, plus the best-cosine sentence among the top 3 fused paragraphs
    sent_para, sent_span = [], []
    for i, p in enumerate(paras):
        for s, e in split_sentences(p.text):
            sent_para.append(i)
            sent_span.append((p.start + s, p.start + e))
    sent_para = np.array(sent_para)
    svecs = cached_encode(st, [docs[paras[i].doc_id][s:e] for i, (s, e) in zip(sent_para, sent_span)],
                          "sentences", cfg.batch_size)
    sents_of = [np.nonzero(sent_para == i)[0] for i in range(len(paras))]
    rrf_ranks, rrf_t, hits = [], [], 0
    for q, qv, d, b, g in zip(chosen, qvecs, dense_ranks, bm_ranks, gold):
        t = time.perf_counter()
        fused = rrf(d, b)
        cand = np.concatenate([sents_of[i] for i in fused[:3]])
        best = int(cand[np.argmax(svecs[cand] @ qv)])
        rrf_t.append(time.perf_counter() - t)
        rrf_ranks.append(fused)
        s, e = sent_span[best]
        hits += paras[sent_para[best]].doc_id == q.doc_id and any(s <= a0 and a1 <= e for a0, a1, _ in q.answers)
    # Its time is the dense and BM25 times (the question is encoded once) plus the fusion.
    report("RRF of the two (+ best sentence)", rrf_ranks,
           [a + b + c for a, b, c in zip(dense_t, bm_t, rrf_t)], hits / len(chosen))

    # --- txtai hybrid, same model, same paragraphs
    if txtai_available() and not args.no_txtai:
        t0 = time.perf_counter()
        tx = txtai_hybrid([p.text for p in paras], model_path(cfg.model), cfg.batch_size)
        print(f"  txtai index ready in {time.perf_counter() - t0:.0f}s", flush=True)
        tx.search(qtexts[0], 5)
        tx_ranks, tx_t = [], []
        for q in qtexts:
            t = time.perf_counter()
            res = tx.search(q, 5)
            tx_t.append(time.perf_counter() - t)
            tx_ranks.append(np.array([int(i) for i, _ in res], dtype=np.int64))
        import txtai

        report(f"txtai {getattr(txtai, '__version__', '')} hybrid, same model".replace("  ", " "), tx_ranks, tx_t)
    elif not args.no_txtai:
        print("  txtai not importable: run under the benchmark venv (docs/evaluation.md, Performance) for its row")

    # --- qa's own pipeline, exactly as `qa eval` measures it
    def make(corpus: Path, index: Path) -> Pipeline:
        return Pipeline(dataclasses.replace(cfg, corpus=corpus, index=index), embedder=embedder)

    workdir = CACHE / "squad"
    workdir.mkdir(parents=True, exist_ok=True)
    ours = eval_squad(path, args.limit, args.seed, make, workdir=workdir)
    rows["qa (this project), 48 articles"] = {
        "p@1": ours["paragraph_recall_at_1"], "p@5": ours["paragraph_recall_at_5"],
        "quote@1": ours["answer_in_quote_at_1"], "ms": ours["p50_ms"]}
    extra = {k: ours[k] for k in ("answer_in_span_at_1", "exact_match", "f1", "abstained", "citations_exact")}

    print(f"\n{'method':40s}{'para@1':>8s}{'para@5':>8s}{'quote@1':>9s}{'ms/q p50':>10s}")
    for name, r in rows.items():
        quote = "" if r["quote@1"] is None else f"{r['quote@1']:.3f}"
        print(f"{name:40s}{r['p@1']:8.3f}{r['p@5']:8.3f}{quote:>9s}{r['ms']:10.2f}")
    print(f"qa also: {extra}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
