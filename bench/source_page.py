"""How long headless Chromium takes to show the document view of a document with one huge word.

    python bench/source_page.py                          # a 1,000,000-character word of Greek letters
    python bench/source_page.py --script mixed --chars 200000

Indexes a two-document corpus (the real model) whose ``long.txt`` holds one word of ``--chars``
letters of ``--script`` (latin, greek, or mixed: seven scripts letter by letter), serves the API on a
free loopback port, and times ``/source/long.txt`` with and without a highlighted span in the middle:
navigation, layout and a screenshot, as a reader would wait for it. Needs /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.load import free_port  # noqa: E402

SCRIPTS = {"latin": [(0x61, 0x7B)], "greek": [(0x3B1, 0x3C9)],
           "mixed": [(0x61, 0x7B), (0x3B1, 0x3C9), (0x430, 0x44F), (0x5D0, 0x5EA), (0x627, 0x64A), (0x4E00, 0x4E80),
                     (0xAC00, 0xAC80)]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chars", type=int, default=1_000_000)
    ap.add_argument("--script", choices=sorted(SCRIPTS), default="greek")
    args = ap.parse_args()

    import uvicorn
    from playwright.sync_api import sync_playwright

    from qa import Pipeline
    from qa.config import config_from_dict
    from qa.serve.api import create_app

    pool = [chr(c) for a, b in SCRIPTS[args.script] for c in range(a, b)]
    rng = random.Random(0)
    word = "".join(rng.choice(pool) for _ in range(args.chars))
    tmp = Path(tempfile.mkdtemp())
    (tmp / "corpus").mkdir()
    (tmp / "corpus" / "long.txt").write_text(f"The long word follows. {word} The end is here.", encoding="utf-8")
    (tmp / "corpus" / "short.txt").write_text("A short document about bridges.", encoding="utf-8")
    pipeline = Pipeline(config_from_dict({"corpus": str(tmp / "corpus"), "index": str(tmp / "index"),
                                          "reader": False}))
    pipeline.build_index(progress=False)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(pipeline, ui=False), host="127.0.0.1", port=port,
                                           log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    middle = args.chars // 2
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium",
                                         args=["--headless", "--no-sandbox", "--disable-gpu"])
            for query in ("", f"?start={middle}&end={middle + 20}#hl"):
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                t0 = time.perf_counter()
                page.goto(f"http://127.0.0.1:{port}/source/long.txt{query}", timeout=900_000)
                page.evaluate("document.body.offsetHeight")
                page.screenshot(path=str(tmp / "shot.png"))
                print(f"/source/long.txt{query}: {time.perf_counter() - t0:.2f} s "
                      f"({args.chars:,} characters, {args.script})", flush=True)
                page.close()
            browser.close()
    finally:
        server.should_exit = True
    return 0


if __name__ == "__main__":
    sys.exit(main())
