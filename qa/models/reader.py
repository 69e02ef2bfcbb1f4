"""The span reader: the words of a candidate window that answer the question, or "no answer here".

The question and a window of a document (a candidate sentence with as many neighbouring sentences
as fit a token budget, so "them" and "the two countries" can be resolved) go through the bundled
all-MiniLM-L6-v2 together ("[CLS] question [SEP] window [SEP]"). A linear head gives every token a
start and an end score, as SQuAD readers do, with [CLS] standing for "no span"; a second head on
[CLS] scores whether the window answers the question at all. All six layers are fine-tuned, on
SQuAD train with negatives and on real unanswerable questions, by ``bench/train_reader.py``.

Spans are character offsets into the window, taken from the tokenizer's offsets and widened to
whole words, so an answer is always a verbatim slice of the document.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol, Sequence

import numpy as np

from qa.models.calibration import Calibration
from qa.text.chars import is_mark

READER_FILE = Path(__file__).resolve().parents[1] / "data" / "reader.safetensors"

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


# ------------------------------------------------------------------ the reader at answer time

class Reader(Protocol):
    """What the answer stage needs of a reader: windows in, one :class:`Reading` per window out, and the
    calibration that turns its readings (with retrieval's signals) into a confidence. A reader owns its
    calibration, so a new reader never inherits another's scale."""

    name: str
    calibration: Calibration | None
    tokenizer: Tokenizer

    def read(self, question: str, windows: Sequence[str]) -> list[Reading]: ...


Scores = Callable[[list], tuple[np.ndarray, np.ndarray, np.ndarray]]


class SpanReader:
    """The span model behind a backend that scores a batch of encodings (ONNX Runtime or torch)."""

    def __init__(self, scores: Scores, name: str, calibration: Calibration | None = None,
                 tokenizer: Tokenizer | None = None):
        self._scores = scores
        self.name = name
        self.calibration = calibration
        self.tokenizer = tokenizer or Tokenizer()
        self._lock = threading.Lock()

    def read(self, question: str, windows: Sequence[str]) -> list[Reading]:
        if not windows:
            return []
        with self._lock:  # the tokenizer is not shared between threads while it encodes
            enc = self.tokenizer.encode(question, windows)
        start, end, answer = self._scores(enc)
        return [decode(s, e, a, en, w) for s, e, a, en, w in zip(start, end, answer, enc, windows)]

    @classmethod
    def from_torch(cls, model, name: str, calibration: Calibration | None = None) -> "SpanReader":
        from qa.models.base import torch_inputs

        def scores(enc):
            import torch

            with torch.inference_mode():
                return tuple(x.float().numpy() for x in model(**torch_inputs(enc)))

        reader = cls(scores, name, calibration)
        reader.model = model  # what training and the ONNX export use
        return reader

    @classmethod
    def from_graph(cls, graph, name: str, calibration: Calibration | None = None) -> "SpanReader":
        from qa.models.base import input_arrays

        def scores(enc):
            start, end, answer = graph.run_all(**input_arrays(enc))
            return start, end, answer

        return cls(scores, name, calibration)


def metadata(path: Path) -> dict:
    """The metadata a reader's weights file carries (its base model, training run, calibration)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="np") as f:
        return dict(f.metadata() or {})


def file_calibration(path: Path) -> Calibration | None:
    raw = metadata(path).get("calibration")
    return Calibration.from_dict(json.loads(raw)) if raw else None


def load_torch(path: Path = READER_FILE) -> SpanReader:
    from qa.models.base import load_weights

    return SpanReader.from_torch(load_weights(path, span_model), path.name, file_calibration(path))


def load_onnx(path: Path = READER_FILE) -> SpanReader | None:
    """The reader exported to ONNX and quantised to int8 (None when ONNX Runtime cannot run it)."""
    from qa.models.base import exported

    g = exported("span-reader", path, MAX_TOKENS, lambda: load_torch(path).model, ["start", "end", "answer"],
                 token_outputs=("start", "end"), int8=True)
    return None if g is None else SpanReader.from_graph(g, path.name, file_calibration(path))


_shared: dict[str, dict[str, SpanReader | None]] = {}
_shared_lock = threading.Lock()
_load_lock = threading.Lock()


def shared(path: Path = READER_FILE, runtime: str = "onnx") -> SpanReader | None:
    """The reader of ``path``, loaded once per process and runtime; None when the file is missing or
    damaged (said once, as a warning: answers then come from the ranker alone)."""
    from qa.models.base import load_once

    path = Path(path)
    with _shared_lock:
        per_path = _shared.setdefault(str(path.resolve()), {})
    return load_once(per_path, _load_lock, runtime, path, "reader", "answering from the ranker alone",
                     lambda: load_onnx(path), lambda: load_torch(path))
