"""Checkable details of a sentence: dates, numbers (with their units and scale), ordinals and names.

:func:`details` finds them with offsets and comparable values, so the claim checker can tell
"$30.1 billion" from "$51.1 billion" and "second-largest" from "third-largest".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.text.units import CURRENCY_SIGNS, PERCENT, SCALES, UNITS
from qa.text.types import COUNTED, DATE, MONTH_NAMES, NUMBER, STOP_CAPS, common_words, name_spans

ORDINAL, NAME = "ORDINAL", "NAME"
# The unit of a NAME that is only a common word capitalised by its place ("Bananas are ...", "Web servers
# ..."): it must still be found to support a claim, but it names nothing another name could rival.
COMMON = "common"

_MONTHS = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}
_MONTH_FULL = (rf"(?:{'|'.join(MONTH_NAMES)}|"
               r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?")
_Y = r"(?:1[0-9]{3}|20[0-9]{2})"
_DETAIL_DATE = re.compile(
    rf"\b(?:(?P<m1>{_MONTH_FULL})\s+(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y1>{_Y})"
    rf"|(?:the\s+)?(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<m2>{_MONTH_FULL}),?\s+(?P<y2>{_Y})"
    rf"|(?P<m3>{_MONTH_FULL})\s+(?P<y3>{_Y})"
    rf"|(?P<y4>{_Y})(?P<decade>s)?"
    rf"|(?P<m5>{_MONTH_FULL})\s+(?P<d5>\d{{1,2}})(?:st|nd|rd|th)?(?!\d|,?\s*\d)"      # May 5 (no year)
    rf"|(?:the\s+)?(?P<d6>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<m6>{_MONTH_FULL})(?!,?\s*\d)"
    rf")(?![\d,.]*\d)\b")
# A year-like number right after a date preposition is a year ("in 1990 elections"); otherwise one
# counting a plural noun is a count ("1500 soldiers").
_DATE_PREPOSITION = re.compile(r"\b(?:in|since|by|from|until|till|after|before|during|circa|c\.)\s+$",
                               re.IGNORECASE)
_WORD_VALUES = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
_WORD_VALUES.update({"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
                     "ninety": 90, "hundred": 100, "thousand": 1000, "dozen": 12})
_ORDINAL_WORDS = {w: i for i, w in enumerate(
    "zeroth first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth".split())}
_SCALES = SCALES
# "percent" is read by the number pattern itself; every other unit word of the shared vocabulary counts
_UNITS = {w: canon for w, (canon, kind) in UNITS.items() if kind != PERCENT or canon == "pp"}
_UNIT_WORDS = "|".join(w.replace(" ", r"\s+") for w in sorted(_UNITS, key=len, reverse=True))
_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_ONES = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# "twenty-five" first, so it is never read as "five"
_NUM_WORDS_RE = (rf"(?:{'|'.join(_TENS)})[-\s](?:{'|'.join(_ONES)})|"
                 + "|".join(sorted((w for w in _WORD_VALUES if " " not in w), key=len, reverse=True)))
_DETAIL_NUMBER = re.compile(
    rf"(?<![\w\[.,])(?:(?:US|A|C|NZ|HK|S)?(?P<cur>[{CURRENCY_SIGNS}]))?\s?(?P<num>\d{{1,3}}(?:,\d{{3}})+(?:\.\d+)?|\d+(?:\.\d+)?|{_NUM_WORDS_RE})\b"
    rf"(?!\])(?:\s*(?P<pct>%|percent\b|per cent\b))?(?:\s*-?\s*(?P<scale>thousand|million|billion|trillion)\b)?"
    rf"(?:\s+(?P<unit>{_UNIT_WORDS})\b)?", re.IGNORECASE)
_DETAIL_ORDINAL = re.compile(
    rf"\b(?P<ord>\d+(?:st|nd|rd|th)|{'|'.join(sorted(_ORDINAL_WORDS, key=len, reverse=True))})"
    rf"(?:[-\s](?P<sup>(?:largest|biggest|smallest|highest|lowest|most|least|oldest|youngest|"
    rf"richest|poorest|busiest|longest|strongest)\b[\w-]*))?\b", re.IGNORECASE)


@dataclass(frozen=True)
class Detail:
    """A checkable detail of a sentence: ``text[start:end]``, its kind and a comparable value.

    ``value`` is a (year, month, day) tuple (None for unknown parts) for a DATE, a float for a
    NUMBER or ORDINAL, and the lower-cased name for a NAME; ``unit`` says what a number counts
    ("%", "$", "km", "largest", ...), so only like is compared with like.
    """

    start: int
    end: int
    kind: str
    value: object
    unit: str | None = None


def _month(word: str | None) -> int | None:
    return _MONTHS.get(word.lower().rstrip(".")[:3]) if word else None


def _dates(text: str) -> list[Detail]:
    out = []
    for m in _DETAIL_DATE.finditer(text):
        g = m.groupdict()
        y = g["y1"] or g["y2"] or g["y3"] or g["y4"]
        year = int(y) if y else None  # None: a day and month without a year
        month = _month(g["m1"] or g["m2"] or g["m3"] or g["m5"] or g["m6"])
        d = g["d1"] or g["d2"] or g["d5"] or g["d6"]
        day = int(d) if d else None
        s = m.start() + (len(m.group()) - len(m.group().lstrip()))
        for day_group in ("d2", "d6"):
            if g[day_group] and re.match(r"the\s", m.group(), re.IGNORECASE):
                s = m.start(day_group)  # "the  7th of May 2019": the date starts at its day
        if g["y4"] and not g["decade"] and s > 0 and text[s - 1] in CURRENCY_SIGNS:
            continue  # "$1500" is an amount
        if g["y4"] and not g["decade"] and COUNTED.match(text, m.end()) and not _DATE_PREPOSITION.search(text, 0, s):
            continue  # "1500 soldiers" is a count, left to the numbers
        out.append(Detail(s, m.end(), DATE, (year // 10 * 10 if g["decade"] and year else year, month, day),
                          "decade" if g["decade"] else None))
    return out


def _numbers(text: str, taken: list[tuple[int, int]]) -> list[Detail]:
    out = []
    for m in _DETAIL_NUMBER.finditer(text):
        s, e = m.span()
        if any(ts <= s < te or s <= ts < e for ts, te in taken):
            continue
        num = m.group("num").lower()
        if num[0].isdigit():
            value = float(num.replace(",", ""))
        else:
            parts = re.split(r"[-\s]", num)
            if any(p not in _WORD_VALUES for p in parts):
                continue  # a look-alike letter matched without regard to case ("ſix")
            value = float(sum(_WORD_VALUES[p] for p in parts))
        if m.group("scale"):
            value *= _SCALES[m.group("scale").lower()]
        cur, unit = m.group("cur"), m.group("unit")
        kind_unit = ("%" if m.group("pct") else cur or (_UNITS[" ".join(unit.lower().split())] if unit else None))
        if not num[0].isdigit() and kind_unit is None and not m.group("scale"):
            continue  # a bare "one" or "two" is rarely a checkable amount
        if text[s].isspace():
            s += 1
        if s > 0 and text[s - 1] in "-−" and (s == 1 or text[s - 2] in " \t\n(") and not cur:
            s, value = s - 1, -value  # "-5 degrees"; not "10-20", "COVID-19"
        out.append(Detail(s, e, NUMBER, value, kind_unit))
    return out


def _ordinals(text: str, taken: list[tuple[int, int]]) -> list[Detail]:
    out = []
    for m in _DETAIL_ORDINAL.finditer(text):
        s, e = m.span()
        if any(ts <= s < te or s <= ts < e for ts, te in taken):
            continue
        word = m.group("ord").lower()
        digits = re.sub(r"\D", "", word)
        if word not in _ORDINAL_WORDS and not digits:
            continue  # a look-alike letter matched without regard to case ("ſecond")
        value = float(_ORDINAL_WORDS[word]) if word in _ORDINAL_WORDS else float(digits)
        sup = m.group("sup")
        out.append(Detail(s, e, ORDINAL, value, sup.lower().split("-")[0] if sup else None))
    return out


def _name_parts(text: str) -> list[tuple[int, int]]:
    """Name spans split at "and" (a list of names is several names) without stop-word-only parts."""
    out = []
    for s, e in name_spans(text):
        cuts = [s] + [x for m in re.finditer(r"\s+and\s+", text[s:e]) for x in (s + m.start(), s + m.end())] + [e]
        for ps, pe in zip(cuts[::2], cuts[1::2]):
            words = [w.strip("'’").lower() for w in re.findall(r"[\w'’]+", text[ps:pe])]
            if words and not all(w in _STOP_WORDS for w in words):
                out.append((ps, pe))
    return out


_STOP_WORDS = frozenset(w.lower() for w in STOP_CAPS) | frozenset(
    "about around approximately nearly roughly almost some there here all each every no not one".split())


def _by_position(text: str, s: int, e: int) -> bool:
    """A single word opening a sentence that English writes in lower case."""
    word = text[s:e]
    if not word.isalpha() or word.lower() not in common_words():
        return False
    before = text[:s].rstrip(" \t\"'“‘(")
    return not before or before.endswith((".", "!", "?", ":", "\n"))


def details(text: str) -> list[Detail]:
    """Dates, numbers (amounts, percentages, counts), ordinals and names in ``text``, in order.

    Spans never overlap: a date wins over a number inside it, a number over a name.
    """
    found = _dates(text)
    taken = [(d.start, d.end) for d in found]
    found += _numbers(text, taken)
    taken = [(d.start, d.end) for d in found]
    found += _ordinals(text, taken)
    taken = [(d.start, d.end) for d in found]
    for s, e in _name_parts(text):
        if any(ts < e and s < te for ts, te in taken):
            continue
        if re.fullmatch(_MONTH_FULL, text[s:e], re.IGNORECASE):
            continue
        found.append(Detail(s, e, NAME, text[s:e].lower(), COMMON if _by_position(text, s, e) else None))
    return sorted(found, key=lambda d: d.start)
