"""What kind of answer a question wants, and where such answers sit in a sentence.

``question_type`` maps a question to DATE, NUMBER, PERSON, PLACE or None;
``typed_spans`` finds spans of that type in a sentence (as offsets), so the
answer stage can narrow a sentence to "1965" or "$30.1 billion" when the
question asks when or how much.
"""

from __future__ import annotations

import re

DATE, NUMBER, PERSON, PLACE, ENTITY = "DATE", "NUMBER", "PERSON", "PLACE", "ENTITY"

_MONTH = (r"(?:January|February|March|April|May|June|July|August|September|October|November|December|"
          r"Jan\.|Feb\.|Mar\.|Apr\.|Jun\.|Jul\.|Aug\.|Sept?\.|Oct\.|Nov\.|Dec\.)")
_YEAR = r"(?:1[0-9]{3}|20[0-9]{2})(?:s\b)?"
_DATE_RE = re.compile(
    rf"\b(?:{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+{_YEAR}"          # March 16, 2023
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}"      # 16 March 2023 / 28th of September, 2023
    rf"|(?:the\s+)?\d{{1,2}}(?:st|nd|rd|th)\s+of\s+{_MONTH},?\s+{_YEAR}"
    rf"|{_MONTH}\s+{_YEAR}"                                            # March 2023
    rf"|{_YEAR}\s*(?:–|-|to|and)\s*{_YEAR}"                              # 1910 to 1945
    rf"|(?:the\s+)?(?:early|mid|late)?-?\s*\d{{1,2}}(?:st|nd|rd|th)\s+century"
    rf"|(?:the\s+)?{_YEAR})\b")

_NUMWORD = (r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
            r"sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
            r"hundred|thousand|dozen|half|several)")
_NUMBER_RE = re.compile(
    rf"(?:(?:about|around|approximately|nearly|over|more than|less than|almost|some|~)\s*)?"
    rf"(?:[$€£¥]\s?)?(?:\d[\d,]*(?:\.\d+)?|{_NUMWORD})"
    rf"(?:\s*(?:%|percent|per cent))?"
    rf"(?:\s+(?:million|billion|trillion|thousand|hundred))?"
    rf"(?:\s+(?:km|kilometers|kilometres|miles|meters|metres|kg|tons|people|years|months|days|times|"
    rf"points|soldiers|troops|members|students|dollars|yen|won|percent))?", re.IGNORECASE)

_CAP_WORD = r"[A-Z][\w'’\-]*"
_NAME_RE = re.compile(rf"{_CAP_WORD}(?:\s+(?:(?:of|the|de|von|van|al|bin|and|for)\s+)?{_CAP_WORD})*")

_Q_NUMBER = re.compile(r"\b(how (many|much|long|far|old|large|big|high|often)|what (percentage|percent|"
                       r"share|proportion|number|amount|distance|fraction)|what was the (value|amount|"
                       r"number|rate)|by how much)\b", re.IGNORECASE)
_Q_DATE = re.compile(r"\b(when|what (years?|dates?|day|months?|decades?|century|time)|which (years?|dates?|months?|"
                     r"decades?|century)|in what (year|month)|since when|how long ago)\b", re.IGNORECASE)
_Q_PERSON = re.compile(r"\b(who|whom|whose|which (person|leader|president|prime minister|minister|"
                       r"emperor|king|official|general|historian|author))\b", re.IGNORECASE)
_Q_PLACE = re.compile(r"\b(where|what (city|country|place|region|island|location|state|sea|river)|"
                      r"which (city|country|place|region|island|location|state|sea|river))\b", re.IGNORECASE)
_STOP_CAPS = frozenset("The A An In On At For But And Or If As It Its This That These Those He She They We "
                       "I You His Her Their Our After Before During Since When While However Although Also "
                       "Yet Both Under Over From To By With Among Between Despite Due Some Others Many "
                       "Most Such What Which Who Where Why How".split())


def question_type(question: str) -> str | None:
    """The expected answer type of a question, or None when a sentence is the answer.

    The earliest question phrase decides: "What did X withdraw when ..." wants a thing, not a date.
    """
    found = [(m.start(), kind) for kind, rx in ((NUMBER, _Q_NUMBER), (DATE, _Q_DATE), (PERSON, _Q_PERSON),
                                                 (PLACE, _Q_PLACE)) for m in [rx.search(question)] if m]
    first_wh = re.search(r"\b(what|which|who|whom|whose|when|where|why|how)\b", question, re.IGNORECASE)
    if not found:
        return None
    pos, kind = min(found)
    if first_wh and first_wh.start() < pos and question[first_wh.start():first_wh.end()].lower() in ("what", "which", "why", "how"):
        # An earlier "what/which/why/how" that is not itself typed means the answer is a thing or a reason.
        return None
    return kind


def _names(sentence: str) -> list[tuple[int, int]]:
    """Runs of capitalised words, minus leading function words ("The", "In", ...)."""
    spans = []
    for m in _NAME_RE.finditer(sentence):
        words = [(m.start() + w.start(), m.start() + w.end()) for w in re.finditer(r"\S+", m.group())]
        while words and sentence[words[0][0]:words[0][1]] in _STOP_CAPS:
            words.pop(0)
        if words:
            spans.append((words[0][0], m.end()))
    return spans


def typed_spans(qtype: str | None, sentence: str) -> list[tuple[int, int]]:
    """Spans (offsets into ``sentence``) that could answer a question of type ``qtype``."""
    if qtype == DATE:
        return [m.span() for m in _DATE_RE.finditer(sentence)]
    if qtype == NUMBER:
        dates = [m.span() for m in _DATE_RE.finditer(sentence) if not re.fullmatch(r"(the\s+)?\d{4}", m.group())]
        out = []
        for m in _NUMBER_RE.finditer(sentence):
            s, e = m.span()
            text = m.group().strip()
            if not text or not re.search(r"\d|" + _NUMWORD, text, re.IGNORECASE):
                continue
            if re.fullmatch(r"(1[0-9]{3}|20[0-9]{2})", text) or any(ds <= s < de for ds, de in dates):
                continue  # a bare year is a date, not a quantity
            if s > 0 and (sentence[s - 1].isalnum() or sentence[s - 1] == "["):
                continue  # part of a word, or a citation marker like [41]
            e = s + len(m.group().rstrip().rstrip(",.;:"))
            out.append((s, e))
        return out
    if qtype in (PERSON, PLACE, ENTITY):
        return _names(sentence)
    return []


def answer_spans(qtype: str | None, question: str, sentence: str) -> list[tuple[int, int]]:
    """Typed spans that could answer the question: not already said by the question itself.

    A date or number the question states is not the answer; a name sharing a word with the
    question ("Yoon" in "Who met Yoon?") is what is asked about, not the answer.
    """
    from .lexical import tokenize

    qterms = set(tokenize(question))
    qlow = question.lower()
    names = qtype not in (DATE, NUMBER)
    out = []
    for s, e in typed_spans(qtype, sentence):
        toks = set(tokenize(sentence[s:e]))
        if sentence[s:e].lower() in qlow or (toks and (toks & qterms if names else toks <= qterms)):
            continue
        out.append((s, e))
    return out


def type_match(qtype: str | None, question: str, sentence: str) -> float:
    """1.0 when the sentence holds a span of the wanted type that could answer the question."""
    if qtype is None:
        return 0.0
    return 1.0 if answer_spans(qtype, question, sentence) else 0.0
