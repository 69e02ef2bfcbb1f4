"""A text of claims -> one span per claim.

Claims come typed or pasted, not typeset: a sentence may start in lower case ("libffi is ..."), with a
digit, or right after a closing quotation mark. :func:`split_claims` cuts where
:func:`qa.ingest.sentences.split_sentences` does, and also at a full stop, "!" or "?" (with any closing
quote or bracket) followed by a space and a lower-case word, unless the full stop ends an abbreviation
("e.g.", "approx.", "U.S.") or what precedes it is too short to be a claim of its own.
"""

from __future__ import annotations

import re

from qa.ingest.sentences import _is_abbreviation, split_sentences

# End of a sentence, any closing quotes or brackets, space, then a word in lower case.
_LOWER_START = re.compile(r"[.!?…]+[\"'”’)\]]*\s+(?=[\"'“‘(]*[a-z])")
_MIN_WORDS = 3


def _words(text: str) -> int:
    return len(re.findall(r"\w+", text))


def split_claims(text: str) -> list[tuple[int, int]]:
    """Claim spans of ``text`` (offsets into it, no surrounding whitespace)."""
    out = []
    for s, e in split_sentences(text):
        cursor = s
        for m in _LOWER_START.finditer(text, s, e):
            dot = m.start()
            stop = dot + len(m.group().rstrip())
            if text[dot] == "." and text[dot:stop].count(".") == 1 and _is_abbreviation(text, dot, s):
                continue
            if _words(text[cursor:stop]) < _MIN_WORDS or _words(text[m.end():e]) < _MIN_WORDS:
                continue
            out.append((cursor, stop))
            cursor = m.end()
        out.append((cursor, e))
    return out
