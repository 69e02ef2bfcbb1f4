"""``qa eval``: measure answers against gold data.

Two inputs: the project's YAML question set (answerable questions with gold
answer strings, plus off-topic questions, over the configured corpus), or a
SQuAD-format JSON file (a temporary index over its articles, one document per
article). Every figure is computed from offsets: a citation is exact when its
quote equals the document text at its offsets (counted over answered questions);
the right paragraph is the one whose span holds the first citation (for an
abstention, the first passage); a passage is a paragraph when at least half of
the shorter of the two overlaps the other. A gold answer string counts when the
answer holds it as whole words, ignoring case ("40" is not in "1940").
"""

from __future__ import annotations

import math
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import yaml

from qa.answer.answerer import Answer
from qa.text.types import says
from qa.errors import ConfigError
from qa.pipeline import Pipeline
from qa.evaluation.squad import exact_match, f1_score, load_squad, sample, write_corpus


@dataclass(frozen=True)
class QuestionSet:
    answerable: list[dict]
    off_topic: list[dict]
    unanswerable: list[dict] = field(default_factory=list)  # near-topic: same names and topic, answer absent


def load_question_set(path: Path, split: str | None = None) -> QuestionSet:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict) or "questions" not in data:
        raise ConfigError(f"{path}: expected a YAML mapping with 'questions:' (and optionally 'off_topic:' "
                          "and 'unanswerable:')")

    def keep(items):
        return [q for q in items or [] if split in (None, "all") or q.get("split") == split]

    return QuestionSet(keep(data["questions"]), keep(data.get("off_topic")), keep(data.get("unanswerable")))


def citations_exact(pipeline: Pipeline, ans: Answer) -> bool:
    """Every quote equals the document text at its offsets, and the answer sits at its offsets."""
    store = pipeline.store

    def text_of(source: str) -> str:
        return store.document(store.document_key(source)).text

    for c in ans.citations:
        text = text_of(c.source)
        if text[c.start:c.end] != c.quote:
            return False
    if ans.citations:
        first = ans.citations[0]
        text = text_of(first.source)
        if text[first.answer_start:first.answer_end] != ans.answer:
            return False
    return True


def holds(text: str, gold: str) -> bool:
    """``gold`` occurs in ``text`` as whole words, ignoring case: "Seoul" in "...in seoul.", not "40" in "1940"."""
    return says(text.casefold(), gold.casefold())


def _percentiles(times: list[float]) -> dict:
    """Median and nearest-rank 95th percentile, in milliseconds."""
    if not times:
        return {"p50_ms": None, "p95_ms": None}
    s = sorted(times)
    return {"p50_ms": round(1000 * statistics.median(s), 2),
            "p95_ms": round(1000 * s[math.ceil(0.95 * len(s)) - 1], 2)}


def is_paragraph(start: int, end: int, par: tuple[int, int]) -> bool:
    """A passage ``[start, end)`` stands for the paragraph ``par`` when at least half of the shorter of
    the two overlaps the other (a chunk may start in the paragraph before, or hold two short ones)."""
    ps, pe = par
    overlap = min(end, pe) - max(start, ps)
    return overlap > 0 and 2 * overlap >= min(end - start, pe - ps)


def _timed(pipeline: Pipeline, question: str, times: list[float]) -> Answer:
    t = time.perf_counter()
    ans = pipeline.ask(question)
    times.append(time.perf_counter() - t)
    return ans


def eval_question_set(pipeline: Pipeline, qs: QuestionSet, progress: Callable = lambda it, **k: it) -> dict:
    """Top-1 accuracy, abstention rates and citation exactness on a YAML question set."""
    pipeline.ensure_index(progress=False)
    pipeline.ask("warm-up question")
    times: list[float] = []
    n = len(qs.answerable)
    contains = in_quote = right_source = abstained = exact = 0
    em = f1 = 0.0
    failures = []
    for q in progress(qs.answerable, desc="answerable"):
        ans = _timed(pipeline, q["question"], times)
        golds = [str(g) for g in q["answers"]]
        if ans.abstained:
            abstained += 1
            failures.append({"id": q.get("id"), "question": q["question"], "got": None})
            continue
        exact += citations_exact(pipeline, ans)
        first = ans.citations[0]
        ok = any(holds(ans.answer, g) for g in golds)
        contains += ok
        in_quote += any(holds(first.quote, g) for g in golds)
        em += exact_match(ans.answer, golds)
        f1 += f1_score(ans.answer, golds)
        right_source += first.source == q.get("source", first.source)
        if not ok:
            failures.append({"id": q.get("id"), "question": q["question"], "got": ans.answer, "gold": golds[0]})
    declined = {}
    wrongly_answered = {}
    for kind, items in (("off_topic", qs.off_topic), ("unanswerable", qs.unanswerable)):
        declined[kind], wrongly_answered[kind] = 0, []
        for q in progress(items, desc=kind.replace("_", "-")):
            ans = _timed(pipeline, q["question"], times)
            declined[kind] += ans.abstained
            if not ans.abstained:
                exact += citations_exact(pipeline, ans)
                wrongly_answered[kind].append({"id": q.get("id"), "question": q["question"], "got": ans.answer,
                                               "confidence": round(ans.confidence, 3)})
    off_abstained, off_failures = declined["off_topic"], wrongly_answered["off_topic"]
    answered = (n - abstained) + sum(len(v) for v in wrongly_answered.values())
    near = {}
    if qs.unanswerable:
        near = {"unanswerable_abstained": round(declined["unanswerable"] / len(qs.unanswerable), 4),
                "unanswerable_answered": wrongly_answered["unanswerable"]}
    return {
        "answerable": n, "off_topic": len(qs.off_topic), "unanswerable": len(qs.unanswerable),
        "answer_contains_gold_at_1": round(contains / n, 4) if n else None,
        "gold_in_first_quote": round(in_quote / n, 4) if n else None,
        "exact_match": round(em / n, 4) if n else None, "f1": round(f1 / n, 4) if n else None,
        "right_source_at_1": round(right_source / n, 4) if n else None,
        "answerable_abstained": round(abstained / n, 4) if n else None,
        "off_topic_abstained": round(off_abstained / len(qs.off_topic), 4) if qs.off_topic else None,
        "answered": answered,  # answerable and off-topic questions that were answered (not abstained)
        "citations_exact": round(exact / answered, 4) if answered else None,
        **_percentiles(times),
        "misses": failures, "off_topic_answered": off_failures, **near,
    }


def eval_squad(path: Path, limit: int | None, seed: int, make_pipeline: Callable[[Path, Path], Pipeline],
               workdir: Path | None = None, progress: Callable = lambda it, **k: it,
               exclude: set[str] = frozenset()) -> dict:
    """Paragraph recall, answer-in-quote, span EM/F1 and latency on a SQuAD-format file; on a SQuAD 2.0 file
    also how often unanswerable and answerable questions are abstained on, and how well the confidence
    tells them apart (ROC AUC). Articles titled in ``exclude`` are left out of corpus and questions."""
    docs, questions = load_squad(path, exclude=exclude, unanswerable=True)
    chosen = sample(questions, limit, seed=seed)
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="qa-eval-")
        workdir = Path(tmp.name)
    try:
        write_corpus(docs, workdir / "corpus")
        pipeline = make_pipeline(workdir / "corpus", workdir / "index")
        pipeline.ensure_index(progress=True)
        pipeline.ask("warm-up question")
        times: list[float] = []
        r1 = r5 = in_quote = in_answer = abstained = exact = 0
        em = f1 = 0.0
        impossible: list[Answer] = []
        answerable: list[Answer] = []
        for q in progress(chosen, desc="questions"):
            ans = _timed(pipeline, q.question, times)
            if q.unanswerable:
                impossible.append(ans)
                continue
            answerable.append(ans)
            golds = [a[2] for a in q.answers]
            ps, pe = q.paragraph
            in_par = [p.source == q.doc_id and is_paragraph(p.start, p.end, q.paragraph) for p in ans.passages]
            if ans.abstained:
                abstained += 1
                r1 += bool(in_par[:1] and in_par[0])
                r5 += any(in_par[:5])
                continue
            exact += citations_exact(pipeline, ans)
            c = ans.citations[0]
            top = c.source == q.doc_id and ps <= c.start < pe
            r1 += top
            r5 += top or any(in_par[:5])  # the cited paragraph is the first of the five
            in_quote += c.source == q.doc_id and any(c.start <= a0 and a1 <= c.end for a0, a1, _ in q.answers)
            in_answer += c.source == q.doc_id and any(c.answer_start <= a0 and a1 <= c.answer_end
                                                      for a0, a1, _ in q.answers)
            em += exact_match(ans.answer, golds)
            f1 += f1_score(ans.answer, golds)
        n = len(answerable)
        out = {"questions": n, "documents": len(docs),
               "paragraph_recall_at_1": round(r1 / n, 4), "paragraph_recall_at_5": round(r5 / n, 4),
               "answer_in_quote_at_1": round(in_quote / n, 4), "answer_in_span_at_1": round(in_answer / n, 4),
               "exact_match": round(em / n, 4), "f1": round(f1 / n, 4),
               "abstained": round(abstained / n, 4),
               "citations_exact": round(exact / (n - abstained), 4) if n > abstained else None}
        if impossible:
            out["unanswerable"] = len(impossible)
            out["unanswerable_abstained"] = round(sum(a.abstained for a in impossible) / len(impossible), 4)
            out["answerable_abstained"] = out["abstained"]
            out["abstention_auc"] = round(roc_auc([a.confidence for a in answerable],
                                                  [a.confidence for a in impossible]), 4)
        return {**out, **_percentiles(times)}
    finally:
        if tmp is not None:
            tmp.cleanup()


def roc_auc(positive: list[float], negative: list[float]) -> float:
    """The probability that a random positive scores above a random negative (ties count half)."""
    if not positive or not negative:
        return float("nan")
    pos, neg = np.asarray(positive, dtype=float), np.asarray(negative, dtype=float)
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


# ------------------------------------------------------------------ claim checking

def is_claim_set(path: Path) -> bool:
    """True for a YAML file whose top level holds ``claims:`` (eval/seed_claims.yaml)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and "claims" in data


def load_claim_set(path: Path, split: str | None = None) -> list[dict]:
    """The claims of a claim set (optionally one split); each has ``claim`` and a gold ``verdict``."""
    from qa.check.claims import VERDICTS

    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict) or not isinstance(data.get("claims"), list):
        raise ConfigError(f"{path}: expected a YAML mapping with 'claims:' (a list)")
    for i, c in enumerate(data["claims"]):
        if not isinstance(c, dict) or not isinstance(c.get("claim"), str) or c.get("verdict") not in VERDICTS:
            raise ConfigError(f"{path}: claim #{i + 1} needs 'claim' (text) and 'verdict' "
                              f"({', '.join(VERDICTS)})")
    return [c for c in data["claims"] if split in (None, "all") or c.get("split") == split]


def eval_claim_set(pipeline: Pipeline, claims: list[dict], progress: Callable = lambda it, **k: it) -> dict:
    """Accuracy per verdict, a confusion matrix (gold -> predicted), and evidence/mismatch exactness."""
    from qa.check.claims import VERDICTS

    pipeline.ensure_index(progress=False)
    pipeline.check("warm-up claim")
    store = pipeline.store

    def text_of(source: str) -> str:
        return store.document(store.document_key(source)).text

    times: list[float] = []
    confusion = {g: {p: 0 for p in VERDICTS} for g in VERDICTS}
    exact = detail_found = right_source = with_source = 0
    errors = []
    for c in progress(claims, desc="claims"):
        t = time.perf_counter()
        v = pipeline.check(c["claim"])
        times.append(time.perf_counter() - t)
        confusion[c["verdict"]][v.verdict] += 1
        exact += all(text_of(e.source)[e.start:e.end] == e.quote for e in v.evidence) and all(
            text_of(m.source)[m.evidence_start:m.evidence_end] == m.evidence_text
            for m in v.mismatches)
        if v.verdict == c["verdict"] and v.evidence and c.get("source"):
            with_source += 1
            right_source += v.evidence[0].source == c["source"]
        if v.verdict == c["verdict"] == "contradicted" and c.get("detail"):
            detail_found += any(str(c["detail"]) in m.claim_text or m.claim_text in str(c["detail"])
                                for m in v.mismatches)
        if v.verdict != c["verdict"]:
            errors.append({"id": c.get("id"), "claim": c["claim"], "gold": c["verdict"], "got": v.verdict,
                           "confidence": round(v.confidence, 3)})
    n = len(claims)
    per = {g: {"n": sum(row.values()), "accuracy": round(row[g] / sum(row.values()), 4) if sum(row.values()) else None}
           for g, row in confusion.items()}
    correct_contra = confusion["contradicted"]["contradicted"]
    return {"claims": n, "accuracy": round(sum(confusion[g][g] for g in VERDICTS) / n, 4) if n else None,
            "per_verdict": per, "confusion": confusion,
            "supported_reported_contradicted": confusion["supported"]["contradicted"],
            "mismatch_names_changed_detail": round(detail_found / correct_contra, 4) if correct_contra else None,
            "evidence_from_gold_source": round(right_source / with_source, 4) if with_source else None,
            "offsets_exact": round(exact / n, 4) if n else None, **_percentiles(times), "errors": errors}
