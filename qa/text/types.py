"""What kind of answer a question wants, and where such answers sit in a sentence.

``question_type`` maps a question to DATE, NUMBER, PERSON, PLACE or None;
``typed_spans`` finds spans of that type in a sentence (as offsets), so the
answer stage can narrow a sentence to "1965" or "$30.1 billion" when the
question asks when or how much.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from qa.text.chars import UPPER
from qa.text.words import tokenize
from qa.text.units import COUNT, CURRENCY_SIGNS, DISTANCE, DURATION, MONEY, PERCENT, unit_pattern  # noqa: F401 (kinds: public here)

DATE, NUMBER, PERSON, PLACE, ENTITY = "DATE", "NUMBER", "PERSON", "PLACE", "ENTITY"

MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
               "November", "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTH = (rf"(?:{'|'.join(MONTH_NAMES)}|"
          r"Jan\.|Feb\.|Mar\.|Apr\.|Jun\.|Jul\.|Aug\.|Sept?\.|Oct\.|Nov\.|Dec\.)")
_YEAR = r"(?:1[0-9]{3}|20[0-9]{2})(?:s\b)?"
# A month on its own; "May" only after "in" ("in May"), since it is also a verb that opens sentences.
_BARE_MONTH = r"(?:January|February|March|April|(?<=in\s)May|June|July|August|September|October|November|December)"
_ERA = r"(?:BCE|BC|CE|AD|B\.C\.(?!\w)|A\.D\.(?!\w))"
_ORDINAL_WORD = (r"(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|"
                 r"thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|"
                 r"twenty-first)")
_DATE_RE = re.compile(
    rf"\b(?:{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+{_YEAR}"          # March 16, 2023
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}"      # 16 March 2023 / 28th of September, 2023
    rf"|(?:the\s+)?\d{{1,2}}(?:st|nd|rd|th)\s+of\s+{_MONTH},?\s+{_YEAR}"
    rf"|{_MONTH}\s+{_YEAR}"                                            # March 2023
    rf"|{_YEAR}\s*(?:–|-|to|and)\s*{_YEAR}"                              # 1910 to 1945
    rf"|(?:the\s+)?(?:early|mid|late)?-?\s*(?:\d{{1,2}}(?:st|nd|rd|th)|{_ORDINAL_WORD})\s+centur(?:y|ies)"
    rf"|(?:around\s+|about\s+|c\.\s*)?\d{{1,4}}(?:\s*(?:–|-|to)\s*\d{{1,4}})?\s+{_ERA}"  # 3200 BC, 451 AD
    rf"|(?:AD|A\.D\.)\s+\d{{1,4}}"                                      # AD 70
    rf"|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?!\d|,?\s*\d{{3}})"           # April 7 (no year)
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}"                    # 4 December
    rf"|(?:about\s+|some\s+|around\s+|over\s+)?\d[\d,.]*\s+(?:(?:million|billion|thousand)\s+)?years\s+ago"
    rf"|(?<=\b[Ii]n\s)\d{{3}}(?:\s*(?:–|-)\s*\d{{3}})?(?!\d|\s+[a-z])"             # in 955 (not "in 300 cases")
    rf"|(?:mid-|early\s+|late\s+)?{_BARE_MONTH}(?!\s+\d)"                        # in June, mid-June
    rf"|(?:{'|'.join(WEEKDAYS)})s?"
    rf"|\d{{1,2}}(?::\d\d)?\s*(?:am|pm|a\.m\.|p\.m\.)"
    rf"|(?:the\s+)?{_YEAR})(?!\w)")

COMMON_WORDS_FILE = Path(__file__).resolve().parents[1] / "data" / "common_words.txt"

_MONEY_BEFORE = re.compile(rf"[{CURRENCY_SIGNS}]\s?$")
# What a number may count besides the units of qa/text/units.py ("1,200 soldiers").
_COUNTED_NOUNS = "people|points|soldiers|troops|members|students"

_NUMWORD = (r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
            r"sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
            r"hundred|thousand|dozen|half|several)")
_NUMBER_RE = re.compile(
    rf"(?:(?:about|around|approximately|nearly|over|more than|less than|almost|some|every)\s+|~\s*)?"
    rf"(?:(?:US|A|C|NZ|HK|S)?[{CURRENCY_SIGNS}]\s?)?(?:\d[\d,]*(?:\.\d+)?|{_NUMWORD}\b|a(?=\s+(?:million|billion|trillion|thousand|hundred|dozen)\b))"
    rf"(?:\s*(?:%|percent(?!age)|per cent))?"
    rf"(?:\s+(?:million|billion|trillion|thousand|hundred))?"
    rf"(?:\s+(?:{unit_pattern()}|{_COUNTED_NOUNS})(?![\w\-]))?",
    re.IGNORECASE)  # not "10 year-old": the number alone answers "how old"

# A lower-case plural noun right after a number: what it counts.
COUNTED = re.compile(r"\s+(?!(?:was|has|is|as|this|thus|its|his|does|gives|makes|marks|sees|becomes)\b)[a-z]{2,}s\b")

_CAP_WORD = rf"{UPPER}[\w'’\-]*"  # a match inside a word ("Bay" of "eBay") is dropped by name_spans
_NAME_RE = re.compile(rf"{_CAP_WORD}(?:\s+(?:(?:of|the|de|von|van|al|bin|and|for)\s+)?{_CAP_WORD})*")

_Q_NUMBER = re.compile(r"\b(how (many|much|long|far|old|large|big|high|often)|what (percentage|percent|"
                       r"share|proportion|number|amount|distance|fraction)|what was the (value|amount|"
                       r"number|rate)|by how much)\b", re.IGNORECASE)
# "when" asks for a date only as a question word ("When did ...", "... end when?"); "When using X, what ..."
# and "X is when Y ..." use it as a conjunction, and the question wants something else.
_Q_DATE = re.compile(r"\b(when(?=\s+(?:is|was|were|are|did|does|do|will|would|could|can|should|has|have|had|"
                     r"might|must|shall)\b|\s*\?)|what (years?|dates?|day|months?|decades?|century|time)|which (years?|dates?|months?|"
                     r"decades?|century)|in what (year|month)|since when|how long ago)\b", re.IGNORECASE)
_Q_PERSON = re.compile(r"\b(who|whom|whose|(?:which|what) (?-i:[A-Z]\w+ )?(person|leader|president|prime minister|minister|"
                       r"emperor|king|official|general|historian|author))\b", re.IGNORECASE)
_Q_PLACE = re.compile(r"\b(where|what (city|country|place|region|island|location|state|sea|river)|"
                      r"which (?-i:[A-Z]\w+ )?(city|country|place|region|island|location|state|sea|river))\b",
                      re.IGNORECASE)
STOP_CAPS = frozenset("The A An In On At For But And Or If As It Its This That These Those He She They We "
                       "I You His Her Their Our After Before During Since When While However Although Also "
                       "Yet Both Under Over From To By With Among Between Despite Due Some Others Many "
                       "Most Such What Which Who Where Why How Yes No Not Thus Therefore Moreover Furthermore "
                       "Meanwhile Indeed Instead Nevertheless Hence Otherwise Then There Here Each Every Any All "
                       "Another Other Several Few Only Once Again Even Just Very Same Much More Less".split())


# Words separated by whitespace, one way only: no nested optional repeat for a regex to backtrack through.
_Q_WHO_IS_NAME = re.compile(rf"\s*(?i:who(?:\s+(?:is|was|are|were)|['’]s))\s+(?P<name>{UPPER}[\w.'’\-]*(?:\s+{UPPER}[\w.'’\-]*)*)\s*\??\s*")
# Capitalised roles: "Who is Prime Minister?" asks for a name all the same.
_ROLE_WORDS = frozenset("President Vice Prime Minister Deputy Premier Chancellor King Queen Emperor Empress Pope Chairman "
                        "Chairwoman Chair CEO CFO Secretary General Governor Mayor Speaker Chief Director Head Leader "
                        "The Of".split())



def question_type(question: str) -> str | None:
    """The expected answer type of a question, or None when a sentence is the answer.

    The earliest question phrase decides: "What did X withdraw when ..." wants a thing, not a date.
    """
    who_is = _Q_WHO_IS_NAME.fullmatch(question)
    if who_is and not set(who_is.group("name").split()) <= _ROLE_WORDS:
        return None  # "Who is Fumio Kishida?" asks what the sources say of that person, not for another name
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


def name_spans(sentence: str) -> list[tuple[int, int]]:
    """Runs of capitalised words, minus leading function words ("The", "In", ...)."""
    spans = []
    for m in _NAME_RE.finditer(sentence):
        words = [(m.start() + w.start(), m.start() + w.end()) for w in re.finditer(r"\S+", m.group())]
        if m.start() and (sentence[m.start() - 1].isalnum() or sentence[m.start() - 1] in "_'’-"):
            words.pop(0)  # the tail of a word ("Bay" of "eBay") is no name; what follows may be
        # leading function words, and the connector they leave at the front ("Yes and No": none)
        while words and (sentence[words[0][0]:words[0][1]] in STOP_CAPS or sentence[words[0][0]].islower()):
            words.pop(0)
        if words:
            spans.append((words[0][0], m.end()))
    return spans


def typed_spans(qtype: str | None, sentence: str) -> list[tuple[int, int]]:
    """Spans (offsets into ``sentence``) that could answer a question of type ``qtype``."""
    return list(_typed_spans(qtype, sentence))  # a copy: the cached list is never handed out


# Every question scores the type of each of its ~50 candidate sentences; the same sentences come back
# question after question, and their spans depend only on the sentence (about 20 MB when full).
@lru_cache(maxsize=65_536)
def _typed_spans(qtype: str | None, sentence: str) -> list[tuple[int, int]]:
    if qtype == DATE:  # a year after a currency sign is money ("$1850"), not a date
        return [m.span() for m in _DATE_RE.finditer(sentence) if not _MONEY_BEFORE.search(sentence, 0, m.start())]
    if qtype == NUMBER:
        dates = [m.span() for m in _DATE_RE.finditer(sentence) if not re.fullmatch(r"(the\s+)?\d{4}", m.group())]
        out = []
        for m in _NUMBER_RE.finditer(sentence):
            s, e = m.span()
            text = m.group().strip().rstrip(",.;:")  # "2012," is the year 2012
            if not text or not re.search(r"\d|million|billion|trillion|" + _NUMWORD, text, re.IGNORECASE):
                continue
            counted = COUNTED.match(sentence, m.end())  # "1200 officers" counts; "in 1954 the" is a year
            if (re.fullmatch(r"(1[0-9]{3}|20[0-9]{2})", text) and not counted) or any(ds <= s < de for ds, de in dates):
                continue  # a bare year is a date, not a quantity
            if s > 0 and (sentence[s - 1].isalnum() or sentence[s - 1] == "["):
                continue  # part of a word, or a citation marker like [41]
            e = s + len(m.group().rstrip().rstrip(",.;:"))
            out.append((s, e))
        return out
    if qtype in (PERSON, PLACE, ENTITY):
        return name_spans(sentence)
    return []


# What kind of quantity a NUMBER question wants; spans of that kind are preferred.
# MONEY, PERCENT, DISTANCE, DURATION, COUNT: the kinds of qa/text/units.py
CHANGE = "CHANGE"  # "by how much did it rise": an amount of any kind but a stretch of time
_Q_KIND = (
    (CHANGE, re.compile(r"\bby how (much|many)\b", re.IGNORECASE)),
    (PERCENT, re.compile(r"\b(percentage|percent|per cent|proportion|what share|what rate)\b", re.IGNORECASE)),
    (DISTANCE, re.compile(r"\b(how far|distance|how long is|how wide|how high|how tall|how deep)\b", re.IGNORECASE)),
    (DURATION, re.compile(r"\bhow long\b", re.IGNORECASE)),
    (MONEY, re.compile(r"\b(how much|value|cost|worth|price|budget|revenue|spen[dt]|paid|pay|fund\w*|"
                       r"dollars?|yen|won)\b", re.IGNORECASE)),
    (COUNT, re.compile(r"\b(how many|what number|number of)\b", re.IGNORECASE)),
)
_MONEY_RE = re.compile(rf"[{CURRENCY_SIGNS}]|\b(?:{unit_pattern((MONEY,))})\b", re.IGNORECASE)
_PERCENT_RE = re.compile(rf"%|\bper ?cent\b|\b(?:{unit_pattern((PERCENT,))})\b", re.IGNORECASE)
_DISTANCE_RE = re.compile(rf"\b(?:{unit_pattern((DISTANCE,))})\b", re.IGNORECASE)
_DURATION_RE = re.compile(rf"\b(?:{unit_pattern((DURATION,))})\b", re.IGNORECASE)


# A lone nationality or language word ("Japanese", "Korean") describes, it rarely names the answer.
DEMONYMS = frozenset("""
    Afghan African Albanian Algerian American Arab Arabian Argentine Argentinian Armenian Asian Australian Austrian
    Azerbaijani Bangladeshi Belarusian Belgian Bolivian Bosnian Brazilian British Bulgarian Burmese Cambodian
    Cameroonian Canadian Chilean Chinese Colombian Congolese Croatian Cuban Cypriot Czech Danish Dutch Ecuadorian
    Egyptian English Eritrean Estonian Ethiopian European Filipino Finnish French Georgian German Ghanaian Greek
    Guatemalan Haitian Hawaiian Hungarian Icelandic Indian Indonesian Iranian Iraqi Irish Israeli Italian Jamaican
    Japanese Jewish Jordanian Kazakh Kenyan Korean Kurdish Kuwaiti Laotian Latvian Lebanese Libyan Lithuanian
    Malaysian Maltese Mexican Mongolian Moroccan Nepalese Nepali Nigerian Norwegian Omani Pakistani Palestinian
    Persian Peruvian Polish Portuguese Qatari Romanian Russian Rwandan Saudi Scottish Senegalese Serbian Singaporean
    Slovak Slovenian Somali Spanish Sudanese Swedish Swiss Syrian Taiwanese Thai Tibetan Tunisian Turkish Ugandan
    Ukrainian Uzbek Venezuelan Vietnamese Welsh Yemeni Zimbabwean
    Anglo Asiatic Celtic Gallic Germanic Hispanic Latin Nordic Ottoman Roman Scandinavian Slavic Soviet Teutonic
    """.split())
# A name right after one of these is a place ("a visit to Tokyo"), not the person a "who" question wants,
# unless it opens with a person's title ("a visit to Prime Minister Fumio Kishida").
_LOCATIVE_BEFORE = re.compile(r"\b(?:in|to|at|from|near|across|into|toward|towards|within)\s+(?:the\s+)?$", re.IGNORECASE)
_PERSON_TITLE = re.compile(r"(?:President|Vice President|Prime Minister|Deputy Prime Minister|Minister|Premier|Chancellor|"
                           r"King|Queen|Emperor|Empress|Prince|Princess|Pope|Sultan|Shah|Tsar|Czar|Chairman|"
                           r"Secretary|Senator|Governor|Mayor|Ambassador|General|Admiral|Colonel|Captain|"
                           r"Mr|Mrs|Ms|Dr|Sir|Dame|Lord|Lady)\b\.?\s+[A-Z]")
_TO_BEFORE = re.compile(r"\bto\s+$", re.IGNORECASE)
# Months and weekdays are capitalised, but never the person or place asked for ("installed on March 3").
_CALENDAR_WORDS = frozenset(MONTH_NAMES + WEEKDAYS)


def quantity_kind(question: str) -> str | None:
    """MONEY, PERCENT, DISTANCE, DURATION, COUNT or CHANGE for a NUMBER question; None when unclear."""
    found = [(m.start(), kind) for kind, rx in _Q_KIND for m in [rx.search(question)] if m]
    return min(found)[1] if found else None


def _span_kind(text: str) -> str:
    if _PERCENT_RE.search(text):
        return PERCENT
    if _MONEY_RE.search(text):
        return MONEY
    if _DISTANCE_RE.search(text):
        return DISTANCE
    if _DURATION_RE.search(text):
        return DURATION
    return COUNT


@dataclass(frozen=True)
class _QuestionFacts:
    terms: frozenset[str]      # stemmed content words
    names: frozenset[str]      # stemmed words of its capitalised words, the first word excepted
    lower: str
    head: str | None           # the stemmed noun after "how many" ("time" in "How many times ...")
    kind: str | None           # quantity_kind(question)
    counts_things: bool        # "how many tourists", not "how many years": a stretch of time is no answer


@lru_cache(maxsize=1024)
def _facts(question: str) -> _QuestionFacts:
    """What the span filters need from the question, computed once per question, not per sentence."""
    words = re.findall(r"\w[\w'’\-]*", question)[1:]
    m = re.search(r"\bhow many\s+(\w+)", question, re.IGNORECASE)
    head = tokenize(m.group(1)) if m else []
    counts = bool(m) and not _DURATION_RE.search(question[m.start():])
    return _QuestionFacts(frozenset(tokenize(question)),
                          frozenset(t for w in words if w[:1].isupper() for t in tokenize(w)),
                          question.lower(), head[0] if head else None, quantity_kind(question), counts)


def says(text: str, phrase: str) -> bool:
    """``phrase`` occurs in ``text`` as whole words ("201" is not said by "in 2019"). No regex: the
    phrases differ with every sentence, and compiling one each time costs more than the search."""
    def word_char(i: int) -> bool:
        return 0 <= i < len(text) and (text[i].isalnum() or text[i] == "_")

    i = text.find(phrase)
    while i != -1:
        if not phrase or not (word_char(i - 1) and word_char(i)) and not (word_char(i + len(phrase) - 1)
                                                                          and word_char(i + len(phrase))):
            return True
        i = text.find(phrase, i + 1)
    return False


def answer_spans(qtype: str | None, question: str, sentence: str) -> list[tuple[int, int]]:
    """Typed spans that could answer the question: not already said by the question itself.

    A date or number the question states is not the answer; a name sharing a name with the
    question ("Yoon" in "Who met Yoon?") is what is asked about, not the answer, while a
    name that only repeats a common word of the question ("Emperor Hirohito" for "Which
    emperor ...") still is one. For "who" and "where", a demonym ("Japanese") or, for "who", a
    place ("a visit to Tokyo") is no answer.
    """
    q = _facts(question)
    names = qtype not in (DATE, NUMBER)
    out = []
    for s, e in typed_spans(qtype, sentence):
        toks = set(tokenize(sentence[s:e]))
        if says(q.lower, sentence[s:e].lower()) or not toks and not names:
            continue
        if toks and (toks <= q.terms or (names and toks & q.names)):
            continue
        if qtype in (PERSON, PLACE) and not preferred(qtype, question, sentence, (s, e)):
            continue  # a demonym, or a place where a person is asked for, answers neither
        if q.counts_things and _span_kind(sentence[s:e]) == DURATION:
            continue  # "three months" does not answer "how many tourists"
        out.append((s, e))
    return out


# A name leading one of these is the group it heads ("the Biden administration"): for "who"/"whose"
# questions that do not ask for a person (by role, or by what one does alone: wrote), the whole group is the answer.
_GROUP_AFTER = re.compile(r"\s+(?:administration|government|cabinet|regime|family|dynasty|presidency)\b")
_Q_ONE_PERSON = re.compile(r"\b(?:president|leader|prime minister|minister|emperor|king|queen|chancellor|author|founder|"
                     r"official|historian|general|person|man|woman|wrote|written)\b", re.IGNORECASE)


def widened(qtype: str | None, question: str, sentence: str, span: tuple[int, int]) -> tuple[int, int]:
    """The span, with the group noun a person's name leads when the question does not ask for a person by role."""
    if qtype == PERSON and not _Q_ONE_PERSON.search(question):
        m = _GROUP_AFTER.match(sentence, span[1])
        if m:
            return span[0], m.end()
    return span


# ", researchers, and professionals": a list going on in lower case.
_LOWER_LIST_AFTER = re.compile(r",\s+[a-z][\w\-]*(?:,\s+[a-z][\w\-]*)*,?\s+(?:and|or)\s+[a-z]")


_LOWER_WORD = re.compile(r"(?<![\w'’\-])[a-z][a-z'’\-]*")


def lowercase_words_of(text: str) -> frozenset[str]:
    """The words ``text`` writes in lower case: what :func:`capitalised_by_position` checks a word against."""
    return frozenset(_LOWER_WORD.findall(text))


def candidate_spans(qtype: str | None, question: str, sentence: str,
                    lowercase_words: Callable[[], Container[str]] = frozenset) -> list[tuple[int, int]]:
    """The spans that could answer: :func:`answer_spans`, less words capitalised only by their position."""
    return [sp for sp in answer_spans(qtype, question, sentence)
            if not capitalised_by_position(sentence, sp, lowercase_words)]


def capitalised_by_position(sentence: str, span: tuple[int, int],
                            lowercase_words: Callable[[], Container[str]]) -> bool:
    """True for a single word capitalised only because it opens the sentence (or follows a run-in
    heading): it heads a list that goes on in lower case ("Students, researchers, and professionals
    ..."), or the document also uses it in lower case. ``lowercase_words`` is only called for such a
    word, so the document's words are gathered only when a question needs them."""
    text = sentence[span[0]:span[1]]
    if not text or any(c.isspace() for c in text):
        return False
    before = sentence[:span[0]].rstrip()
    if before and not before.endswith((".", ":", "!", "?")):
        return False
    return (bool(_LOWER_LIST_AFTER.match(sentence, span[1])) or text.lower() in common_words()
            or text.lower() in lowercase_words())


@lru_cache(maxsize=1)
def common_words() -> frozenset[str]:
    """Words English writes in lower case nearly always (``qa/data/common_words.txt``, built from SQuAD
    train by ``bench/common_words.py``): opening a sentence capitalised, they are still no name."""
    try:
        lines = COMMON_WORDS_FILE.read_text(encoding="utf-8").splitlines()
    except OSError:
        return frozenset()
    return frozenset(w for w in lines if w and not w.startswith("#"))


def _in_a_date(sentence: str, span: tuple[int, int]) -> bool:
    """A month or weekday that is part of a date ("on March 3, 2021"), not a person called May or April."""
    if sentence[span[0]:span[1]] not in _CALENDAR_WORDS:
        return False
    return any(s <= span[0] and span[1] <= e for s, e in _typed_spans(DATE, sentence))


def preferred(qtype: str | None, question: str, sentence: str, span: tuple[int, int]) -> bool:
    """True when the span is the kind of quantity the question asks for ("$17.3 billion" for
    "what was the value", "four times" for "how many times"); always True for other types."""
    text = sentence[span[0]:span[1]]
    if qtype == PERSON and _LOCATIVE_BEFORE.search(sentence, 0, span[0]) and not (
            _PERSON_TITLE.match(text) and _TO_BEFORE.search(sentence, 0, span[0])):
        return False  # "a visit to Tokyo" is a place; "a visit to Prime Minister Fumio Kishida" a person
    if qtype in (PERSON, PLACE):
        return text.rstrip("s") not in DEMONYMS and text not in DEMONYMS and not _in_a_date(sentence, span)
    if qtype != NUMBER:
        return True
    q = _facts(question)
    if q.head is not None:
        after = sentence[span[0]:min(len(sentence), span[1] + 25)]
        return q.head in tokenize(after)[:4]
    if q.kind == CHANGE:
        return _span_kind(text) != DURATION
    return q.kind is None or _span_kind(text) == q.kind


def type_match(qtype: str | None, question: str, sentence: str) -> float:
    """1.0 when the sentence holds a span of the wanted kind that could answer the question,
    0.5 when it holds a number of another kind (a count where an amount is asked), else 0."""
    if qtype is None:
        return 0.0
    spans = answer_spans(qtype, question, sentence)
    if not spans:
        return 0.0
    return 1.0 if any(preferred(qtype, question, sentence, sp) for sp in spans) else 0.5
