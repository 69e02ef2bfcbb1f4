"""Example questions the chat offers as buttons: configured, built in (the seeds), or drawn from the corpus.

``examples:`` in ``qa.yaml`` wins. Over the seed corpus the built-in questions about Japan and Korea
are offered. Over any other corpus the questions are drawn from its own text, so a newcomer never
sees a question about someone else's documents: "What is X?" for a sentence that defines X ("Ninja is
a small build system ..."), and a heading that asks a question or says how to do something
("How to use bzip2" -> "How do I use bzip2?"). A drawn question is offered only when the pipeline
answers it from where it came from: the defining sentence, or the section under the heading.
"""

from __future__ import annotations

import re
from typing import Callable, Iterator, Sequence

from qa.index.faiss_store import as_store

EXAMPLES = (
    "When did Japan rule Korea as a colony?",
    "How much did Japan export to South Korea in 2021?",
    "Who met Yoon Suk Yeol in Tokyo in March 2023?",
)
CHECK_EXAMPLES = (
    "Japan is the second-largest economy in the world.",
    "North Korea invaded South Korea in June 1950. The armistice was signed in 1953.",
)
# The built-in examples are about the seed documents: offered only when the corpus holds them.
SEED_DOCUMENTS = frozenset({"000_c6a6f3801ffa9646.txt", "002_8a6a162120bf64fe.txt", "004_34ba08f7c481c79f.txt"})
DRAWN = 3                  # questions drawn from the corpus
TRIES = 4                  # candidates asked per question offered, at most
SCAN_DOCUMENTS = 200       # documents looked at for candidates, at most
SCAN_SENTENCES = 300       # sentences looked at per document, at most
SECTION_CHARS = 2000       # how far under a heading its answer may lie

# "Ninja is a small build system", "A glob is a pattern": a subject of one to four words, then is/are a/an/the.
_DEFINITION = re.compile(r"(?P<subject>(?:(?:The|A|An) )?[^\s,;:()\"“”]+(?: [^\s,;:()\"“”]+){0,3}) "
                         r"(?P<verb>is|are) (?:a|an|the|one of)\b")
# Words that make the opening no subject to ask about: pronouns, determiners, conjunctions ("since this
# reservation is a ..." is the end of another sentence's thought).
_NOT_SUBJECT = frozenset("""it this that there these those he she they we you i each every one which what who here
its such another both all some no any his her their our my your when where how why if then thus also since
because although though while as so but and or nor however whereas unless until after before once only""".split())
_VERB_LIKE = frozenset("is are was were be been has have had do does did can could may might must will would "
                       "shall should not".split())
_SECTION_NUMBER = re.compile(r"^(?:(?:chapter|section|part)\s+)?[\dIVXivx]+(?:\.\d+)*\.?\s+", re.I)
_ASKING = re.compile(r"(?:how|what|why|when|where|who|which|can|does|do|is|are|should)\b", re.I)


def examples_for(config, doc_ids, drawn: Sequence[str] = ()) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(questions, claims) to offer as buttons: ``examples``/``claim_examples`` from the config, else the
    built-in ones over the seed corpus, else the questions ``drawn`` from the corpus itself (a question
    about Korea over someone's own documents would only abstain)."""
    seeds = SEED_DOCUMENTS <= set(doc_ids)
    questions = config.examples or (EXAMPLES if seeds else tuple(drawn))
    return tuple(questions), tuple(config.claim_examples or (CHECK_EXAMPLES if seeds else ()))


def definition_question(sentence: str) -> str | None:
    """"What is X?" for a sentence that opens by defining X, else None."""
    m = _DEFINITION.match(sentence)
    if not m:
        return None
    subject = m.group("subject")
    words = subject.split()
    core = words[1:] if words[0] in ("The", "A", "An") else words
    if not core or any(w.lower() in _NOT_SUBJECT or w.lower() in _VERB_LIKE for w in core):
        return None
    if not any(c.isalpha() for c in subject) or not subject[-1].isalnum():
        return None
    first = words[0]
    if first in ("The", "A", "An") or (first[0].isupper() and first[1:].islower() and _common(first)):
        subject = first.lower() + subject[len(first):]  # the sentence's capital, not a name's
    return f"What {m.group('verb')} {subject}?"


def _common(word: str) -> bool:
    from qa.text.types import common_words

    return word.lower() in common_words()


def heading_question(line: str) -> str | None:
    """A heading that asks ("Why is it slow?", "How to use bzip2") as a question, else None."""
    text = _SECTION_NUMBER.sub("", line.strip()).strip()
    words = text.split()
    if not 2 <= len(words) <= 10 or text[-1] in ".,;:" or not text[0].isupper() or ". " in text:
        return None
    if sum(c.isalpha() or c.isspace() for c in text) < 0.8 * len(text):  # a formula or code, not a heading
        return None
    if text.lower().startswith("how to "):
        return "How do I " + text[len("how to "):] + "?"
    if _ASKING.match(text):
        return text if text.endswith("?") else text + "?"
    return None


def _headings(text: str) -> Iterator[tuple[int, str]]:
    """``(offset, line)`` of each short line that stands as a paragraph of its own."""
    pos = 0
    lines = text.split("\n")
    for i, line in enumerate(lines):
        alone = (i == 0 or not lines[i - 1].strip()) and (i + 1 < len(lines) and not lines[i + 1].strip())
        if alone and 0 < len(line.split()) <= 10:
            yield pos, line
        pos += len(line) + 1


def _specific(question: str) -> bool:
    """A subject that names something (a capital inside, a digit, a dot or underscore) makes a better example."""
    body = question.split(" ", 2)[-1]
    return any(c.isupper() or c.isdigit() or c in "._+#" for c in body[1:])


def candidates(index) -> list[list[tuple[str, int, int]]]:
    """Per document (index order, the first ``SCAN_DOCUMENTS``), its candidate questions, best first, each
    with the span of the document its answer should come from."""
    store = as_store(index)
    out: list[list[tuple[str, int, int]]] = []
    for key, *_ in store.catalogue(SCAN_DOCUMENTS):
        text = store.document(key).text
        spans = store.document_sentences(key).span[:SCAN_SENTENCES].tolist()
        ranked: list[tuple[int, int, str, int, int]] = []
        for s, e in spans:
            q = definition_question(text[s:e])
            if q:
                ranked.append((0 if _specific(q) else 2, s, q, s, e))
        for pos, line in _headings(text):
            q = heading_question(line)
            if q:  # answered in the section under the heading, not by the heading itself
                ranked.append((1, pos, q, pos + len(line), pos + len(line) + SECTION_CHARS))
        seen: set[str] = set()
        out.append([(q, s, e) for _, _, q, s, e in sorted(ranked) if not (q.lower() in seen or seen.add(q.lower()))])
    return out


def draw_questions(index, ask: Callable[[str], object], n: int = DRAWN) -> tuple[str, ...]:
    """Up to ``n`` questions from different documents of ``index`` that ``ask`` answers from where they came.

    ``ask`` is :meth:`Pipeline.ask`; at most ``TRIES * n`` candidates are asked, so a corpus with no
    answerable candidate costs a few questions at start-up, not one per document.
    """
    per_doc = candidates(index)
    doc_ids = [d for _, d, _, _ in as_store(index).catalogue(SCAN_DOCUMENTS)]
    chosen: list[str] = []
    done: set[int] = set()
    tries = 0
    for depth in range(max((len(c) for c in per_doc), default=0)):
        for d, questions in enumerate(per_doc):
            if len(chosen) >= n or tries >= TRIES * n:
                return tuple(chosen)
            if depth >= len(questions) or d in done:
                continue
            question, start, end = questions[depth]
            tries += 1
            try:
                answer = ask(question)
            except Exception:  # an example is a nicety: a question the pipeline refuses is just not offered
                continue
            cites = getattr(answer, "citations", ())
            if (not getattr(answer, "abstained", True) and cites and cites[0].source == doc_ids[d]
                    and cites[0].start < end and start < cites[0].end):
                chosen.append(question)
                done.add(d)
    return tuple(chosen)
