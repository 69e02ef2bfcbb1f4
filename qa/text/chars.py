"""Character rules shared by every stage: what is invisible, what joins, what is upper case, and what a
user's question or claim is once cleaned. One definition each, so the quote checker, the readers and
the question cleaner cannot disagree about a soft hyphen or a variation selector.
"""

from __future__ import annotations

import re
import unicodedata

from qa.errors import InputError

# Characters a text can hold without showing them: a soft hyphen, a zero-width space, a word joiner,
# a byte-order mark. PDF and web text carry them; a quote that lacks them is no different.
INVISIBLE = frozenset("\u00ad\u200b\u2060\ufeff")

# Characters that belong to the character before them: variation selectors (text or emoji
# presentation) and the zero-width joiner of emoji sequences; with combining marks (Mn, Me), a span
# that ends or starts between them and their base character would cut a character in two.
JOINERS = frozenset("\ufe0e\ufe0f\u200d")


def is_mark(ch: str) -> bool:
    """A combining mark or joiner: never the first or last character of a span on its own."""
    return unicodedata.category(ch) in ("Mn", "Me") or ch in JOINERS


def _upper_class() -> str:
    """A character class of every upper-case letter of the Basic Multilingual Plane (É, Ō, Ж, ...), as ranges."""
    runs: list[list[int]] = []
    for i in range(0x10000):
        if chr(i).isupper():
            if runs and runs[-1][1] == i - 1:
                runs[-1][1] = i
            else:
                runs.append([i, i])
    return "[" + "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
                         for a, b in runs) + "]"


UPPER = _upper_class()  # upper-case letters, as a regular-expression class


_SURROGATE = re.compile("[\ud800-\udfff]")


# Joiners that shape words and emoji (Persian text, a family emoji) stay; other format characters
# (soft hyphens, zero-width spaces, direction overrides) are dropped, control characters become spaces.
KEPT_FORMAT = frozenset("\u200c\u200d")


def cleaned_char(ch: str) -> str:
    cat = unicodedata.category(ch)
    if cat[0] != "C" or ch in "\t\n" or ch in KEPT_FORMAT:
        return ch
    return "" if cat == "Cf" else " "


def blank(text: str) -> bool:
    """Nothing left once cleaned: what :func:`clean_text` refuses as empty."""
    return not "".join(map(cleaned_char, text)).strip()


def clean_text(text: object, what: str, limit: int) -> str:
    """Validate user text: a non-empty string within ``limit`` characters, control characters removed
    (see :func:`cleaned_char`).

    Lone surrogates (what invalid UTF-8 becomes in ``sys.argv``, or a JSON ``"\\ud800"``) are refused:
    they cannot be encoded back to UTF-8, so no answer quoting the question could be printed or sent.
    """
    if not isinstance(text, str):
        raise InputError(f"{what} must be a string, got {type(text).__name__}")
    bad = _SURROGATE.search(text)
    if bad:
        raise InputError(f"{what} is not valid Unicode (a lone surrogate at character {bad.start()}); "
                         "send it as UTF-8 text")
    cleaned = "".join(cleaned_char(ch) for ch in text)
    cleaned = " ".join(cleaned.split())
    if not cleaned:
        raise InputError(f"{what} is empty: type a {what} in words")
    if len(cleaned) > limit:
        raise InputError(f"{what} is {len(cleaned)} characters long; the limit is {limit} "
                         "(limits.max_question_chars in qa.yaml)")
    return cleaned
