"""Vector search at scale: the configured large index over random 384-d unit vectors.

    python bench/vector_scale.py [--n 1000000] [--queries 1000] [--config qa.yaml]
                                 [--ef-search 128,256]   # sweep query-time breadth after one build

Builds the index :func:`qa.index.vectors.plan` picks for ``n`` vectors with the ``vectors:``
settings of the config (HNSW above ``exact_below``), then answers top-10 for random
queries one at a time (not batched) and prints the median/p95 milliseconds per
query, recall@10 against exact search (FAISS flat inner product, batched), build
time and memory. Data and queries are i.i.d. Gaussian vectors normalised to the unit
sphere: the hard case for graph indexes, because nothing clusters.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa.index import vectors  # noqa: E402
from qa.config import load_config  # noqa: E402


def unit_vectors(rng: np.random.Generator, n: int, dim: int, block: int = 100_000) -> np.ndarray:
    out = np.empty((n, dim), dtype=np.float32)
    for i in range(0, n, block):
        part = rng.standard_normal((min(block, n - i), dim), dtype=np.float32)
        part /= np.linalg.norm(part, axis=1, keepdims=True)
        out[i:i + len(part)] = part
    return out


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="vectors in the index")
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--queries", type=int, default=1000, help="single queries timed")
    ap.add_argument("--exact-queries", type=int, default=1000, help="queries whose recall is checked")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--config", default=str(ROOT / "qa.yaml"), help="qa.yaml whose vectors: settings are used")
    ap.add_argument("--ef-search", default=None, help="comma-separated efSearch values to sweep "
                    "(default: the configured vectors.ef_search)")
    ap.add_argument("--threads", type=int, default=None, help="FAISS threads for the build (default: all cores; "
                    "single queries always run on one, see qa.index.vectors.search)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="also print one JSON line per setting")
    args = ap.parse_args()

    import faiss

    if args.threads:
        faiss.omp_set_num_threads(args.threads)
    settings = load_config(args.config).vectors
    spec = vectors.plan(settings, args.n)
    rng = np.random.default_rng(args.seed)
    t = time.perf_counter()
    data = unit_vectors(rng, args.n, args.dim)
    queries = unit_vectors(rng, args.queries, args.dim)
    print(f"data: {args.n:,} x {args.dim} random unit vectors ({data.nbytes / 2**20:.0f} MB) "
          f"in {time.perf_counter() - t:.1f} s; index: {spec.to_dict()}", flush=True)

    rss0 = rss_mb()
    t = time.perf_counter()
    index = vectors.build(data, spec, settings.ef_search)
    build_s = time.perf_counter() - t
    rss1 = rss_mb()
    print(f"build: {build_s:.1f} s ({args.n / build_s:,.0f} vectors/s); memory: index adds "
          f"{rss1 - rss0:,.0f} MB RSS (vectors alone {data.nbytes / 2**20:,.0f} MB), "
          f"process peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB", flush=True)

    m = min(args.exact_queries, args.queries)
    t = time.perf_counter()
    exact = faiss.IndexFlatIP(args.dim)
    exact.add(data)
    _, truth = exact.search(queries[:m], args.k)
    del exact
    print(f"exact top-{args.k} of {m} queries (batched brute force): {time.perf_counter() - t:.1f} s", flush=True)

    efs = [int(x) for x in args.ef_search.split(",")] if args.ef_search else [settings.ef_search]
    for ef in efs:
        vectors.set_ef_search(index, ef)
        times, found = [], np.empty((args.queries, args.k), dtype=np.int64)
        for i in range(args.queries):
            q = queries[i:i + 1]
            t = time.perf_counter()
            _, rows = vectors.search(index, q, args.k)
            times.append(time.perf_counter() - t)
            found[i] = rows[0]
        recall = float(np.mean([len(set(found[i]) & set(truth[i])) / args.k for i in range(m)]))
        ms = np.array(times) * 1000
        row = {"n": args.n, "index": spec.to_dict(), "ef_search": ef, "median_ms": round(float(np.median(ms)), 3),
               "p95_ms": round(float(np.percentile(ms, 95)), 3), f"recall@{args.k}": round(recall, 4),
               "build_s": round(build_s, 1), "index_mb": round(rss1 - rss0), "queries": args.queries}
        print(f"ef_search={ef}: median {row['median_ms']:.2f} ms, p95 {row['p95_ms']:.2f} ms per query, "
              f"recall@{args.k} {recall:.4f} (over {m} queries)", flush=True)
        if args.json:
            print(json.dumps(row))


if __name__ == "__main__":
    main()
