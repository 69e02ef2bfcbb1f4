"""The targets of issue 24 ("Hardening"), measured on a 49.9 MB file of 800k sentences (2,000 distinct).

    python bench/hardening.py                     # index, serve, quotes alone, quotes 4 at once with /api/health
    python bench/hardening.py --mb 10 --seconds 20 --json
    python bench/hardening.py --skip-index        # reuse the index in --workdir

1. Writes ``--workdir``/corpus/big.txt: ``--distinct`` sentences ("The canal museum of Railway
   listed 11109 tea crates in 1894.") drawn at random, eight to a paragraph, up to ``--mb`` MB.
2. ``qa index --json`` on it in a child process (the real model): seconds, the peak RSS it reports and
   the child's ru_maxrss, the index folder's size on disk. Targets: peak RSS <= 2 GB, disk <= 500 MB.
3. ``qa serve`` on a free loopback port (the real model and reader, as shipped): RSS once it answers,
   and again after the load below. Target <= 1 GB.
4. Every quote of QUOTES (hostile ones from the probe, verbatim ones from one word to the 2,000
   characters of ``limits.max_question_chars``, edited and unrelated ones) through ``POST /api/check``,
   one at a time, ``--rounds`` times: the slowest (p100). Target <= 2 s.
5. Four clients sending those quotes for ``--seconds`` while a fifth asks ``GET /api/health`` every
   50 ms: health p50/p95/max (target p95 < 100 ms) and the quotes' p100 under that load.

Prints a table (or ``--json``) and exits 1 when a target is missed. Figures are what was measured,
never rounded towards a target.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.load import free_port, rss_mb  # noqa: E402

WORDS = ("harbour ledger quarnix zorblax festival bridge market treaty merchant river council tower garden "
         "village archive museum railway canal orchard mill harvest lantern beacon ferry granary foundry "
         "quarry vineyard abbey castle fortress temple shrine plaza avenue meadow forest valley summit").split()
VERBS = "recorded shipped counted stored listed moved sold carried weighed repaired painted built".split()
TARGETS = {"index_peak_rss_mb": 2000, "index_disk_mb": 500, "serve_rss_mb": 1000, "quote_p100_s": 2.0,
           "health_p95_ms": 100}


def sentences(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct sentences of about 62 characters."""
    rng = random.Random(seed)
    out: set[str] = set()
    while len(out) < n:
        out.add(f"The {rng.choice(WORDS)} {rng.choice(WORDS)} of {rng.choice(WORDS).title()} "
                f"{rng.choice(VERBS)} {rng.randrange(10, 99999)} tea crates in {rng.randrange(1800, 2025)}.")
    return sorted(out)


def write_corpus(path: Path, mb: float, distinct: int, seed: int = 0) -> tuple[int, int]:
    """The file: paragraphs of eight random sentences up to ``mb`` MB; returns (bytes, sentences)."""
    pool = sentences(distinct, seed)
    rng = random.Random(seed + 1)
    limit = int(mb * 1_000_000)
    parts, size, count = [], 0, 0
    while True:
        para = " ".join(rng.choice(pool) for _ in range(8)) + "\n\n"
        if size + len(para) > limit:
            break
        parts.append(para)
        size += len(para)
        count += 8
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(parts), encoding="utf-8")
    return size, count


def quotes(text: str, limit: int, seed: int = 0) -> dict[str, str]:
    """The probe's hostile quotes and real ones from ``text``, none over ``limit`` characters."""
    rng = random.Random(seed)
    a = text.index("\n\n", len(text) // 3) + 2
    passage = " ".join(text[a:a + limit + 200].split())[:limit].rsplit(" ", 1)[0]
    words = passage.split()
    edited = " ".join(w if i % 9 else w[::-1] for i, w in enumerate(words))
    return {
        "é x 2000": "é" * limit,
        "a x 2000": "a" * limit,
        "e+U+0301 x 1000": "e\u0301" * (limit // 2),
        "one word, verbatim": words[5],
        "two words, verbatim": " ".join(words[3:5]),
        "one sentence, verbatim": text[a:text.index(".", a) + 1],
        "2,000 chars, verbatim": passage,
        "2,000 chars, every 9th word reversed": edited,
        "2,000 chars of corpus words, shuffled": " ".join(rng.sample(words, len(words)))[:limit].rsplit(" ", 1)[0],
        "a misspelt phrase": "The harbour ledgre of Museum sold",
        "stop words only": "to be or not to be, that is the question",
        "unrelated text": "Bananas ripen faster in a paper bag next to apples and pears.",
        "the letter e": "e",
    }


def post(port: int, path: str, body: dict | None = None, timeout: float = 120) -> tuple[int, float, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    t0 = time.perf_counter()
    try:
        if body is None:
            conn.request("GET", path)
        else:
            conn.request("POST", path, json.dumps(body).encode(), {"Content-Type": "application/json"})
        r = conn.getresponse()
        data = r.read()
        return r.status, time.perf_counter() - t0, json.loads(data)
    finally:
        conn.close()


def pct(values: list[float], p: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))] if v else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=49.9)
    ap.add_argument("--distinct", type=int, default=2000)
    ap.add_argument("--workdir", type=Path, default=ROOT / ".cache" / "hardening")
    ap.add_argument("--skip-index", action="store_true", help="reuse the corpus and index in --workdir")
    ap.add_argument("--rounds", type=int, default=3, help="times each quote is sent alone")
    ap.add_argument("--seconds", type=float, default=30, help="length of the 4-client run")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    work = args.workdir.resolve()
    corpus, cfg = work / "corpus" / "big.txt", work / "qa.yaml"
    figures: dict = {"mb": args.mb, "distinct": args.distinct}
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    if not args.skip_index:
        size, count = write_corpus(corpus, args.mb, args.distinct)
        figures.update(corpus_bytes=size, corpus_sentences=count)
        cfg.write_text("corpus: corpus\nindex: index\n", encoding="utf-8")
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "qa.cli", "--config", str(cfg), "index", "--rebuild", "--json"],
                              capture_output=True, text=True, env=env, cwd=ROOT)
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            return 1
        report = json.loads(proc.stdout)
        figures.update(index_seconds=round(time.perf_counter() - t0, 1), index_sentences=report["sentences"],
                       index_embedded=report["embedded"], index_peak_rss_mb=report["peak_rss_mb"],
                       index_child_maxrss_mb=round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / 1e6, 1),
                       index_disk_mb=report["index_mb"])
    text = corpus.read_text(encoding="utf-8")
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "qa.cli", "--config", str(cfg), "serve", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=ROOT,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 900
        while True:
            try:
                if post(port, "/api/health", timeout=5)[0] == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                print(server.stderr.read().decode()[-3000:], file=sys.stderr)
                return 1
            time.sleep(1)
        figures["serve_rss_mb"] = round(rss_mb(server.pid), 1)

        qs = quotes(text, 2000)
        alone: dict[str, float] = {}
        for name, q in qs.items():
            for _ in range(args.rounds):
                status, dt, body = post(port, "/api/check", {"quote": q})
                assert status == 200, (name, status, body)
                alone[name] = max(alone.get(name, 0.0), dt)
            alone_status = body["quote"]
            if not args.json:
                print(f"  {name:40s} {alone[name] * 1000:8.1f} ms  {alone_status['status']:9s} "
                      f"score {alone_status['score']:.3f} complete {alone_status['complete']}", flush=True)
        figures["quote_alone_p100_s"] = round(max(alone.values()), 3)
        figures["quote_alone_s"] = {k: round(v, 3) for k, v in alone.items()}

        stop = time.monotonic() + args.seconds
        loaded: list[float] = []
        health: list[float] = []
        errors: list[str] = []

        def client(seed: int) -> None:
            order = list(qs.values())
            random.Random(seed).shuffle(order)
            i = 0
            while time.monotonic() < stop:
                try:
                    status, dt, _ = post(port, "/api/check", {"quote": order[i % len(order)]})
                    loaded.append(dt) if status == 200 else errors.append(f"quote {status}")
                except Exception as exc:  # noqa: BLE001 (counted, not raised: the figures say it)
                    errors.append(repr(exc))
                i += 1

        def pinger() -> None:
            while time.monotonic() < stop:
                try:
                    status, dt, _ = post(port, "/api/health")
                    health.append(dt) if status == 200 else errors.append(f"health {status}")
                except Exception as exc:  # noqa: BLE001
                    errors.append(repr(exc))
                time.sleep(0.05)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(4)] + [threading.Thread(target=pinger)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        figures.update(quotes_under_load=len(loaded), quote_under_load_p100_s=round(max(loaded, default=0), 3),
                       health_requests=len(health), health_p50_ms=round(pct(health, 50) * 1000, 1),
                       health_p95_ms=round(pct(health, 95) * 1000, 1),
                       health_max_ms=round(max(health, default=0) * 1000, 1), errors=len(errors),
                       serve_rss_after_mb=round(rss_mb(server.pid), 1))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)

    missed = []
    checks = {"index_peak_rss_mb": figures.get("index_peak_rss_mb"), "index_disk_mb": figures.get("index_disk_mb"),
              "serve_rss_mb": max(figures["serve_rss_mb"], figures["serve_rss_after_mb"]),
              "quote_p100_s": max(figures["quote_alone_p100_s"], figures["quote_under_load_p100_s"]),
              "health_p95_ms": figures["health_p95_ms"]}
    for key, value in checks.items():
        if value is not None and value > TARGETS[key]:
            missed.append(f"{key} {value} > {TARGETS[key]}")
    if figures["errors"]:
        missed.append(f"{figures['errors']} errors")
    figures["missed"] = missed
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            if key != "quote_alone_s":
                print(f"{key:28s} {value}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
