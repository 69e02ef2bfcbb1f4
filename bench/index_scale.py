"""Index build at scale through the real ``qa index`` path, against the model's raw encode speed.

    python bench/index_scale.py [--passages 20000] [--workdir .cache/index_scale] [--batch-size 32]

Writes a corpus of ``--passages`` SQuAD paragraphs (train, then dev: 20,963 distinct
paragraphs, one document per article, paragraphs separated by blank lines; beyond that,
articles repeat with a "Copy k." prefix per paragraph so no document is byte-identical),
runs ``qa index --rebuild --json`` on it in a child process with the bundled model and
prints passages/s, sentences/s, seconds and the child's peak memory (ru_maxrss). Then,
in the same run, it encodes the very sentence texts the index embedded (qa embeds each
sentence once; passage vectors are means) with a bare ``SentenceTransformer.encode`` at
the same batch size, and prints index throughput / raw throughput (target >= 0.9).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT.parent / "shared" / "data"
SOURCES = ("squad-train-v1.1.reconstructed.json", "squad-dev-v1.1.json")


def write_corpus(folder: Path, passages: int) -> tuple[int, int]:
    """Write ``passages`` paragraphs as article documents; returns (documents, characters)."""
    articles = []
    for name in SOURCES:
        data = json.loads((DATA / name).read_text(encoding="utf-8"))["data"]
        articles += [(a["title"], [p["context"] for p in a["paragraphs"]]) for a in data]
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.txt"):
        old.unlink()
    left, docs, chars, copy = passages, 0, 0, 0
    while left > 0:
        for i, (title, paras) in enumerate(articles):
            if left <= 0:
                break
            paras = paras[:left]
            if copy:
                paras = [f"Copy {copy + 1}. {p}" for p in paras]
            text = "\n\n".join(paras)
            slug = "".join(c if c.isalnum() else "_" for c in title)[:50]
            (folder / f"c{copy}_{i:03d}_{slug}.txt").write_text(text, encoding="utf-8")
            left -= len(paras)
            docs += 1
            chars += len(text)
        copy += 1
    return docs, chars


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--passages", type=int, default=20000, help="SQuAD paragraphs to index")
    ap.add_argument("--workdir", default=str(ROOT / ".cache" / "index_scale"))
    ap.add_argument("--batch-size", type=int, default=32, help="encode batch size (qa.yaml batch_size)")
    ap.add_argument("--no-raw", action="store_true", help="skip the raw encode comparison")
    ap.add_argument("--raw-sample", type=int, default=None,
                    help="encode a random sample of this many of the indexed sentences (default: all)")
    args = ap.parse_args()

    work = Path(args.workdir)
    corpus, index = work / f"corpus-{args.passages}", work / f"index-{args.passages}"
    t = time.perf_counter()
    n_docs, n_chars = write_corpus(corpus, args.passages)
    cfg_path = work / f"qa-{args.passages}.yaml"
    cfg_path.write_text(f"corpus: {corpus}\nindex: {index}\nbatch_size: {args.batch_size}\n", encoding="utf-8")
    print(f"corpus: {args.passages:,} passages in {n_docs} documents ({n_chars / 1e6:.1f} M chars), "
          f"written in {time.perf_counter() - t:.1f} s", flush=True)

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "qa.cli", "--config", str(cfg_path), "index", "--rebuild", "--json"]
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(f"qa index failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_mb, child_cpu = child.ru_maxrss / 1024, child.ru_utime + child.ru_stime
    secs = report["seconds"]
    print(f"qa index: {report['chunks']:,} chunks, {report['sentences']:,} sentences embedded once; "
          f"build {secs:.1f} s (process {wall:.1f} s incl. imports; {child_cpu:.1f} CPU-s), "
          f"peak RSS {peak_mb:,.0f} MB", flush=True)
    print(f"  {args.passages / secs:,.1f} passages/s, {report['chunks'] / secs:,.1f} chunks/s, "
          f"{report['sentences'] / secs:,.1f} sentences/s", flush=True)
    figures = {"passages": args.passages, "documents": n_docs, "chunks": report["chunks"],
               "sentences": report["sentences"], "index_seconds": secs, "process_seconds": round(wall, 1),
               "passages_per_s": round(args.passages / secs, 2), "sentences_per_s": round(report["sentences"] / secs, 2),
               "peak_rss_mb": round(peak_mb), "index_cpu_seconds": round(child_cpu, 1)}

    if not args.no_raw:
        from qa.config import load_config
        from qa.models.base import resolve_model
        from qa.index.store import load_index
        from sentence_transformers import SentenceTransformer

        cfg = load_config(cfg_path)
        idx = load_index(cfg)
        texts = [idx.sentence_text(r) for r in range(len(idx.sent_doc))]
        if args.raw_sample and args.raw_sample < len(texts):
            import random

            texts = random.Random(0).sample(texts, args.raw_sample)
        figures["vector_index"] = idx.manifest.get("vectors")
        del idx
        model = SentenceTransformer(resolve_model(cfg.model), device="cpu")
        model.encode(["warm up"])
        t, c = time.perf_counter(), time.process_time()
        model.encode(texts, batch_size=args.batch_size, normalize_embeddings=True, convert_to_numpy=True,
                     show_progress_bar=False)
        raw, raw_cpu = time.perf_counter() - t, time.process_time() - c
        # CPU seconds per sentence are steadier than wall time on a shared machine; the index
        # side counts its whole process (imports and model load included), so it is pessimistic.
        cpu_ratio = (raw_cpu / len(texts)) / (child_cpu / report["sentences"])
        ratio = (report["sentences"] / secs) / (len(texts) / raw)
        print(f"raw encode of {'a sample of ' if args.raw_sample else ''}the same {len(texts):,} sentences (batch {args.batch_size}): {raw:.1f} s, "
              f"{len(texts) / raw:,.1f} sentences/s", flush=True)
        print(f"index build throughput / raw encode throughput = {ratio:.3f} wall, {cpu_ratio:.3f} CPU time "
              f"(raw {raw_cpu:.1f} CPU-s; target >= 0.9)", flush=True)
        figures.update(raw_sentences=len(texts), raw_seconds=round(raw, 1), raw_sentences_per_s=round(len(texts) / raw, 2),
                       raw_cpu_seconds=round(raw_cpu, 1), cpu_ratio=round(cpu_ratio, 3),
                       ratio=round(ratio, 3))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
