"""Build ``qa/data/common_words.txt``: English words that are almost always written in lower case.

    python bench/common_words.py [--min-count 5] [--ratio 10]

A word capitalised only because it opens a sentence ("Requests for more remote days must be
approved ...") is no name; the answer stage already knows this when the document itself also writes
the word in lower case, but a short document often does not. This list says it for common words: from
SQuAD v1.1 *train* contexts (articles i%10 not 8 or 9, which bench/train_spans.py and `qa eval` hold
out), every word written in lower case at least ``--min-count`` times and at least ``--ratio`` times as
often as it is capitalised inside a sentence (so "will", "requests" are in; "Grant", "Rose", "May",
capitalised as names often enough, are not).
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter

from _training import ROOT, TRAIN

OUT = ROOT / "qa" / "data" / "common_words.txt"
# Common words that are also frequent one-word names of people or places: left out, so "Will approved
# the budget" still answers "who" with Will.
NAMES_TOO = frozenset("""will long rich case story drew gene fields bird strong sharp short major reading split deal
    young white black green brown hill wood hall king price rice bush ford bell hunt page banks lane moore
    nash rose hope faith joy grace frank mark bill pat sue art dean earl chase cook baker mason""".split())
WORD = re.compile(r"(?<![\w'’\-])([A-Za-z][a-z'’\-]*)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--min-count", type=int, default=5)
    ap.add_argument("--ratio", type=float, default=10.0)
    args = ap.parse_args()
    data = json.loads(TRAIN.read_text(encoding="utf-8"))["data"]
    lower, capital = Counter(), Counter()
    for i, art in enumerate(data):
        if i % 10 in (8, 9):
            continue
        for para in art["paragraphs"]:
            ctx = para["context"]
            for m in WORD.finditer(ctx):
                w = m.group(1)
                if w.islower():
                    lower[w] += 1
                elif w[0].isupper() and w[1:].islower() or len(w) == 1:
                    before = ctx[:m.start()].rstrip()
                    if before and before[-1] not in ".!?:;\"“'‘(":  # capitalised inside a sentence
                        capital[w.lower()] += 1
    words = sorted(w for w, n in lower.items()
                   if n >= args.min_count and n >= args.ratio * capital[w] and w not in NAMES_TOO)
    OUT.write_text("# Built by bench/common_words.py: words SQuAD train writes in lower case (see there).\n"
                   + "\n".join(words) + "\n", encoding="utf-8")
    print(f"{len(words)} words -> {OUT}")


if __name__ == "__main__":
    main()
