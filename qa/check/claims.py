"""Claim -> :class:`Verdict`: is a statement supported, contradicted, or not found in the sources?

The claim goes through the same retrieval as a question (:class:`qa.retrieval.retriever.Retriever`,
one embedding). Each candidate sentence, and each pair of adjacent sentences, is an
*evidence unit*, scored by how closely it is about the same thing as the claim:
dense similarity plus the share of the claim's content words it holds, with the
checkable details (dates, numbers, ordinals, names; :func:`qa.text.types.details`)
left out of the word count so that a changed detail does not hide a matching topic.

The details of claim and evidence are then aligned by type. A claim detail the
evidence states (same year, same amount, a name sharing a word) is confirmed; one the
evidence states differently (another year where the claim has one, another name in the
same place) is a :class:`Mismatch`. The decision, best unit first:

- ``supported``: a unit is close enough and confirms every claim detail;
- ``contradicted``: no unit supports it, and a close unit disagrees on a detail;
- ``not_found``: nothing is about it closely enough.

A paraphrase changes words, not details, so on its own it never yields a mismatch.
Offsets: ``Evidence.start/end`` and ``Mismatch.evidence_start/end`` index the document
text; ``Mismatch.claim_start/end`` index ``Verdict.claim``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from qa.models.calibration import sigmoid
from qa.text.details import COMMON, NAME, ORDINAL, Detail, details
from qa.text.types import DATE, NUMBER
from qa.text.words import tokenize
from qa.text.directions import direction_conflict
from qa.text.roles import NEGATION as NEGATION_CUES, negated, negation_conflict, role_conflict  # noqa: F401 (negated: public here too)
from qa.text.links import cite_url
from qa.text.names import _name_words, name_in, same_role  # noqa: F401 (name_in: public here too)
from qa.retrieval.retriever import Retrieval, Retriever
from qa.index.faiss_store import as_store
from qa.index.interface import SENTENCES, Store
from qa.index.store import Index
from qa.check.verify import STATEMENT, VerifierSettings, judge
from qa.check.verdicts import CONTRADICTED, DIRECTION, NEGATION, NOT_FOUND, SUPPORTED, VERDICTS, Evidence, Mismatch, Verdict  # noqa: F401 (VERDICTS: public here too)

if TYPE_CHECKING:  # torch and the verifier's weights load only when it is switched on
    from qa.models.verifier import ClaimVerifier


@dataclass(frozen=True)
class CheckSettings:
    """Thresholds of the decision, tuned on the *dev* split of ``eval/seed_claims.yaml`` only."""

    dense_weight: float = 0.5     # about = w * dense + (1 - w) * coverage of the claim's words
    support: float = 0.62         # a unit this close that confirms every detail supports the claim
    contradict: float = 0.62      # a unit this close that disagrees on a detail contradicts it...
    prefer_contradiction: float = 0.1  # ...unless a unit that confirms every detail is not this much less close
    pair_gain: float = 0.15       # a sentence pair must cover this much more of the claim than one sentence
    units: int = 6                # best units examined for support / contradiction
    max_evidence: int = 3

    def __post_init__(self) -> None:
        for name in ("dense_weight", "support", "contradict", "prefer_contradiction", "pair_gain"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"CheckSettings.{name} must be in [0, 1]")
        if self.units < 1 or self.max_evidence < 1:
            raise ValueError("CheckSettings.units and max_evidence must be >= 1")


# ------------------------------------------------------------------ detail comparison (pure)

def same_value(a: Detail, b: Detail) -> bool:
    """``b`` states what ``a`` states: ``a`` may be less precise ("June 1950" by "June 25, 1950"), not more
    ("June 3, 1950" is not confirmed by "June 1950")."""
    if a.kind != b.kind:
        return False
    if a.kind == DATE:
        (ya, ma, da), (yb, mb, db) = a.value, b.value  # type: ignore[misc]
        if "decade" in (a.unit, b.unit):
            return (ya is not None and yb is not None and ya // 10 == yb // 10
                    and (a.unit == "decade" or b.unit != "decade"))
        return (ya is None or ya == yb) and (ma is None or ma == mb) and (da is None or da == db)
    if a.kind in (NUMBER, ORDINAL):
        # "second-largest" is not confirmed by a "second" elsewhere; "51.1 billion" is by "$51.1 billion";
        # a percentage only by a percentage ("10%" is not the "10" of "10-20%").
        return math.isclose(float(a.value), float(b.value), rel_tol=1e-6) and (  # type: ignore[arg-type]
            a.unit == b.unit or (a.kind == NUMBER and (a.unit is None or b.unit is None)
                                 and "%" not in (a.unit, b.unit)))
    return a.value == b.value


def comparable(a: Detail, b: Detail) -> bool:
    """Details that answer the same kind of question: a year and a year, a percentage and a percentage."""
    if a.kind != b.kind:
        return False
    if a.kind == DATE:  # a decade with a decade; a day and month without a year with the same
        yearless = (a.value[0] is None, b.value[0] is None)  # type: ignore[index]
        return (a.unit == "decade") == (b.unit == "decade") and yearless[0] == yearless[1]
    if a.kind in (NUMBER, ORDINAL):
        return a.unit == b.unit
    return True


def _context(text: str, d: Detail, width: int = 4) -> set[str]:
    return set(tokenize(text[max(0, d.start - 60):d.start])[-width:] + tokenize(text[d.end:d.end + 60])[:width])


_PREPOSITION = re.compile(r"\b(in|on|at|to|from|by|with|of|for|into|near|under|against|over|through|toward|towards|"
                          r"between|across|within)\s+(?:the\s+)?$", re.IGNORECASE)


def _lead(text: str, d: Detail) -> str:
    """The preposition right before a name ("" for none): a name's role in its sentence. A subject is no
    rival of a place after "on" ("Squid runs ..." against "... run as user www-data on Debian")."""
    m = _PREPOSITION.search(text, max(0, d.start - 20), d.start)
    return m.group(1).lower() if m else ""


def compare(claim: str, claim_details: list[Detail], evidence: str, evidence_details: list[Detail],
            span: tuple[int, int] | None = None) -> tuple[list[tuple[Detail, Detail]], list[Detail], int]:
    """Align the claim's details with the evidence's: ``(mismatched pairs, unconfirmed, confirmed count)``.

    A claim detail is confirmed when the evidence states the same value (a name: when the evidence
    holds one of its distinctive words anywhere). An unconfirmed one is paired with a comparable
    evidence detail the claim does not state, the one whose neighbouring words match best;
    without such a partner it stays unconfirmed. ``span`` limits the evidence to ``evidence[start:end]``
    (the details' offsets index ``evidence`` either way).
    """
    lo, hi = span or (0, len(evidence))
    ev_words = _name_words(evidence[lo:hi])
    claim_words = _name_words(claim)
    ev_names = [_name_words(evidence[e.start:e.end]) for e in evidence_details
                if e.kind == NAME and lo <= e.start < hi]
    claim_names = [_name_words(claim[d.start:d.end]) for d in claim_details if d.kind == NAME]
    confirmed, open_ = 0, []
    for d in claim_details:
        if d.kind == NAME:
            ok = name_in(claim[d.start:d.end], ev_words, ev_names)
        else:
            ok = any(same_value(d, e) for e in evidence_details)
        confirmed += ok
        if not ok:
            open_.append(d)

    def unstated(e: Detail) -> bool:
        if e.kind == NAME:
            return not name_in(evidence[e.start:e.end], claim_words, claim_names)
        return not any(same_value(e, d) for d in claim_details)

    free = [e for e in evidence_details if unstated(e) and e.unit != COMMON]
    pairs, unconfirmed = [], []
    for d in open_:
        ctx = _context(claim, d)
        options = [e for e in free if comparable(d, e)]
        if d.kind == NAME:
            # A rival name fills the same role: not a word capitalised by its place, no other office, and
            # at least one neighbouring word in common ("Bananas" is no rival of "METI").
            lead = _lead(claim, d)
            options = [e for e in options if d.unit != COMMON and same_role(claim[d.start:d.end], evidence[e.start:e.end])
                       and ctx & _context(evidence, e) and _lead(evidence, e) == lead]
        if not options:
            unconfirmed.append(d)
            continue
        rel = d.start / max(len(claim), 1)
        ev0, ev1 = span or (0, len(evidence))
        # Most shared neighbouring words first; ties go to the detail at the same relative position.
        best = max(options, key=lambda e: (len(ctx & _context(evidence, e)),
                                           -abs((e.start - ev0) / max(ev1 - ev0, 1) - rel)))
        pairs.append((d, best))
        free.remove(best)
    return pairs, unconfirmed, confirmed


# Text between two details that only joins them: "Japan and Korea", "Japan, Korea", "Japan/Korea".
_JOINED = re.compile(r"^[\s,;/&()\-–—]*(?:(?:and|or|as well as|with|vs\.?|versus)\b[\s,;/&()\-–—]*)?$", re.IGNORECASE)


def swapped(claim: str, claim_details: list[Detail], evidence: str,
            evidence_details: Sequence[Detail] | None = None) -> bool:
    """Whether the evidence states two of the claim's details the other way round (:func:`swapped_pairs`)."""
    return bool(swapped_pairs(claim, claim_details, evidence, evidence_details))


def swapped_pairs(claim: str, claim_details: list[Detail], evidence: str,
                  evidence_details: Sequence[Detail] | None = None) -> list[tuple[Detail, tuple[int, int]]]:
    """Whether two of the claim's names (or two numbers or dates of one kind) stand in the evidence in
    the opposite order with the same words between them: "Brazil defeated Germany" against "Germany
    defeated Brazil", "from $12 billion to $10 billion" against "from $10 billion to $12 billion". Then
    the evidence says the reverse, and it does not support the claim. Only the same connecting words
    count, and not words that merely list ("Japan and Korea"): a reordered sentence is no swap.
    ``evidence_details``: the evidence's details when already known (offsets into ``evidence``). Returns
    the two claim details, each with the evidence span in its place."""
    ev_details = details(evidence) if evidence_details is None else evidence_details
    ev_names = [_name_words(evidence[e.start:e.end]) for e in ev_details if e.kind == NAME]

    def where(d: Detail) -> tuple[int, int] | None:
        for e in ev_details:
            if d.kind == NAME and e.kind == NAME:
                if name_in(claim[d.start:d.end], _name_words(evidence[e.start:e.end]), ev_names):
                    return e.start, e.end
            elif d.kind != NAME and same_value(d, e):
                return e.start, e.end
        return None

    located = [(d, p) for d in claim_details for p in [where(d)] if p is not None]
    for i, (a, pa) in enumerate(located):
        for b, pb in located[i + 1:]:
            if not comparable(a, b) or pb[0] >= pa[0] or pa == pb:
                continue
            between_claim, between_evidence = claim[a.end:b.start], evidence[pb[1]:pa[0]]
            words = re.findall(r"\w+", between_claim.lower())
            if words and not _JOINED.match(between_claim) and words == re.findall(r"\w+", between_evidence.lower()):
                # the same words, reversed around them ("was defeated by" is not "defeated"): each claim
                # detail against what stands in its place in the evidence
                return [(a, pb), (b, pa)]
    return []


def root(stem: str) -> str:
    """A stem without the d/s/t that tells a verb from its noun ("invad"/"invas", "decid"/"decis"), so that
    "invaded" and "an invasion" count as the same word of the topic."""
    return stem[:-1] if len(stem) >= 5 and stem[-1] in "dst" else stem


def content_words(text: str, skip: list[Detail]) -> list[str]:
    """The claim's content words (stemmed, :func:`root`) outside its details and its negations, which
    are compared on their own (:func:`qa.text.roles.negation_conflict`)."""
    out, pos = [], 0
    text = NEGATION_CUES.sub(lambda m: " " * len(m.group()), text)
    for d in sorted(skip, key=lambda d: d.start):
        out += tokenize(text[pos:d.start])
        pos = max(pos, d.end)
    return [root(w) for w in out + tokenize(text[pos:])]


# ------------------------------------------------------------------ the stage

@dataclass(frozen=True)
class _Unit:
    """A candidate evidence unit and how it compares with the claim."""

    doc: int
    start: int
    end: int
    dense: float
    coverage: float
    about: float
    pairs: tuple[tuple[Detail, Detail], ...]
    unconfirmed: tuple[Detail, ...]
    confirmed: int
    details: tuple[Detail, ...]                 # the unit's details, offsets into the document
    members: tuple[tuple[int, int, int], ...]   # (start, end, claim words it holds) per sentence


def _changed_detail(u: _Unit) -> bool:
    """Whether a unit's mismatches read as the same statement with a detail changed.

    It must confirm at least as many details as it disagrees on (or, disagreeing on one detail, hold
    every other word of the claim: "The bridge opened to traffic in 2016" against "... in 2019"), and
    each differing evidence detail must sit in the sentence that holds most of the claim's words (in a
    pair, the other sentence could otherwise lend a stray date or name).
    """
    if u.confirmed < len(u.pairs) and not (len(u.pairs) == 1 and u.coverage >= 1.0):
        return False
    total = sum(hits for _, _, hits in u.members)
    for _, e in u.pairs:
        hits = next(h for s, end, h in u.members if s <= e.start < end)
        if 2 * hits < total:
            return False
    return True


def _main(u: _Unit) -> tuple[int, int]:
    """The sentence of a unit that holds most of the claim's words: where its direction is read."""
    start, end, _ = max(u.members, key=lambda m: m[2])
    return start, end


class ClaimChecker:
    """Decides a :class:`Verdict` for one claim from its :class:`Retrieval` over an :class:`Index`."""

    def __init__(self, index: Store | Index, retriever: Retriever, settings: CheckSettings | None = None,
                 verifier: Callable[[], "ClaimVerifier | None"] | None = None,
                 verifier_settings: VerifierSettings | None = None):
        self.store = as_store(index)
        self.retriever = retriever
        self.settings = settings or CheckSettings()
        self._verifier = verifier  # called on first need (None: the detail rules alone decide)
        self.verifier_settings = verifier_settings or VerifierSettings()
        self._cache: dict[int, tuple[frozenset[str], tuple[Detail, ...]]] = {}

    def _sentence(self, row: int) -> tuple[frozenset[str], tuple[Detail, ...]]:
        """Words and details (offsets into the document) of one indexed sentence, computed once."""
        got = self._cache.get(row)
        if got is None:
            s = int(self.store.sentences(np.array([row])).span[0, 0])
            text = self.store.sentence_texts([row])[0]
            got = self._cache[row] = (frozenset(root(w) for w in tokenize(text)), tuple(
                Detail(d.start + s, d.end + s, d.kind, d.value, d.unit) for d in details(text)))
        return got

    def candidate_rows(self, claim: str, qvec: np.ndarray, r: Retrieval, k: int = 10) -> list[int]:
        """Sentences worth comparing: those retrieval scored, plus the best dense and BM25 sentences."""
        rows = {int(x) for x in r.sentence_rows}
        rows |= {int(x) for x in self.retriever.dense_sentences(qvec, k)[0]}
        tokens = tokenize(claim)
        if tokens and self.store.counts()["sentences"]:
            ids, scores = self.store.lexical(tokens, SENTENCES).top(4 * k)
            # The k best by score, ties to the lower id (a margin of 3k covers ties at the cut).
            best = sorted(zip((-scores).tolist(), ids.tolist()))[:k]
            rows |= {int(i) for neg, i in best if -neg > 0}
        return sorted(rows)

    def _unit(self, claim: str, claim_details: list[Detail], words: set[str], qvec: np.ndarray,
              members: tuple[int, ...]) -> _Unit:
        st = self.store
        info = st.sentences(np.asarray(members, dtype=np.int64))
        d = int(info.doc[0])
        parts = [self._sentence(m) for m in members]
        ev_words = frozenset().union(*(p[0] for p in parts))
        ev_details = [x for p in parts for x in p[1]]
        if len(members) == 1:
            dense = float(st.sentence_vectors(np.array(members[:1]))[0] @ qvec)
        else:
            v = st.sentence_vectors(np.asarray(members, dtype=np.int64)).sum(axis=0)
            dense = float(v @ qvec / max(float(np.linalg.norm(v)), 1e-9))
        start, end = int(info.span[0, 0]), int(info.span[-1, 1])
        pairs, unconfirmed, confirmed = compare(claim, claim_details, st.document(d).text, ev_details, (start, end))
        # Words outside details, plus confirmed details, count for the topic; a mismatched detail
        # counts neither way (it is what a contradiction changes), an unconfirmed one against.
        total = len(words) + confirmed + len(unconfirmed)
        coverage = (len(words & ev_words) + confirmed) / total if total else 0.0
        w = self.settings.dense_weight
        spans = tuple((int(a), int(b), len(words & p[0])) for (a, b), p in zip(info.span.tolist(), parts))
        return _Unit(d, start, end, dense, coverage, w * dense + (1 - w) * coverage, tuple(pairs),
                     tuple(unconfirmed), confirmed, tuple(ev_details), spans)

    def units(self, claim: str, claim_details: list[Detail], qvec: np.ndarray, r: Retrieval) -> list[_Unit]:
        """Evidence units (sentences, and adjacent pairs that cover more of the claim), closest first."""
        words = set(content_words(claim, claim_details))
        out = {}
        rows = self.candidate_rows(claim, qvec, r)
        prev, nxt = self.store.neighbours(np.asarray(rows, dtype=np.int64))
        for row, before, after in zip(rows, prev.tolist(), nxt.tolist()):
            single = self._unit(claim, claim_details, words, qvec, (row,))
            out[(single.doc, single.start, single.end)] = single
            for pair in ((before, row), (row, after)):
                if pair[0] >= 0 and pair[1] >= 0:
                    u = self._unit(claim, claim_details, words, qvec, pair)
                    if u.coverage >= single.coverage + self.settings.pair_gain:
                        out[(u.doc, u.start, u.end)] = u
        return sorted(out.values(), key=lambda u: (-u.about, u.doc, u.start))

    def _evidence(self, u: _Unit) -> Evidence:
        doc = self.store.document(u.doc)
        quote = doc.text[u.start:u.end]
        page = doc.page(u.start)
        return Evidence(doc.id, doc.title, u.start, u.end, quote, min(1.0, max(0.0, u.about)),
                        cite_url(doc.meta.get("url"), quote, page, doc.text, u.start), page)

    def _conflicts(self, claim: str, claim_details: list[Detail], u: _Unit) -> list[tuple[int, int, int, int, str]]:
        """What a unit that holds every detail of the claim still says otherwise: the names' roles reversed
        (:func:`qa.text.roles.role_conflict`) or the statement negated on one side only. Each as
        ``(claim_start, claim_end, evidence_start, evidence_end, kind)``."""
        text = self.store.document(u.doc).text
        ev = [e for e in u.details if u.start <= e.start < u.end]

        def same(c: Detail, e: Detail) -> bool:
            words = _name_words(text[e.start:e.end])
            return name_in(claim[c.start:c.end], words, [words])  # "South Korea" is not "North Korea"

        pairs = role_conflict(claim, claim_details, text, ev, same)
        if pairs:
            return [(c.start, c.end, e.start, e.end, c.kind) for c, e in pairs]
        located = swapped_pairs(claim, claim_details, text, ev)
        if located:
            return [(c.start, c.end, es, ee, c.kind) for c, (es, ee) in located]
        neg = negation_conflict(claim, text, u.start, u.end)
        if neg:
            return [(neg[0][0], neg[0][1], neg[1][0], neg[1][1], NEGATION)]
        _, way = direction_conflict(claim, text, *_main(u))
        return [(way[0][0], way[0][1], way[1][0], way[1][1], DIRECTION)] if way else []

    def _names_together(self, claim: str, claim_details: list[Detail], u: _Unit) -> bool:
        """In a pair of sentences, the claim's names stand in the one that holds most of its words: the
        neighbour may lend a date or a number, never the subject ("squid" from the next sentence does not
        make "Web servers run as user www-data" a statement about squid)."""
        if len(u.members) == 1:
            return True
        start, end = _main(u)
        text = self.store.document(u.doc).text
        words = _name_words(text[start:end])
        names = [_name_words(text[e.start:e.end]) for e in u.details if e.kind == NAME and start <= e.start < end]
        return all(name_in(claim[d.start:d.end], words, names) for d in claim_details if d.kind == NAME)

    def related(self, units: list[_Unit], n: int = 3) -> tuple[Evidence, ...]:
        """Where to look when nothing is close enough: the closest unit of each of the ``n`` closest documents."""
        out: list[_Unit] = []
        for u in units:
            if len(out) < n and all(o.doc != u.doc for o in out):
                out.append(u)
        return tuple(self._evidence(u) for u in out)

    def check(self, claim: str, qvec: np.ndarray, r: Retrieval) -> Verdict:
        """Supported if a close unit confirms every detail, in the same roles and with the same polarity;
        contradicted if a close unit that confirms all other details disagrees on one or more, or states
        them in reversed roles or negated (and is clearly closer than any supporting unit); else not
        found, with the closest passages as ``related``."""
        s = self.settings
        claim_details = details(claim)
        ranked = self.units(claim, claim_details, qvec, r)
        units = ranked[:s.units]
        explain: dict = {"details": [{"text": claim[d.start:d.end], "kind": d.kind} for d in claim_details],
                         "units": [{"source": self.store.document(u.doc).id, "start": u.start, "end": u.end,
                                    "about": round(u.about, 4), "dense": round(u.dense, 4),
                                    "coverage": round(u.coverage, 4), "mismatches": len(u.pairs),
                                    "unconfirmed": len(u.unconfirmed)} for u in units]}
        polarity = negated(claim)
        floor = min(s.support, s.contradict)
        conflicts = {id(u): self._conflicts(claim, claim_details, u) for u in units
                     if not u.pairs and not u.unconfirmed and u.about >= floor}
        supporting = [u for u in units if not u.pairs and not u.unconfirmed and u.about >= s.support
                      and not conflicts.get(id(u)) and self._names_together(claim, claim_details, u)
                      and direction_conflict(claim, self.store.document(u.doc).text, *_main(u))[0]
                      and negated(self.store.document(u.doc).text[u.start:u.end]) == polarity
                      and not swapped(claim, claim_details, self.store.document(u.doc).text, u.details)]
        def named_elsewhere(u: _Unit) -> bool:
            """A name the unit rivals is itself stated by another close unit: the sources speak of it, and
            the rival is another thing doing the same ("Apache runs as www-data", "squid runs as proxy")."""
            names = [d for d, _ in u.pairs if d.kind == NAME]
            return bool(names) and any(
                o is not u and o.about >= s.contradict - s.prefer_contradiction
                and all(d not in o.unconfirmed and all(d != p for p, _ in o.pairs) for d in names) for o in units)

        contradicting = [u for u in units if (u.pairs and not u.unconfirmed and u.about >= s.contradict
                                              and _changed_detail(u) and not named_elsewhere(u))
                         or (conflicts.get(id(u)) and u.about >= s.contradict)]
        best = units[0].about if units else 0.0
        explain["support_about"] = round(supporting[0].about, 4) if supporting else None
        explain["contradict_about"] = round(contradicting[0].about, 4) if contradicting else None
        if supporting and not (contradicting and
                               contradicting[0].about - supporting[0].about > s.prefer_contradiction):
            top = supporting[0]
            chosen: list[_Unit] = []
            for u in supporting:  # overlapping units (a sentence and a pair holding it) are shown once
                if len(chosen) < s.max_evidence and not any(
                        c.doc == u.doc and c.start < u.end and u.start < c.end for c in chosen):
                    chosen.append(u)
            ev = tuple(self._evidence(u) for u in chosen)
            return Verdict(claim, SUPPORTED, sigmoid(12 * (top.about - s.support) + 1), ev, (), explain)
        if contradicting:
            u = contradicting[0]
            ev = self._evidence(u)
            text = self.store.document(u.doc).text
            spans = conflicts.get(id(u)) or [(d.start, d.end, e.start, e.end, d.kind) for d, e in u.pairs]
            mm = tuple(Mismatch(claim[cs:ce], cs, ce, text[es:ee], es, ee, kind, ev.source)
                       for cs, ce, es, ee, kind in spans)
            return Verdict(claim, CONTRADICTED, sigmoid(12 * (u.about - s.contradict) + 1), (ev,), mm, explain)
        verified = self._verified(claim, claim_details, units, conflicts, explain)
        if verified is not None:
            return verified
        return Verdict(claim, NOT_FOUND, sigmoid(12 * (floor - best) + 1), (), (), explain, self.related(ranked))

    def _verified(self, claim: str, claim_details: list[Detail], units: list[_Unit], conflicts: dict,
                  explain: dict) -> Verdict | None:
        """The verifier's verdict on the closest units that hold every detail of the claim, same roles, same
        polarity (:mod:`qa.check.verify`); None when it is off, not sure, or no unit is eligible."""
        verifier = self._verifier() if self._verifier is not None else None
        if verifier is None:
            return None
        vs = self.verifier_settings
        polarity = negated(claim)
        eligible = [u for u in units if not u.pairs and not u.unconfirmed and u.about >= vs.floor
                    and not conflicts.get(id(u), self._conflicts(claim, claim_details, u))
                    and negated(self.store.document(u.doc).text[u.start:u.end]) == polarity
                    and self._names_together(claim, claim_details, u)
                    and not swapped(claim, claim_details, self.store.document(u.doc).text, u.details)][:vs.units]
        got = judge(verifier.probabilities, claim, [self.store.document(u.doc).text[u.start:u.end] for u in eligible], vs)
        explain["verifier"] = None if got is None else {"verdict": got[0], "probability": round(got[2], 4)}
        if got is None:
            return None
        verdict, i, p = got
        ev = self._evidence(eligible[i])
        if verdict == SUPPORTED:
            return Verdict(claim, SUPPORTED, p, (ev,), (), explain)
        mm = (Mismatch(claim, 0, len(claim), ev.quote, ev.start, ev.end, STATEMENT, ev.source),)
        return Verdict(claim, CONTRADICTED, p, (ev,), mm, explain)
