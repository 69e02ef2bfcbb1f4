"""Check a question set against the text the tool indexes.

    python eval/check_question_set.py eval/docs_questions.yaml eval/docs-corpus
    python eval/check_question_set.py eval/seed_questions.yaml seeds

The corpus is read with ``qa.ingest.corpus.load_corpus`` (the extracted text, not the raw
HTML/PDF bytes), and the question set is checked for:

- every string in a question's ``answers`` being a verbatim substring of its ``source``
  document's text (the source must exist);
- every ``absent`` string of an ``unanswerable`` (or ``off_topic``) question occurring in
  no document at all, ignoring case;
- unique ids, a ``split`` of dev or test, and the fields each kind needs;
- answers that span a line break (reported as a warning: PDF extraction keeps the PDF's hard
  line breaks today, and an answer across one may stop matching when that changes).

Prints one line per problem and a summary; exits 1 on any problem, 0 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import yaml

SPLITS = ("dev", "test")


def load_texts(corpus: Path) -> dict[str, str]:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's qa, not an installed one
    from qa.ingest.corpus import load_corpus

    return {d.id: d.text for d in load_corpus(corpus)}


def check(data: dict, texts: dict[str, str]) -> tuple[list[str], list[str], dict]:
    problems: list[str] = []
    warnings: list[str] = []
    folded = [t.casefold() for t in texts.values()]
    ids = Counter()
    counts: Counter = Counter()

    for q in data.get("questions") or []:
        qid = q.get("id", "?")
        ids[qid] += 1
        counts[("answerable", q.get("split"))] += 1
        if q.get("split") not in SPLITS:
            problems.append(f"{qid}: split {q.get('split')!r} is not dev or test")
        if not q.get("question"):
            problems.append(f"{qid}: no question")
        source = q.get("source")
        if source not in texts:
            problems.append(f"{qid}: source {source!r} is not a document of the corpus")
            continue
        answers = q.get("answers") or []
        if not answers:
            problems.append(f"{qid}: no answers")
        for a in answers:
            a = str(a)
            if a not in texts[source]:
                problems.append(f"{qid}: answer {a!r} is not a substring of {source}")
            elif "\n" in a:
                warnings.append(f"{qid}: answer {a!r} spans a line break")

    for key in ("unanswerable", "off_topic"):
        for q in data.get(key) or []:
            qid = q.get("id", "?")
            ids[qid] += 1
            counts[(key, q.get("split"))] += 1
            if q.get("split") not in SPLITS:
                problems.append(f"{qid}: split {q.get('split')!r} is not dev or test")
            if not q.get("question"):
                problems.append(f"{qid}: no question")
            absent = q.get("absent") or []
            if key == "unanswerable" and not absent:
                problems.append(f"{qid}: no absent strings")
            for s in absent:
                s = str(s)
                hits = [doc for doc, t in zip(texts, folded) if s.casefold() in t]
                if hits:
                    problems.append(f"{qid}: absent string {s!r} occurs in {', '.join(hits)}")

    for qid, n in ids.items():
        if n > 1:
            problems.append(f"{qid}: id used {n} times")
    return problems, warnings, dict(counts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("questions", type=Path, help="question set (YAML)")
    ap.add_argument("corpus", type=Path, help="corpus folder the questions are about")
    args = ap.parse_args(argv)

    data = yaml.safe_load(args.questions.read_text(encoding="utf-8")) or {}
    texts = load_texts(args.corpus)
    problems, warnings, counts = check(data, texts)
    for w in warnings:
        print(f"warning: {w}")
    for p in problems:
        print(f"problem: {p}")
    summary = ", ".join(f"{kind} {split}: {n}" for (kind, split), n in sorted(counts.items(), key=str))
    print(f"{args.questions}: {len(texts)} documents; {summary}; "
          f"{len(problems)} problem(s), {len(warnings)} warning(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
