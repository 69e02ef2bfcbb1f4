"""Who did what to whom, and whether it was so: the roles, direction and negation of a statement.

The claim checker (:mod:`qa.check.claims`) compares details one by one; a claim can hold every
detail of its evidence and still say the opposite. This module finds the three ways that happens:

- **direction**: "Japan exported $51.1 billion to South Korea" against "South Korea's exports to
  Japan reached $51.1 billion", "imports from A" against "exports to A", "from X to Y" reversed
  (:func:`flows`);
- **roles**: agent and object exchanged, in the active or the passive ("Brazil defeated Germany"
  against "Germany was defeated by Brazil" states the same; "Germany defeated Brazil" does not)
  (:func:`actions`);
- **negation**: "never", "not", "no longer" against the positive statement, either way
  (:func:`negation_conflict`), judged near the words the two sides share, so an unrelated "not"
  elsewhere in a long sentence is no conflict.

Everything here is pure text in, offsets out (offsets into the text given). :func:`question_flow`
and :func:`reverses_question` give the answer stage the same reading of "How much did South Korea
export to Japan": a sentence about Japan's exports to South Korea does not answer it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from qa.text.details import NAME, Detail, details
from qa.text.names import _name_words, name_in
from qa.text.words import tokenize

# ------------------------------------------------------------------ negation

NEGATION = re.compile(r"\b(?:no\s+longer|not(?!\s+only\b)|never|no(?!\s+(?:less|more|one|doubt)\b)|cannot|neither|"
                      r"nor|none|without|fail(?:s|ed)?\s+to)\b|n[’']t\b", re.IGNORECASE)
_CLAUSE_END = re.compile(r"[,;:()\n]|[.!?](?:\s|$)|\b(?:but|while|whereas|although|though|which|who)\b", re.IGNORECASE)
_SCOPE_WORDS = 4


def negated(text: str) -> bool:
    """Whether ``text`` says that something is not so: a claim and its evidence must agree on this, or the
    evidence does not support the claim."""
    return NEGATION.search(text) is not None


@dataclass(frozen=True)
class _Cue:
    start: int
    end: int
    scope: tuple[str, ...]   # stemmed content words the negation applies to (up to the clause's end)


def _cues(text: str, lo: int = 0, hi: int | None = None) -> list[_Cue]:
    hi = len(text) if hi is None else hi
    out = []
    for m in NEGATION.finditer(text, lo, hi):
        stop = _CLAUSE_END.search(text, m.end(), hi)
        words = tokenize(text[m.end():stop.start() if stop else hi])
        out.append(_Cue(m.start(), m.end(), tuple(words[:_SCOPE_WORDS])))
    return out


def _word_spans(text: str, lo: int, hi: int) -> list[tuple[int, int, str]]:
    out = []
    for m in re.finditer(r"[\w’'\-]+", text[lo:hi]):
        toks = tokenize(m.group())
        if toks:
            out.append((lo + m.start(), lo + m.end(), toks[0]))
    return out


def _same_stem(t: str, stem: str) -> bool:
    return t == stem or (len(stem) >= 5 and len(t) >= 5 and (t[:5] == stem[:5] or t[:-1] == stem[:-1]))


def _has(words: set[str], stem: str) -> bool:
    return stem in words or any(_same_stem(t, stem) for t in words)


def _find_word(text: str, lo: int, hi: int, stems: Sequence[str]) -> tuple[int, int] | None:
    """The first word of ``text[lo:hi]`` that is one of ``stems`` (or shares its first five letters)."""
    spans = _word_spans(text, lo, hi)
    for stem in stems:
        for s, e, t in spans:
            if _same_stem(t, stem):
                return s, e
    return None


def negation_conflict(claim: str, evidence: str, lo: int = 0, hi: int | None = None
                      ) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """Where the claim and ``evidence[lo:hi]`` disagree on whether the shared statement holds: a
    negation on one side whose words the other side states without one. Returns ``((claim_start,
    claim_end), (evidence_start, evidence_end))``: the negation and the word it denies on the other
    side (offsets into ``claim`` and ``evidence``), or None."""
    hi = len(evidence) if hi is None else hi
    claim_words, ev_words = set(tokenize(claim)), set(tokenize(evidence[lo:hi]))
    c_cues, e_cues = _cues(claim), _cues(evidence, lo, hi)
    # A negation bears on the other side when the word it negates (its first) is there: "never invaded"
    # on "launched an invasion"; not "does not increase Y" on "decreases Y", which merely shares the Y.
    relevant_e = [c for c in e_cues if c.scope and _has(claim_words, c.scope[0])]
    relevant_c = [c for c in c_cues if c.scope and _has(ev_words, c.scope[0])]
    if relevant_c and not relevant_e:
        cue = relevant_c[0]
        where = _find_word(evidence, lo, hi, cue.scope)
        if where is not None:
            return (cue.start, cue.end), where
    if relevant_e and not c_cues:
        cue = relevant_e[0]
        where = _find_word(claim, 0, len(claim), cue.scope)
        if where is not None:
            return where, (cue.start, cue.end)
    return None


# ------------------------------------------------------------------ direction: what goes from whom to whom

_FLOW_NOUN = r"(?:exports?|shipments?|sales|aid|investments?|loans?|remittances?|transfers?|deliveries|donations?)"
_FLOW_VERB = (r"(?:export(?:s|ed|ing)?|s(?:ell|old|ells|elling)|ship(?:s|ped|ping)?|sen[dt]s?|sending|gave|gives?|"
              r"giving|lent|lends?|donat(?:e|es|ed|ing)|suppl(?:y|ies|ied)|deliver(?:s|ed)?|transferr?(?:s|ed)?|"
              r"moved?|travel(?:l?ed|s)?|flew|fl(?:y|ies)|migrat(?:e|es|ed))")
_IN_VERB = r"(?:import(?:s|ed|ing)?|b(?:uy|uys|ought)|receiv(?:e|es|ed|ing)|purchas(?:e|es|ed))"
_IN_NOUN = r"(?:imports?|purchases?)"
_GAP = r"(?:(?:[^.;:!?]|[.,](?=\d)){0,80}?)"  # "$51.1 billion" may stand between, not a sentence's end


@dataclass(frozen=True)
class Flow:
    """Something going from ``source`` to ``target`` (name details, offsets into the text)."""

    source: Detail
    target: Detail


def _name_at(names: list[Detail], s: int, e: int) -> Detail | None:
    return next((d for d in names if d.start == s and d.end == e), None)


def flows(text: str, ds: Sequence[Detail] | None = None) -> list[Flow]:
    """Directed statements between two names: "A exported X to B", "A's exports to B", "exports from A to
    B", "from A to B" (source A, target B); "A imported X from B", "A's imports from B" (source B)."""
    names = [d for d in (details(text) if ds is None else ds) if d.kind == NAME]
    out: list[Flow] = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            between = text[a.end:b.start]
            if len(between) > 90 or re.search(r"[;!?]|\.(?!\d)", between):
                continue
            before = text[max(0, a.start - 40):a.start]
            low = between.lower()
            if re.fullmatch(rf"\s*(?:['’]s?)?\s+(?:{_FLOW_NOUN}|{_FLOW_VERB}){_GAP}\s(?:to|into|for)\s+(?:the\s+)?",
                            low) and not re.search(r"\bfrom\b", low):
                out.append(Flow(a, b))
            elif re.fullmatch(rf"\s*(?:['’]s?)?\s+(?:{_IN_NOUN}|{_IN_VERB}){_GAP}\s(?:from)\s+(?:the\s+)?", low):
                out.append(Flow(b, a))
            elif re.fullmatch(r"\s*(?:,\s*)?to\s+(?:the\s+)?", low) and re.search(r"\bfrom\s+(?:the\s+)?$", before,
                                                                                  re.IGNORECASE):
                out.append(Flow(a, b))      # "(exports) from A to B"
            elif (re.fullmatch(r"\s*(?:,\s*)?from\s+(?:the\s+)?", low)
                  and re.search(rf"\b{_FLOW_NOUN}\s+to\s+(?:the\s+)?$", before, re.IGNORECASE)):
                out.append(Flow(b, a))      # "exports to B from A"
            elif (re.fullmatch(r"\s*(?:,\s*)?from\s+(?:the\s+)?", low)
                  and re.search(rf"\b{_IN_NOUN}\s+(?:of\s+\w+\s+)?(?:by|to|into)\s+(?:the\s+)?$", before, re.IGNORECASE)):
                out.append(Flow(b, a))      # "imports by A from B"
    return out


# ------------------------------------------------------------------ roles: who did it to whom

_AUX = r"(?:was|were|is|are|been|being|be|has\s+been|have\s+been|had\s+been)"
_VERBISH = re.compile(r"^[a-z][a-z\-]*(?:ed|en|s)$|^(?:met|beat|won|led|fought|hit|took|gave|made|sent|left|sold|"
                      r"bought|shot|struck|caught|held|ran|saw|told|brought|built|overthrew|overthrown|"
                      r"beaten|taken|given|fought|led|won)$")


@dataclass(frozen=True)
class Action:
    """``agent`` did ``verb`` (a stem) to ``patient``."""

    agent: Detail
    verb: str
    patient: Detail


def actions(text: str, ds: Sequence[Detail] | None = None) -> list[Action]:
    """Two names joined by a verb: "A defeated B" (agent A), "A was defeated by B" (agent B). Only a
    short verb phrase between them counts ("A and B", "A, B" and "A in B" are no action)."""
    names = [d for d in (details(text) if ds is None else ds) if d.kind == NAME]
    out = []
    for a, b in zip(names, names[1:]):
        between = text[a.end:b.start]
        m = re.fullmatch(rf"\s+{_AUX}\s+(?:\w+ly\s+)?(?P<v>[a-z\-]+)\s+by\s+(?:the\s+)?", between)
        if m and _VERBISH.match(m.group("v")):
            out.append(Action(b, _stem(m.group("v")), a))
            continue
        m = re.fullmatch(r"\s+(?:(?:had|has|have|did|had\s+once|once|then|later|also|never|not)\s+)*"
                         r"(?P<v>[a-z\-]+)\s+(?:the\s+)?", between)
        if m and _VERBISH.match(m.group("v")) and m.group("v") not in ("is", "was", "has", "does"):
            out.append(Action(a, _stem(m.group("v")), b))
    return out


_SKIP_AFTER_NAME = re.compile(r"[’']s?\s+|\s+(?:(?:has|have|had|also|then|later|first|once|quickly|finally)\s+)*")


def subjects(text: str, ds: Sequence[Detail] | None = None) -> list[tuple[Detail, str]]:
    """Names directly followed by what they do: ("South Korea", "withdr") for "South Korea withdrawing its
    complaint", ("Japan", "dropp") for "Japan dropped ...". Lets "Japan withdrew ... and South Korea dropped"
    be told from "South Korea withdrew ... and Japan dropped"."""
    out: list[tuple[Detail, str]] = []
    names = [d for d in (details(text) if ds is None else ds) if d.kind == NAME]
    for i, d in enumerate(names):
        m = _SKIP_AFTER_NAME.match(text, d.end)
        if not m or text[d.end:m.end()].strip().startswith(("’", "'")):
            continue
        # a past tense or a participle: "forces" after "UN" is a noun, "forced" a verb
        w = re.match(r"([a-z]{3,}(?:ed|ing)|withdrew|withdrawn|met|won|led|took|gave|sent|sold|bought|made|beat|"
                     r"overthrew|fought|struck|began|ran|rose|fell|left)\b", text[m.end():m.end() + 20])
        if w:
            verb = _stem(w.group(1))[:4]
            out.append((d, verb))
            j = i  # "Japan and South Korea signed": both signed
            while j > 0 and re.fullmatch(r"\s*(?:,|and|or|,\s*and)\s*", text[names[j - 1].end:names[j].start]):
                j -= 1
                out.append((names[j], verb))
    return out


def _stem(verb: str) -> str:
    t = tokenize(verb)
    return t[0][:5] if t else verb[:5]


# ------------------------------------------------------------------ comparing claim and evidence

def role_conflict(claim: str, claim_details: Sequence[Detail], evidence: str, ev_details: Sequence[Detail],
                  same_name) -> list[tuple[Detail, Detail]]:
    """Pairs (claim name, evidence name) where the evidence states the claim's relation with its two
    names in reversed roles: the source in place of the target, the agent in place of the object.
    ``same_name(claim_detail, evidence_detail)`` says whether two names name the same thing. Empty when
    no relation of the claim is reversed, or when the evidence also states it the claim's way."""
    out: list[tuple[Detail, Detail]] = []
    c_flows, e_flows = flows(claim, claim_details), flows(evidence, ev_details)
    for f in c_flows:
        same = any(same_name(f.source, g.source) and same_name(f.target, g.target) for g in e_flows)
        rev = [g for g in e_flows if same_name(f.source, g.target) and same_name(f.target, g.source)]
        if rev and not same:
            out += [(f.source, rev[0].source), (f.target, rev[0].target)]
    if out:
        return out
    c_subj, e_subj = subjects(claim, claim_details), subjects(evidence, ev_details)
    for a, verb in c_subj:
        if any(v == verb and same_name(a, b) for b, v in e_subj):
            continue
        others = [b for b, v in e_subj if v == verb and not same_name(a, b)
                  and any(same_name(c, b) for c in claim_details if c.kind == NAME and c != a)]
        if others:
            return [(a, others[0])]
    c_acts, e_acts = actions(claim, claim_details), actions(evidence, ev_details)
    for a in c_acts:
        same = any(a.verb == b.verb and same_name(a.agent, b.agent) and same_name(a.patient, b.patient) for b in e_acts)
        rev = [b for b in e_acts if a.verb == b.verb and same_name(a.agent, b.patient) and same_name(a.patient, b.agent)]
        if rev and not same:
            out += [(a.agent, rev[0].agent), (a.patient, rev[0].patient)]
    return out


# ------------------------------------------------------------------ the question side (answering)

_Q_FLOW = re.compile(rf"\b(?:did|does|do|has|have|will)\s+(?P<a>.+?)\s+(?P<v>{_FLOW_VERB}|{_IN_VERB})\b(?P<rest>.*)",
                     re.IGNORECASE)


def question_flow(question: str) -> Flow | None:
    """The direction a question asks about ("How much did South Korea export to Japan?": from South
    Korea to Japan), read as a statement; None when it asks about no direction."""
    m = _Q_FLOW.search(question)
    if m:
        statement = f"{m.group('a')} {m.group('v')}ed{m.group('rest')}".rstrip(" ?")
    else:
        statement = question.rstrip(" ?")
    fs = flows(statement)
    return fs[0] if fs else None


def reverses_question(question: str, sentence: str) -> bool:
    """The sentence states the question's direction reversed (and not also the question's way): its
    amount answers another question ("Japan exported $51.1 billion to South Korea" for "How much did
    South Korea export to Japan?")."""
    q = question_flow(question)
    if q is None:
        return False
    qs = q.source.value if isinstance(q.source.value, str) else ""
    qt = q.target.value if isinstance(q.target.value, str) else ""
    same = rev = False
    for f in flows(sentence):
        src, tgt = _name_words(sentence[f.source.start:f.source.end]), _name_words(sentence[f.target.start:f.target.end])
        if name_in(qs, src) and name_in(qt, tgt):
            same = True
        elif name_in(qs, tgt) and name_in(qt, src):
            rev = True
    return rev and not same
