"""Span extraction: the words of the chosen sentence that answer the question.

The answer stage picks a sentence; for a question that asks for a date, number or name, typed
candidates (qa/text/types.py) narrow it. This model narrows any question: the question and the
sentence go through the bundled all-MiniLM-L6-v2 together ("question [SEP] sentence"), and a linear
head gives each token a start and an end score, as SQuAD readers do. The best span of at most
``MAX_ANSWER_TOKENS`` sentence tokens is compared with the "no span" score of the first token
([CLS]): the margin says how sure the model is that this span, and not the whole sentence, is
the answer. Its top layers and head are fine-tuned on SQuAD *train* by ``bench/train_extractor.py``;
``qa/data/extractor.safetensors`` holds only those weights (float16), the rest is the bundled model.
Spans are character offsets into the sentence, taken from the tokenizer's offsets, so the answer is
always verbatim.
"""

from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from qa.text.chars import is_mark

from qa.models.base import (base_encoder, exported, input_arrays, load_once, load_weights, pair_tokenizer, torch_inputs)

EXTRACTOR_FILE = Path(__file__).resolve().parents[1] / "data" / "extractor.safetensors"
MAX_TOKENS = 160
MAX_ANSWER_TOKENS = 30


@dataclass(frozen=True)
class Span:
    """``sentence[start:end]`` answers the question; ``margin``: best span score minus the no-span score."""

    start: int
    end: int
    margin: float


DEFAULT_MIN_MARGIN = 0.0


def min_margin(path: Path) -> float:
    """The margin a span needs to be shown instead of the whole sentence, chosen on held-out SQuAD train
    by ``bench/train_extractor.py`` and kept in the weights file's metadata."""
    from safetensors import safe_open

    with safe_open(str(path), framework="np") as f:
        return float((f.metadata() or {}).get("min_margin", DEFAULT_MIN_MARGIN))


def best_span(logits: np.ndarray, encoding, sentence: str) -> Span | None:
    """The best span of ``sentence``'s tokens for one pair (``logits``: tokens x 2), or None if none fits.

    None too when the window cut the sentence short: a span from the part that was read would be
    chosen without the rest, which may hold the answer."""
    seq = encoding.sequence_ids
    rows = [i for i, s in enumerate(seq) if s == 1]
    if not rows or _unread(sentence, encoding.offsets[rows[-1]][1]):
        return None
    lo, hi = rows[0], rows[-1] + 1
    start, end = logits[lo:hi, 0], logits[lo:hi, 1]
    n = hi - lo
    # score[i, j] = start[i] + end[j] for i <= j < i + MAX_ANSWER_TOKENS
    score = start[:, None] + end[None, :]
    i_idx, j_idx = np.indices((n, n))
    score = np.where((j_idx >= i_idx) & (j_idx < i_idx + MAX_ANSWER_TOKENS), score, -np.inf)
    i, j = np.unravel_index(int(np.argmax(score)), score.shape)
    null = float(logits[0, 0] + logits[0, 1])
    offsets = encoding.offsets
    start, end = whole_characters(sentence, int(offsets[lo + i][0]), int(offsets[lo + j][1]))
    return Span(start, end, float(score[i, j]) - null)


def _unread(sentence: str, covered: int) -> bool:
    """Whether ``sentence[covered:]`` holds characters the tokenizer would have read (not only spaces,
    accents, joiners and format characters, which it leaves out of its offsets)."""
    return any(not ch.isspace() and unicodedata.category(ch) not in ("Mn", "Me", "Cf", "Cc") for ch in sentence[covered:])


def whole_characters(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen ``text[start:end]`` so it neither ends before the accents and variation selectors that belong
    to its last character (the tokenizer's offsets leave out a decomposed accent) nor starts on one."""
    while start > 0 and is_mark(text[start]):
        start -= 1
    while end < len(text) and is_mark(text[end]):
        end += 1
    return start, end


def span_model(base=None):
    """The bundled MiniLM with a linear start/end head on every token (torch is imported here)."""
    import torch

    class SpanModel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = base_encoder(base)
            self.head = torch.nn.Linear(self.encoder.config.hidden_size, 2)

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            out = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=token_type_ids).last_hidden_state
            return self.head(out)  # batch x tokens x (start, end)

    return SpanModel()


class Extractor:
    """The span model in torch: trained by ``bench/train_extractor.py``, exported for use (:class:`OnnxExtractor`)."""

    def __init__(self, model, min_margin: float = DEFAULT_MIN_MARGIN):
        self.model = model
        self.min_margin = min_margin
        self.tokenizer = pair_tokenizer(MAX_TOKENS)
        self._lock = threading.Lock()


    @classmethod
    def load(cls, path: Path = EXTRACTOR_FILE) -> "Extractor | None":
        if not path.is_file():
            return None
        return cls(load_weights(path, span_model), min_margin(path))

    def forward(self, encodings):
        return self.model(**torch_inputs(encodings))

    def spans(self, question: str, sentences: Sequence[str]) -> list[Span | None]:
        import torch

        if not sentences:
            return []
        with self._lock, torch.inference_mode():
            enc = self.tokenizer.encode_batch([(question, s) for s in sentences])
            logits = self.forward(enc).float().numpy()
        return [best_span(lg, e, s) for lg, e, s in zip(logits, enc, sentences)]



class OnnxExtractor:
    """The shipped span model exported to ONNX (:mod:`qa.models.runtime`): the same spans, no torch once exported."""

    def __init__(self, graph, min_margin: float = DEFAULT_MIN_MARGIN):
        self.graph = graph
        self.min_margin = min_margin
        self.tokenizer = pair_tokenizer(MAX_TOKENS)
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path = EXTRACTOR_FILE) -> "OnnxExtractor | None":
        g = exported("extractor", path, MAX_TOKENS, lambda: Extractor.load(path).model, ["logits"])
        return None if g is None else cls(g, min_margin(path))

    def spans(self, question: str, sentences: Sequence[str]) -> list[Span | None]:
        if not sentences:
            return []
        with self._lock:  # the tokenizer is not shared between threads while it encodes
            enc = self.tokenizer.encode_batch([(question, s) for s in sentences])
        logits = self.graph.run(**input_arrays(enc))
        return [best_span(lg, e, s) for lg, e, s in zip(logits, enc, sentences)]


_shared: dict[str, "Extractor | OnnxExtractor | None"] = {}
_shared_lock = threading.Lock()


def shared(runtime: str = "onnx") -> "Extractor | OnnxExtractor | None":
    """The shipped span model, loaded once per process and runtime; None when its weights are missing."""
    return load_once(_shared, _shared_lock, runtime, EXTRACTOR_FILE, "extractor", "answers stay whole sentences",
                     lambda: OnnxExtractor.load(EXTRACTOR_FILE), lambda: Extractor.load(EXTRACTOR_FILE))
