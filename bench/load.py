"""Loopback load test: N concurrent clients against ``POST /api/ask`` of a real ``qa serve``.

Starts ``qa serve`` (real model, the seed corpus unless --config is given) on a free loopback port
in a subprocess, waits for ``/api/health``, then runs ``--clients`` threads, each with its own
keep-alive connection, for ``--seconds`` or until ``--max-requests`` in all, whichever comes first.
Questions are a mix of answerable (eval/seed_questions.yaml), off-topic and junk (empty, control
characters, over the length limit, wrong JSON, emoji, other scripts), and ``--fresh`` of them are
new questions built from the eval set's words, so the model really runs (no cache hit). Every reply is checked: the
expected status (200, or the 4xx a junk request must get) with a JSON body; anything else, and
any exception, is an error. Prints throughput, latency percentiles, errors, status counts and the
server's RSS at the start and the end.

``--flood`` instead measures the rate limit (issue 23): the server runs with ``limits.requests_per_minute``
(``--rate``, default 60) and trusts 127.0.0.1 as a proxy, so each client is its own address through
``X-Forwarded-For``. ``--clients`` well-behaved clients (default 8) send at ``--pace`` of the limit (default
0.8) for ``--seconds`` alone, then again for ``--seconds`` beside one client at 10x the limit. It prints, for
each phase, the well-behaved clients' refusals (429/503, which must be 0) and p95, the flood's status
counts (429s, never a 5xx) and the ratio of the two p95s (target: at most 1.5).

    python bench/load.py                       # 16 clients, 60 s, seed corpus, limits off
    python bench/load.py --clients 4 --seconds 10 --json
    python bench/load.py --flood --clients 8 --seconds 60
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def workload(seed: int = 0) -> list[tuple[str, bytes, int]]:
    """``(kind, body, expected status)`` requests: answerable, off-topic and junk."""
    data = yaml.safe_load((ROOT / "eval" / "seed_questions.yaml").read_text(encoding="utf-8"))
    rng = random.Random(seed)
    out = []
    for q in data["questions"]:
        out.append(("answerable", json.dumps({"question": q["question"]}).encode(), 200))
    for q in data["off_topic"]:
        out.append(("off_topic", json.dumps({"question": q["question"]}).encode(), 200))
    junk = [
        (json.dumps({"question": ""}).encode(), 400),
        (json.dumps({"question": " \t\x00\x01 "}).encode(), 400),
        (json.dumps({"question": "why " * 600}).encode(), 400),               # over max_question_chars
        (b'{"question": "caf\xe9?"}', 400),                                   # invalid UTF-8
        (b"[1, 2, 3]", 400),
        (b'{"question": 42}', 400),
        (b"{not json", 400),
        (json.dumps({"question": "When?", "extra": 1}).encode(), 400),
        (json.dumps({"question": "🇯🇵🇰🇷 🤔 when?"}).encode(), 200),
        (json.dumps({"question": "日本と韓国の関係はいつ正常化しましたか？"}).encode(), 200),
        (json.dumps({"question": "<script>alert(1)</script> who?"}).encode(), 200),
    ]
    for _ in range(20):  # random words: exercise caches with questions never seen before
        words = " ".join("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
                         for _ in range(rng.randint(1, 12)))
        junk.append((json.dumps({"question": words + "?"}).encode(), 200))
    out += [("junk", body, status) for body, status in junk]
    return out


def fresh_question(rng: random.Random, vocab: list[str]) -> bytes:
    """A question no cache has seen: eval-set words in a template, with a random year."""
    a, b, c = (rng.choice(vocab) for _ in range(3))
    template = rng.choice(("When did {a} {b} the {c} in {y}?", "Who {a} {b} {c} in {y}?",
                           "How much {a} did {b} {c} in {y}?", "What is the {a} of {b} {c} ({y})?"))
    return json.dumps({"question": template.format(a=a, b=b, c=c, y=rng.randint(1000, 9999))}).encode()


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.by_kind: dict[str, list[float]] = {}
        self.status = Counter()
        self.errors: list[str] = []

    def add(self, kind: str, seconds: float, status: int | str, error: str | None) -> None:
        with self.lock:
            self.latencies.append(seconds)
            self.by_kind.setdefault(kind, []).append(seconds)
            self.status[str(status)] += 1
            if error:
                self.errors.append(error)


def client(port: int, requests: list, stats: Stats, deadline: float, budget: list[int], seed: int,
           fresh: float = 0.0, vocab: list[str] | None = None, address: str | None = None, interval: float = 0.0,
           refusable: bool = False) -> None:
    """Send requests until ``deadline``; with ``interval``, one every ``interval`` seconds (from a random phase),
    as ``address`` (X-Forwarded-For). ``refusable``: a 429 is an expected answer, not an error."""
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Content-Type": "application/json", **({"X-Forwarded-For": address} if address else {})}
    due = time.monotonic() + rng.random() * interval
    while time.monotonic() < deadline:
        if interval:
            time.sleep(max(0.0, due - time.monotonic()))
            due += interval
            if time.monotonic() >= deadline:
                break
        with stats.lock:
            if budget[0] <= 0:
                break
            budget[0] -= 1
        if vocab and rng.random() < fresh:
            kind, body, expected = "fresh", fresh_question(rng, vocab), 200
        else:
            kind, body, expected = rng.choice(requests)
        t0 = time.perf_counter()
        try:
            conn.request("POST", "/api/ask", body, headers)
            r = conn.getresponse()
            payload = r.read()
            dt = time.perf_counter() - t0
            error = None
            try:
                parsed = json.loads(payload)
            except ValueError:
                parsed = None
            if refusable and r.status == 429 and isinstance(parsed, dict) and r.getheader("Retry-After"):
                kind = "refused"
            elif r.status != expected or not isinstance(parsed, dict):
                error = f"{kind}: HTTP {r.status} (expected {expected}): {payload[:120]!r}"
            elif r.status == 200 and "abstained" not in parsed:
                error = f"{kind}: 200 without the answer contract: {payload[:120]!r}"
            stats.add(kind, dt, r.status, error)
        except Exception as exc:  # any failure to get a reply is an error
            stats.add(kind, time.perf_counter() - t0, "exception", f"{kind}: {type(exc).__name__}: {exc}")
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.close()


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


def start_server(config: Path, port: int, log: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "qa.cli", "--config", str(config), "serve", "--host", "127.0.0.1",
           "--port", str(port)]
    return subprocess.Popen(cmd, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env, cwd=str(ROOT),
                            start_new_session=True)


def wait_healthy(proc: subprocess.Popen, port: int, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"qa serve exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"qa serve was not healthy after {timeout:.0f}s:\n{log.read_text()[-2000:]}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", type=Path, default=None, help="qa.yaml to serve (default: the seed corpus, "
                                                                 "indexed into a temporary folder)")
    ap.add_argument("--clients", type=int, default=None, help="default 16 (--flood: 8 well-behaved ones)")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--max-requests", type=int, default=50_000, help="stop after this many requests in all")
    ap.add_argument("--fresh", type=float, default=0.3,
                    help="share of requests that are new questions (never cached), the rest drawn from the mix")
    ap.add_argument("--startup-timeout", type=float, default=600.0)
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    ap.add_argument("--flood", action="store_true", help="measure the rate limit (see the module)")
    ap.add_argument("--rate", type=int, default=60, help="--flood: limits.requests_per_minute of the server")
    ap.add_argument("--pace", type=float, default=0.8, help="--flood: well-behaved clients' rate, a share of --rate")
    args = ap.parse_args(argv)
    args.clients = args.clients or (8 if args.flood else 16)

    tmp = Path(tempfile.mkdtemp(prefix="qa-load-"))
    config = args.config
    if config is None:
        config = tmp / "qa.yaml"
        config.write_text(f"corpus: {ROOT / 'seeds'}\nindex: {tmp / 'index'}\n", encoding="utf-8")
    if args.flood:
        settings = yaml.safe_load(config.read_text(encoding="utf-8"))
        for key in ("corpus", "index"):
            settings[key] = str((config.parent / settings[key]).resolve())
        settings["trusted_proxies"] = ["127.0.0.1"]
        settings.setdefault("limits", {})["requests_per_minute"] = args.rate
        config = tmp / "qa-flood.yaml"
        config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    port, log = free_port(), tmp / "server.log"
    t_start = time.monotonic()
    proc = start_server(config, port, log)
    try:
        wait_healthy(proc, port, args.startup_timeout, log)
        startup = time.monotonic() - t_start
        requests = workload()
        vocab = sorted({w.strip("?,.'\"") for kind, body, _ in requests if kind != "junk"
                        for w in json.loads(body)["question"].split() if len(w) > 3})
        warm = Stats()  # one of each, so the model and caches are loaded before RSS is read
        client(port, requests[:5], warm, time.monotonic() + 60, [5], 0)
        rss_start = rss_mb(proc.pid)
        if args.flood:
            result = flood(args, port, requests, vocab)
            result["server_alive"] = proc.poll() is None
            result["errors"] += 0 if result["server_alive"] else 1
            print(json.dumps(result, indent=None if args.json else 1))
            return 1 if result["errors"] else 0
        stats, budget = Stats(), [args.max_requests]
        deadline = time.monotonic() + args.seconds
        threads = [threading.Thread(target=client, args=(port, requests, stats, deadline, budget, i, args.fresh, vocab))
                   for i in range(args.clients)]
        samples: list[float] = []
        done = threading.Event()

        def sample() -> None:
            while not done.wait(5.0):
                samples.append(round(rss_mb(proc.pid), 1))

        sampler = threading.Thread(target=sample, daemon=True)
        t0 = time.monotonic()
        sampler.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
        done.set()
        rss_end = rss_mb(proc.pid)
        alive = proc.poll() is None
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    n = len(stats.latencies)
    ok = [lat for kind, lats in stats.by_kind.items() if kind != "junk" for lat in lats]
    result = {
        "clients": args.clients, "seconds": round(elapsed, 1), "requests": n,
        "throughput_rps": round(n / elapsed, 2) if elapsed else 0.0,
        "latency_ms": {f"p{q}": round(pct(stats.latencies, q) * 1000, 1) for q in (50, 95, 99)},
        "latency_ms_questions": {f"p{q}": round(pct(ok, q) * 1000, 1) for q in (50, 95, 99)},
        "errors": len(stats.errors) + (0 if alive else 1),
        "status": dict(stats.status), "by_kind": {k: len(v) for k, v in stats.by_kind.items()},
        "rss_mb_start": round(rss_start, 1), "rss_mb_end": round(rss_end, 1), "rss_mb_every_5s": samples,
        "server_startup_s": round(startup, 1),
        "cpus": os.cpu_count(), "loadavg_1min": round(os.getloadavg()[0], 2),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{n} requests from {args.clients} clients in {elapsed:.1f}s: {result['throughput_rps']} req/s")
        lat = result["latency_ms"]
        print(f"latency p50 {lat['p50']} ms, p95 {lat['p95']} ms, p99 {lat['p99']} ms "
              f"(questions only: p95 {result['latency_ms_questions']['p95']} ms)")
        print(f"errors: {result['errors']}; status counts {result['status']}; mix {result['by_kind']}")
        print(f"server RSS: {rss_start:.0f} MB at start, {rss_end:.0f} MB at end; "
              f"(every 5 s: {samples}); started in {startup:.0f}s; "
              f"load average {result['loadavg_1min']} on {os.cpu_count()} CPUs")
    for e in stats.errors[:10]:
        print("error:", e, file=sys.stderr)
    if not alive:
        print(f"error: the server died:\n{log.read_text()[-2000:]}", file=sys.stderr)
    return 1 if result["errors"] else 0


def flood(args, port: int, requests: list, vocab: list[str]) -> dict:
    """Well-behaved clients alone, then beside a client at 10x the limit (see the module)."""
    interval = 60.0 / (args.rate * args.pace)

    def phase(with_flood: bool) -> tuple[Stats, Stats, float]:
        polite, rude, budget = Stats(), Stats(), [10**9]
        deadline = time.monotonic() + args.seconds
        threads = [threading.Thread(target=client, args=(port, requests, polite, deadline, budget, i, args.fresh, vocab,
                                                         f"198.51.100.{i + 1}", interval)) for i in range(args.clients)]
        if with_flood:  # two connections of one address at 5x each: 10x even while some replies are slow
            threads += [threading.Thread(target=client, args=(port, requests, rude, deadline, budget, 99 + j, args.fresh,
                                                              vocab, "203.0.113.66", 60.0 / (5 * args.rate), True))
                        for j in range(2)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return polite, rude, time.monotonic() - t0

    def summary(stats: Stats) -> dict:
        ok = [lat for kind, lats in stats.by_kind.items() if kind not in ("junk", "refused") for lat in lats]
        return {"requests": len(stats.latencies), "status": dict(stats.status),
                "p50_ms": round(pct(ok, 50) * 1000, 1), "p95_ms": round(pct(ok, 95) * 1000, 1),
                "refused": sum(v for k, v in stats.status.items() if k in ("429", "503")),
                "errors": len(stats.errors), "first_errors": stats.errors[:5]}

    alone, _, _ = phase(False)
    beside, rude, t_flood = phase(True)
    a, b, f = summary(alone), summary(beside), summary(rude)
    fives = sum(v for k, v in rude.status.items() if k.startswith("5") or k == "exception")
    return {"rate_per_minute": args.rate, "clients": args.clients, "pace_per_minute": round(60 / interval, 1),
            "seconds": args.seconds, "alone": a, "with_flood": b,
            "flood": {**f, "sent_per_minute": round(f["requests"] / t_flood * 60, 1), "5xx": fives},
            "p95_ratio": round(b["p95_ms"] / a["p95_ms"], 2) if a["p95_ms"] else None,
            "errors": a["errors"] + b["errors"] + f["errors"] + a["refused"] + b["refused"] + fives,
            "cpus": os.cpu_count(), "loadavg_1min": round(os.getloadavg()[0], 2)}


if __name__ == "__main__":
    sys.exit(main())
