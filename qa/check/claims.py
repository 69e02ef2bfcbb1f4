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
from typing import Sequence

import numpy as np

from qa.models.calibration import sigmoid
from qa.text.details import NAME, ORDINAL, Detail, details
from qa.text.types import DATE, NUMBER
from qa.text.words import STOPWORDS, tokenize
from qa.text.links import cite_url
from qa.retrieval.retriever import Retrieval, Retriever
from qa.index.faiss_store import as_store
from qa.index.interface import SENTENCES, Store
from qa.index.store import Index
from qa.check.verdicts import CONTRADICTED, NOT_FOUND, SUPPORTED, VERDICTS, Evidence, Mismatch, Verdict  # noqa: F401 (VERDICTS: public here too)

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

def _name_words(text: str) -> list[str]:
    words = [re.sub(r"['’]s$", "", w).strip("'’").lower() for w in re.findall(r"[\w'’.-]+", text)]
    return [w for part in words for w in re.split(r"[-.]", part) if w and w not in STOPWORDS]


def _same_word(a: str, b: str) -> bool:
    """Equal, or a short inflection of each other ("Japan"/"Japanese", "Korea"/"Korean")."""
    if a == b:
        return True
    short, long_ = sorted((a, b), key=len)
    return len(short) >= 4 and long_.startswith(short) and len(long_) - len(short) <= 3


_GENERIC = frozenset("sea ocean river island islands mountain house university party ministry council "
                     "assembly general national republic state states united government committee "
                     "prime minister president emperor king queen chairman secretary foreign chief "
                     "mr mrs ms dr sir lord".split())


def name_in(name: str, words: list[str], names: Sequence[list[str]] = ()) -> bool:
    """True when a name is stated among ``words``: every distinctive word of it is there, or some are
    and none of the other side's ``names`` (their words) that holds them adds a distinctive word of its
    own ("Biden" confirms "Joe Biden", "Korea" confirms "South Korea"; "South Korea" does not confirm
    "North Korea", nor "Joe Biden" "Hunter Biden"); or an acronym matches."""
    mine = _name_words(name)
    if not mine:
        return True
    distinctive = [w for w in mine if w not in _GENERIC] or mine
    shared = [w for w in distinctive if any(_same_word(w, o) for o in words)]
    if len(shared) == len(distinctive):
        return True
    # A conflicting name shares the very word ("Korea" in "South Korea"), not an inflection of it
    # ("Korea" in "North Korea" is no rival of "Korean War").
    if shared and not any(_rival(other, shared, mine) for other in names):
        return True
    # Acronyms either way: "WTO" / "World Trade Organization", "U.S." / "United States".
    initials = "".join(w[0] for w in mine)
    if len(initials) >= 2 and (initials in words or initials in _acronyms(words)):
        return True
    return any(any("".join(w[0] for w in words[i:i + len(a)]) == a for i in range(len(words) - len(a) + 1))
               for a in _acronyms(mine))


def _rival(other: list[str], shared: list[str], mine: list[str]) -> bool:
    """``other`` (a name's words) holds one of the ``shared`` words itself, not an inflection of it, and adds
    a distinctive word of its own: "South Korea" against "North Korea", not "North Korea" against "Korean War"."""
    return (any(w in other for w in shared)
            and any(x not in _GENERIC and not any(_same_word(x, m) for m in mine) for x in other))


def _acronyms(words: list[str]) -> set[str]:
    """Runs of single letters joined: ["u", "s", "house"] -> {"us"}."""
    out, run = set(), ""
    for w in words + [""]:
        if len(w) == 1:
            run += w
        else:
            if len(run) >= 2:
                out.add(run)
            run = ""
    return out


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

    free = [e for e in evidence_details if unstated(e)]
    pairs, unconfirmed = [], []
    for d in open_:
        options = [e for e in free if comparable(d, e)]
        if not options:
            unconfirmed.append(d)
            continue
        ctx = _context(claim, d)
        rel = d.start / max(len(claim), 1)
        ev0, ev1 = span or (0, len(evidence))
        # Most shared neighbouring words first; ties go to the detail at the same relative position.
        best = max(options, key=lambda e: (len(ctx & _context(evidence, e)),
                                           -abs((e.start - ev0) / max(ev1 - ev0, 1) - rel)))
        pairs.append((d, best))
        free.remove(best)
    return pairs, unconfirmed, confirmed


_NEGATION = re.compile(r"\b(?:not(?!\s+only\b)|never|no(?!\s+(?:longer|less|more|one|doubt)\b)|cannot|neither|nor|"
                       r"none|without)\b|n[’']t\b", re.IGNORECASE)


def negated(text: str) -> bool:
    """Whether ``text`` says something is not so ("did not", "never", "no longer" aside): a claim and
    its evidence must agree on this, or the evidence does not support the claim."""
    return _NEGATION.search(text) is not None


# Text between two details that only joins them: "Japan and Korea", "Japan, Korea", "Japan/Korea".
_JOINED = re.compile(r"^[\s,;/&()\-–—]*(?:(?:and|or|as well as|with|vs\.?|versus)\b[\s,;/&()\-–—]*)?$", re.IGNORECASE)


def swapped(claim: str, claim_details: list[Detail], evidence: str,
            evidence_details: Sequence[Detail] | None = None) -> bool:
    """Whether two of the claim's names (or two numbers or dates of one kind) stand in the evidence in
    the opposite order with the same words between them: "Brazil defeated Germany" against "Germany
    defeated Brazil", "from $12 billion to $10 billion" against "from $10 billion to $12 billion". Then
    the evidence says the reverse, and it does not support the claim. Only the same connecting words
    count, and not words that merely list ("Japan and Korea"): a reordered sentence is no swap.
    ``evidence_details``: the evidence's details when already known (offsets into ``evidence``)."""
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
                return True  # the same words, reversed around them ("was defeated by" is not "defeated")
    return False


def content_words(text: str, skip: list[Detail]) -> list[str]:
    """The claim's content words (stemmed) outside its details."""
    out, pos = [], 0
    for d in sorted(skip, key=lambda d: d.start):
        out += tokenize(text[pos:d.start])
        pos = max(pos, d.end)
    return out + tokenize(text[pos:])


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


class ClaimChecker:
    """Decides a :class:`Verdict` for one claim from its :class:`Retrieval` over an :class:`Index`."""

    def __init__(self, index: Store | Index, retriever: Retriever, settings: CheckSettings | None = None):
        self.store = as_store(index)
        self.retriever = retriever
        self.settings = settings or CheckSettings()
        self._cache: dict[int, tuple[frozenset[str], tuple[Detail, ...]]] = {}

    def _sentence(self, row: int) -> tuple[frozenset[str], tuple[Detail, ...]]:
        """Words and details (offsets into the document) of one indexed sentence, computed once."""
        got = self._cache.get(row)
        if got is None:
            s = int(self.store.sentences(np.array([row])).span[0, 0])
            text = self.store.sentence_texts([row])[0]
            got = self._cache[row] = (frozenset(tokenize(text)), tuple(
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

    def check(self, claim: str, qvec: np.ndarray, r: Retrieval) -> Verdict:
        """Supported if a close unit confirms every detail; contradicted if a close unit that confirms
        all other details disagrees on one or more (and is clearly closer than any supporting unit);
        else not found."""
        s = self.settings
        claim_details = details(claim)
        units = self.units(claim, claim_details, qvec, r)[:s.units]
        explain: dict = {"details": [{"text": claim[d.start:d.end], "kind": d.kind} for d in claim_details],
                         "units": [{"source": self.store.document(u.doc).id, "start": u.start, "end": u.end,
                                    "about": round(u.about, 4), "dense": round(u.dense, 4),
                                    "coverage": round(u.coverage, 4), "mismatches": len(u.pairs),
                                    "unconfirmed": len(u.unconfirmed)} for u in units]}
        polarity = negated(claim)
        supporting = [u for u in units if not u.pairs and not u.unconfirmed and u.about >= s.support
                      and negated(self.store.document(u.doc).text[u.start:u.end]) == polarity
                      and not swapped(claim, claim_details, self.store.document(u.doc).text, u.details)]
        contradicting = [u for u in units if u.pairs and not u.unconfirmed and u.about >= s.contradict
                         and _changed_detail(u)]
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
            mm = tuple(Mismatch(claim[d.start:d.end], d.start, d.end, text[e.start:e.end], e.start, e.end,
                                d.kind, ev.source) for d, e in u.pairs)
            return Verdict(claim, CONTRADICTED, sigmoid(12 * (u.about - s.contradict) + 1), (ev,), mm, explain)
        return Verdict(claim, NOT_FOUND, sigmoid(12 * (min(s.support, s.contradict) - best) + 1), (), (), explain)
