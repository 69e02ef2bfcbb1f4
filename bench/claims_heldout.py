"""Claim checking on held-out claims: SciFact, Climate-FEVER, and the speed of `qa check` on the seeds.

    python bench/claims_heldout.py scifact      # SciFact train claims with id % 5 == 4, over the 565 cited abstracts
    python bench/claims_heldout.py climate      # Climate-FEVER claims with id % 10 == 9, over all evidence sentences
    python bench/claims_heldout.py speed        # p50 / p95 ms per claim of eval/seed_claims.yaml (all splits)
    python bench/claims_heldout.py scifact --verifier   # the same with the trained verifier switched on
    python bench/claims_heldout.py sweep        # the verifier's thresholds, on SciFact's other four fifths

The splits are those bench/train_verifier.py holds out: nothing reported here was trained or tuned on.
SciFact's own development claims are held out by the project owners; its training claims with
``id % 5 == 4`` stand in for them, checked against the 565 abstracts the training claims cite (``--full``:
all 5,183, about 50k sentences to embed). Indexes are built once under ``.cache/claims-bench/`` (the real
bundled model; a few minutes on one core for SciFact).

Figures printed:
- SciFact: verdict right for claims with evidence (SUPPORT -> supported, CONTRADICT -> contradicted),
  ``not_found`` for claims without evidence, and the gold abstract among the first three evidence or
  related passages;
- Climate-FEVER: accuracy per claim label (SUPPORTS -> supported, REFUTES -> contradicted,
  NOT_ENOUGH_INFO -> not_found; DISPUTED claims are shown as a distribution, they have no right verdict).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from _common import ROOT  # noqa: E402 (sets the thread count and sys.path)

from qa import Pipeline  # noqa: E402
from qa.config import config_from_dict  # noqa: E402

CLAIMS = ROOT.parent / "shared" / "data" / "claims"
CACHE = ROOT / ".cache" / "claims-bench"


def pipeline(name: str, write_corpus, verifier: bool) -> Pipeline:
    corpus = CACHE / name / "corpus"
    if not (CACHE / name / "corpus.done").exists():
        corpus.mkdir(parents=True, exist_ok=True)
        write_corpus(corpus)
        (CACHE / name / "corpus.done").write_text("ok\n")
    cfg = config_from_dict({"corpus": str(corpus), "index": str(CACHE / name / "index"), "reader": False,
                            "extractor": False, **({"verifier": True} if verifier else {})})
    p = Pipeline(cfg)
    started = time.time()
    p.build_index(progress=True)
    print(f"{name}: index ready in {time.time() - started:.0f}s", file=sys.stderr)
    return p


def scifact(verifier: bool, limit: int, full: bool = False, tune: bool = False, show: bool = False) -> None:
    docs = {}
    for line in (CLAIMS / "scifact-corpus.jsonl").read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        docs[d["doc_id"]] = d

    claims = [json.loads(x) for x in (CLAIMS / "scifact-claims-train.jsonl").read_text(encoding="utf-8").splitlines()]
    if not full:  # the abstracts some training claim cites: related biomedical distractors, a tenth of the corpus
        cited = {int(d) for c in claims for d in c.get("cited_doc_ids", [])} | {
            int(d) for c in claims for d in c["evidence"]}
        docs = {k: v for k, v in docs.items() if k in cited}

    def write(folder: Path) -> None:
        for doc_id, d in docs.items():
            (folder / f"{doc_id}.txt").write_text(d["title"].strip() + "\n\n" + " ".join(s.strip() for s in d["abstract"]) + "\n",
                                                  encoding="utf-8")

    p = pipeline("scifact-full" if full else "scifact", write, verifier)
    print(f"SciFact corpus: {len(docs)} abstracts" + ("" if full else " (those cited by the training claims; --full: all 5,183)"))
    # report on the held-out fifth; "--tune" shows the other four fifths (what rules may be looked at on)
    claims = [c for c in claims if (int(c["id"]) % 5 == 4) != tune][:limit or None]
    right = with_ev = nf = without = gold3 = 0
    confusion: Counter = Counter()
    for c in claims:
        v = p.check(c["claim"])
        if c["evidence"]:
            labels = {s["label"] for sets in c["evidence"].values() for s in sets}
            gold = "supported" if labels == {"SUPPORT"} else "contradicted" if labels == {"CONTRADICT"} else None
            if gold is None:
                continue
            with_ev += 1
            right += v.verdict == gold
            if show and v.verdict == "supported" and gold == "contradicted":
                print("FALSE SUPPORTED:", c["claim"], "|", v.evidence[0].quote[:300])
            confusion[(gold, v.verdict)] += 1
            shown = [e.source for e in (v.evidence or getattr(v, "related", ()))][:3]
            gold3 += any(f"{d}.txt" in shown for d in c["evidence"])
        else:
            without += 1
            nf += v.verdict == "not_found"
            confusion[("no evidence", v.verdict)] += 1
    print(f"SciFact {'tuning' if tune else 'held-out'} train claims (id % 5 {'!' if tune else '='}= 4): "
          f"{with_ev} with evidence, {without} without")
    print(f"  verdict right, claims with evidence: {right}/{with_ev} = {right / max(with_ev, 1):.3f}")
    print(f"  not_found, claims without evidence:  {nf}/{without} = {nf / max(without, 1):.3f}")
    print(f"  gold abstract in first three evidence/related: {gold3}/{with_ev} = {gold3 / max(with_ev, 1):.3f}")
    print("  gold -> predicted:", dict(sorted(confusion.items())))


def sweep(limit: int) -> None:
    """Choose the verifier's thresholds on SciFact's tuning claims (id % 5 != 4): each claim is checked once
    with the verifier recording its probabilities (and never deciding), then every threshold pair is scored
    offline: right verdicts of claims with evidence, and claims refuted or without evidence made supported."""
    import numpy as np

    from qa.check.verify import VerifierSettings
    from qa.models.verifier import shared

    p = pipeline("scifact", lambda folder: None, True)
    real = shared(runtime=p.config.runtime)
    if real is None:
        sys.exit("no trained verifier (qa/data/verifier.safetensors): run bench/train_verifier.py first")
    seen: list = []

    class Recorder:
        def probabilities(self, claim, passages):
            out = real.probabilities(claim, passages)
            seen.append(out)
            return np.zeros_like(out)  # never sure: the rules' verdict stands

    p.warm_up()
    p._checker._verifier = lambda: Recorder()
    p._checker.verifier_settings = VerifierSettings(floor=0.3, units=3, support=1.0, refute=1.0)
    claims = [json.loads(x) for x in (CLAIMS / "scifact-claims-train.jsonl").read_text(encoding="utf-8").splitlines()]
    claims = [c for c in claims if int(c["id"]) % 5 != 4][:limit or None]
    rows = []
    for c in claims:
        labels = {s["label"] for sets in c["evidence"].values() for s in sets}
        gold = ("supported" if labels == {"SUPPORT"} else "contradicted" if labels == {"CONTRADICT"} else
                "not_found" if not labels else None)
        if gold is None:
            continue
        seen.clear()
        v = p.check(c["claim"])
        rows.append((gold, v.verdict, seen[0] if seen else None, [u["about"] for u in v.explain["units"]]))
    print(f"{len(rows)} SciFact tuning claims; rules alone: "
          f"{sum(g == r for g, r, _, _ in rows if g != 'not_found')} right of {sum(g != 'not_found' for g, *_ in rows)} with evidence")
    for support in (0.6, 0.7, 0.8, 0.9, 0.95):
        for refute in (0.6, 0.7, 0.8, 0.9, 0.95, 1.01):
            right = bad = nf = 0
            for gold, rule, probs, _ in rows:
                verdict = rule
                if rule == "not_found" and probs is not None and len(probs):
                    s_, r_ = probs[:, 0].max(), probs[:, 1].max()
                    verdict = ("supported" if s_ >= support and s_ >= r_ else "contradicted" if r_ >= refute else rule)
                right += gold != "not_found" and verdict == gold
                bad += verdict == "supported" and gold != "supported"
                nf += gold == "not_found" and verdict == "not_found"
            print(f"support {support:.2f} refute {refute:.2f}: right {right}, wrongly supported {bad}, "
                  f"no-evidence not_found {nf}/{sum(g == 'not_found' for g, *_ in rows)}")


def climate(verifier: bool, limit: int) -> None:
    claims = [json.loads(x) for x in (CLAIMS / "climate-fever.jsonl").read_text(encoding="utf-8").splitlines()]

    def write(folder: Path) -> None:
        articles: dict[str, dict[int, str]] = defaultdict(dict)
        for c in claims:
            for e in c["evidences"]:
                title, _, n = e["evidence_id"].rpartition(":")
                articles[title][int(n) if n.isdigit() else len(articles[title])] = e["evidence"].strip()
        for i, (title, sents) in enumerate(sorted(articles.items())):
            body = "\n".join(sents[k] for k in sorted(sents))
            (folder / f"{i:05d}.txt").write_text(f"{title}\n\n{body}\n", encoding="utf-8")

    p = pipeline("climate-fever", write, verifier)
    held = [c for c in claims if int(c["claim_id"]) % 10 == 9][:limit or None]
    gold_of = {"SUPPORTS": "supported", "REFUTES": "contradicted", "NOT_ENOUGH_INFO": "not_found"}
    per: dict[str, Counter] = defaultdict(Counter)
    for c in held:
        per[c["claim_label"]][p.check(c["claim"]).verdict] += 1
    print(f"Climate-FEVER held-out tenth (claim_id % 10 == 9): {len(held)} claims")
    for label in ("SUPPORTS", "REFUTES", "NOT_ENOUGH_INFO", "DISPUTED"):
        got = per.get(label, Counter())
        n = sum(got.values())
        if label in gold_of:
            print(f"  {label:16s} n={n:3d} accuracy {got[gold_of[label]] / max(n, 1):.3f}  predicted {dict(got)}")
        else:
            print(f"  {label:16s} n={n:3d} (no right verdict)  predicted {dict(got)}")


def speed(verifier: bool, limit: int) -> None:
    import yaml

    cfg = config_from_dict({"corpus": str(ROOT / "seeds"), "index": str(CACHE / "seeds" / "index"), "reader": False,
                            "extractor": False, **({"verifier": True} if verifier else {})})
    p = Pipeline(cfg)
    p.build_index(progress=False)
    claims = [c["claim"] for c in yaml.safe_load((ROOT / "eval" / "seed_claims.yaml").read_text())["claims"]]
    claims = claims[:limit or None]
    for c in claims[:5]:
        p.check(c)  # warm up
    times = []
    for c in claims:
        t = time.perf_counter()
        p.check(c)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    print(f"qa check on {len(claims)} seed claims: p50 {statistics.median(times):.1f} ms, "
          f"p95 {times[int(0.95 * (len(times) - 1))]:.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("set", choices=("scifact", "climate", "speed", "sweep"))
    ap.add_argument("--verifier", action="store_true", help="switch the trained claim verifier on")
    ap.add_argument("--limit", type=int, default=0, help="only this many claims (smoke tests)")
    ap.add_argument("--full", action="store_true", help="SciFact: index all 5,183 abstracts (about 50k sentences)")
    ap.add_argument("--tune", action="store_true", help="SciFact: the four fifths not held out, to look at")
    ap.add_argument("--show", action="store_true", help="print the claims wrongly supported")
    args = ap.parse_args()
    if args.set == "scifact":
        scifact(args.verifier, args.limit, args.full, args.tune, args.show)
    elif args.set == "sweep":
        sweep(args.limit)
    else:
        {"climate": climate, "speed": speed}[args.set](args.verifier, args.limit)


if __name__ == "__main__":
    main()
