"""What the earlier turns of a conversation offer a follow-up question: the people, things, pairs and
dates a pronoun, "the two" or "that year" can stand for, in the order a reader would try them.

Each earlier turn is a :class:`Turn`; :func:`pick` finds what "he", "it" or "they" stands for, :func:`pair`
what "the two" are, :func:`when` the date of "that year", :func:`described` what "that issue" is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from qa.text.phrases import AUX, DEMONYMS, PREPOSITIONS, ROLES, Phrase, is_verb, phrases, words
from qa.text.types import DATE, NUMBER, PERSON, question_type, typed_spans
from qa.text.words import tokenize

LOOK_BACK = 3  # earlier turns searched for what a pronoun stands for, most recent first
# What happens to an event: "it" in "When did it end?" is the event the last question was about.
EVENT_VERBS = frozenset(t for w in "end begin start happen occur last finish stop conclude resume break".split()
                        for t in tokenize(w))
# "When did it end?" after "When did North Korea invade South Korea?": the invasion of South Korea by North Korea.
NOMINALS = {"invade": "invasion", "occupy": "occupation", "colonize": "colonization", "colonise": "colonisation",
            "annex": "annexation", "attack": "attack", "sign": "signing", "meet": "meeting", "visit": "visit",
            "negotiate": "negotiations", "ban": "ban", "restrict": "restrictions", "protest": "protest",
            "withdraw": "withdrawal", "discuss": "discussions", "fight": "fight", "rule": "rule", "divide": "division",
            "normalize": "normalization", "boycott": "boycott", "bomb": "bombing", "blockade": "blockade"}
# Phrases that name no thing a pronoun could stand for.
GENERIC = frozenset("time times way year years month months day days decade decades share number amount rate kind "
                     "type part lot two three four".split())
# "that issue" after the answer "comfort women": the comfort women issue.
KIND_NOUNS = frozenset("issue problem matter question topic dispute practice policy controversy".split())
YEAR = re.compile(r"\b(?:1[0-9]{3}|20[0-9]{2})s?\b")


@dataclass(frozen=True)
class Turn:
    """One earlier turn of a conversation, as understood."""

    question: str                                # as asked
    answer: str | None                           # None: the sources did not answer
    standalone: str                              # what it asked of the sources
    source: tuple[str, int, int] | None = None   # (document id, answer start, answer end), when known
    refs: tuple[tuple[str, str], ...] = ()       # (kind, what) of each pronoun it resolved ("person", "Park Chung-hee")

    @property
    def qtype(self) -> str | None:
        return question_type(self.standalone)


@dataclass(frozen=True)
class Referent:
    text: str
    turn: Turn
    role: str            # "answer", "subject" (right after the auxiliary), "other"
    phrase: Phrase | None

    @property
    def person(self) -> bool:
        return self.role == "answer" and asks_for_person(self.turn) or self.phrase is not None and self.phrase.person

    @property
    def plural(self) -> bool:
        return self.phrase is not None and self.phrase.plural

    @property
    def event(self) -> bool:
        return self.phrase is not None and (self.phrase.event or any(
            w.lower() in {"treaty", "agreement", "war", "summit", "dispute"} for w in self.text.split()))


def asks_for_person(turn: Turn) -> bool:
    """"Who ...?", "Whose ...?", "Which South Korean president ...?"."""
    if turn.qtype == PERSON:
        return True
    ws = words(turn.standalone)
    k = next((i for i, w in enumerate(ws[:3]) if w.low in ("which", "what")), None)
    if k is None:
        return False
    head = None
    for w in ws[k + 1:]:
        if w.low in AUX or w.low in PREPOSITIONS or not w.capitalised and is_verb(w.text) and head is not None:
            break
        head = w.low
    return head in ROLES


def short_answer(turn: Turn) -> str | None:
    """The earlier answer as a phrase, when it is one: a few words, not a whole sentence, not a date or number.

    When a question asking for a person got a whole sentence, the person named there and not in the question.
    """
    a = turn.answer
    if not a or turn.qtype in (DATE, NUMBER):
        return None
    a = a.strip().strip("“”\"'‘’").strip()
    ws = a.split()
    if not 1 <= len(ws) <= 6 or a.endswith((".", "!", "?")) and not re.search(r"\b[A-Z]\.$", a):
        if not asks_for_person(turn):
            return None
        found = person_named(a, turn.standalone.lower())
        if found is None:
            return None
        a = found
    return re.sub(r"['’]s$", "", a)


_TITLE = re.compile(r"^(?:(?:President|Vice President|Prime Minister|Deputy Prime Minister|Foreign Minister|Minister|"
                    r"Premier|Chancellor|Chairman|Chairwoman|Emperor|Empress|King|Queen|Dictator|Secretary|"
                    r"Ambassador|General|Gen\.|Admiral|Adm\.|Mr\.?|Mrs\.?|Ms\.?|Dr\.?)\s+)+(?=\S+\s+\S)")


def untitled(name: str) -> str:
    """"President Yoon Suk Yeol" -> "Yoon Suk Yeol": the sources name a person without the title as often as with it."""
    return _TITLE.sub("", name)


def person_named(sentence: str, asked: str) -> str | None:
    """The first person named in ``sentence`` whose name ``asked`` does not hold ("President Yoon Suk Yeol
    of South Korea's visit to Prime Minister Fumio Kishida" asked about Kishida: President Yoon Suk Yeol)."""
    for ph in phrases(sentence, skip_first=False):
        for part in re.split(r"\s+of\s+|['’]s\b", ph.text):
            part = part.strip()
            inner = next(iter(phrases(part, skip_first=False)), None) if part else None
            if inner is not None and inner.text == part and inner.person and inner.head.lower() not in ROLES \
                    and inner.head.lower() not in asked:
                return untitled(part)
    return None


@lru_cache(maxsize=256)
def candidates(turn: Turn) -> list[Referent]:
    """What ``turn`` offers a pronoun: its answer when that is a phrase, and the phrases of its question."""
    out = []
    a = short_answer(turn)
    if a is not None:
        found = phrases(a, skip_first=False)
        ph = found[0] if len(found) == 1 and found[0].text == a else None
        if ph is None and a[:1].islower() and a.split()[-1].endswith("s"):
            a = "the " + a   # "comfort stations" -> "the comfort stations"
            ph = next(iter(phrases(a, skip_first=False)), None)
        if ph is not None and ph.kind == "name" and " of " in a and not ph.person and not a.lower().startswith("the "):
            a = "the " + a   # "Sea of Japan" -> "the Sea of Japan"
            ph = next(iter(phrases(a, skip_first=False)), ph)
        cand = Referent(a, turn, "answer", ph)
        if cand.person:
            a = untitled(a)
            cand = Referent(a, turn, "answer", next(iter(phrases(a, skip_first=False)), ph))
        out.append(cand)
    q = turn.standalone
    ws = words(q)
    aux = next((w for w in ws if w.low in AUX), None)
    for ph in phrases(q):
        if ph.head.lower() in GENERIC or ph.kind == "name" and all(w in DEMONYMS for w in ph.text.split()):
            continue
        role = "subject" if aux is not None and q[aux.end:ph.start] == " " else "other"
        if ph.kind == "described" and ph.text.lower().startswith(("a ", "an ")):
            ph = Phrase("the " + ph.text.split(" ", 1)[1], ph.start, ph.end, ph.kind, ph.head, ph.possessive)
        if ph.person and ph.kind == "name" and untitled(ph.text) != ph.text:
            ph = next(iter(phrases(untitled(ph.text), skip_first=False)), ph)
        out.append(Referent(ph.text, turn, role, ph))
        owner = re.match(r"(.+?)['’]s ", ph.text) if ph.kind == "described" else None
        if owner:  # "Xi Jinping's speech": Xi Jinping too
            inner = next(iter(phrases(owner.group(1), skip_first=False)), None)
            if inner is not None and inner.text == owner.group(1):
                out.append(Referent(inner.text, turn, "other", inner))
        of = ph.text.find(" of ") if ph.kind == "described" else -1
        if of > 0:  # "the Japanese name of the Liancourt Rocks": the Liancourt Rocks too
            inner = next(iter(phrases(ph.text[of + 4:], skip_first=False)), None)
            if inner is not None and inner.text == ph.text[of + 4:] and inner.head.lower() not in GENERIC:
                out.append(Referent(inner.text, turn, "other", inner))
    return out


def copular(turn: Turn) -> Referent | None:
    """X of "What is X?" / "Who was X ...?": what the turn was about."""
    m = re.match(r"(?:what|who)\s+(?:is|are|was|were)\s+", turn.standalone, re.I)
    if not m:
        return None
    return next((c for c in candidates(turn) if c.phrase is not None and c.role != "answer"
                 and c.phrase.start == m.end()), None)


def pick(turns: Sequence[Turn], want: str, predicate: str | None = None) -> Referent | None:
    """What a pronoun of kind ``want`` ("person", "thing", "plural") stands for, from the latest turns."""
    last = turns[-1]
    same = next((what for kind, what in last.refs if kind == want), None)
    if same is not None:  # "he" again: still the one the last question's "he" was
        return Referent(same, last, "other", next(iter(phrases(same, skip_first=False)), None))
    for turn in reversed(turns[-LOOK_BACK:]):
        cands = candidates(turn)
        if want == "person":
            order = [c for c in cands if c.role == "answer" and c.person] + \
                    [c for c in cands if c.role != "answer" and c.person]
        elif want == "plural":
            order = [c for c in cands if c.plural and c.role == "answer"] + \
                    [c for c in cands if c.phrase is not None and c.phrase.kind == "pair"] + \
                    [c for c in cands if c.plural and c.role != "answer"]
        else:
            things = [c for c in cands if not c.person and not c.plural]
            order = ([c for c in things if c.event and c.role != "answer"] if predicate in EVENT_VERBS else []) + \
                [c for c in [copular(turn)] if c is not None and not c.plural] + \
                [c for c in things if c.event and c.role != "answer"] + \
                [c for c in things if c.role == "answer"] + \
                [c for c in things if c.role == "subject"] + \
                [c for c in things if c.role == "other"]
        if want == "thing" and predicate in EVENT_VERBS and not (order and order[0].event):
            event = nominalised(turn)  # "When did it end?" asks of what happened, not of who did it
            if event is not None:
                return event
        if order:
            return order[0]
    return None


def nominalised(turn: Turn) -> Referent | None:
    """"the invasion of South Korea by North Korea" from "When did North Korea invade South Korea?"."""
    q = turn.standalone
    ws = words(q)
    found = phrases(q)
    for k, w in enumerate(ws[:-1]):
        if w.low not in AUX:
            continue
        subj = next((p for p in found if p.start == ws[k + 1].start), None)
        verb = next((v for v in ws if subj is not None and v.start > subj.end), None)
        if subj is None or verb is None or verb.low not in NOMINALS:
            return None
        obj = next((p for p in found if p.start > verb.end and q[verb.end:p.start] == " "), None)
        text = f"the {NOMINALS[verb.low]}" + (f" of {obj.text}" if obj else "") + f" by {subj.text}"
        return Referent(text, turn, "other", None)
    return None


def pair(turns: Sequence[Turn], noun: str | None) -> Referent | None:
    """What "the two" (countries, leaders, ...) are."""
    people = noun is not None and noun.lower() in {"leaders", "men", "women", "presidents", "ministers"}
    for turn in reversed(turns[-LOOK_BACK:]):
        cands = candidates(turn)
        answer = next((c for c in cands if c.role == "answer"), None)
        if answer is not None and answer.phrase is not None and answer.phrase.kind == "pair":
            return answer
        if answer is not None and answer.person and (noun is None or people):
            other = next((c for c in cands if c.role != "answer" and c.person and c.text != answer.text), None)
            if other is not None:
                return Referent(f"{answer.text} and {other.text}", turn, "answer", None)
        for c in cands:
            if c.role == "answer" or c.phrase is None:
                continue
            if c.phrase.kind == "pair" or " and " in c.text and c.plural:
                return c
    return None


def when(turns: Sequence[Turn], unit: str) -> tuple[str, Turn] | None:
    """The date "that year" (or "that time") refers to: the last answer's, else the last question's."""
    for turn in reversed(turns[-LOOK_BACK:]):
        for text in (turn.answer, turn.standalone):
            if not text:
                continue
            spans = typed_spans(DATE, text)
            if not spans:
                continue
            when = text[spans[0][0]:spans[0][1]]
            if unit == "year":
                years = YEAR.findall(when)
                if not years:
                    continue
                when = years[-1]
            return when, turn
    return None


def described(turns: Sequence[Turn], noun: str) -> tuple[str, Turn] | None:
    """What "that issue", "that period", "that treaty" stands for."""
    for turn in reversed(turns[-LOOK_BACK:]):
        if noun in ("period", "era", "time") and turn.qtype == DATE and turn.answer:
            spans = typed_spans(DATE, turn.answer)
            if spans:
                when = turn.answer[spans[0][0]:spans[0][1]]
                span = f"the {noun} from {when}" if re.search(r"\d\s+to\s+\d", when) else f"the {noun} of {when}"
                return span, turn
        a = short_answer(turn)
        if noun in KIND_NOUNS and a is not None and len(a.split()) <= 4 and not any(is_verb(w) for w in a.split()):
            return f"the {a} {noun}", turn
        same = next((c for c in candidates(turn) if c.phrase is not None and c.phrase.head.lower() == noun), None)
        if same is not None:
            return same.text, turn
    return None
