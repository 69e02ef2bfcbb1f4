"""Words: one tokenizer for indexing, querying, answering and checking claims.

The same :func:`tokenize` is used when indexing and when querying, so terms
always line up. Tokens are lower-cased, English stop words dropped, and
stemmed with PyStemmer (Snowball) when it is installed.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_TOKEN = re.compile(r"\w+", re.UNICODE)

try:  # bm25s's English stop word list; a small fallback keeps us working without it
    from bm25s.stopwords import STOPWORDS_EN as _STOP
except ImportError:  # pragma: no cover
    _STOP = ("a", "an", "the", "of", "to", "in", "and", "or", "is", "are", "was", "were")
STOPWORDS = frozenset(_STOP) | {"did", "does", "do", "what", "which", "who", "whom", "when", "where",
                                "why", "how", "many", "much"}

try:
    import Stemmer

    _stemmer = Stemmer.Stemmer("english")
    _stem = _stemmer.stemWord
except ImportError:  # pragma: no cover
    def _stem(word: str) -> str:
        return word


# Bounded: every new word of every question lands here, so a long-running server must not keep them all
# (16,384 stems are about 3 MB; a miss costs one Snowball call, well under a microsecond).
@lru_cache(maxsize=16_384)
def _normalise(word: str) -> str:
    return _stem(word)


def tokenize(text: str) -> list[str]:
    """Lower-cased, stemmed content words of ``text`` (composed first: "Cafe\u0301" is "café")."""
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    return [_normalise(w) for w in _TOKEN.findall(text.lower()) if w not in STOPWORDS]
