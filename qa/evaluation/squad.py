"""SQuAD-format data as a corpus: one document per article, paragraphs separated by a blank line.

Used by ``qa eval`` and the benchmarks. Every question keeps its gold
paragraph's span and its gold answers' spans as offsets into the article
document, so "right paragraph" and "answer inside the quote" are checked by
offsets, not by searching strings.
"""

from __future__ import annotations

import json
import logging
import random
import re
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SEPARATOR = "\n\n"


@dataclass(frozen=True)
class GoldQuestion:
    id: str
    question: str
    doc_id: str
    paragraph: tuple[int, int]               # span of the gold paragraph in the document
    answers: tuple[tuple[int, int, str], ...]  # (start, end, text) in the document; none for an unanswerable one
    unanswerable: bool = False               # SQuAD 2.0: written against the paragraph, not answered by it


def _doc_name(i: int, title: str) -> str:
    return f"{i:03d}_{re.sub(r'[^A-Za-z0-9_-]+', '_', title)[:60]}.txt"


def titles(path: str | Path) -> set[str]:
    """The article titles of a SQuAD-format file."""
    return {art["title"] for art in json.loads(Path(path).read_text(encoding="utf-8"))["data"]}


def load_squad(path: str | Path, articles: slice | list[int] | None = None, hold_out=None,
               exclude: set[str] = frozenset(), unanswerable: bool = False):
    """Return ``(documents, questions)``: ``{doc_id: text}`` and a list of :class:`GoldQuestion`.

    ``hold_out(article, paragraph) -> bool`` leaves paragraphs out of the documents; their questions
    (now unanswerable from the corpus, though on topic) are returned as a third item. Articles whose
    title is in ``exclude`` are left out altogether. With ``unanswerable``, SQuAD 2.0's unanswerable
    questions (``is_impossible``) are returned too, marked as such; otherwise they are skipped.
    """
    data = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    chosen = range(len(data)) if articles is None else (
        range(len(data))[articles] if isinstance(articles, slice) else articles)
    docs: dict[str, str] = {}
    questions: list[GoldQuestion] = []
    held: list[GoldQuestion] = []
    dropped = 0
    for i in chosen:
        art = data[i]
        if art["title"] in exclude:
            continue
        doc_id = _doc_name(i, art["title"])
        parts, pos = [], 0
        for j, para in enumerate(art["paragraphs"]):
            ctx = para["context"]
            if hold_out is not None and hold_out(i, j):
                held.extend(GoldQuestion(str(qa["id"]), qa["question"], doc_id, (0, 0), ()) for qa in para["qas"])
                continue
            start = pos
            parts.append(ctx)
            pos += len(ctx) + len(SEPARATOR)
            for qa in para["qas"]:
                if qa.get("is_impossible") or not qa["answers"]:
                    if unanswerable:
                        questions.append(GoldQuestion(str(qa["id"]), qa["question"], doc_id, (start, start + len(ctx)),
                                                      (), unanswerable=True))
                    continue
                answers = tuple((start + a["answer_start"], start + a["answer_start"] + len(a["text"]), a["text"])
                                for a in qa["answers"] if ctx[a["answer_start"]:a["answer_start"] + len(a["text"])] == a["text"])
                if len(answers) < len(qa["answers"]):
                    dropped += 1
                if answers:
                    questions.append(GoldQuestion(str(qa["id"]), qa["question"], doc_id, (start, start + len(ctx)), answers))
        docs[doc_id] = SEPARATOR.join(parts)
    if dropped:
        log.warning("%s: %d question(s) had gold answers whose answer_start does not point at their text; those "
                    "answers are left out (and a question with none left is not asked)", path, dropped)
    return (docs, questions, held) if hold_out is not None else (docs, questions)


def write_corpus(docs: dict[str, str], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for doc_id, text in docs.items():
        (folder / doc_id).write_bytes(text.encode("utf-8"))
    return folder


def sample(questions: list, n: int | None, seed: int = 0) -> list:
    """A reproducible sample of ``n`` questions (all when ``n`` is None or larger)."""
    if n is None or n >= len(questions):
        return list(questions)
    return random.Random(seed).sample(questions, n)


# --- official SQuAD v1.1 answer normalisation, exact match and token F1 ---

def normalize_answer(s: str) -> str:
    import string

    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def exact_match(prediction: str, truths: list[str]) -> float:
    return max(float(normalize_answer(prediction) == normalize_answer(t)) for t in truths)


def f1_score(prediction: str, truths: list[str]) -> float:
    from collections import Counter

    def f1(pred: str, truth: str) -> float:
        p, t = normalize_answer(pred).split(), normalize_answer(truth).split()
        common = Counter(p) & Counter(t)
        same = sum(common.values())
        if same == 0:
            return 0.0
        precision, recall = same / len(p), same / len(t)
        return 2 * precision * recall / (precision + recall)

    return max(f1(prediction, t) for t in truths)
