"""Cold start: ``qa ask "..."`` from a fresh process, and where the time goes.

    python bench/cold_start.py [--runs 5] [--question "..."] [--code DIR]

1. Wall time of ``python -m qa.cli ask QUESTION`` in a new process, ``--runs`` times
   (median, min, max; target < 6 s). The index is built first if it is missing.
2. Stages inside one fresh process: importing the CLI, reading the config, loading the
   index, loading the model (its imports included), the first and a second question.
3. ``python -X importtime``: import time summed by top-level package, and a check that
   the web stack (gradio, fastapi, uvicorn) and other unneeded packages stay out.

``--code DIR`` times the ``qa`` package of another checkout (e.g. a ``git worktree`` of
an older commit) against this repository's qa.yaml, for before/after figures.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "When did Japan rule Korea as a colony?"
UNWANTED = ("gradio", "fastapi", "uvicorn", "starlette", "sklearn", "pandas", "matplotlib", "sentence_transformers")

STAGES = r"""
import json, sys, time
t0 = time.perf_counter(); marks = []
def lap(name):
    global t0
    t = time.perf_counter(); marks.append((name, t - t0)); t0 = t
import qa.cli; lap("import qa.cli")
from qa.pipeline import Pipeline; lap("import qa.pipeline (numpy, bm25s, faiss)")
p = Pipeline.from_config(sys.argv[1]); lap("read config")
p.index; lap("load index (+ staleness check)")
p.embedder.model; lap("load model (ONNX Runtime graph or torch)")
p.ask(sys.argv[2]); lap("first question")
p.ask(sys.argv[2] + " again"); lap("second question")
print(json.dumps(marks))
"""


def env_for(code: Path) -> dict:
    env = dict(os.environ, QA_BENCH_CODE=str(code))
    env["PYTHONPATH"] = str(code) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def run(cmd: list[str], env: dict) -> tuple[float, subprocess.CompletedProcess]:
    # Run from the code folder: `python -m`/`-c` put the working directory first on sys.path.
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=env["QA_BENCH_CODE"], capture_output=True, text=True)
    return time.perf_counter() - t, proc


def import_profile(stderr: str) -> tuple[float, collections.Counter]:
    by_pkg: collections.Counter = collections.Counter()
    # A progress bar may share a line with the report, so match anywhere in the line.
    for m in re.finditer(r"import time:\s*(\d+) \|\s*\d+ \| *([\w.]+)", stderr):
        by_pkg[m.group(2).split(".")[0]] += int(m.group(1))
    return sum(by_pkg.values()) / 1e6, by_pkg


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--question", default=QUESTION)
    ap.add_argument("--config", default=str(ROOT / "qa.yaml"), type=lambda p: str(Path(p).resolve()))
    ap.add_argument("--code", default=str(ROOT), help="folder holding the qa package to time")
    ap.add_argument("--against", default=None, metavar="DIR",
                    help="also time the qa package in DIR, runs alternating, for a before/after ratio")
    args = ap.parse_args()
    env = env_for(Path(args.code).resolve())
    py = sys.executable
    cli = [py, "-m", "qa.cli", "--config", args.config]

    _, built = run(cli + ["index", "--json"], env)
    if built.returncode != 0:
        sys.exit(f"qa index failed: {built.stderr.strip()[-300:]}")
    _, where = run([py, "-c", "import qa; print(qa.__file__)"], env)
    print(f"qa package: {where.stdout.strip()}; python: {py}; index ready")

    envs = {"this": env}
    if args.against:
        envs["against"] = env_for(Path(args.against).resolve())
        _, where = run([py, "-c", "import qa; print(qa.__file__)"], envs["against"])
        print(f"against: {where.stdout.strip()}")
    times: dict[str, list[float]] = {k: [] for k in envs}
    for _ in range(args.runs):
        for name, e in envs.items():  # alternate, so a busy machine slows both alike
            seconds, proc = run(cli + ["ask", args.question], e)
            if proc.returncode != 0:
                sys.exit(f"qa ask failed: {proc.stderr.strip()[-300:]}")
            times[name].append(seconds)
            if name == "this":
                answer = proc.stdout.strip().splitlines()[0][:100]
    med = statistics.median(times["this"])
    t = times["this"]
    print(f"\n`qa ask \"{args.question}\"` in a fresh process, {args.runs} runs: median {med:.2f} s "
          f"(min {min(t):.2f}, max {max(t):.2f}) -> {'meets' if med < 6 else 'MISSES'} the < 6 s target")
    print("answer: " + answer)
    if args.against:
        other = statistics.median(times["against"])
        print(f"{args.against} (alternating runs): median {other:.2f} s (min {min(times['against']):.2f}); "
              f"this / that = {med / other:.2f}x")

    stage_runs = []
    for _ in range(max(1, min(3, args.runs))):
        _, proc = run([py, "-c", STAGES, args.config, args.question], env)
        if proc.returncode != 0:
            sys.exit(f"stage timing failed: {proc.stderr.strip()[-300:]}")
        stage_runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print(f"\nWhere the time goes (one fresh process, median of {len(stage_runs)}):")
    for i, (name, _) in enumerate(stage_runs[0]):
        print(f"  {name:44s}{statistics.median(r[i][1] for r in stage_runs):7.2f} s")

    _, proc = run([py, "-X", "importtime"] + cli[1:] + ["ask", args.question], env)
    total, by_pkg = import_profile(proc.stderr)
    print(f"\nImports of one `qa ask` (python -X importtime, own time summed by package): {total:.2f} s")
    for pkg, us in by_pkg.most_common(12):
        print(f"  {pkg:30s}{us / 1e6:7.2f} s")
    present = [m for m in UNWANTED if m in by_pkg]
    print(f"not needed by `qa ask` and imported: {', '.join(present) if present else 'none'} "
          f"(checked: {', '.join(UNWANTED)})")


if __name__ == "__main__":
    main()
