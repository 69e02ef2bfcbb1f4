"""The span reader: the words of a candidate window that answer the question, or "no answer here".

The question and a window of a document (a candidate sentence with as many neighbouring sentences
as fit a token budget, so "them" and "the two countries" can be resolved) go through the bundled
all-MiniLM-L6-v2 together ("[CLS] question [SEP] window [SEP]"). A linear head gives every token a
start and an end score, as SQuAD readers do, with [CLS] standing for "no span"; a second head on
[CLS] scores whether the window answers the question at all. All six layers are fine-tuned, on
SQuAD train with negatives and on real unanswerable questions, by ``bench/train_span_reader.py``.

Spans are character offsets into the window, taken from the tokenizer's offsets and widened to
whole words, so an answer is always a verbatim slice of the document.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from qa.text.chars import is_mark

MAX_TOKENS = 192          # question + window + 3 special tokens, at most
MAX_QUESTION_TOKENS = 48  # a longer question is cut to its first 48 tokens for reading
MAX_ANSWER_TOKENS = 30
NEG = -1e4                # the score of a token that can be neither start nor end


@dataclass(frozen=True)
class Reading:
    """What the reader makes of one window.

    ``start``/``end``: the best span, offsets into the window (None when no token could be read);
    ``span``: its start + end score; ``null``: the [CLS] start + end score ("no span");
    ``answer``: the answerability head's logit (above 0: the window likely answers the question).
    """

    start: int | None
    end: int | None
    span: float
    null: float
    answer: float

    @property
    def margin(self) -> float:
        """How far the best span beats "no span"."""
        return self.span - self.null


class Tokenizer:
    """The bundled model's tokenizer, twice: ``pair`` for (question, window) inputs (only the window
    is cut, padded per batch) and ``plain`` for counting the word pieces of any text."""

    def __init__(self):
        from pathlib import Path

        from tokenizers import Tokenizer as _Tokenizer

        from qa.models.base import base_path

        spec = (Path(base_path()) / "tokenizer.json").read_text(encoding="utf-8")
        self.plain = _Tokenizer.from_str(spec)
        self.plain.no_truncation()
        self.plain.no_padding()
        self.pair = _Tokenizer.from_str(spec)
        self.pair.enable_truncation(MAX_TOKENS, strategy="only_second")
        self.pair.enable_padding(pad_id=self.pair.token_to_id("[PAD]") or 0)

    def counts(self, texts: Sequence[str]) -> list[int]:
        """Word pieces of each text (no special tokens): what a sentence costs in a window."""
        if not texts:
            return []
        return [len(e.ids) for e in self.plain.encode_batch(list(texts), add_special_tokens=False)]

    def short_question(self, question: str) -> str:
        """``question`` cut after its first ``MAX_QUESTION_TOKENS`` word pieces (the window keeps its room)."""
        offsets = self.plain.encode(question, add_special_tokens=False).offsets
        if len(offsets) <= MAX_QUESTION_TOKENS:
            return question
        return question[:offsets[MAX_QUESTION_TOKENS - 1][1]]

    def encode(self, question: str, windows: Sequence[str]):
        """One encoding per window of (question, window), padded to the longest."""
        q = self.short_question(question)
        return self.pair.encode_batch([(q, w) for w in windows])


def tokenizer() -> Tokenizer:
    return Tokenizer()


def window(counts: Sequence[int], centre: int, budget: int) -> tuple[int, int]:
    """The sentences ``[first, last)`` of a window around sentence ``centre``.

    ``counts``: word pieces of each sentence in order; ``budget``: word pieces the window may hold.
    The centre sentence is always in; then the sentence before and the one after are added in
    turn (before first: it is what "it" and "them" refer back to) while they fit.
    """
    first, last = centre, centre + 1
    used = counts[centre]
    grew = True
    while grew:
        grew = False
        if first > 0 and used + counts[first - 1] <= budget:
            first -= 1
            used += counts[first]
            grew = True
        if last < len(counts) and used + counts[last] <= budget:
            used += counts[last]
            last += 1
            grew = True
    return first, last


def context_budget(question_tokens: int, total: int) -> int:
    """Word pieces left for the window when the whole input may hold ``total`` (3 special tokens)."""
    return max(8, total - min(question_tokens, MAX_QUESTION_TOKENS) - 3)


def allowed_tokens(encoding) -> np.ndarray:
    """Which positions may be a span's start or end: [CLS] (no span) and the window's tokens."""
    seq = encoding.sequence_ids
    return np.array([i == 0 or (s == 1 and encoding.offsets[i][1] > encoding.offsets[i][0])
                     for i, s in enumerate(seq)], dtype=bool)


def decode(start: np.ndarray, end: np.ndarray, answer: float, encoding, text: str) -> Reading:
    """The best span of ``text`` (the window) from one pair's start/end scores."""
    ok = allowed_tokens(encoding)
    null = float(start[0] + end[0])
    rows = np.nonzero(ok[1:])[0] + 1
    if len(rows) == 0:
        return Reading(None, None, NEG, null, float(answer))
    s, e = start[rows], end[rows]
    n = len(rows)
    score = s[:, None] + e[None, :]
    i_idx, j_idx = np.indices((n, n))
    # a span runs forward over at most MAX_ANSWER_TOKENS window tokens
    score = np.where((j_idx >= i_idx) & (rows[j_idx] - rows[i_idx] < MAX_ANSWER_TOKENS), score, -np.inf)
    i, j = np.unravel_index(int(np.argmax(score)), score.shape)
    offsets = encoding.offsets
    a, b = whole_words(text, int(offsets[rows[i]][0]), int(offsets[rows[j]][1]))
    return Reading(a, b, float(score[i, j]), null, float(answer))


def whole_words(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen ``text[start:end]`` to whole words: a word piece ("##ing") never starts or ends an answer,
    and the accents and variation selectors that belong to its last character stay with it."""
    while start > 0 and (is_mark(text[start]) or (text[start].isalnum() and text[start - 1].isalnum())):
        start -= 1
    while end < len(text) and (is_mark(text[end]) or (text[end].isalnum() and text[end - 1].isalnum())):
        end += 1
    return start, end


def span_model(base=None):
    """The bundled MiniLM with a start/end head on every token and an answerability head on [CLS]."""
    import torch

    from qa.models.base import base_encoder

    class SpanReader(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = base_encoder(base)
            hidden = self.encoder.config.hidden_size
            self.head = torch.nn.Linear(hidden, 2)
            self.answer_head = torch.nn.Linear(hidden, 1)

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=token_type_ids).last_hidden_state
            logits = self.head(out)
            return logits[..., 0], logits[..., 1], self.answer_head(out[:, 0]).squeeze(-1)

    return SpanReader()
