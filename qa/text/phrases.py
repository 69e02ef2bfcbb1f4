"""Noun phrases of a question: the names and things a later question can point back to.

Rules, not a parser. A *name* is a run of capitalised words, with "of", "on", "for", "de" or "the"
between two of them ("the Treaty on Basic Relations", "the U.S. House of Representatives"); two
names joined by "and" are one *pair* ("Japan and South Korea"). A *described* thing opens with
"the", "a", "an" or a possessive name and runs over its words to the verb, a preposition or the
end ("the 1965 normalization agreement", "South Korea's head of state"), taking an "of ..." along
("the leaders of Japan and South Korea"). Every phrase keeps its character offsets in the question.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from qa.text.types import DEMONYMS, MONTH_NAMES, WEEKDAYS
from qa.text.words import tokenize

_WORD = re.compile(r"(?:[A-Z]\.){2,}|\w+(?:[.'’\-]\w+)*")

WH = frozenset("what which who whom whose when where why how".split())
AUX = frozenset("is are was were be been being am do does did has have had can could will would shall should "
                "may might must".split())
DETERMINERS = frozenset("the a an my your our".split())   # "my program": the question's own, never the conversation's
DEMONSTRATIVES = frozenset("this that these those".split())
PREPOSITIONS = frozenset("""of in on at to for from by with about against between among during after before since
    until into over under through within without despite toward towards around across near per via than like as
    upon along beside besides amid behind beyond""".split())
CONJUNCTIONS = frozenset("and or but nor so yet".split())
PERSON_PRONOUNS = frozenset("he him his she her hers himself herself".split())
THING_PRONOUNS = frozenset("it its itself".split())
PLURAL_PRONOUNS = frozenset("they them their theirs themselves".split())
PRONOUNS = PERSON_PRONOUNS | THING_PRONOUNS | PLURAL_PRONOUNS | frozenset("i you we us me".split())
_NAME_LINKS = frozenset("of on for de the von van al bin da du la le".split())
# A plural-looking last word that names one thing.
_SINGULAR_S = frozenset("states nations affairs relations representatives philippines netherlands news times "
                        "politics economics physics series species".split())
# Heads of phrases that stand for a person.
ROLES = frozenset("""president vice-president minister prime premier chancellor leader leaders emperor empress king
    queen prince princess chairman chairwoman chair official general admiral ambassador dictator author founder
    man woman head chief secretary spokesman spokeswoman diplomat historian ruler monarch counterpart""".split())
# Words of names that stand for a place, an institution or a document, never a person.
_NOT_PERSON = frozenset("""Korea Koreas Japan China Russia Taiwan America States Nations Union Kingdom Republic
    Empire Army Navy Sea Ocean Peninsula Rocks Islands Island River Strait Hall Camp Parliament House Ministry
    Institute Society Government Party Council Court Bank Company University Summit Treaty Agreement Relations
    War Book Times Asia Europe Pacific Seoul Tokyo Beijing Pyongyang Washington Manchukuo Dokdo Takeshima
    Liancourt East West North South Blue Diplomatic Cold World Indo-Pacific Keidanren Strategy Foreign""".split())
# Nouns for things that happen: "it" in "when did it end?" is one of these.
EVENTS = frozenset("""invasion war treaty agreement summit meeting visit dispute conflict talks negotiation
    negotiations occupation rule ban protest crisis restrictions sanctions election inauguration conference speech
    armistice ceasefire cease-fire assault attack discussion discussions resolution declaration settlement
    normalization colonization annexation uprising revolution campaign trip exercise exercises test launch
    standoff boycott announcement decision""".split())

CALENDAR = frozenset(MONTH_NAMES + WEEKDAYS)

# Base forms (and irregular past forms) of verbs, compared by stem: where a described thing ends.
_VERB_WORDS = """accept accompany achieve acquire adopt affect agree aim allow announce apologize appear apply arise
    arrive ask attack attempt attend attribute avoid ban become begin believe belong benefit bring build call cause
    cease change claim collaborate come compare complain concern condemn conduct confirm consider contain continue
    contribute control cooperate cost create cut deal decide declare defeat defend deliver demand deny depend
    describe destroy deteriorate develop die discuss divide draw drive drop earn elect emphasize encourage end
    endure enter establish examine exist expand expect explain export face fail fall fear feel fight file find
    finish fire focus follow force form found gain get give go govern grow halt handle happen hear help highlight
    hit hold host impose import improve include increase indicate influence inform insist intend introduce invade
    invest involve join keep kill know land last launch lead leave lift limit live look lose maintain make manage
    mark mean meet mention move name need negotiate normalize note object obtain occupy occur offer open oppose
    order pass pay perform pick plan play prevent produce promise propose protect protest provide publish pull
    push put raise reach react receive recognize record reduce refer reflect refuse reject release remain remove
    repeat replace report represent require resolve respond restore restrict result resume retaliate return
    reveal rise rule run say see seek seize sell send separate serve share ship shoot show sign sour spark speak
    spend split stand start stay stop strengthen stretch strike succeed suffer suggest summon support suspend take
    talk target tell test threaten touch trade treat try turn undergo understand unite urge use view visit vote
    want warn win withdraw work worsen write
    met held made said took taken gave given led began begun fought won left brought told went gone came saw
    seen became kept built drew drawn drove driven fell fallen felt got grew grown heard knew known lost meant paid
    ran rose risen sent shot shown spoke spoken spent stood struck thought understood withdrew withdrawn wrote
    written sold bought caught done"""
VERB_STEMS = frozenset(t for w in _VERB_WORDS.split() for t in tokenize(w))


@dataclass(frozen=True)
class Word:
    text: str
    start: int
    end: int
    sep: str = ""   # what stands between it and the word before (" ", ", ", "")

    @property
    def low(self) -> str:
        return self.text.lower()

    @property
    def joined(self) -> bool:
        """Only a space before it: no comma or bracket between it and the word before."""
        return self.sep == " "

    @property
    def capitalised(self) -> bool:
        return self.text[:1].isupper() or bool(re.fullmatch(r"(?:[A-Z]\.){2,}", self.text))

    @property
    def possessive(self) -> bool:
        return self.low.endswith(("'s", "’s"))

    @property
    def bare(self) -> str:
        """The word without a possessive ending."""
        return self.text[:-2] if self.possessive else self.text


@dataclass(frozen=True)
class Phrase:
    """A noun phrase of a text, with its offsets: ``text == source[start:end]``."""

    text: str
    start: int
    end: int
    kind: str                 # "name", "described" or "pair"
    head: str                 # its last word before any "of ...", as written ("agreement", "Rocks", "Kishida")
    possessive: bool = False  # ends in "'s": "South Korea's"

    @property
    def plural(self) -> bool:
        if self.kind == "pair":
            return True
        h = self.head.lower()
        return len(h) > 3 and h.endswith("s") and not h.endswith(("ss", "us", "is")) and h not in _SINGULAR_S

    @property
    def event(self) -> bool:
        return self.head.lower() in EVENTS

    @property
    def person(self) -> bool:
        """Could stand for a person: a role ("the foreign minister"), or a name without a place's,
        an institution's or a people's word ("Fumio Kishida", not "South Korea" or "Japanese")."""
        if self.kind == "pair" or self.text.lower().startswith(("the ", "a ", "an ")) and self.kind == "name":
            return False
        if self.head.lower() in ROLES:
            return True
        if not self.head[:1].isupper():
            return False
        name = self.text.split("’s ")[-1].split("'s ")[-1] if self.kind == "described" else self.text
        return not any(w.strip("'’s") in _NOT_PERSON or w.removesuffix("'s").removesuffix("’s") in _NOT_PERSON
                       or w in DEMONYMS or w in CALENDAR for w in name.split())


@lru_cache(maxsize=4096)
def words(text: str) -> tuple[Word, ...]:
    """The words of ``text`` with their offsets and what stands before each."""
    out: list[Word] = []
    for m in _WORD.finditer(text):
        out.append(Word(m.group(), m.start(), m.end(), text[out[-1].end:m.start()] if out else ""))
    return tuple(out)


def is_verb(word: str) -> bool:
    stems = tokenize(word)
    return bool(stems) and stems[0] in VERB_STEMS


STOPS = PREPOSITIONS | AUX | WH | CONJUNCTIONS | DETERMINERS | DEMONSTRATIVES | PRONOUNS


def _name_end(ws: Sequence[Word], i: int) -> int:
    """Index after the name that opens at ``ws[i]`` (a capitalised word)."""
    j = i + 1
    while j < len(ws) and not ws[j - 1].possessive and ws[j].joined:
        if ws[j].capitalised and ws[j].low not in AUX and ws[j].text not in CALENDAR:
            j += 1
        elif ws[j].low in _NAME_LINKS and j + 1 < len(ws) and ws[j + 1].capitalised and ws[j + 1].joined:
            j += 2
        else:
            break
    return j


def _described_end(ws: Sequence[Word], i: int) -> int:
    """Index after the words of a described thing that start at ``ws[i]`` (after its determiner)."""
    j = i
    while j < len(ws) and (j == i or ws[j].joined) and ws[j].low not in STOPS:
        j += 1
        if ws[j - 1].possessive:
            break
    run = ws[i:j]
    verbs = [k for k, w in enumerate(run) if k > 0 and not w.capitalised and is_verb(w.text)]
    if verbs:  # "the scholarship fund support": the last verb-like word is the verb
        return i + verbs[-1]
    if len(run) > 1 and run[-1].low.endswith("ed") and not run[-1].capitalised:
        return j - 1  # "kept the relationship strained"
    return j


def _thing_at(ws: Sequence[Word], i: int) -> tuple[int, str] | None:
    """``(end, kind)`` of the name or described thing that opens at ``ws[i]``, if one does."""
    w = ws[i]
    if w.low in DETERMINERS:
        if i + 1 >= len(ws) or not ws[i + 1].joined or ws[i + 1].low in STOPS:
            return None
        k = i + 1
        if ws[k].capitalised:
            end = _name_end(ws, k)
            # "the South Korean parliament": a people's word describes what follows
            if (end < len(ws) and ws[end].joined and ws[end].low not in STOPS and not ws[end].capitalised
                    and ws[end - 1].bare in DEMONYMS) or ws[end - 1].possessive:
                if end < len(ws) and ws[end].low not in STOPS:
                    return _described_end(ws, end), "described"
                return end, "name"
            return end, "name"
        end = _described_end(ws, k)
        return (end, "described") if end > k else None
    if w.capitalised and w.low not in STOPS and w.text not in CALENDAR:
        end = _name_end(ws, i)
        if ws[end - 1].possessive and end < len(ws) and ws[end].joined and ws[end].low not in STOPS:
            return _described_end(ws, end), "described"   # "Japan's largest business federation"
        return end, "name"
    return None


@lru_cache(maxsize=4096)
def phrases(text: str, skip_first: bool = True) -> tuple[Phrase, ...]:
    """The names, pairs and described things of ``text``, left to right.

    ``skip_first``: the first word is capitalised because it opens the question ("What", "Under"), not
    because it is a name.
    """
    ws = words(text)
    out: list[Phrase] = []
    i = 1 if skip_first and ws and ws[0].low in STOPS else 0
    while i < len(ws):
        found = _thing_at(ws, i)
        if found is None:
            i += 1
            continue
        end, kind = found
        head = ws[end - 1]
        # "... of X" belongs to it: "the leaders of Japan and South Korea", "South Korea's head of state"
        if kind == "described" and end + 1 < len(ws) and ws[end].low == "of" and ws[end].joined and ws[end + 1].joined:
            inner = _thing_at(ws, end + 1) or ((_described_end(ws, end + 1), "described")
                                               if ws[end + 1].low not in STOPS else None)
            if inner is not None and inner[0] > end + 1:
                end = inner[0]
                nxt = _items(ws, end - 1, text)
                if nxt is not None:
                    end = nxt
        phrase = Phrase(text[ws[i].start:ws[end - 1].end], ws[i].start, ws[end - 1].end, kind,
                        head.bare, ws[end - 1].possessive)
        listed = _items(ws, end - 1, text) if kind == "name" and not phrase.possessive else None
        if listed is not None:  # "Japan and South Korea", "South Korea, Japan, and the United States"
            last = ws[listed - 1]
            phrase = Phrase(text[phrase.start:last.end], phrase.start, last.end, "pair", last.bare, last.possessive)
            end = listed
        out.append(phrase)
        i = max(end, i + 1)
    return tuple(out)


def _items(ws: Sequence[Word], last: int, text: str) -> int | None:
    """When the name ending at ``ws[last]`` opens a list of names ("X and Y", "X, Y, and Z"), the index after it."""
    j = last + 1
    end = None
    while j < len(ws):
        if ws[j].low == "and" and ws[j].sep in (" ", ", "):
            nxt = _thing_at(ws, j + 1) if j + 1 < len(ws) and ws[j + 1].joined else None
            if nxt is None or nxt[1] != "name":
                return end
            return nxt[0]
        if ws[j].sep == ", ":
            nxt = _thing_at(ws, j)
            if nxt is None or nxt[1] != "name":
                return end
            j = nxt[0]
            continue
        return end
    return end

