"""Which way a statement goes: up or down, for or against, better or worse, with or without.

"Chenodeoxycholic acid treatment decreases brown adipose tissue activity" holds every name of "The
bile acid chenodeoxycholic acid increases human brown adipose tissue activity", and says the opposite.
:func:`direction_conflict` reads the words that give a statement its direction, on four axes:

- amount: increases, raises, rises, higher, accelerates / decreases, reduces, falls, lower, slows;
- effect: promotes, activates, induces, encourages / inhibits, suppresses, prevents, blocks, halts;
- value: improves, effective, accurate, better / worsens, ineffective, inaccurate, worse;
- relation: positively, associated, dependent / negatively, unrelated, independent;

a negation just before a word ("does not increase") turns it round. A claim's direction must be found
in its evidence like any other detail: the opposite direction contradicts it, none at all leaves it
unsupported.
"""

from __future__ import annotations

import re

# axis -> (pole +1 stems, pole -1 stems); a word matches a stem it starts with.
_AXES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "amount": (("increas", "rais", "rise", "rises", "rising", "rose", "risen", "elevat", "higher", "greater", "grew",
                "grow", "boost", "upregulat", "up-regulat", "accelerat", "exceed", "enlarg", "expand", "gain"),
               ("decreas", "reduc", "lower", "declin", "fell", "fall", "drop", "diminish", "downregulat",
                "down-regulat", "attenuat", "slow", "lessen", "shrink", "shrank", "smaller", "loss", "lose", "lost")),
    "effect": (("promot", "activat", "induc", "stimulat", "encourag", "facilitat", "enabl", "trigger", "enhanc",
                "potentiat", "amplif", "drive", "drives", "driving"),
               ("inhibit", "suppress", "prevent", "block", "imped", "deactivat", "inactivat", "halt", "abolish",
                "hinder", "antagoni", "dampen", "abrogat", "repress", "restrict")),
    "value": (("improv", "benefi", "effective", "efficaci", "accurate", "better", "rescu", "safe", "superior",
               "favorabl", "favourabl"),
              ("worsen", "harm", "ineffective", "inaccurate", "worse", "exacerbat", "toxic", "detriment",
               "inferior", "unsafe", "unfavorabl", "unfavourabl", "impair")),
    "relation": (("positive", "associat", "correlat", "linked", "dependent", "related"),
                 ("negative", "inverse", "unrelated", "unassociat", "uncorrelat", "independent", "unlinked")),
}
_NEGATOR = re.compile(r"\b(?:not|never|no|cannot|without|n[’']t)\s+(?:\w+\s+){0,2}$", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z][\w\-]*")


def _pole(word: str, axis: str) -> int:
    w = word.lower()
    up, down = _AXES[axis]
    # the longer match wins: "ineffective" is no "effective", "unrelated" no "related"
    best = max([(len(s), 1) for s in up if w.startswith(s)] + [(len(s), -1) for s in down if w.startswith(s)],
               default=(0, 0))
    return best[1]


# Words that look like a direction and are not one here: a measure named ("effectiveness"), an idiom
# ("gives rise to"), a sign that qualifies no relation ("positive cultures").
_IDIOM_BEFORE = re.compile(r"\b(?:give|gives|gave|given|giving)\s+$", re.IGNORECASE)
_SIGNED = re.compile(r"\s+(?:correlat|associat|relat|effect|impact|regulat|feedback|predict|link)", re.IGNORECASE)


def _not_a_direction(text: str, m: re.Match) -> bool:
    word = m.group().lower()
    if word.endswith("ness") or (word.startswith("rise") and _IDIOM_BEFORE.search(text, 0, m.start())):
        return True
    return word in ("positive", "negative") and not _SIGNED.match(text, m.end())


def directions(text: str, lo: int = 0, hi: int | None = None) -> dict[str, list[tuple[int, int, int]]]:
    """``axis -> [(pole, start, end), ...]`` for the direction words of ``text[lo:hi]`` (offsets into ``text``),
    a pole turned round by a negation right before its word."""
    hi = len(text) if hi is None else hi
    out: dict[str, list[tuple[int, int, int]]] = {}
    for m in _WORD.finditer(text, lo, hi):
        if _not_a_direction(text, m):
            continue
        for axis in _AXES:
            pole = _pole(m.group(), axis)
            if pole:
                if _NEGATOR.search(text, max(lo, m.start() - 30), m.start()):
                    pole = -pole
                out.setdefault(axis, []).append((pole, m.start(), m.end()))
    return out


def direction_conflict(claim: str, evidence: str, lo: int = 0, hi: int | None = None
                       ) -> tuple[bool, tuple[tuple[int, int], tuple[int, int]] | None]:
    """``(stated, conflict)``: whether every direction of the claim is stated by ``evidence[lo:hi]``, and
    the first claim word whose direction the evidence states only the other way round, with the evidence
    word (offsets into ``claim`` and ``evidence``), or None."""
    c, e = directions(claim), directions(evidence, lo, hi)
    stated = True
    for axis, words in c.items():
        poles = {p for p, _, _ in e.get(axis, [])}
        for pole, cs, ce in words:
            if pole in poles:
                continue
            stated = False
            if -pole in poles:
                es, ee = next((s, t) for p, s, t in e[axis] if p == -pole)
                return False, ((cs, ce), (es, ee))
    return stated, None
