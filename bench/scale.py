"""Scale-out benchmarks: the milvus backend against faiss, vector search on realistic vectors, Ray throughput.

    python bench/scale.py answers --limit 1000     # seeds + SQuAD dev: same answers on faiss and milvus-lite
    python bench/scale.py vectors --n 1000000      # HNSW (faiss) and milvus-lite on vectors like sentence embeddings
    python bench/scale.py ray --passages 2000      # qa index --ray (2 workers) against one process's raw encode

``answers`` builds the milvus-lite collections from the faiss build's own sentence vectors (looked
up by text: nothing is embedded twice), then asks every question of both backends. ``vectors``
makes ``--n`` vectors from real sentence vectors (the SQuAD dev build's) plus small Gaussian noise,
renormalised, so they cluster as sentence embeddings do; queries are other real sentences' vectors
with noise. Each prints its figures as JSON lines.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import yaml

from _common import ROOT, SQUAD_DEV, stats_ms

from qa import Pipeline
from qa.config import StoreConfig, load_config
from qa.evaluation.evaluate import citations_exact
from qa.evaluation.squad import load_squad, sample, write_corpus
from qa.index.store import load_index
from qa.models.embedding import SentenceTransformerEmbedder


class LookupEmbedder:
    """Vectors of sentences already in a faiss build, by text; anything else from the real model."""

    def __init__(self, index, fallback):
        self.fallback = fallback
        self.rows = {index.sentence_text(r): int(index.vectors.row_vector[r]) for r in range(len(index.sent_doc))}
        self.vectors = index.vectors.distinct
        self.looked_up = self.embedded = 0

    @property
    def dimension(self) -> int:
        return int(self.vectors.shape[1])

    def embed(self, texts):
        out = np.zeros((len(texts), self.dimension), np.float32)
        miss = [i for i, t in enumerate(texts) if t not in self.rows]
        for i, t in enumerate(texts):
            if t in self.rows:
                out[i] = self.vectors[self.rows[t]]
        if miss:
            out[miss] = self.fallback.embed([texts[i] for i in miss])
        self.looked_up += len(texts) - len(miss)
        self.embedded += len(miss)
        return out


def _pair(config, embedder, work: Path) -> tuple[Pipeline, Pipeline]:
    faiss = Pipeline(config, embedder=embedder)
    faiss.ensure_index(progress=True)
    store = StoreConfig(kind="milvus", uri=str(work / "milvus.db"), collection="bench")
    milvus = Pipeline(dataclasses.replace(config, store=store), embedder=embedder)
    lookup = LookupEmbedder(load_index(config, check=False), embedder)
    t = time.perf_counter()
    milvus._embedder = lookup
    milvus.build_index(progress=True, rebuild=True)
    milvus._embedder = embedder
    print(json.dumps({"milvus_build_s": round(time.perf_counter() - t, 1), "vectors_reused": lookup.looked_up,
                      "embedded": lookup.embedded}), flush=True)
    return faiss, milvus


def _same(a, b) -> bool:
    return (a.abstained, a.answer) == (b.abstained, b.answer)


def answers(args) -> None:
    embedder = SentenceTransformerEmbedder()
    base = load_config(ROOT / "qa.yaml")
    work = Path(args.workdir)
    # Seeds: every question of the eval set, both splits.
    seeds_cfg = dataclasses.replace(base, index=work / "seeds-index")
    faiss, milvus = _pair(seeds_cfg, embedder, work / "seeds")
    qs = [q["question"] for q in yaml.safe_load((ROOT / "eval" / "seed_questions.yaml").read_text("utf-8"))["questions"]]
    same = sum(_same(faiss.ask(q), milvus.ask(q)) for q in qs)
    print(json.dumps({"set": "seed questions", "questions": len(qs), "same_answer": round(same / len(qs), 4)}), flush=True)
    # SQuAD dev: the corpus qa eval writes, the questions it samples.
    docs, questions = load_squad(SQUAD_DEV)
    chosen = sample(questions, args.limit, seed=args.seed)
    write_corpus(docs, work / "squad" / "corpus")
    cfg = dataclasses.replace(base, corpus=work / "squad" / "corpus", index=work / "squad" / "index")
    faiss, milvus = _pair(cfg, embedder, work / "squad")
    out = {"faiss": {"para1": 0, "exact": 0, "answered": 0, "ms": []}, "milvus": {"para1": 0, "exact": 0, "answered": 0, "ms": []}}
    same = 0
    for q in chosen:
        got = {}
        for name, p in (("faiss", faiss), ("milvus", milvus)):
            t = time.perf_counter()
            a = got[name] = p.ask(q.question)
            out[name]["ms"].append(time.perf_counter() - t)
            ps, pe = q.paragraph
            if a.abstained:
                out[name]["para1"] += bool(a.passages) and a.passages[0].source == q.doc_id and ps <= a.passages[0].start < pe
            else:
                c = a.citations[0]
                out[name]["para1"] += c.source == q.doc_id and ps <= c.start < pe
                out[name]["exact"] += citations_exact(p, a)
                out[name]["answered"] += 1
        same += _same(got["faiss"], got["milvus"])
    n = len(chosen)
    print(json.dumps({"set": f"SQuAD v1.1 dev, {n} questions, seed {args.seed}", "same_answer": round(same / n, 4),
                      **{f"{k}_para_at_1": round(v["para1"] / n, 4) for k, v in out.items()},
                      **{f"{k}_citations_exact": round(v["exact"] / max(v["answered"], 1), 4) for k, v in out.items()},
                      **{f"{k}_p50_ms": round(stats_ms(v["ms"])["p50"], 1) for k, v in out.items()}}), flush=True)


def realistic_vectors(n: int, base: np.ndarray, noise: float, rng) -> np.ndarray:
    """``n`` vectors: rows of ``base`` (real sentence vectors) plus Gaussian noise of ``noise`` per unit length."""
    d = base.shape[1]
    out = np.empty((n, d), np.float32)
    for a in range(0, n, 100_000):
        b = min(n, a + 100_000)
        v = base[rng.integers(0, len(base), b - a)] + rng.normal(0, noise / np.sqrt(d), (b - a, d)).astype(np.float32)
        out[a:b] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def vectors(args) -> None:
    import faiss

    faiss.omp_set_num_threads(args.threads)
    base_cfg = load_config(ROOT / "qa.yaml")
    idx = load_index(dataclasses.replace(base_cfg, corpus=Path(args.squad_work) / "corpus",
                                         index=Path(args.squad_work) / "index"), check=False)
    real = np.asarray(idx.vectors.distinct, np.float32)
    rng = np.random.default_rng(0)
    held = rng.permutation(len(real))
    queries_from, base = real[held[:args.queries]], real[held[args.queries:]]
    data = realistic_vectors(args.n, base, args.noise, rng)
    queries = realistic_vectors(args.queries, queries_from, args.noise, rng)
    truth = np.argsort(-(queries @ data.T), axis=1)[:, :10]
    t = time.perf_counter()
    index = faiss.IndexHNSWFlat(data.shape[1], args.m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = args.ef_construction
    index.add(data)
    build = time.perf_counter() - t
    faiss.omp_set_num_threads(1)
    for ef in args.ef_search:
        index.hnsw.efSearch = ef
        times, hits = [], 0
        for i, q in enumerate(queries):
            t = time.perf_counter()
            _, ids = index.search(q[None, :], 10)
            times.append(time.perf_counter() - t)
            hits += len(set(ids[0].tolist()) & set(truth[i].tolist()))
        print(json.dumps({"engine": "faiss HNSW", "n": args.n, "m": args.m, "ef_construction": args.ef_construction,
                          "ef_search": ef, "build_s": round(build, 1), "recall_at_10": round(hits / (10 * len(queries)), 4),
                          **_ms(times)}), flush=True)
    if args.milvus:
        _milvus_vectors(args, data, queries, truth)


def _milvus_vectors(args, data: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> None:
    from pymilvus import DataType, MilvusClient

    path = Path(args.workdir) / "vectors.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    client = MilvusClient(str(path))
    s = client.create_schema(auto_id=False)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("vec", DataType.FLOAT_VECTOR, dim=data.shape[1])
    ip = client.prepare_index_params()
    ip.add_index("vec", index_type="IVF_FLAT", metric_type="IP", params={"nlist": args.nlist})
    if client.has_collection("v"):
        client.drop_collection("v")
    t = time.perf_counter()
    client.create_collection("v", schema=s, index_params=ip)
    for a in range(0, len(data), 5000):
        client.insert("v", [{"id": a + i, "vec": v.tolist()} for i, v in enumerate(data[a:a + 5000])])
    client.flush("v")
    build = time.perf_counter() - t
    times, hits = [], 0
    for i, q in enumerate(queries):
        t = time.perf_counter()
        got = client.search("v", data=[q.tolist()], anns_field="vec", limit=10,
                            search_params={"metric_type": "IP", "params": {"nprobe": args.nprobe}})
        times.append(time.perf_counter() - t)
        hits += len({h["id"] for h in got[0]} & set(truth[i].tolist()))
    print(json.dumps({"engine": "milvus-lite 2.5.1 IVF_FLAT", "n": len(data), "nlist": args.nlist, "nprobe": args.nprobe,
                      "build_s": round(build, 1), "recall_at_10": round(hits / (10 * len(queries)), 4),
                      **_ms(times)}), flush=True)


def _ms(times: list[float]) -> dict:
    s = stats_ms(times)
    return {"p50_ms": round(s["p50"], 3), "p95_ms": round(s["p95"], 3)}


def ray_throughput(args) -> None:
    """``qa index --ray`` with ``--workers`` local actors against one process's raw encode of the same sentences."""
    from qa.index.build import sentence_table
    from qa.ingest.chunking import chunk_document
    from qa.ingest.corpus import load_corpus

    docs, _ = load_squad(SQUAD_DEV)
    work = Path(args.workdir) / "ray"
    shutil.rmtree(work, ignore_errors=True)
    paragraphs = {}
    for doc_id, text in docs.items():
        for i, par in enumerate(text.split("\n\n")):
            if len(paragraphs) < args.passages:
                paragraphs[f"{Path(doc_id).stem}-{i:03d}.txt"] = par
    write_corpus(paragraphs, work / "corpus")
    base = load_config(ROOT / "qa.yaml")
    cfg = dataclasses.replace(base, corpus=work / "corpus", index=work / "index",
                              embedding=dataclasses.replace(base.embedding, engine="ray", workers=args.workers))
    corpus = load_corpus(cfg.corpus)
    texts = sorted({d.text[s:e] for d in corpus for s, e in
                    sentence_table([d], [chunk_document(d, cfg.chunking.size, cfg.chunking.overlap)]).sent_span.tolist()},
                   key=len, reverse=True)
    p = Pipeline(cfg)
    t = time.perf_counter()
    report = p.build_index(progress=True)
    ray_s = time.perf_counter() - t
    emb = SentenceTransformerEmbedder(base.model, batch_size=base.batch_size, runtime=base.runtime)
    emb.embed(["warm up"])
    t = time.perf_counter()
    for a in range(0, len(texts), 256):
        emb.embed(texts[a:a + 256])
    raw_s = time.perf_counter() - t
    print(json.dumps({"passages": len(paragraphs), "sentences": report.sentences, "distinct": len(texts),
                      "ray_workers": args.workers, "ray_index_s": round(ray_s, 1),
                      "ray_sentences_per_s": round(report.embedded / ray_s, 1), "raw_encode_s": round(raw_s, 1),
                      "raw_sentences_per_s": round(len(texts) / raw_s, 1),
                      "ratio": round((report.embedded / ray_s) / (len(texts) / raw_s), 3)}), flush=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default=str(ROOT / ".cache" / "bench" / "scale"))
    sub = ap.add_subparsers(dest="what", required=True)
    a = sub.add_parser("answers")
    a.add_argument("--limit", type=int, default=1000)
    a.add_argument("--seed", type=int, default=0)
    v = sub.add_parser("vectors")
    v.add_argument("--n", type=int, default=1_000_000)
    v.add_argument("--queries", type=int, default=200)
    v.add_argument("--noise", type=float, default=0.3, help="noise norm relative to the unit vector")
    v.add_argument("--m", type=int, default=32)
    v.add_argument("--ef-construction", type=int, default=40)
    v.add_argument("--ef-search", type=lambda s: [int(x) for x in s.split(",")], default=[128])
    v.add_argument("--threads", type=int, default=2)
    v.add_argument("--squad-work", default=str(ROOT / ".cache" / "bench" / "scale" / "squad"),
                   help="a SQuAD dev workdir whose faiss build gives the real vectors (made by `answers`)")
    v.add_argument("--milvus", action="store_true")
    v.add_argument("--nlist", type=int, default=1024)
    v.add_argument("--nprobe", type=int, default=32)
    r = sub.add_parser("ray")
    r.add_argument("--passages", type=int, default=2000)
    r.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    {"answers": answers, "vectors": vectors, "ray": ray_throughput}[args.what](args)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
