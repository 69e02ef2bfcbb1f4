"""Follow-up questions: what a question asks once the conversation so far is taken into account.

:func:`understand` decides, by rules and without a generative model, whether a question leans on the
earlier turns -- a pronoun with nothing in the question it could stand for ("Where did he serve?"),
"that year", "the two", an ellipsis ("And in Japanese?", "What about 1995?"), a bare "Why?" -- and if
so writes the standalone question that retrieval and the answer stage get ("Where did Park Chung-hee
serve?"), with the reasons in words. A question that stands on its own is returned unchanged.
:func:`favour` points retrieval at the passages and the document the earlier answer came from.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from qa.answer.answerer import Answer
from qa.answer.referents import (GENERIC, KIND_NOUNS, YEAR, Referent, Turn, described, pair, pick, short_answer,
                                 when)
from qa.errors import InputError
from qa.index.faiss_store import as_store
from qa.index.interface import CHUNKS, Store
from qa.index.store import Index
from qa.retrieval.retriever import Favour
from qa.text.chars import clean_text
from qa.text.phrases import (AUX, DEMONSTRATIVES, DEMONYMS, PERSON_PRONOUNS, PLURAL_PRONOUNS, PREPOSITIONS, PRONOUNS,
                             STOPS, THING_PRONOUNS, WH, Phrase, is_verb, phrases, words)
from qa.text.types import DATE, typed_spans
from qa.text.words import tokenize

# Words that ask nothing on their own: "What happened next?", "Tell me more".
_VAGUE = frozenset(t for w in "happen next else more mean tell then later result detail details".split()
                   for t in tokenize(w))
# How much better another document must cover a pronoun question's words for it to be read as about
# that document, not as a follow-up (chosen on 120 SQuAD *train* articles: of 537 questions read as
# follow-ups after an unrelated turn, 85 stay follow-ups, and 30 are refused when the conversation is
# their own article; the seed dialogues' dev follow-ups are all kept).
OFF_TOPIC = 0.3
_LANGUAGES = frozenset("Japanese Korean English Chinese Russian French German Spanish Mandarin Hangul".split())
_DEM_NOUNS = KIND_NOUNS | frozenset("period era time year agreement treaty statement decision plan conflict event war "
                                     "meeting summit visit speech law ban resolution document report country island "
                                     "islands sea place city man woman leader president organization".split())
_TIME_REF = re.compile(r"\b(?:(?P<prep>in|of|during|by|since|until|after|before|from|throughout)\s+)?"
                       r"(?:that|the same)\s+(?P<unit>year|month|day|decade|time)\b|\bthen(?=\s*\?\s*$)", re.I)
_TWO = re.compile(r"\b(?:the two|both)(?:\s+(?P<noun>countries|nations|states|sides|leaders|governments|men|women|"
                  r"neighbou?rs|allies|presidents|ministers))?\b(?!\s+(?:Koreas|of\b))", re.I)
_DEM = re.compile(r"\b(?:that|this|these|those)\s+(?P<noun>[a-z]+)\b")
_EXPLETIVE = re.compile(r"\bit\s+(?:has\s+|had\s+|have\s+)?been\b|\b(?:did|does|will|would)\s+it\s+take\b|"
                        r"\bit\s+takes?\b|\b(?:is|was)\s+it\s+(?:true|possible|likely|necessary)\b|"
                        r"\bit\s+(?:is|was)\s+\w+\s+(?:to|that)\b|\b(?:do|does|did)\s+it\s+mean\b|"
                        r"\bit\s+(?:called|known|termed|named)\s+(?:when|if)\b", re.I)
_LEAD = re.compile(r"^(?:(?:and|but|so|also|ok(?:ay)?)[\s,]+)?(?:(?:what|how)\s+about|what\s+of)\b\s*|"
                   r"^(?:and|but|also)\b[\s,]*", re.I)
_BARE_WH = re.compile(r"^(?:and\s+|but\s+)?(?P<wh>why|when|where|who|how|how many|how much|how long|since when|"
                      r"what for|which one|in what year|what year)\s*\??$", re.I)
_WH_PHRASE = re.compile(r"^(?:(?:in|on|at|by|for|from|to|with|under|during|since)\s+)?(?:(?:how\s+(?:many|much|long|"
                        r"far|old|often))|what|which|who|whom|whose|when|where|why|how)\b(?:\s+(?!(?:" +
                        "|".join(sorted(AUX)) + r")\b)[\w'’\-]+)*?(?=\s+(?:" + "|".join(sorted(AUX)) + r")\b)", re.I)


@dataclass(frozen=True)
class Reading:
    """What a question means in its conversation."""

    question: str
    standalone: str             # what is asked of the sources; the question itself when it stands alone
    followup: bool              # it leans on the conversation (even when no rewrite was found)
    why: tuple[str, ...] = ()   # each thing taken from the conversation, in words
    turn: Turn | None = None    # the turn it leans on: retrieval favours where that answer came from
    refs: tuple[tuple[str, str], ...] = ()  # (kind, what) for each pronoun resolved
    by_pronoun: bool = False    # a pronoun is all that made it a follow-up (no "that year", "the two", ...)

    @property
    def rewritten(self) -> bool:
        return self.standalone != self.question


def read_history(history: object, max_chars: int, max_turns: int,
                 judge: Callable[[Reading], Reading] = lambda r: r) -> tuple[Turn, ...]:
    """Validate ``history`` (earlier ``{"question", "answer"}`` dicts or :class:`Answer` objects, oldest
    first) and understand each turn in order, so a chain of follow-ups resolves; ``judge`` has the last
    word on each reading, as it had when that turn was asked (see :func:`about_the_conversation`)."""
    if isinstance(history, (str, bytes)) or not isinstance(history, Sequence):
        raise InputError("history must be a list of earlier turns, each {\"question\": ..., \"answer\": ...}, "
                         f"got {type(history).__name__}")
    if len(history) > max_turns:
        raise InputError(f"history has {len(history)} turns; the limit is {max_turns} "
                         "(limits.max_history_turns in qa.yaml): send only the most recent ones")
    turns: list[Turn] = []
    for i, item in enumerate(history):
        where = f"history[{i}]"
        if isinstance(item, Answer):
            question = " ".join(item.question.split())
            reading = judge(understand(question, turns))
            first = item.citations[0] if item.citations else None
            source = (first.source, first.answer_start, first.answer_end) if first and first.answer_start is not None \
                else None
            turns.append(Turn(question, item.answer, item.standalone_question or reading.standalone, source,
                              reading.refs))
            continue
        if not isinstance(item, Mapping):
            raise InputError(f"{where} must be an object with 'question' and 'answer', got {type(item).__name__}")
        unknown = sorted(set(map(str, item)) - {"question", "answer"})
        if unknown:
            raise InputError(f"{where} has an unknown field {unknown[0]!r} (known fields: question, answer)")
        if "question" not in item:
            raise InputError(f"{where}.question is missing")
        question = clean_text(item["question"], f"{where}.question", max_chars)
        answer = item.get("answer")
        if answer is not None:
            if not isinstance(answer, str):
                raise InputError(f"{where}.answer must be a string or null, got {type(answer).__name__}")
            answer = answer.strip() or None
            if answer is not None and len(answer) > max_chars:
                raise InputError(f"{where}.answer is {len(answer)} characters long; the limit is {max_chars} "
                                 "(limits.max_question_chars in qa.yaml)")
        reading = judge(understand(question, turns))
        turns.append(Turn(question, answer, reading.standalone, refs=reading.refs))
    return tuple(turns)


# ------------------------------------------------------------------ understanding a question


def understand(question: str, turns: Sequence[Turn]) -> Reading:
    """What ``question`` asks once ``turns`` (earlier turns, oldest first) are taken into account."""
    q = " ".join(question.split())
    if not turns:
        return Reading(q, q, False)
    prev = turns[-1]
    bare = _BARE_WH.match(q)
    if bare:
        return _bare_wh(q, bare.group("wh"), prev)
    lead = _LEAD.match(q)
    if lead and lead.end() > 0:
        rest = q[lead.end():].strip()
        if rest and not _is_question(rest) and not _has_verb(rest):
            return _ellipsis(q, rest, prev)
    edits: list[tuple[int, int, str, str, Turn]] = []
    refs: list[tuple[str, str]] = []
    followup = False
    other_signal = False  # "the two", "that year", "that issue": the conversation, whatever the question's words
    for w in words(q):
        kind = ("person" if w.low in PERSON_PRONOUNS else "thing" if w.low in THING_PRONOUNS
                else "plural" if w.low in PLURAL_PRONOUNS else None)
        if kind is None or w.low.endswith(("self", "selves")) or _antecedent_within(q, w.start, kind) \
                or kind == "thing" and _expletive(q, w.start):
            continue  # "itself", "themselves": the question's own
        followup = True
        after = q[w.end:].split()
        predicate = next((t for x in after for t in tokenize(x)), None)
        c = pick(turns, kind, predicate)
        if c is None:
            continue
        possessive = w.low in ("his", "its", "their", "hers", "theirs") or w.low == "her" and _noun_follows(q, w.end)
        text = (c.text + ("'" if c.text.endswith("s") and c.plural else "'s")) if possessive else c.text
        edits.append((w.start, w.end, text, f"\"{w.text}\" = {c.text} ({_origin(c)})", c.turn))
        if w.low not in ("him", "them") and not (w.low == "her" and not possessive):
            refs.append((kind, c.text))  # a subject or owner carries on to the next "he"; an object does not
    for m in _TWO.finditer(q):
        if m.group(0).lower().startswith("both") and not m.group("noun"):
            continue
        if any(p.kind == "pair" and p.end <= m.start() for p in phrases(q)):
            continue
        followup = other_signal = True
        c = pair(turns, m.group("noun"))
        if c is not None:
            edits.append((m.start(), m.end(), c.text, f"\"{m.group(0)}\" = {c.text} ({_origin(c)})", c.turn))
    for m in _TIME_REF.finditer(q):
        if YEAR.search(q, 0, m.start()):
            continue
        followup = other_signal = True
        found = when(turns, (m.group("unit") or "time").lower())
        if found is not None:
            date, turn = found
            prep = m.group("prep")
            text = f"{prep} {date}" if prep else f"in {date}" if date[:1].isdigit() else date
            edits.append((m.start(), m.end(), text, f"\"{m.group(0)}\" = {date} (from \"{turn.standalone}\")", turn))
    for m in _DEM.finditer(q):
        noun = m.group("noun")
        if noun not in _DEM_NOUNS or _TIME_REF.match(q, m.start()) or any(e[0] <= m.start() < e[1] for e in edits):
            continue
        followup = other_signal = True
        found = described(turns, noun)
        if found is not None:
            said = f"\"{m.group(0)}\" = {found[0]} (from \"{found[1].standalone}\")"
            edits.append((m.start(), m.end(), found[0], said,
                          found[1]))
    if not followup and _too_short(q):
        topic = pick(turns, "thing")
        if topic is not None:
            return Reading(q, f"{q.rstrip('?').rstrip()} ({topic.text})?", True,
                           (f"too short to ask on its own: about {topic.text} ({_origin(topic)})",), topic.turn)
        return Reading(q, q, True, (), prev)
    if not edits:
        return Reading(q, q, followup, (), prev if followup else None, by_pronoun=followup and not other_signal)
    out = q
    for start, end, text, _, _ in sorted(edits, key=lambda e: e[0], reverse=True):
        if start == 0:
            text = text[:1].upper() + text[1:]
        out = out[:start] + text + out[end:]
    return Reading(q, _tidy(out), True, tuple(e[3] for e in sorted(edits)), sorted(edits)[0][4], tuple(refs),
                   by_pronoun=not other_signal)


def _origin(c: Referent) -> str:
    return f"the answer to \"{c.turn.standalone}\"" if c.role == "answer" else f"from \"{c.turn.standalone}\""


def _tidy(text: str) -> str:
    """"Xi Jinping give Xi Jinping's speech" -> "Xi Jinping give the speech"."""
    for m in re.finditer(r"(?P<name>[A-Z][\w\-]*(?: [A-Z][\w\-]*)*)['’]s (?=\w)", text):
        if text.count(m.group("name")) > 1 and text.index(m.group("name")) < m.start():
            return _tidy(text[:m.start()] + "the " + text[m.end():])
    return text


def _is_question(text: str) -> bool:
    """A whole question (a question word or an auxiliary with a verb after it), not a fragment."""
    ws = words(text)
    if not ws:
        return False
    if ws[0].low in AUX:
        return True
    return ws[0].low in WH and any(w.low in AUX or (is_verb(w.text) and not w.capitalised) for w in ws[1:])


def _has_verb(fragment: str) -> bool:
    """"Luther declined as his antisemitism increased" is a clause, not an ellipsis like "the European Parliament"."""
    inside = [(p.start, p.end) for p in phrases(fragment, skip_first=False)]  # "the Japanese name": a noun
    return any(not w.capitalised and (is_verb(w.text) or len(w.text) > 4 and w.low.endswith("ed"))
               and not any(a <= w.start < b for a, b in inside) for w in words(fragment)) or len(fragment.split()) > 8


def _antecedent_within(q: str, at: int, kind: str) -> bool:
    """The question itself names what the pronoun at ``at`` can stand for ("Yoon and Kishida ... their meeting",
    "Chrysler ... its model"): any name or thing for "it" and "they", someone for "he" and "she"."""
    before = [p for p in phrases(q) if p.end <= at and p.head.lower() not in GENERIC
              and not (p.kind == "name" and all(w in DEMONYMS for w in p.text.split()))]  # "Japanese" names no one
    if kind == "person":  # someone: not "China", "Japanese" or "South Koreans"
        return any(p.person for p in before)
    if kind == "plural":  # a plural noun before it ("fonts ... they"), not a verb ("separates them")
        return any(p.plural or p.kind in ("name", "pair") for p in before) or any(
            not is_verb(w) for w in re.findall(r"\b[a-z]{3,}[^s]s\b", q[:at].split(" ", 1)[-1]))
    return any(not p.person or p.kind == "name" for p in before)


def _expletive(q: str, at: int) -> bool:
    return any(m.start() <= at < m.end() for m in _EXPLETIVE.finditer(q))


def _noun_follows(q: str, end: int) -> bool:
    nxt = q[end:].split()
    return bool(nxt) and nxt[0].strip("?.,!").lower() not in STOPS and bool(nxt[0].strip("?.,!"))


def _too_short(q: str) -> bool:
    """Nothing in it to retrieve on: "What happened next?", "Tell me more"."""
    if any(w.capitalised for w in words(q)[1:]) or re.search(r"\d", q):
        return False
    return not [t for t in tokenize(q) if t not in _VAGUE]


# ------------------------------------------------------------------ ellipsis and bare question words


def _bare_wh(q: str, wh: str, prev: Turn) -> Reading:
    """"Why?" after "When did Japan and South Korea agree to hold talks?": the same question, asked why."""
    p = prev.standalone
    m = _WH_PHRASE.match(p)
    new = wh[:1].upper() + wh[1:].lower()
    if m:
        standalone = new + p[m.end():]
    else:  # "Who visited Tokyo?" + "When?": "When visited Tokyo?" reads worse than keeping the answer
        rest = re.sub(r"^\s*\w+\s+", "", p)
        who = short_answer(prev)
        standalone = f"{new} {who + ' ' if who else ''}{rest}"
    return Reading(q, standalone, True, (f"\"{q}\" asked of \"{p}\"",), prev)


def _ellipsis(q: str, fragment: str, prev: Turn) -> Reading:
    """"And in Japanese?", "What about 1995?", "And South Korea to Japan?": the last question with the
    fragment in place of what it replaces."""
    p = prev.standalone
    frag = fragment.rstrip("?!. ").strip()
    why = f"\"{q}\" read as \"{p}\" with {frag}"
    new_dates = typed_spans(DATE, frag)
    if new_dates:
        date = frag[new_dates[0][0]:new_dates[0][1]]
        old = typed_spans(DATE, p)
        if old:
            s, e = old[-1]
            return Reading(q, p[:s] + date + p[e:], True, (why + f" in place of {p[s:e]}",), prev)
        prep = frag[:new_dates[0][0]].strip() or "in"
        return Reading(q, f"{p.rstrip('?').rstrip()} {prep} {date}?", True, (why,), prev)
    lang = re.fullmatch(r"(?:in\s+)?(?P<lang>[A-Z]\w+)", frag)
    if lang and lang.group("lang") in _LANGUAGES:
        old = re.search(r"\bin\s+(?P<lang>[A-Z]\w+)\b", p)
        if old and old.group("lang") in _LANGUAGES:
            s, e = old.span("lang")
            return Reading(q, p[:s] + lang.group("lang") + p[e:], True, (why + f" in place of {old.group('lang')}",),
                           prev)
        c = re.match(r"(what|who)\s+(is|are|was|were)\s+(.+?)\s*\?*$", p, re.I)
        tail = f" called in {lang.group('lang')}" if c and not re.search(r"\b(called|known)\b", p) \
            else f" in {lang.group('lang')}"
        return Reading(q, f"{p.rstrip('?').rstrip()}{tail}?", True, (why,), prev)
    wh = _WH_PHRASE.match(frag + " is")
    old_wh = _WH_PHRASE.match(p)
    if wh and old_wh and frag.split()[0].lower() in WH | PREPOSITIONS:
        prep = old_wh.group(0).split()[0]
        if frag.split()[0].lower() in WH and prep.lower() in PREPOSITIONS:
            frag = f"{prep} {frag}"   # "Under which Japanese prime minister ...?" + "And which South Korean president?"
        frag = frag[:1].upper() + frag[1:]
        return Reading(q, frag + p[old_wh.end():], True, (why + f" in place of {old_wh.group(0)}",), prev)
    new = phrases(frag, skip_first=False)
    old = [ph for ph in phrases(p) if ph.head.lower() not in GENERIC]
    if new and old:
        if len(new) > 1 and len(new) == len(old):  # "And South Korea to Japan?": each in its place
            out, last = [], 0
            for o, n in zip(old, new):
                out += [p[last:o.start], n.text]
                last = o.end
            return Reading(q, "".join(out) + p[last:], True, (why,), prev)
        n = new[0]
        target = (next((o for o in old if o.head.lower() == n.head.lower()), None)
                  or next((o for o in old if set(n.text.lower().split()) & set(o.text.lower().split()) - {"the", "of"}),
                          None)
                  or next((o for o in old if o.possessive == n.possessive and o.kind == n.kind == "described"), None)
                  or _subject(p, old))
        if target is not None:
            end = target.end
            if target.kind == "described" and target.head.lower() == n.head.lower() and " of " in target.text \
                    and " of " not in n.text:  # "the Korean name of the Liancourt Rocks": keep "of ..."
                end = target.start + target.text.index(" of ")
            return Reading(q, p[:target.start] + n.text + p[end:], True,
                           (why + f" in place of {p[target.start:end]}",), prev)
    return Reading(q, q, True, (), prev)


def _subject(p: str, found: list[Phrase]) -> Phrase | None:
    aux = next((w for w in words(p) if w.low in AUX), None)
    if aux is None:
        return found[0] if found else None
    return next((ph for ph in found if ph.start > aux.start), found[0] if found else None)


# ------------------------------------------------------------------ where the earlier answer came from


def favour(index: Store | Index, turn: Turn | None) -> Favour | None:
    """The passages (and document) ``turn``'s answer came from, for retrieval to prefer; None when unknown."""
    if turn is None or not turn.answer:
        return None
    store = as_store(index)
    if turn.source is not None:
        doc_id, start, end = turn.source
        d = store.document_key(doc_id)
        if d is None:
            return None
        chunks = store.document_chunks(d)
        rows = chunks.ids[(chunks.span[:, 0] < end) & (chunks.span[:, 1] > start)]
        return Favour(tuple(int(r) for r in rows), (d,))
    tokens = set(tokenize(turn.answer))
    if not tokens or store.counts()["chunks"] == 0:
        return None
    # The chunks holding the answer's rarest word, then those holding the answer itself.
    postings = min((store.containing(t, CHUNKS) for t in tokens), key=len)[:200]
    info = store.chunks(postings)
    rows = [int(r) for r, d, (s, e) in zip(info.ids, info.doc, info.span)
            if turn.answer in store.document(int(d)).text[int(s):int(e)]]
    if not rows:
        return None
    keep = np.isin(info.ids, rows)
    return Favour(tuple(rows), tuple(sorted({int(d) for d in info.doc[keep]})))


def content_words(question: str) -> list[str]:
    """The stemmed words a question asks with: not its pronouns, not "what happened next"."""
    return sorted({t for w in words(question) if w.low not in PRONOUNS and w.low not in DEMONSTRATIVES
                   for t in tokenize(w.text)} - _VAGUE)


def about_the_conversation(index: Store | Index, reading: Reading, prefer: Favour | None) -> bool:
    """Whether a question that reads like a follow-up is about what the conversation was about.

    A question with a pronoun may still stand alone: "What was he studying that gave him the teleforce
    weapon idea?" after an unrelated turn is about another document, whose words it holds. It is taken
    for a follow-up unless its words (weighted by rarity) are at least ``OFF_TOPIC`` better covered by
    some document outside the conversation than by the conversation's own documents -- those the
    earlier answer came from (``prefer``), else those holding the earlier question's rarest word. A
    question of fewer than three content words ("When did it end?", "What is it called in Japanese?")
    cannot be judged and stays a follow-up; so does one that says "that year", "the two", "that issue"
    or is an ellipsis: those point at the conversation whatever its words.
    """
    asked = content_words(reading.question)
    turn = reading.turn
    store = as_store(index)
    if not reading.by_pronoun or len(asked) < 3 or turn is None or store.counts()["chunks"] == 0:
        return True
    docs = set(prefer.docs) if prefer is not None else set()
    earlier = sorted(set(tokenize(turn.standalone)))
    if not docs and earlier:  # no answer to go by: the documents of the earlier question's rarest word
        postings = [store.containing(t, CHUNKS) for t in earlier]
        docs = {int(d) for d in store.chunks(min((p for p in postings if len(p)), key=len, default=postings[0])).doc}
    if not docs:
        return True
    weights = store.idf(asked, CHUNKS)
    per_doc: dict[int, float] = {}
    mine = 0.0
    for w, t in zip(weights.tolist(), asked):
        held = {int(d) for d in store.chunks(store.containing(t, CHUNKS)).doc}
        mine += w if held & docs else 0.0
        for d in held - docs:
            per_doc[d] = per_doc.get(d, 0.0) + w
    total = float(weights.sum()) or 1.0
    return (max(per_doc.values(), default=0.0) - mine) / total < OFF_TOPIC
